"""The cloud's load-balancer controller, as k3s ServiceLB or MetalLB play it on bare metal.

Every Service of type LoadBalancer (without a ``spec.loadBalancerClass``, which names some
other implementation) gets ``status.loadBalancer.ingress: [{ip: 127.0.0.1}]``, written
through the ``/status`` subresource. 127.0.0.1 is where traefik's entrypoints listen; their
ports are dynamic and named in DIR/dataplane.json (``load_balancers`` maps each Service port
of a Service that selects the traefik release's pods to the local entrypoint port).

As on a real cluster, the address belongs to the Service, not to what serves behind it: it
is set as soon as the Service is a LoadBalancer and stays while no traefik runs (connections
are then refused, as a cloud load balancer with no ready backend fails them). It is removed
when the Service stops being a LoadBalancer, as the cloud controller does when it tears the
load balancer down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from .kube import ApiError, Kube, Obj, reconcile_loop

log = logging.getLogger(__name__)

ADDRESS = "127.0.0.1"


def is_ours(service: Obj) -> bool:
    """A LoadBalancer Service no other load-balancer implementation claims."""
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def _addresses(service: Obj) -> list[str | None]:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [entry.get("ip") for entry in ingress]


def status_patch(service: Obj) -> Obj | None:
    """The merge patch of ``/status`` this Service needs, or None when it is right."""
    if is_ours(service):
        if _addresses(service) == [ADDRESS]:
            return None
        return {"status": {"loadBalancer": {"ingress": [{"ip": ADDRESS}]}}}
    spec = service.get("spec") or {}
    if spec.get("type") != "LoadBalancer" and _addresses(service):
        return {"status": {"loadBalancer": {"ingress": None}}}
    return None


def port_map(
    service: Obj,
    selects_traefik: bool,
    entrypoints: Mapping[str, int],
    container_ports: Mapping[str, int],
) -> dict[str, int | None]:
    """Service port -> the local port of the traefik entrypoint it reaches (None: none).

    A Service port reaches traefik when the Service selects traefik's pods and its
    ``targetPort`` names an entrypoint (the pod's named container port) or is the container
    port of one (``ports.<name>.port`` in the values); no ``targetPort`` means the port itself.
    """
    out: dict[str, int | None] = {}
    for port in (service.get("spec") or {}).get("ports") or []:
        number = port.get("port")
        target: Any = port.get("targetPort", number)
        local: int | None = None
        if selects_traefik:
            if isinstance(target, str) and not target.isdigit():
                local = entrypoints.get(target)
            else:
                names = [name for name, value in container_ports.items() if value == int(target)]
                local = entrypoints.get(names[0]) if names else None
        out[str(number)] = local
    return out


class LoadBalancerController:
    """Writes the load-balancer address into the status of every LoadBalancer Service."""

    def __init__(self, kube: Kube, on_change: Callable[[], None]) -> None:
        self.kube = kube
        self.services: dict[tuple[str, str], Obj] = {}
        self._dirty = asyncio.Event()
        self._on_change = on_change

    async def on_services(self, cache: dict[tuple[str, str], Obj]) -> None:
        self.services = cache
        self._dirty.set()
        self._on_change()  # dataplane.json lists the LoadBalancer Services and their ports

    async def run(self, resync: float = 10.0) -> None:
        await reconcile_loop("load-balancer controller", self._dirty, self.reconcile, resync)

    async def reconcile(self) -> None:
        for (namespace, name), service in sorted(self.services.items()):
            patch = status_patch(service)
            if patch is None:
                continue
            path = f"/api/v1/namespaces/{namespace}/services/{name}/status"
            try:
                await self.kube.merge_patch(path, patch)
            except ApiError as exc:
                if exc.status == 404:
                    continue  # deleted meanwhile
                raise
            address = (patch["status"]["loadBalancer"]["ingress"] or [{}])[0].get("ip")
            log.info(
                "load-balancer controller: Service %s/%s %s",
                namespace,
                name,
                f"gets address {address}" if address else "is no LoadBalancer any more; address removed",
            )
