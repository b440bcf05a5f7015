"""``python -m sandbox.dataplane --dir DIR [--traefik-values FILE]``: the data plane process.

Started (detached, in its own process group) by ``python -m sandbox up``. It

1. reads the API address, token and CA from DIR (state.json, token, ca.crt, ca.key);
2. starts the backends, the endpoint controller and the certificate stand-in, each
   driven by list+watch over HTTPS;
3. translates the traefik chart values into traefik's static configuration, creates the
   IngressClass the chart would create, starts traefik and waits for its providers;
4. writes DIR/dataplane.json (ports and pids) once traefik is ready;
5. restarts traefik on the same ports when the values file changes;
6. on SIGTERM or SIGINT stops traefik and the backends and removes DIR/dataplane.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from .backends import BackendServer, EndpointController
from .certs import DEFAULT_LIFETIME, CertStandIn, SandboxCA, parse_lifetime
from .kube import ApiAccess, ApiError, Kube, Obj
from .traefik_config import ClusterAccess, TraefikSetup, ValuesError, entrypoint_names, translate
from .traefik_process import Traefik, TraefikError, free_port

log = logging.getLogger("sandbox.dataplane")

# Used when `up` is given no values file: what a minimal traefik role would set. The
# CRD provider is off because the sandbox does not serve traefik's CRDs.
DEFAULT_VALUES: dict[str, Any] = {
    "providers": {"kubernetesCRD": {"enabled": False}},
    "ingressClass": {"name": "traefik"},
    "service": {"enabled": False},
}


def _load_values(path: Path | None) -> tuple[dict[str, Any], str]:
    if path is None:
        return DEFAULT_VALUES, ""
    text = path.read_bytes()
    values = yaml.safe_load(text) or {}
    if not isinstance(values, dict):
        raise ValuesError(f"traefik values {path}: expected a mapping at the top level")
    return values, hashlib.sha256(text).hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


class DataPlane:
    def __init__(
        self, state_dir: Path, values_file: Path | None, lifetime: dt.timedelta, release_namespace: str
    ) -> None:
        self.state_dir = state_dir
        self.values_file = values_file
        self.access = ApiAccess.from_dir(state_dir)
        self.kube = Kube(self.access)
        self.backends = BackendServer()
        self.endpoints = EndpointController(self.kube, self.backends, self._backends_changed)
        self.certs = CertStandIn(
            self.kube, SandboxCA.load(state_dir / "ca.crt", state_dir / "ca.key"), lifetime
        )
        self.traefik = Traefik(state_dir)
        self.release_namespace = release_namespace
        self.ports: dict[str, int] = {}
        self.ingresses: dict[tuple[str, str], Obj] = {}
        self.values_sha = ""
        self.restarts = 0
        self.ready = False
        self.stopping = asyncio.Event()

    def _backends_changed(self) -> None:
        if self.ready:
            self._write_state()

    async def _on_ingresses(self, cache: dict[tuple[str, str], Obj]) -> None:
        self.ingresses = cache
        await self.certs.on_ingresses(cache)

    def _setup(self, values: dict[str, Any]) -> TraefikSetup:
        for name in entrypoint_names(values):
            # Ports are kept across restarts so clients and dataplane.json stay valid.
            self.ports.setdefault(name, free_port())
        cluster = ClusterAccess(
            endpoint=self.access.url, token=self.access.token, ca_file=self.access.ca_file
        )
        return translate(
            values,
            ports=self.ports,
            cluster=cluster,
            state_dir=self.state_dir,
            release_namespace=self.release_namespace,
        )

    async def _ensure_ingress_class(self, setup: TraefikSetup) -> None:
        if setup.ingress_class is None:
            return
        manifest = setup.ingress_class.manifest()
        path = f"/apis/networking.k8s.io/v1/ingressclasses/{setup.ingress_class.name}"
        if await self.kube.get(path) is None:
            try:
                await self.kube.create("/apis/networking.k8s.io/v1/ingressclasses", manifest)
                log.info("created IngressClass %s (as the traefik chart would)", setup.ingress_class.name)
            except ApiError as exc:
                if exc.status != 409:
                    raise

    def _write_state(self) -> None:
        setup = self.traefik.setup
        assert setup is not None
        entry = setup.entrypoints
        _write_json(
            self.state_dir / "dataplane.json",
            {
                "pid": os.getpid(),
                "traefik": {
                    "pid": self.traefik.pid,
                    "web": entry.get("web"),
                    "websecure": entry.get("websecure"),
                    "api": entry.get("traefik"),
                    "metrics": entry.get(
                        str((setup.static.get("metrics") or {}).get("prometheus", {}).get("entryPoint"))
                    ),
                    "entrypoints": entry,
                    "log": str(self.traefik.log_file),
                    "access_log": (setup.static.get("accessLog") or {}).get("filePath"),
                    "static_config": str(self.traefik.static_file),
                    "restarts": self.restarts,
                },
                "ingress_class": setup.ingress_class.name if setup.ingress_class else None,
                "values_file": str(self.values_file) if self.values_file else None,
                "values_sha256": self.values_sha,
                "backends": self.endpoints.backend_map(),
                "cert_standin": {"lifetime_seconds": self.certs.lifetime.total_seconds()},
            },
        )

    async def _start_traefik(self, setup: TraefikSetup) -> None:
        await self._ensure_ingress_class(setup)
        await self.traefik.start(setup)
        await self.traefik.wait_ready(self.ingresses)

    async def _watch_values(self, interval: float = 1.0) -> None:
        assert self.values_file is not None
        while True:
            await asyncio.sleep(interval)
            try:
                values, sha = _load_values(self.values_file)
            except (OSError, yaml.YAMLError, ValuesError) as exc:
                log.error(
                    "traefik values %s unreadable, keeping the running traefik: %s", self.values_file, exc
                )
                continue
            if sha == self.values_sha:
                continue
            self.values_sha = sha
            try:
                setup = self._setup(values)
            except ValuesError as exc:
                log.error("%s; keeping the running traefik", exc)
                continue
            log.info("traefik values changed; restarting traefik")
            await self.traefik.stop()
            try:
                await self._start_traefik(setup)
            except TraefikError as exc:
                log.error("%s", exc)
                continue
            self.restarts += 1
            self._write_state()

    async def run(self) -> None:
        tasks: list[asyncio.Task[None]] = []
        try:
            values, self.values_sha = _load_values(self.values_file)
            setup = self._setup(values)  # fail before starting anything on bad values
            await self.kube.wait_ready()
            await self.backends.start()
            tasks += [
                asyncio.create_task(self.kube.informer("/api/v1/services", self.endpoints.on_services)),
                asyncio.create_task(
                    self.kube.informer("/apis/networking.k8s.io/v1/ingresses", self._on_ingresses)
                ),
                asyncio.create_task(self.endpoints.run()),
                asyncio.create_task(self.certs.run()),
            ]
            await self._start_traefik(setup)
            self.ready = True
            self._write_state()
            log.info("data plane ready: %s", self.state_dir / "dataplane.json")
            if self.values_file is not None:
                tasks.append(asyncio.create_task(self._watch_values()))
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
            await self.traefik.stop()
            await self.backends.stop()
            await self.kube.close()
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / "dataplane.json").unlink()
            log.info("data plane stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.dataplane", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="the sandbox state directory")
    parser.add_argument(
        "--traefik-values", type=Path, help="the traefik role's chart values (traefik-values.yaml)"
    )
    parser.add_argument(
        "--cert-lifetime",
        default=os.environ.get("SANDBOX_CERT_LIFETIME", ""),
        help="lifetime of the stand-in certificates, e.g. 90d, 12h, 3600 (default 90d; env SANDBOX_CERT_LIFETIME)",
    )
    parser.add_argument(
        "--release-namespace",
        default=os.environ.get("SANDBOX_TRAEFIK_NAMESPACE", "default"),
        help="namespace of the traefik release, for the chart's default published service",
    )
    args = parser.parse_args(argv)
    state_dir: Path = args.dir.resolve()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        # `sandbox up` sends this process's stderr to DIR/dataplane.log.
        stream=sys.stderr,
    )
    try:
        lifetime = parse_lifetime(args.cert_lifetime) if args.cert_lifetime else DEFAULT_LIFETIME
    except ValueError as exc:
        log.error("data plane cannot start: --cert-lifetime: %s", exc)
        return 2
    values_file = args.traefik_values.resolve() if args.traefik_values else None

    async def run() -> None:
        plane = DataPlane(state_dir, values_file, lifetime, args.release_namespace)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, plane.stopping.set)
        await plane.run()

    try:
        asyncio.run(run())
    except (ValuesError, TraefikError, TimeoutError, ApiError, OSError, KeyError, ValueError) as exc:
        log.error("data plane failed: %s", exc)
        return 1
    return 0
