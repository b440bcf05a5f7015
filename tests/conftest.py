"""Make `ansible_collections.binder.ingress` importable from the working tree in every test."""

import sys
from pathlib import Path

# collections/ansible_collections/binder/ingress is a committed symlink to the checkout root.
_COLLECTIONS = str(Path(__file__).resolve().parent.parent / "collections")
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
