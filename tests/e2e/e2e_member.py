"""The local member, rendered by the collection and served by the sandbox, for e2e tests.

One sandbox per session: ``playbooks/render.yml`` renders ``inventories/local``, the
sandbox starts with a copy of the rendered traefik values (a test may rewrite that copy:
the data plane restarts traefik with it), the rendered objects are applied, and the
session waits until traefik serves every route with its stand-in certificate.

What the tests expect is read from the inventory itself and the catalogue in
docs/inventory.md, never from the collection's model: the model is what is under test.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sandbox.demo import (
    ROOT,
    Route,
    Sandbox,
    route_ready,
    wait_served,
)

INVENTORY = ROOT / "inventories" / "local"


def local_member() -> dict[str, Any]:
    """The local member's host_vars, as written (expectations come from here)."""
    data: dict[str, Any] = yaml.safe_load((INVENTORY / "host_vars" / "local.yml").read_text())
    return data


@dataclass
class Member:
    sandbox: Sandbox
    member_dir: Path
    objects: list[dict[str, Any]]
    routes: list[Route]
    values_file: Path
    rendered_values: str

    @property
    def websecure(self) -> int:
        return self.sandbox.websecure

    def set_traefik_values(self, text: str, timeout: float = 60.0) -> None:
        """Rewrite the values file, wait for traefik's restart and for every route again."""
        self.values_file.write_text(text)
        sha = hashlib.sha256(text.encode()).hexdigest()
        deadline = time.monotonic() + timeout
        while self.sandbox.dataplane().get("values_sha256") != sha:
            assert time.monotonic() < deadline, "the data plane did not pick up the new traefik values"
            time.sleep(0.2)
        results = wait_served(self.sandbox, self.routes, timeout=timeout)
        assert all(route_ready(r, results[r]) for r in self.routes)
