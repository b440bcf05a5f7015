"""The local member, converged by the collection on the local cluster, for e2e tests.

One local cluster per session (``sandbox.demo.served_member``): ``site.yml -i
inventories/local`` converges the member as a user would, Helm releases included; the
stand-in backends its Ingresses name are added; the session waits until traefik, run by the
data plane from the traefik Helm release, serves every route through the cluster entrypoint
with its stand-in certificate. A test may upgrade the traefik release with other values
(:meth:`Member.set_traefik_values`): the data plane restarts traefik with the new revision.

What the tests expect is read from the inventory itself and the catalogue in
docs/inventory.md, never from the collection's model: the model is what is under test.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.binder.ingress.plugins.module_utils import _probe

from sandbox.demo import (
    INVENTORY,
    LB_ADDRESS,
    Entrypoint,
    Route,
    Sandbox,
    ServedMember,
    route_ready,
    wait_served,
)

__all__ = ["INVENTORY", "Member", "local_member", "probe"]


def probe(host: str, path: str, port: int, ca_file: Path, **kwargs: Any) -> _probe.Answer:
    """One HTTPS request for ``host`` and ``path`` through the entrypoint's local ``port``, the
    certificate verified against ``ca_file``: the collection's prober, the one verify.yml uses."""
    return _probe.request(LB_ADDRESS, port, host, path, _probe.Trust(str(ca_file)), **kwargs)


def local_member() -> dict[str, Any]:
    """The local member's host_vars, as written (expectations come from here)."""
    data: dict[str, Any] = yaml.safe_load((INVENTORY / "host_vars" / "local.yml").read_text())
    return data


def traefik_chart() -> Path:
    """The traefik chart inventories/local installs (its traefik_chart_path, inventory_dir resolved)."""
    path = str(local_member()["traefik_chart_path"]).replace("{{ inventory_dir }}", str(INVENTORY))
    return Path(path).resolve()


@dataclass
class Member:
    sandbox: Sandbox
    objects: list[dict[str, Any]]  # the member's Ingresses, as the converge left them in the API
    routes: list[Route]
    entrypoint: Entrypoint
    release: str  # the traefik Helm release the data plane serves
    namespace: str
    traefik_values: str  # the values the converge gave that release (helm get values)

    @classmethod
    def of(cls, served: ServedMember) -> Member:
        traefik = served.sandbox.dataplane()["traefik"]
        release, namespace = str(traefik["release"]), str(traefik["namespace"])
        values = served.sandbox.helm("get", "values", release, "--namespace", namespace, "--output", "yaml")
        return cls(
            served.sandbox, served.objects, served.routes, served.entrypoint, release, namespace, values
        )

    @property
    def websecure(self) -> int:
        """The local port the entrypoint's 443 leads to."""
        return self.entrypoint.https

    @property
    def web(self) -> int:
        """The local port the entrypoint's 80 leads to."""
        assert self.entrypoint.http is not None
        return self.entrypoint.http

    def set_traefik_values(self, text: str, timeout: float = 60.0) -> int:
        """``helm upgrade`` the traefik release with these values (the chart the converge installed);
        wait until the data plane serves the new revision, then until every route is served again.
        Returns the revision."""
        values_file = self.sandbox.dir / "e2e-traefik-values.yaml"
        values_file.write_text(text)
        upgraded = self.sandbox.helm(
            "upgrade",
            self.release,
            str(traefik_chart()),
            "--namespace",
            self.namespace,
            "--values",
            str(values_file),
            "--output",
            "json",
        )
        revision = int(json.loads(upgraded)["version"])
        deadline = time.monotonic() + timeout
        while True:
            traefik = self.sandbox.dataplane()["traefik"]
            assert traefik["error_revision"] != revision, (
                f"revision {revision} not served: {traefik['error']}"
            )
            if traefik["revision"] == revision and traefik["started"]:
                break
            assert time.monotonic() < deadline, f"the data plane did not serve revision {revision}: {traefik}"
            time.sleep(0.2)
        _, results = wait_served(self.sandbox, self.routes, timeout=timeout)
        assert all(route_ready(r, results[r]) for r in self.routes), results
        return revision
