"""``python -m sandbox.dataplane --dir DIR``: the data plane process.

Started (detached, in its own process group) by ``python -m sandbox up``. It

1. reads the API address, token and CA from DIR (state.json, token, ca.crt, ca.key);
2. starts the backends (on their Services' ClusterIPs), the load-balancer controller, the certificate
   stand-in and the traefik controller, each driven by list+watch over HTTPS;
3. writes DIR/dataplane.json (ports, pids, the traefik release served) once the caches are
   listed, whether or not a traefik release exists yet, and rewrites it when that changes;
4. runs traefik with the values of the traefik Helm release in the cluster, restarting it
   on the same ports when a new revision is deployed (traefik_controller.py);
5. on SIGTERM or SIGINT stops traefik and the backends and removes DIR/dataplane.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from .backends import BackendController, BackendServer
from .certs import CertStandIn
from .kube import ApiAccess, ApiError, Kube, Obj
from .loadbalancer import ADDRESS, LoadBalancerController, is_ours, port_map
from .releases import LABEL_SELECTOR
from .traefik_controller import TraefikController
from .traefik_process import TraefikError

log = logging.getLogger("sandbox.dataplane")

# How long the first lists may take before dataplane.json is written anyway.
SYNC_TIMEOUT = 20.0


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


class DataPlane:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.access = ApiAccess.from_dir(state_dir)
        self.kube = Kube(self.access)
        self.backends = BackendServer()
        self.endpoints = BackendController(self.backends, self._changed)
        self.balancers = LoadBalancerController(self.kube, self._changed)
        self.traefik = TraefikController(state_dir, self.access, self._changed)
        # http01 through traefik's web entrypoint (what a member's port 80 leads to).
        self.certs = CertStandIn(
            self.kube, lambda: self.traefik.reservations.ports.get("web"), self.backends.solvers
        )
        self.ready = False
        self._written: dict[str, Any] | None = None
        self.stopping = asyncio.Event()

    def _changed(self) -> None:
        if self.ready:
            self._write_state()

    async def _on_services(self, cache: dict[tuple[str, str], Obj]) -> None:
        await self.endpoints.on_services(cache)
        await self.balancers.on_services(cache)

    async def _on_ingresses(self, cache: dict[tuple[str, str], Obj]) -> None:
        await self.certs.on_ingresses(cache)
        await self.traefik.on_ingresses(cache)

    def load_balancers(self) -> dict[str, dict[str, Any]]:
        """Every LoadBalancer Service this data plane serves, with where its ports lead: to the
        traefik (of the ones running, one per scoped release) whose release's pods it selects."""
        running = [
            (c.setup, c.release) for c in self.traefik.controllers() if c.ready and c.setup and c.release
        ]
        out: dict[str, dict[str, Any]] = {}
        for (namespace, name), service in sorted(self.balancers.services.items()):
            if not is_ours(service):
                continue
            selector = (service.get("spec") or {}).get("selector") or {}
            setup = next((st for st, release in running if release.selected_by(selector)), None)
            out[f"{namespace}/{name}"] = {
                "ip": ADDRESS,
                "ports": port_map(
                    service,
                    selects_traefik=setup is not None,
                    entrypoints=setup.entrypoints if setup else {},
                    container_ports=setup.container_ports if setup else {},
                ),
            }
        return out

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "traefik": self.traefik.describe(),
            "load_balancers": self.load_balancers(),
            "backends": self.endpoints.backend_map(),
        }
        if state != self._written:
            _write_json(self.state_dir / "dataplane.json", state)
            self._written = state

    async def run(self) -> None:
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.kube.wait_ready()
            await self.backends.start()
            informers = [
                ("/api/v1/services", self._on_services, ""),
                ("/api/v1/pods", self.endpoints.on_pods, ""),
                ("/apis/networking.k8s.io/v1/ingresses", self._on_ingresses, ""),
                ("/apis/networking.k8s.io/v1/ingressclasses", self.traefik.on_classes, ""),
                ("/api/v1/secrets", self.traefik.on_secrets, LABEL_SELECTOR),
            ]
            tasks += [
                asyncio.create_task(self.kube.informer(path, callback, selector))
                for path, callback, selector in informers
            ]
            tasks += [
                asyncio.create_task(self.endpoints.run()),
                asyncio.create_task(self.balancers.run()),
                asyncio.create_task(self.certs.run()),
                asyncio.create_task(self.traefik.run()),
            ]
            try:
                await asyncio.wait_for(self.traefik.decided.wait(), SYNC_TIMEOUT)
            except TimeoutError:
                log.warning(
                    "the first lists took more than %.0f s; writing dataplane.json anyway", SYNC_TIMEOUT
                )
            self.ready = True
            self._write_state()
            log.info("data plane ready: %s", self.state_dir / "dataplane.json")
            stop = asyncio.create_task(self.stopping.wait())
            await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            for task in tasks:
                if task.done() and task.exception():
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.traefik.close()
            await self.backends.stop()
            await self.kube.close()
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / "dataplane.json").unlink()
            log.info("data plane stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.dataplane", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="the sandbox state directory")
    args = parser.parse_args(argv)
    state_dir: Path = args.dir.resolve()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        # `sandbox up` sends this process's stderr to DIR/dataplane.log.
        stream=sys.stderr,
    )

    async def run() -> None:
        plane = DataPlane(state_dir)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, plane.stopping.set)
        await plane.run()

    try:
        asyncio.run(run())
    except (TraefikError, TimeoutError, ApiError, OSError, KeyError, ValueError) as exc:
        log.error("data plane failed: %s", exc)
        return 1
    return 0
