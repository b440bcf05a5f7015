"""Entry point: ``python -m sandbox.dataplane --dir DIR``."""

import sys

from .main import main

sys.exit(main())
