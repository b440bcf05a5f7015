"""Entry point: `python -m sandbox up|down|status|run|fault --dir DIR`."""

import sys

from sandbox.cli import main

sys.exit(main())
