"""Entry point: ``python -m sandbox.dataplane --dir DIR [--traefik-values FILE]``."""

import sys

from .main import main

sys.exit(main())
