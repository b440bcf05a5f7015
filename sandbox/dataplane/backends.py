"""HTTP backends standing in for the member's Services, and the endpoint controller.

For every Service with a selector, each of its ports gets a listener on a free loopback
port. The listener answers every request with a JSON body naming the Service, namespace,
port, Host header, path, method and the number of body bytes it read, so a test can tell
where a request landed. Request headers make it misbehave on purpose:

- ``X-Sandbox-Delay: <seconds>`` waits before answering (slow backend);
- ``X-Sandbox-Fail: <status>`` answers with that status (failing backend).

Bodies of any size are read and counted, never buffered whole.

The endpoint controller publishes, as Kubernetes' own would, one EndpointSlice
(``discovery.k8s.io/v1``) and one Endpoints object per such Service, pointing at
127.0.0.1 and the listeners' real ports: traefik connects to exactly what they say.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .kube import ApiError, Kube, Obj, reconcile_loop

log = logging.getLogger(__name__)

MANAGED_BY = "sandbox-dataplane-endpoint-controller"
SLICE_SUFFIX = "-sandbox"


@dataclass(frozen=True)
class BackendPort:
    namespace: str
    service: str
    port: int
    port_name: str


class BackendServer:
    """One aiohttp application, many loopback listeners (one per Service port)."""

    def __init__(self) -> None:
        self._app = web.Application(client_max_size=0)
        self._app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(self._app, access_log=None)
        self._sites: dict[BackendPort, tuple[web.SockSite, int]] = {}
        self._by_local_port: dict[int, BackendPort] = {}

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
        sock.bind(("127.0.0.1", 0))
        local_port = int(sock.getsockname()[1])
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._sites[key] = (site, local_port)
        self._by_local_port[local_port] = key
        log.info(
            "backend for %s/%s port %s listening on 127.0.0.1:%d",
            key.namespace,
            key.service,
            key.port,
            local_port,
        )
        return local_port

    async def remove(self, key: BackendPort) -> None:
        entry = self._sites.pop(key, None)
        if entry is None:
            return
        site, local_port = entry
        self._by_local_port.pop(local_port, None)
        await site.stop()
        log.info("backend for %s/%s port %s stopped", key.namespace, key.service, key.port)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        key = self._by_local_port.get(int(sockname[1])) if sockname else None
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
    return [
        BackendPort(
            namespace=str(meta.get("namespace") or "default"),
            service=str(meta["name"]),
            port=int(p["port"]),
            port_name=str(p.get("name") or ""),
        )
        for p in (service.get("spec") or {}).get("ports") or []
        if str(p.get("protocol") or "TCP") == "TCP"
    ]


def _owner(service: Obj) -> list[Obj]:
    meta = service["metadata"]
    if not meta.get("uid"):
        return []
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def endpoint_slice(service: Obj, local_ports: dict[BackendPort, int]) -> Obj:
    """The EndpointSlice the endpoint controller would publish for ``service``."""
    meta = service["metadata"]
    name = str(meta["name"])
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name + SLICE_SUFFIX,
            "namespace": meta.get("namespace") or "default",
            "labels": {
                "kubernetes.io/service-name": name,
                "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
            },
            "ownerReferences": _owner(service),
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["127.0.0.1"], "conditions": {"ready": True, "serving": True, "terminating": False}}
        ],
        "ports": [
            {"name": key.port_name, "port": port, "protocol": "TCP"} for key, port in local_ports.items()
        ],
    }


def endpoints_object(service: Obj, local_ports: dict[BackendPort, int]) -> Obj:
    """The legacy Endpoints object with the same content."""
    meta = service["metadata"]
    ports: list[Obj] = []
    for key, port in local_ports.items():
        entry: Obj = {"port": port, "protocol": "TCP"}
        if key.port_name:
            entry["name"] = key.port_name
        ports.append(entry)
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace") or "default",
            "labels": {"endpointslice.kubernetes.io/managed-by": MANAGED_BY},
        },
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": ports}],
    }


def _same(desired: Obj, actual: Obj | None, fields: tuple[str, ...]) -> bool:
    if actual is None:
        return False
    if any(actual.get(f) != desired.get(f) for f in fields):
        return False
    labels = (actual.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in desired["metadata"]["labels"].items())


class EndpointController:
    """Keeps backends, EndpointSlices and Endpoints in step with the Services."""

    def __init__(self, kube: Kube, backends: BackendServer, on_backends_changed: Callable[[], None]) -> None:
        self.kube = kube
        self.backends = backends
        self._services: dict[tuple[str, str], Obj] = {}
        self._published: set[tuple[str, str]] = set()
        self._dirty = asyncio.Event()
        self._on_backends_changed = on_backends_changed

    async def on_services(self, cache: dict[tuple[str, str], Obj]) -> None:
        self._services = cache
        self._dirty.set()

    def backend_map(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, port in self.backends.ports().items():
            out.setdefault(f"{key.namespace}/{key.service}", {})[key.port_name or str(key.port)] = port
        return out

    async def run(self, resync: float = 10.0) -> None:
        await reconcile_loop("endpoint controller", self._dirty, self.reconcile, resync)

    async def reconcile(self) -> None:
        wanted = {
            key: svc
            for key, svc in self._services.items()
            if (svc.get("spec") or {}).get("selector")
            and (svc.get("spec") or {}).get("type") != "ExternalName"
        }
        changed = False
        wanted_ports = {p for svc in wanted.values() for p in _service_ports(svc)}
        for port_key in set(self.backends.ports()) - wanted_ports:
            await self.backends.remove(port_key)
            changed = True
        for (namespace, name), svc in wanted.items():
            local: dict[BackendPort, int] = {}
            for port_key in _service_ports(svc):
                known = port_key in self.backends.ports()
                local[port_key] = await self.backends.ensure(port_key)
                changed = changed or not known
            await self._publish(namespace, name, svc, local)
        for namespace, name in self._published - set(wanted):
            await self.kube.delete(
                f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}{SLICE_SUFFIX}"
            )
            await self.kube.delete(f"/api/v1/namespaces/{namespace}/endpoints/{name}")
            log.info("endpoint controller: removed endpoints of %s/%s", namespace, name)
        self._published &= set(wanted)
        if changed:
            self._on_backends_changed()

    async def _publish(self, namespace: str, name: str, svc: Obj, local: dict[BackendPort, int]) -> None:
        for collection, item_name, desired, fields in (
            (
                f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                name + SLICE_SUFFIX,
                endpoint_slice(svc, local),
                ("addressType", "endpoints", "ports"),
            ),
            (f"/api/v1/namespaces/{namespace}/endpoints", name, endpoints_object(svc, local), ("subsets",)),
        ):
            actual = await self.kube.get(f"{collection}/{item_name}")
            if _same(desired, actual, fields):
                continue
            if actual is None:
                try:
                    await self.kube.create(collection, desired)
                except ApiError as exc:
                    if exc.status != 409:
                        raise
                    self._dirty.set()  # created meanwhile: compare again on the next round
                    continue
            else:
                desired["metadata"]["resourceVersion"] = actual["metadata"].get("resourceVersion")
                await self.kube.replace(f"{collection}/{item_name}", desired)
            log.info("endpoint controller: published %s for %s/%s", desired["kind"], namespace, name)
        self._published.add((namespace, name))
