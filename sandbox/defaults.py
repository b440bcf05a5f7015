"""Defaults kube-apiserver fills in (the defaulting functions and allocators of these kinds)."""

from __future__ import annotations

import base64
import copy
import ipaddress
import random
from typing import Any

from sandbox.kinds import Kind

Obj = dict[str, Any]

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORTS = range(30000, 32768)


class Allocator:
    """Cluster IPs and node ports, unique among live Services."""

    def __init__(self) -> None:
        self.ips: set[str] = {str(SERVICE_CIDR.network_address + 1)}  # the `kubernetes` Service
        self.node_ports: set[int] = set()
        self._rng = random.Random(0x5A4D)

    def cluster_ip(self) -> str:
        size = SERVICE_CIDR.num_addresses
        while True:
            ip = str(SERVICE_CIDR.network_address + self._rng.randrange(10, size - 1))
            if ip not in self.ips:
                self.ips.add(ip)
                return ip

    def node_port(self) -> int:
        while True:
            port = self._rng.choice(NODE_PORTS)
            if port not in self.node_ports:
                self.node_ports.add(port)
                return port

    def release(self, svc: Obj) -> None:
        spec = svc.get("spec") or {}
        self.ips.discard(spec.get("clusterIP", ""))
        for p in spec.get("ports") or []:
            self.node_ports.discard(p.get("nodePort", 0))


def apply_defaults(kind: Kind, obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    """Fill defaults in place (`old` is the stored object on update, None on create)."""
    if kind.custom:
        if kind.crd_schema:
            schema_defaults(kind.crd_schema, obj)
        return
    fn = _DEFAULTERS.get((kind.group, kind.plural))
    if fn is not None:
        fn(obj, old, alloc)


def _service(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    stype = spec.setdefault("type", "ClusterIP")
    if stype != "ExternalName":
        spec.setdefault("sessionAffinity", "None")
        if not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec.get("clusterIP") or alloc.cluster_ip()
        elif spec["clusterIP"] != "None" and old is None:
            alloc.ips.add(spec["clusterIP"])
        spec["clusterIPs"] = [spec["clusterIP"]]
        if spec["clusterIP"] != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        else:
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    else:
        spec.setdefault("sessionAffinity", "None")
    old_node_ports = {
        (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old_spec.get("ports") or []
    }
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
        if stype in ("NodePort", "LoadBalancer"):
            if not port.get("nodePort"):
                port["nodePort"] = (
                    old_node_ports.get((port.get("port"), port["protocol"])) or alloc.node_port()
                )
            else:
                alloc.node_ports.add(port["nodePort"])
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if stype == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    obj.setdefault("status", {"loadBalancer": {}})


def _namespace(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    del alloc
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    spec = obj.setdefault("spec", {})
    spec.setdefault("finalizers", ((old or {}).get("spec") or {}).get("finalizers", ["kubernetes"]))
    if old is None:
        obj["status"] = {"phase": "Active"}


def _secret(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    del old, alloc
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _ingress(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    del alloc
    if old is None:
        obj.setdefault("status", {"loadBalancer": {}})


def _pod_template(template: Obj) -> None:
    spec = template.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in spec.get("containers") or []:
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        image = str(container.get("image", ""))
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def _deployment(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    del old, alloc
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
    _pod_template(spec.setdefault("template", {}))


def _daemonset(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    del old, alloc
    spec = obj.setdefault("spec", {})
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
    _pod_template(spec.setdefault("template", {}))


def _endpointslice(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    del old, alloc
    for port in obj.get("ports") or []:
        port.setdefault("protocol", "TCP")


def _crd(obj: Obj, old: Obj | None, alloc: Allocator) -> None:
    del alloc
    spec = obj.setdefault("spec", {})
    spec.setdefault("conversion", {"strategy": "None"})
    names = spec.setdefault("names", {})
    if "kind" in names:
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    if old is None or "status" not in obj:
        obj["status"] = (old or {}).get("status") or {}


_DEFAULTERS = {
    ("", "services"): _service,
    ("", "namespaces"): _namespace,
    ("", "secrets"): _secret,
    ("networking.k8s.io", "ingresses"): _ingress,
    ("apps", "deployments"): _deployment,
    ("apps", "daemonsets"): _daemonset,
    ("discovery.k8s.io", "endpointslices"): _endpointslice,
    ("apiextensions.k8s.io", "customresourcedefinitions"): _crd,
}


def schema_defaults(schema: dict[str, Any], value: Any) -> None:
    """Apply the `default`s of a CRD's structural schema in place, as kube-apiserver does.

    A default fills a missing property of an object that is present; defaults of the
    properties inside it then apply to it too.
    """
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                schema_defaults(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in list(value):
                if key not in (schema.get("properties") or {}):
                    schema_defaults(extra, value[key])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            schema_defaults(schema["items"], item)
