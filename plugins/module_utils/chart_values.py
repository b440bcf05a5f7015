# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Chart values and cluster-wide objects of a member's edge, as plain data.

Pure and typed: no Ansible import, so the roles' filters stay thin and the unit
tests exercise this directly. Every function checks its input and raises
:class:`ChartValuesError` carrying every problem found, each naming the member
and the inventory key, so a bad inventory fails before anything is applied.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ACME_SERVERS",
    "BUFFERING_MIDDLEWARES",
    "ChartValuesError",
    "cert_manager_values",
    "cluster_issuers",
    "deep_merge",
    "entrypoint_service",
    "traefik_values",
]

JSON = dict[str, Any]

MANAGED_BY = "binder.ingress"

# The file-provider middlewares every member gets: request body limits in bytes
# (0 means no limit). Ingresses name them as `<name>@file`.
BUFFERING_MIDDLEWARES: dict[str, int] = {
    "harbor": 0,
    "hub": 64_000_000,
    "default": 1_000_000,
}

ACME_SERVERS: dict[str, str] = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory",
}

# Named container ports of each known controller, and the pod labels its chart sets.
_TARGET_PORTS: dict[str, tuple[str, str]] = {
    "traefik": ("web", "websecure"),
    "ingress-nginx": ("http", "https"),
}

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Service names: a DNS-1035 label (must start with a letter).
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_PORT_NAME = re.compile(r"^(?=.{1,15}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
_CIDR = re.compile(r"^[0-9a-fA-F:.]+/[0-9]{1,3}$")


class ChartValuesError(ValueError):
    """Invalid input; ``issues`` lists every problem, each naming member and key."""

    def __init__(self, issues: Sequence[str]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(self.issues))


class _Issues:
    """Collects problems so a caller sees all of them at once."""

    def __init__(self, member: str) -> None:
        self.member = member
        self.items: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(f"member {self.member}: {key}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ChartValuesError(self.items)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> JSON:
    """Return ``base`` with ``override`` merged in: mappings recursively, anything else replaced."""
    merged: JSON = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _check_member(member: object) -> str:
    if not isinstance(member, str) or not _LABEL_VALUE.match(member) or not member:
        # The member name ends up in label values, so it must be one.
        raise ChartValuesError(
            [
                f"member {member!r}: inventory_hostname: must be a non-empty Kubernetes label value (letters, digits, '-', '_', '.')"
            ]
        )
    return member


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_string_map(
    issues: _Issues, key: str, value: object, *, names: re.Pattern[str] | None = None
) -> dict[str, str]:
    if not isinstance(value, Mapping):
        issues.add(key, f"must be a mapping of strings, got {type(value).__name__}")
        return {}
    result: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or (names is not None and not names.match(name)):
            issues.add(f"{key}.{name}", "is not a valid key")
            continue
        if not isinstance(item, str):
            issues.add(f"{key}.{name}", f"must be a string, got {type(item).__name__} (quote it in YAML)")
            continue
        result[name] = item
    return result


def _check_resources(issues: _Issues, key: str, value: object) -> JSON:
    """Check a Kubernetes ``resources`` block: requests/limits of cpu/memory quantities."""
    if not isinstance(value, Mapping):
        issues.add(key, f"must be a mapping with requests/limits, got {type(value).__name__}")
        return {}
    result: JSON = {}
    for section, amounts in value.items():
        if section not in ("requests", "limits"):
            issues.add(f"{key}.{section}", "unknown key (expected requests or limits)")
            continue
        if not isinstance(amounts, Mapping):
            issues.add(f"{key}.{section}", "must be a mapping")
            continue
        checked: dict[str, str] = {}
        for resource, amount in amounts.items():
            text = str(amount) if _is_int(amount) or isinstance(amount, float) else amount
            if resource not in ("cpu", "memory", "ephemeral-storage"):
                issues.add(
                    f"{key}.{section}.{resource}",
                    "unknown resource (expected cpu, memory or ephemeral-storage)",
                )
            elif not isinstance(text, str) or not _QUANTITY.match(text):
                issues.add(
                    f"{key}.{section}.{resource}",
                    f"{amount!r} is not a Kubernetes quantity (e.g. 100m, 512Mi)",
                )
            else:
                checked[resource] = text
        result[section] = checked
    return result


def _check_overrides(issues: _Issues, key: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        issues.add(
            key, f"must be a mapping (deep-merged over the generated values), got {type(value).__name__}"
        )
        return {}
    return value


def traefik_values(
    *,
    member: str,
    namespace: str,
    entrypoint_name: str = "cluster-entrypoint",
    ingress_class: str = "traefik",
    replicas: int = 2,
    log_level: str = "INFO",
    responding_timeout: str = "600s",
    resources: Mapping[str, Any] | None = None,
    redirect_middlewares: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> JSON:
    """Values for the traefik chart 41.x: the seed's settings, with the chart Service off.

    The entrypoint Service of the member stands in for the chart's Service, so
    Ingress status is copied from it (``publishedService.pathOverride``).
    ``redirect_middlewares`` (the redirector's ``redirectRegex`` middlewares) join
    the buffering middlewares in the file provider; ``overrides`` is merged last.
    """
    member = _check_member(member)
    issues = _Issues(member)
    if not isinstance(namespace, str) or not _DNS1123_LABEL.match(namespace):
        issues.add("traefik_namespace", f"{namespace!r} is not a valid namespace name (DNS-1123 label)")
    if not isinstance(entrypoint_name, str) or not _DNS1035_LABEL.match(entrypoint_name):
        issues.add(
            "traefik_entrypoint_service", f"{entrypoint_name!r} is not a valid Service name (DNS-1035 label)"
        )
    if not isinstance(ingress_class, str) or not _DNS1123_SUBDOMAIN.match(ingress_class):
        issues.add("traefik_ingress_class", f"{ingress_class!r} is not a valid IngressClass name")
    if not _is_int(replicas) or replicas < 1:
        issues.add("traefik_replicas", f"must be an integer >= 1, got {replicas!r}")
    if log_level not in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC"):
        issues.add(
            "traefik_log_level", f"{log_level!r} is not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, PANIC"
        )
    if not isinstance(responding_timeout, str) or not _DURATION.match(responding_timeout):
        issues.add(
            "traefik_responding_timeout", f"{responding_timeout!r} is not a duration such as 600s or 10m"
        )
    checked_resources = _check_resources(
        issues, "traefik_resources", resources if resources is not None else {}
    )
    extra = redirect_middlewares if redirect_middlewares is not None else {}
    if not isinstance(extra, Mapping):
        issues.add("traefik_redirects", f"redirect middlewares must be a mapping, got {type(extra).__name__}")
        extra = {}
    for name, middleware in extra.items():
        if name in BUFFERING_MIDDLEWARES:
            issues.add(
                "traefik_redirects", f"middleware name {name!r} clashes with a built-in buffering middleware"
            )
        elif not isinstance(name, str) or not _DNS1123_LABEL.match(name):
            issues.add("traefik_redirects", f"middleware name {name!r} is not a DNS-1123 label")
        elif not isinstance(middleware, Mapping) or "redirectRegex" not in middleware:
            issues.add("traefik_redirects", f"middleware {name!r} must be a redirectRegex middleware")
    over = _check_overrides(issues, "traefik_values_overrides", overrides if overrides is not None else {})
    issues.raise_if_any()

    middlewares: JSON = {
        name: {"buffering": {"maxRequestBodyBytes": limit}} for name, limit in BUFFERING_MIDDLEWARES.items()
    }
    middlewares.update(copy.deepcopy(dict(extra)))

    values: JSON = {
        "deployment": {"replicas": replicas},
        "ingressClass": {"enabled": True, "isDefaultClass": True, "name": ingress_class},
        "providers": {
            "kubernetesIngress": {
                "enabled": True,
                # The redirector Service has no endpoints by design; traefik must still route to its middlewares.
                "allowEmptyServices": True,
                "publishedService": {"enabled": True, "pathOverride": f"{namespace}/{entrypoint_name}"},
            },
            # On by default in the chart; this collection only speaks Ingress.
            "kubernetesCRD": {"enabled": False},
            "kubernetesGateway": {"enabled": False},
            "file": {"enabled": True, "watch": True, "content": {"http": {"middlewares": middlewares}}},
        },
        # The member's cluster entrypoint is the only public Service.
        "service": {"enabled": False},
        "api": {"dashboard": False},
        "ingressRoute": {"dashboard": {"enabled": False}},
        "ports": {
            "web": {
                "port": 80,
                # Let http01 challenges through the global HTTP->HTTPS redirect.
                "allowACMEByPass": True,
                "http": {
                    "redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}
                },
            },
            "websecure": {
                "port": 443,
                # Long-lived websockets (notebook kernels) outlive traefik's 60 s default.
                "transport": {
                    "respondingTimeouts": {
                        "readTimeout": responding_timeout,
                        "idleTimeout": responding_timeout,
                    }
                },
            },
        },
        "log": {"level": log_level},
        "accessLog": {
            "enabled": True,
            "fields": {"headers": {"defaultMode": "drop", "names": {"User-Agent": "keep"}}},
        },
        "metrics": {
            "prometheus": {"entryPoint": "metrics", "addEntryPointsLabels": True, "addServicesLabels": True},
        },
    }
    if checked_resources:
        values["resources"] = checked_resources
    return deep_merge(values, over)


def cert_manager_values(
    *,
    member: str,
    default_issuer: str = "letsencrypt-prod",
    controller_resources: Mapping[str, Any] | None = None,
    webhook_resources: Mapping[str, Any] | None = None,
    cainjector_resources: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> JSON:
    """Values for the cert-manager chart: CRDs installed and kept, ingress-shim defaulting to a ClusterIssuer."""
    member = _check_member(member)
    issues = _Issues(member)
    if not isinstance(default_issuer, str) or not _DNS1123_SUBDOMAIN.match(default_issuer):
        issues.add("cert_manager_default_issuer", f"{default_issuer!r} is not a valid ClusterIssuer name")
    controller = _check_resources(issues, "cert_manager_controller_resources", controller_resources or {})
    webhook = _check_resources(issues, "cert_manager_webhook_resources", webhook_resources or {})
    cainjector = _check_resources(issues, "cert_manager_cainjector_resources", cainjector_resources or {})
    over = _check_overrides(
        issues, "cert_manager_values_overrides", overrides if overrides is not None else {}
    )
    issues.raise_if_any()

    values: JSON = {
        # `crds.keep` leaves the CRDs (and so every Certificate) in place if the release is removed.
        "crds": {"enabled": True, "keep": True},
        "ingressShim": {"defaultIssuerName": default_issuer, "defaultIssuerKind": "ClusterIssuer"},
    }
    if controller:
        values["resources"] = controller
    if webhook:
        values["webhook"] = {"resources": webhook}
    if cainjector:
        values["cainjector"] = {"resources": cainjector}
    return deep_merge(values, over)


def cluster_issuers(
    *,
    member: str,
    email: object,
    issuers: Mapping[str, str] | None = None,
    ingress_class: str = "traefik",
) -> list[JSON]:
    """ACME ClusterIssuers (one per ``issuers`` name -> directory URL), each with an http01 solver."""
    member = _check_member(member)
    issues = _Issues(member)
    if not isinstance(email, str) or not email:
        issues.add("cert_manager_acme_email", "is required: the Let's Encrypt account e-mail address")
    elif not _EMAIL.match(email):
        issues.add("cert_manager_acme_email", f"{email!r} is not a valid e-mail address")
    wanted = ACME_SERVERS if issuers is None else issuers
    if not isinstance(wanted, Mapping) or not wanted:
        issues.add(
            "cert_manager_cluster_issuers", "must be a non-empty mapping of issuer name to ACME directory URL"
        )
        wanted = {}
    for name, server in wanted.items():
        if not isinstance(name, str) or not _DNS1123_SUBDOMAIN.match(name):
            issues.add(
                f"cert_manager_cluster_issuers.{name}",
                "is not a valid ClusterIssuer name (DNS-1123 subdomain)",
            )
        if not isinstance(server, str) or not server.startswith("https://"):
            issues.add(
                f"cert_manager_cluster_issuers.{name}", f"ACME directory {server!r} must be an https:// URL"
            )
    if not isinstance(ingress_class, str) or not _DNS1123_SUBDOMAIN.match(ingress_class):
        issues.add("cert_manager_ingress_class", f"{ingress_class!r} is not a valid IngressClass name")
    issues.raise_if_any()

    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {
                "name": name,
                # Cluster-scoped, so shared by every member of the cluster: no member label, or
                # members sharing a cluster would relabel them in turn on every run.
                "labels": {
                    "app.kubernetes.io/managed-by": MANAGED_BY,
                    "binder.ingress/set": "cluster-issuers",
                },
            },
            "spec": {
                "acme": {
                    "server": server,
                    "email": email,
                    "privateKeySecretRef": {"name": name},
                    "solvers": [{"http01": {"ingress": {"ingressClassName": ingress_class}}}],
                }
            },
        }
        for name, server in wanted.items()
    ]


def _controller_selector(
    issues: _Issues, target: str, release: str, namespace: str, selector: object
) -> dict[str, str]:
    if target == "traefik":
        # The traefik chart labels its pods with the release and namespace joined.
        return {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": f"{release}-{namespace}"}
    if target == "ingress-nginx":
        return {
            "app.kubernetes.io/name": "ingress-nginx",
            "app.kubernetes.io/instance": release,
            "app.kubernetes.io/component": "controller",
        }
    if target == "custom":
        checked = _check_string_map(issues, "cluster_entrypoint_selector", selector, names=_LABEL_NAME)
        if not checked and isinstance(selector, Mapping) and not selector:
            issues.add("cluster_entrypoint_selector", "is required when cluster_entrypoint_target is custom")
        for name, value in checked.items():
            if not _LABEL_VALUE.match(value):
                issues.add(f"cluster_entrypoint_selector.{name}", f"{value!r} is not a valid label value")
        return checked
    issues.add("cluster_entrypoint_target", f"{target!r} is not one of traefik, ingress-nginx, custom")
    return {}


def _check_target_port(issues: _Issues, key: str, value: object) -> int | str | None:
    if isinstance(value, int) and _is_int(value):
        if 1 <= value <= 65535:
            return value
        issues.add(key, f"port {value} is outside 1-65535")
        return None
    if isinstance(value, str) and _PORT_NAME.match(value) and re.search(r"[a-z]", value):
        return value
    issues.add(key, f"{value!r} is neither a port number nor a valid port name")
    return None


def entrypoint_service(
    *,
    member: str,
    namespace: str,
    name: str = "cluster-entrypoint",
    target: str = "traefik",
    release: str = "traefik",
    selector: Mapping[str, Any] | None = None,
    target_ports: Mapping[str, Any] | None = None,
    annotations: Mapping[str, Any] | None = None,
    load_balancer_ip: str = "",
    load_balancer_source_ranges: Sequence[str] | None = None,
) -> JSON:
    """The member's one public LoadBalancer Service, sending 80/443 to the ingress controller's pods."""
    member = _check_member(member)
    issues = _Issues(member)
    if not isinstance(namespace, str) or not _DNS1123_LABEL.match(namespace):
        issues.add(
            "cluster_entrypoint_namespace", f"{namespace!r} is not a valid namespace name (DNS-1123 label)"
        )
    if not isinstance(name, str) or not _DNS1035_LABEL.match(name):
        issues.add("cluster_entrypoint_name", f"{name!r} is not a valid Service name (DNS-1035 label)")
    if not isinstance(release, str) or not _DNS1123_LABEL.match(release):
        issues.add("cluster_entrypoint_release", f"{release!r} is not a valid Helm release name")
    pod_selector = _controller_selector(
        issues, target, release, namespace, selector if selector is not None else {}
    )

    ports_in = target_ports if target_ports is not None else {}
    if not isinstance(ports_in, Mapping):
        issues.add(
            "cluster_entrypoint_target_ports",
            f"must be a mapping with http/https, got {type(ports_in).__name__}",
        )
        ports_in = {}
    for unknown in sorted(set(ports_in) - {"http", "https"}):
        issues.add(f"cluster_entrypoint_target_ports.{unknown}", "unknown key (expected http or https)")
    defaults: tuple[int | str, int | str] = _TARGET_PORTS.get(target, (80, 443))
    http_target = _check_target_port(
        issues, "cluster_entrypoint_target_ports.http", ports_in.get("http", defaults[0])
    )
    https_target = _check_target_port(
        issues, "cluster_entrypoint_target_ports.https", ports_in.get("https", defaults[1])
    )

    checked_annotations = _check_string_map(
        issues,
        "cluster_entrypoint_annotations",
        annotations if annotations is not None else {},
        names=_LABEL_NAME,
    )
    if not isinstance(load_balancer_ip, str):
        issues.add("cluster_entrypoint_load_balancer_ip", "must be a string")
    ranges = load_balancer_source_ranges if load_balancer_source_ranges is not None else []
    if isinstance(ranges, str) or not isinstance(ranges, Sequence):
        issues.add("cluster_entrypoint_load_balancer_source_ranges", "must be a list of CIDRs")
        ranges = []
    for index, cidr in enumerate(ranges):
        if not isinstance(cidr, str) or not _CIDR.match(cidr):
            issues.add(f"cluster_entrypoint_load_balancer_source_ranges[{index}]", f"{cidr!r} is not a CIDR")
    issues.raise_if_any()

    metadata: JSON = {
        "name": name,
        "namespace": namespace,
        "labels": {
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/managed-by": MANAGED_BY,
            "binder.ingress/member": member,
            "binder.ingress/set": "entrypoint",
        },
    }
    if checked_annotations:
        metadata["annotations"] = checked_annotations
    spec: JSON = {
        "type": "LoadBalancer",
        # Keeps client source addresses (access logs, rate limits) and avoids a second hop.
        "externalTrafficPolicy": "Local",
        "selector": pod_selector,
        "ports": [
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": http_target},
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": https_target},
        ],
    }
    if load_balancer_ip:
        spec["loadBalancerIP"] = load_balancer_ip
    if ranges:
        spec["loadBalancerSourceRanges"] = list(ranges)
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}
