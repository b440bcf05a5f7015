"""Entry point: ``python -m sandbox.faultproxy --upstream URL ...`` (see proxy.py)."""

import sys

from sandbox.faultproxy.proxy import main

sys.exit(main())
