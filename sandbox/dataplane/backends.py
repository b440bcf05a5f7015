"""HTTP backends standing in for the member's workloads, served on their Services' ClusterIPs.

For every Service whose selector matches no pod (the member's JupyterHub, BinderHub, ...
are not installed in the local cluster), each of its TCP ports gets a listener on the
Service's ClusterIP and port, as kube-proxy would make that address reach a pod. The local
cluster's service range is in the loopback block (127.96.0.0/16), so those addresses are on
this machine; binding a port below 1024 (80, 443) needs root or CAP_NET_BIND_SERVICE.
The data plane runs traefik with ``nativeLBByDefault`` (traefik_config.py), so traefik
sends each route to its Service's ClusterIP, not to the pod endpoints: kube-apiserver
refuses loopback endpoint addresses, and kwok's pod IPs reach nothing.

The listener answers every request with a JSON body naming the Service, namespace, port,
Host header, path, method and the number of body bytes it read, so a test can tell where
a request landed. Request headers make it misbehave on purpose:

- ``X-Sandbox-Delay: <seconds>`` waits before answering (slow backend);
- ``X-Sandbox-Fail: <status>`` answers with that status (failing backend).

A Service the certificate stand-in registers as an http01 solver (certs.py) answers as
cert-manager's acmesolver pod does instead: the key authorization for its domain's
``/.well-known/acme-challenge/<token>``, 404 for anything else.

Bodies of any size are read and counted, never buffered whole. A Service whose selector
matches pods gets no backend (nothing runs its pods here: its traffic fails, as it would
with pods that never start), and its backend goes as soon as a matching pod appears.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .kube import Obj, reconcile_loop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendPort:
    namespace: str
    service: str
    port: int
    port_name: str
    address: str  # the Service's ClusterIP


class BackendServer:
    """One aiohttp application, many listeners (one per Service ClusterIP and port)."""

    def __init__(self) -> None:
        # (namespace, Service) -> (domain, token, key authorization): the http01 solvers.
        self.solvers: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._app = web.Application(client_max_size=0)
        self._app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(self._app, access_log=None)
        self._sites: dict[BackendPort, tuple[web.SockSite, int]] = {}
        self._by_address: dict[tuple[str, int], BackendPort] = {}

    async def start(self) -> None:
        await self._runner.setup()

    async def stop(self) -> None:
        await self._runner.cleanup()

    def ports(self) -> dict[BackendPort, int]:
        return {key: port for key, (_, port) in self._sites.items()}

    async def ensure(self, key: BackendPort) -> int:
        if key in self._sites:
            return self._sites[key][1]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((key.address, key.port))
        except OSError:
            sock.close()
            raise
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._sites[key] = (site, key.port)
        self._by_address[(key.address, key.port)] = key
        log.info(
            "backend for %s/%s port %s listening on %s:%d",
            key.namespace,
            key.service,
            key.port_name or key.port,
            key.address,
            key.port,
        )
        return key.port

    async def remove(self, key: BackendPort) -> None:
        entry = self._sites.pop(key, None)
        if entry is None:
            return
        site, _ = entry
        self._by_address.pop((key.address, key.port), None)
        await site.stop()
        log.info("backend for %s/%s port %s stopped", key.namespace, key.service, key.port)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        key = self._by_address.get((str(sockname[0]), int(sockname[1]))) if sockname else None
        solver = self.solvers.get((key.namespace, key.service)) if key else None
        if solver is not None:
            domain, token, key_authorization = solver
            host = (request.headers.get("Host") or "").rsplit(":", 1)[0]
            if host == domain and request.path == f"/.well-known/acme-challenge/{token}":
                return web.Response(text=key_authorization)
            return web.Response(status=404, text="not found")
        received = 0
        async for chunk in request.content.iter_any():
            received += len(chunk)
        delay = request.headers.get("X-Sandbox-Delay")
        if delay:
            await asyncio.sleep(float(delay))
        status = int(request.headers.get("X-Sandbox-Fail") or 200)
        body: dict[str, Any] = {
            "service": key.service if key else None,
            "namespace": key.namespace if key else None,
            "port": key.port if key else None,
            "port_name": key.port_name if key else None,
            "host": request.headers.get("Host"),
            "path": request.path,
            "query": request.query_string,
            "method": request.method,
            "body_bytes": received,
        }
        return web.json_response(body, status=status)


def _service_ports(service: Obj) -> list[BackendPort]:
    meta = service["metadata"]
    address = str((service.get("spec") or {}).get("clusterIP") or "")
    if not address or address == "None":
        return []  # headless: no address to serve
    return [
        BackendPort(
            namespace=str(meta.get("namespace") or "default"),
            service=str(meta["name"]),
            port=int(p["port"]),
            port_name=str(p.get("name") or ""),
            address=address,
        )
        for p in (service.get("spec") or {}).get("ports") or []
        if str(p.get("protocol") or "TCP") == "TCP"
    ]


def selects_pods(service: Obj, pods: Mapping[tuple[str, str], Obj]) -> bool:
    """Whether the Service's selector matches a pod the real EndpointSlice controller counts.

    That controller lists the pods of the Service's namespace matching the selector and
    skips terminal ones (Succeeded, Failed); a pod without an IP yet still makes the
    Service its own (the slice fills once kwok gives the pod an IP).
    """
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return False
    namespace = (service.get("metadata") or {}).get("namespace") or "default"
    for (pod_namespace, _), pod in pods.items():
        if pod_namespace != namespace:
            continue
        if ((pod.get("status") or {}).get("phase")) in ("Succeeded", "Failed"):
            continue
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if all(labels.get(k) == v for k, v in selector.items()):
            return True
    return False


def wants_backend(service: Obj, pods: Mapping[tuple[str, str], Obj]) -> bool:
    """A Service gets a stand-in backend when it has a selector that matches no pod."""
    spec = service.get("spec") or {}
    if not spec.get("selector") or spec.get("type") == "ExternalName":
        return False
    return not selects_pods(service, pods)


class BackendController:
    """Keeps the backends in step with the Services and pods."""

    def __init__(self, backends: BackendServer, on_backends_changed: Callable[[], None]) -> None:
        self.backends = backends
        self._services: dict[tuple[str, str], Obj] = {}
        self._pods: dict[tuple[str, str], Obj] = {}
        self._synced: set[str] = set()
        self._dirty = asyncio.Event()
        self._on_backends_changed = on_backends_changed

    async def on_services(self, cache: dict[tuple[str, str], Obj]) -> None:
        self._services = cache
        self._synced.add("services")
        self._dirty.set()

    async def on_pods(self, cache: dict[tuple[str, str], Obj]) -> None:
        self._pods = cache
        self._synced.add("pods")
        self._dirty.set()

    def backend_map(self) -> dict[str, dict[str, str]]:
        """`namespace/service` -> port name (or number) -> `clusterIP:port` served."""
        out: dict[str, dict[str, str]] = {}
        for key in self.backends.ports():
            out.setdefault(f"{key.namespace}/{key.service}", {})[key.port_name or str(key.port)] = (
                f"{key.address}:{key.port}"
            )
        return out

    async def run(self, resync: float = 10.0) -> None:
        await reconcile_loop("backend controller", self._dirty, self.reconcile, resync)

    async def reconcile(self) -> None:
        if self._synced != {"services", "pods"}:
            return  # not before both lists are in: a Service's pods may not be known yet
        wanted = {key: svc for key, svc in self._services.items() if wants_backend(svc, self._pods)}
        changed = False
        wanted_ports = {p for svc in wanted.values() for p in _service_ports(svc)}
        for port_key in set(self.backends.ports()) - wanted_ports:
            await self.backends.remove(port_key)
            changed = True
        for port_key in wanted_ports - set(self.backends.ports()):
            try:
                await self.backends.ensure(port_key)
            except OSError as exc:
                # One Service's trouble must not hold up the others; the resync tries again.
                log.warning(
                    "backend controller: %s/%s: cannot listen on %s:%d: %s",
                    port_key.namespace,
                    port_key.service,
                    port_key.address,
                    port_key.port,
                    exc,
                )
                continue
            changed = True
        if changed:
            self._on_backends_changed()
