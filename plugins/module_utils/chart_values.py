# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Chart values and cluster-wide objects of a member's edge, as plain data.

Pure and typed: no Ansible import, so the roles' filters stay thin and the unit tests
exercise this directly. The checks are the model's: every function collects its problems
with the model's ``Issues``, using the name rules of ``_names``, and raises the model's
``MemberError`` carrying every problem found, each naming the member and the key the user
wrote, so a bad inventory fails before anything is applied.

Each builder takes ``keys``: its input fields -> the variables the user wrote, over its
role's own variable names (``TRAEFIK_KEYS``, ...).
"""

from __future__ import annotations

import base64
import binascii
import copy
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils import _names
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    ENTRYPOINT_WEB,
    ENTRYPOINT_WEBSECURE,
    MIDDLEWARE_CLIENT_LIMIT,
    MIDDLEWARE_DEFAULT,
    MIDDLEWARE_HARBOR,
    MIDDLEWARE_HSTS,
    MIDDLEWARE_HUB,
    MOZILLA_INTERMEDIATE_CIPHERS,
    SET_CLUSTER_ISSUERS,
    SET_ENTRYPOINT,
    SET_ISSUERS,
)
from ansible_collections.binder.ingress.plugins.module_utils.inputs import setting_names
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    ANNOTATION_ENTRYPOINTS,
    HSTS_MIN_MAX_AGE,
    TRAEFIK_MIDDLEWARES,
    Issues,
    Port,
    check_hsts_max_age,
    check_member,
    check_tls_min_version,
    kind,
    labels,
)

__all__ = [
    "ACME_SERVERS",
    "BUFFERING_MIDDLEWARES",
    "CERT_MANAGER_KEYS",
    "CLUSTER_ISSUERS_KEYS",
    "ENTRYPOINT_KEYS",
    "TRAEFIK_KEYS",
    "cert_manager_values",
    "cluster_issuers",
    "deep_merge",
    "entrypoint_service",
    "traefik_values",
]

JSON = dict[str, Any]

_BODY_LIMITS = {MIDDLEWARE_HARBOR: 0, MIDDLEWARE_HUB: 64_000_000, MIDDLEWARE_DEFAULT: 1_000_000}
# The file-provider middlewares every member gets, the ones the model lets Ingresses name, with
# their default request body limits in bytes. Ingresses name them as `<name>@file`. A limit of 0
# means no limit and no buffering: traefik's buffering middleware spools a body beyond 1 MB to a
# temporary file before forwarding it, so an unlimited one lets anyone fill traefik's disk; Harbor's
# bodies (image layers, gigabytes) are streamed instead (traefik_harbor_max_body_bytes).
BUFFERING_MIDDLEWARES: dict[str, int] = {name: _BODY_LIMITS[name] for name in TRAEFIK_MIDDLEWARES}
# Every file-provider middleware the role defines itself: no redirect middleware may take these names.
_OWN_MIDDLEWARES = frozenset({*BUFFERING_MIDDLEWARES, MIDDLEWARE_HSTS, MIDDLEWARE_CLIENT_LIMIT})
# An empty chain: a middleware that does nothing, so `harbor@file` exists and its bodies stream
# (traefik refuses an empty `headers: {}` as "a standalone element"; a chain may be empty).
_PASS_THROUGH: JSON = {"chain": {"middlewares": []}}

ACME_SERVERS: dict[str, str] = {
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory",
}

# Named container ports of each known controller, and the pod labels its chart sets.
_TARGET_PORTS: dict[str, tuple[str, str]] = {
    "traefik": ("web", "websecure"),
    "ingress-nginx": ("http", "https"),
}
_TARGETS = ("traefik", "ingress-nginx", "custom")

# The oldest TLS version traefik accepts (model.TLS_MIN_VERSIONS) -> traefik's name.
TLS_VERSIONS: dict[str, str] = {"1.2": "VersionTLS12", "1.3": "VersionTLS13"}
# Every TLS 1.2 suite Go (so traefik) knows by name: anything else is a typo traefik would refuse.
_GO_CIPHERS = frozenset(
    {
        *MOZILLA_INTERMEDIATE_CIPHERS,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    }
)
# Request headers the access log never records, whatever an inventory asks: credentials and
# session cookies, and the Referer, which carries the previous page's URL with its tokens.
SECRET_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "Referer")
_QUERY_MODES = ("drop", "keep")

# traefik applies the TLS option named `default` to every router that names no other.
TLS_OPTION = "default"
_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC")
_RESOURCES = ("cpu", "memory", "ephemeral-storage")

# Input field -> the role variable it comes from: the key an error names unless `keys` says otherwise.
_MEMBER = {"member": "inventory_hostname"}
TRAEFIK_KEYS: Mapping[str, str] = {**_MEMBER, **setting_names("traefik")}
CERT_MANAGER_KEYS: Mapping[str, str] = {**_MEMBER, **setting_names("cert_manager")}
CLUSTER_ISSUERS_KEYS: Mapping[str, str] = {
    **_MEMBER,
    "email": "cert_manager_acme_email",
    "issuers": "cert_manager_cluster_issuers",
    "ingress_class": "cert_manager_ingress_class",
    "ca_bundle": "cert_manager_acme_ca_bundle",
    "namespace": "cert_manager_issuer_namespace",
}
ENTRYPOINT_KEYS: Mapping[str, str] = {**_MEMBER, **setting_names("cluster_entrypoint")}


def _issues(member: Any, defaults: Mapping[str, str], keys: Mapping[str, str] | None) -> Issues:
    issues = Issues(str(member), {**defaults, **(keys or {})})
    check_member(issues, member)
    return issues


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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_map(issues: Issues, key: str, value: object, what: str, values: Any = None) -> dict[str, str]:
    """A mapping of qualified names (label or annotation keys) to strings; `values` checks each value."""
    spec = issues.mapping(value, key, f"a mapping of {what} to string")
    result: dict[str, str] = {}
    for name, item in (spec or {}).items():
        item_key = f"{key}.{name}"
        if not isinstance(name, str):
            issues.add(key, f"{what}s must be strings, got {kind(name)}")
            continue
        if not issues.name(name, item_key, what, _names.qualified_name):
            continue
        text = issues.string(item, item_key)
        if text is not None and (values is None or issues.name(text, item_key, "label value", values)):
            result[name] = text
    return result


def _resources(issues: Issues, key: str, value: object) -> JSON:
    """A Kubernetes ``resources`` block: requests/limits of cpu/memory quantities."""
    spec = issues.mapping(value, key, "a mapping with requests and/or limits")
    result: JSON = {}
    if spec is None:
        return result
    issues.unknown_keys(spec, key, ("requests", "limits"))
    for section in ("requests", "limits"):
        if section not in spec:
            continue
        amounts = issues.mapping(spec[section], f"{key}.{section}", "a mapping of resource to quantity")
        if amounts is None:
            continue
        issues.unknown_keys(amounts, f"{key}.{section}", _RESOURCES)
        checked: dict[str, str] = {}
        for resource, amount in amounts.items():
            if resource not in _RESOURCES:
                continue
            # YAML reads `cpu: 1` as a number; a quantity is its text.
            text = str(amount) if _is_int(amount) or isinstance(amount, float) else amount
            item_key = f"{key}.{section}.{resource}"
            valid = issues.valid(text, item_key, "Kubernetes quantity", _names.quantity)
            if valid is not None:
                checked[resource] = valid
        result[section] = checked
    return result


def _overrides(issues: Issues, key: str, value: object) -> Mapping[str, Any]:
    spec = issues.mapping(value, key, "a mapping (deep-merged over the generated values)")
    return spec if spec is not None else {}


def _cipher_suites(issues: Issues, key: str, value: object) -> list[str]:
    suites: list[str] = []
    for item_key, suite in issues.entries(value, key, "a list of cipher suite names", "cipher suite"):
        name = issues.string(suite, item_key)
        if name is None:
            continue
        if name not in _GO_CIPHERS:
            close = difflib.get_close_matches(name, sorted(_GO_CIPHERS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            issues.add(item_key, f"{name!r} is not a TLS 1.2 cipher suite traefik knows{hint}")
            continue
        suites.append(name)
    return suites


def _logged_headers(issues: Issues, key: str, value: object) -> list[str]:
    """Request header names the access log keeps; none of SECRET_HEADERS."""
    secret = {name.lower(): name for name in SECRET_HEADERS}
    kept: list[str] = []
    for item_key, header in _items(issues, value, key, "a list of request header names"):
        name = issues.string(header, item_key)
        if name is None:
            continue
        if not issues.name(name, item_key, "header name", _names.header_name):
            continue
        if name.lower() in secret:
            issues.add(item_key, f"{name!r} must never be logged (it carries credentials or tokens)")
        else:
            kept.append(name)
    return kept


def _items(issues: Issues, value: object, key: str, what: str) -> list[tuple[str, Any]]:
    items = issues.sequence(value, key, what)
    return [(f"{key}[{i}]", item) for i, item in enumerate(items or ())]


def _redirect_middlewares(issues: Issues, key: str, value: object) -> JSON:
    """The member state's `redirect_middlewares`: redirectRegex middlewares by name."""
    spec = issues.mapping(value, key, "a mapping of middleware name to redirectRegex middleware")
    result: JSON = {}
    for name, middleware in (spec or {}).items():
        item_key = f"{key}.{name}"
        if name in _OWN_MIDDLEWARES:
            issues.add(item_key, f"{name!r} is a middleware the traefik role defines itself")
            continue
        # The model names every redirect middleware so that this holds (redirect_middleware_name).
        if issues.valid(name, item_key, "middleware name (DNS-1123 label)", _names.dns1123_label) is None:
            continue
        body = issues.mapping(middleware, item_key, "a redirectRegex middleware")
        if body is not None and "redirectRegex" not in body:
            issues.add(item_key, "must be a redirectRegex middleware (as the member state builds them)")
            continue
        result[name] = copy.deepcopy(dict(middleware))
    return result


# --- What one client and all clients together can make traefik hold ---------------------------
#
# traefik's buffering middlewares (hub@file, default@file, harbor@file with a limit) keep the first
# MiB of a request body, and of a response body, in memory and write the rest to an unlinked file in
# /tmp: the spool. It is emptied only when the request ends. Counting requests cannot bound it for
# all clients together: a count shared by every client (traefik keys inFlightReq by a header or by
# address) would also count the hub's websockets, which hold a request for as long as a kernel
# runs. So the spool gets a hard cap instead: /tmp is memory (a tmpfs the kubelet sizes to
# traefik_tmp_size_limit), where a write past the cap fails ("no space left on device") and only
# that request is refused (500). On a disk-backed emptyDir the same bytes would first fill the
# node's disk, which the kubelet cannot even see (the files are unlinked), or get the pod evicted.

# traefik's memRequestBodyBytes and memResponseBodyBytes (the buffering middleware's defaults).
_MEM_BODY_BYTES = 1_048_576
# What traefik needs beside the spool within its memory limit, since the spool is memory too.
_HEAP_HEADROOM = 256 * 1024**2
# The share of the memory left beside the spool that Go's soft limit (GOMEMLIMIT) may use, as the
# chart's goMemLimitPercentage does for the whole limit (its default is 0.9).
_GO_MEMORY_SHARE = 0.9
# traefik groups IPv6 clients by their /64: one subscriber holds a whole /64, so counting single
# addresses would give one client 2^64 shares.
_IPV6_CLIENT_PREFIX = 64
_QUANTITY_FACTORS = {
    "": 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50,
}  # fmt: skip


def quantity_bytes(quantity: str) -> int:
    """The bytes a Kubernetes quantity (already checked with ``_names.quantity``) stands for."""
    number = quantity.rstrip("kmKMGTPi")
    return int(float(number) * _QUANTITY_FACTORS[quantity[len(number) :]])


def client_limit_middleware(amount: int) -> JSON:
    """The websecure entry point's inFlightReq: at most ``amount`` requests in flight per client.

    The client is the connection's source address (the entrypoint Service keeps it:
    externalTrafficPolicy Local), never a header the client could set; IPv6 clients by /64.
    """
    return {
        "inFlightReq": {
            "amount": amount,
            "sourceCriterion": {"ipStrategy": {"ipv6Subnet": _IPV6_CLIENT_PREFIX}},
        }
    }


def spool_volume(tmp_limit: str | None) -> JSON:
    """The chart's ``deployment.tmpVolume``: /tmp as a tmpfs capped at ``tmp_limit``."""
    return {"emptyDir": {"medium": "Memory", "sizeLimit": tmp_limit}}


def _check_client_max_requests(issues: Issues, key: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        issues.add(
            key, f"must be an integer of at least 1 (requests in flight per client address), got {value!r}"
        )


def _check_spool(
    issues: Issues, k: Any, tmp_limit: str | None, resources: Mapping[str, Any], harbor_max_body_bytes: object
) -> float | None:
    """Check that the spool's cap fits what it must hold and what holds it; return goMemLimitPercentage.

    Every buffered body must fit in the spool, or no such upload could ever succeed; and the spool,
    being memory, must leave traefik room within its memory limit. Go's soft limit is then set on the
    memory beside the spool, so that the garbage collector works before the container is killed.
    """
    if tmp_limit is None:
        return None
    spool = quantity_bytes(tmp_limit)
    # (the key to name, the body limit): all but a body's first MiB is spooled.
    bodies = [(k("tmp_size_limit"), BUFFERING_MIDDLEWARES[MIDDLEWARE_HUB])]
    harbor = harbor_max_body_bytes
    if isinstance(harbor, int) and not isinstance(harbor, bool) and harbor > 0:  # 0 streams: nothing spooled
        bodies.append((k("harbor_max_body_bytes"), harbor))
    for key, limit in bodies:
        if limit - _MEM_BODY_BYTES >= spool:
            issues.add(
                key,
                f"a {limit}-byte body would not fit in traefik's /tmp of {tmp_limit} ({k('tmp_size_limit')}),"
                " where all but its first MiB is spooled: no such upload could succeed",
            )
    memory_text = (resources.get("limits") or {}).get("memory")
    if memory_text is None:
        return None
    memory = quantity_bytes(memory_text)
    if memory < spool + _HEAP_HEADROOM:
        issues.add(
            f"{k('resources')}.limits.memory",
            f"{memory_text} must be at least {k('tmp_size_limit')} ({tmp_limit}) plus 256Mi:"
            " the spool in /tmp is memory (tmpfs) and counts against this limit",
        )
        return None
    return math.floor(_GO_MEMORY_SHARE * (memory - spool) / memory * 100) / 100


def traefik_values(
    *,
    member: str,
    namespace: str,
    entrypoint_name: str = "cluster-entrypoint",
    ingress_class: str = "traefik",
    replicas: int = 2,
    log_level: str = "INFO",
    responding_timeout: str = "180s",
    client_max_requests: int = 500,
    resources: Mapping[str, Any] | None = None,
    tls_min_version: str = "1.2",
    tls_cipher_suites: Sequence[str] = MOZILLA_INTERMEDIATE_CIPHERS,
    harbor_max_body_bytes: int = 0,
    tmp_size_limit: str = "1Gi",
    ephemeral_storage_limit: str = "2Gi",
    http_redirect: bool = True,
    access_log_headers: Sequence[str] = ("User-Agent",),
    access_log_query: str = "drop",
    hsts_max_age: int = HSTS_MIN_MAX_AGE,
    hsts_include_subdomains: bool = False,
    redirect_middlewares: Mapping[str, Any] | None = None,
    namespaced: bool = False,
    overrides: Mapping[str, Any] | None = None,
    keys: Mapping[str, str] | None = None,
) -> JSON:
    """Values for the traefik chart 41.x: the seed's settings, with the chart Service off.

    ``namespaced`` (a member sharing its cluster with other members): traefik reads Ingresses only
    in ``namespace``, its IngressClass is not the cluster's default, and the chart makes no RBAC
    (``traefik_rbac`` builds the namespaced Role instead; the chart's ``rbac.namespaced`` would
    turn off traefik's IngressClass lookup, and every Ingress naming a class would answer 404).

    The entrypoint Service of the member stands in for the chart's Service, so
    Ingress status is copied from it (``publishedService.pathOverride``).
    ``redirect_middlewares`` (the member state's ``redirectRegex`` middlewares, by name)
    join the buffering middlewares in the file provider; ``overrides`` is merged last.
    """
    issues = _issues(member, TRAEFIK_KEYS, keys)
    k = issues.key
    issues.valid(namespace, k("namespace"), "namespace (DNS-1123 label)", _names.dns1123_label)
    issues.valid(entrypoint_name, k("entrypoint_name"), "Service name (DNS-1035 label)", _names.dns1035_label)
    issues.valid(
        ingress_class, k("ingress_class"), "IngressClass name (DNS-1123 subdomain)", _names.dns1123_subdomain
    )
    if not _is_int(replicas) or replicas < 1:
        issues.add(k("replicas"), f"must be an integer of at least 1, got {kind(replicas)}")
    if log_level not in _LOG_LEVELS:
        issues.add(k("log_level"), f"{log_level!r} is not one of {', '.join(_LOG_LEVELS)}")
    issues.valid(responding_timeout, k("responding_timeout"), "duration", _names.duration)
    checked_resources = _resources(issues, k("resources"), resources if resources is not None else {})
    check_tls_min_version(issues, tls_min_version, k("tls_min_version"))
    suites = _cipher_suites(issues, k("tls_cipher_suites"), tls_cipher_suites)
    check_hsts_max_age(issues, hsts_max_age, k("hsts_max_age"))
    if not _is_int(harbor_max_body_bytes) or harbor_max_body_bytes < 0:
        issues.add(
            k("harbor_max_body_bytes"),
            f"must be 0 (stream bodies, never buffer them) or a limit in bytes, got {harbor_max_body_bytes!r}",
        )
    tmp_limit = issues.valid(tmp_size_limit, k("tmp_size_limit"), "Kubernetes quantity", _names.quantity)
    storage_limit = issues.valid(
        ephemeral_storage_limit, k("ephemeral_storage_limit"), "Kubernetes quantity", _names.quantity
    )
    if "ephemeral-storage" in (checked_resources.get("limits") or {}):
        issues.add(
            f"{k('resources')}.limits.ephemeral-storage",
            f"is set by {k('ephemeral_storage_limit')}; set it there",
        )
    logged = _logged_headers(issues, k("access_log_headers"), access_log_headers)
    if access_log_query not in _QUERY_MODES:
        issues.add(
            k("access_log_query"),
            f"{access_log_query!r} is not one of {', '.join(_QUERY_MODES)} (drop: tokens travel as ?token=)",
        )
    if not isinstance(http_redirect, bool):
        issues.add(k("http_redirect"), f"must be a boolean, got {kind(http_redirect)}")
    if not isinstance(hsts_include_subdomains, bool):
        issues.add(k("hsts_include_subdomains"), f"must be a boolean, got {kind(hsts_include_subdomains)}")
    if not isinstance(namespaced, bool):
        issues.add(k("namespaced"), f"must be a boolean, got {kind(namespaced)}")
    extra = _redirect_middlewares(
        issues, k("redirect_middlewares"), redirect_middlewares if redirect_middlewares is not None else {}
    )
    over = _overrides(issues, k("overrides"), overrides if overrides is not None else {})
    _check_client_max_requests(issues, k("client_max_requests"), client_max_requests)
    go_memory_share = _check_spool(issues, k, tmp_limit, checked_resources, harbor_max_body_bytes)
    issues.raise_if_any()

    limits = {**BUFFERING_MIDDLEWARES, MIDDLEWARE_HARBOR: harbor_max_body_bytes}
    middlewares: JSON = {
        name: {"buffering": {"maxRequestBodyBytes": limit}} if limit else copy.deepcopy(_PASS_THROUGH)
        for name, limit in limits.items()
    }
    web_redirect: JSON = {}
    if http_redirect:
        web_redirect = {
            # Lets cert-manager's http01 solvers through the redirect. Only they answer on web: the
            # member's own Ingresses are pinned to websecure (the model's entrypoints annotation).
            "allowACMEByPass": True,
            "http": {
                "redirections": {
                    "entryPoint": {"to": ENTRYPOINT_WEBSECURE, "scheme": "https", "permanent": True}
                }
            },
        }
    websecure_http: JSON = {}
    if hsts_max_age:
        middlewares[MIDDLEWARE_HSTS] = {
            "headers": {"stsSeconds": hsts_max_age, "stsIncludeSubdomains": hsts_include_subdomains}
        }
        # On the entry point, so every router there (every TLS host) sends it, whatever its own middlewares.
        websecure_http["middlewares"] = [f"{MIDDLEWARE_HSTS}@file"]
    # First on the entry point, so a client over its share is refused before any other work.
    middlewares[MIDDLEWARE_CLIENT_LIMIT] = client_limit_middleware(client_max_requests)
    websecure_http["middlewares"] = [
        f"{MIDDLEWARE_CLIENT_LIMIT}@file",
        *websecure_http.get("middlewares", []),
    ]
    middlewares.update(copy.deepcopy(dict(extra)))

    values: JSON = {
        "deployment": {"replicas": replicas, "tmpVolume": spool_volume(tmp_limit)},
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
            "file": {
                "enabled": True,
                "watch": True,
                "content": {
                    "http": {"middlewares": middlewares},
                    # In the file provider: the chart's `tlsOptions` are CRD objects, and the CRD provider is off.
                    "tls": {
                        "options": {
                            TLS_OPTION: {
                                "minVersion": TLS_VERSIONS[tls_min_version],
                                "cipherSuites": suites,
                            }
                        }
                    },
                },
            },
        },
        # The member's cluster entrypoint is the only public Service.
        "service": {"enabled": False},
        "api": {"dashboard": False},
        "ingressRoute": {"dashboard": {"enabled": False}},
        "ports": {
            ENTRYPOINT_WEB: {"port": 80, **web_redirect},
            ENTRYPOINT_WEBSECURE: {
                "port": 443,
                "http": websecure_http,
                # readTimeout bounds the request line, headers and body together (traefik 3.7 has no
                # separate header timeout); idleTimeout a keep-alive connection between requests.
                # Neither cuts a websocket: the upgrade hands the connection over without deadlines.
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
            "fields": {
                # Every request header is dropped but those kept; the secret ones are named too, so
                # an override of defaultMode cannot bring them back.
                "headers": {
                    "defaultMode": "drop",
                    "names": {**dict.fromkeys(logged, "keep"), **dict.fromkeys(SECRET_HEADERS, "drop")},
                },
                # The request path is logged without its query: Jupyter's tokens travel as ?token=.
                "queryParameters": {"defaultMode": access_log_query},
            },
        },
        "metrics": {
            "prometheus": {"entryPoint": "metrics", "addEntryPointsLabels": True, "addServicesLabels": True},
        },
    }
    values["resources"] = deep_merge(checked_resources, {"limits": {"ephemeral-storage": storage_limit}})
    if namespaced:
        values = deep_merge(values, _namespaced(namespace, ingress_class))
    if go_memory_share is not None:
        values["deployment"]["goMemLimitPercentage"] = go_memory_share
    return deep_merge(values, over)


def _namespaced(namespace: str, ingress_class: str) -> JSON:
    """What scopes a member's traefik to its namespace, where other members share the cluster.

    Its IngressClass is its own and not the default, and its provider serves only that class
    (``ingressClass``): without it traefik also serves every Ingress that names no class and has
    no ``kubernetes.io/ingress.class`` annotation, default class or not. The chart
    makes no RBAC: its ClusterRole reads every Secret of the cluster, and its ``rbac.namespaced``
    also sets ``disableClusterScopeResources``, with which traefik never reads IngressClasses and
    drops every Ingress that names one. The traefik role applies a Role in the namespace and a
    ClusterRole for IngressClasses and Nodes only (``traefik_rbac``).
    """
    return {
        "ingressClass": {"isDefaultClass": False},
        "providers": {"kubernetesIngress": {"namespaces": [namespace], "ingressClass": ingress_class}},
        "rbac": {"enabled": False},
    }


def cert_manager_values(
    *,
    member: str,
    default_issuer: str = "letsencrypt-prod",
    controller_resources: Mapping[str, Any] | None = None,
    webhook_resources: Mapping[str, Any] | None = None,
    cainjector_resources: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    keys: Mapping[str, str] | None = None,
) -> JSON:
    """Values for the cert-manager chart: CRDs installed and kept, ingress-shim defaulting to a ClusterIssuer."""
    issues = _issues(member, CERT_MANAGER_KEYS, keys)
    k = issues.key
    issues.valid(
        default_issuer,
        k("default_issuer"),
        "ClusterIssuer name (DNS-1123 subdomain)",
        _names.dns1123_subdomain,
    )
    controller = _resources(issues, k("controller_resources"), controller_resources or {})
    webhook = _resources(issues, k("webhook_resources"), webhook_resources or {})
    cainjector = _resources(issues, k("cainjector_resources"), cainjector_resources or {})
    over = _overrides(issues, k("overrides"), overrides if overrides is not None else {})
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


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def _ca_bundle(issues: Issues, key: str, value: object) -> str | None:
    """The PEM text of a CA bundle made only of certificates; None (and issues) otherwise."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        issues.add(key, f"must be PEM text of CA certificates, got {kind(value)}")
        return None
    blocks = list(_PEM_BLOCK.finditer(value))
    leftover = _PEM_BLOCK.sub("", value).strip()
    if not blocks or leftover:
        issues.add(
            key, "must be PEM text of one or more CA certificates (-----BEGIN CERTIFICATE----- blocks only)"
        )
        return None
    for number, block in enumerate(blocks, 1):
        if block.group(1) != "CERTIFICATE":
            issues.add(
                key, f"PEM block {number} is a {block.group(1)}, not a CERTIFICATE (never put a key here)"
            )
            continue
        try:
            der = base64.b64decode("".join(block.group(2).split()), validate=True)
        except (binascii.Error, ValueError):
            der = b""
        # A DER certificate is one ASN.1 SEQUENCE.
        if not der.startswith(b"\x30"):
            issues.add(key, f"PEM block {number} is not a valid certificate (bad base64 or DER)")
    return value


def cluster_issuers(
    *,
    member: str,
    email: object,
    issuers: Mapping[str, str] | None = None,
    ingress_class: str = "traefik",
    ca_bundle: object = "",
    namespace: str = "",
    keys: Mapping[str, str] | None = None,
) -> list[JSON]:
    """ACME ClusterIssuers (one per ``issuers`` name -> directory URL), each with an http01 solver.

    ``ca_bundle`` (PEM) is what the issuers trust for a private ACME server's HTTPS (``caBundle``).
    With a ``namespace`` (a member that shares its cluster) they are the member's own Issuers there
    instead: their solver names the member's IngressClass, which only its traefik serves, where one
    set of ClusterIssuers shared by the cluster could name only one.
    """
    issues = _issues(member, CLUSTER_ISSUERS_KEYS, keys)
    k = issues.key
    if email is None or email == "":
        issues.add(k("email"), "is required: the Let's Encrypt account e-mail address")
    else:
        issues.valid(email, k("email"), "e-mail address", _names.email)
    wanted = issues.mapping(
        ACME_SERVERS if issuers is None else issuers,
        k("issuers"),
        "a non-empty mapping of issuer name to ACME directory URL",
    )
    if wanted is not None and not wanted:
        issues.add(k("issuers"), "must be a non-empty mapping of issuer name to ACME directory URL")
    for name, server in (wanted or {}).items():
        item_key = f"{k('issuers')}.{name}"
        issues.valid(name, item_key, "ClusterIssuer name (DNS-1123 subdomain)", _names.dns1123_subdomain)
        if not isinstance(server, str) or not server.startswith("https://"):
            issues.add(item_key, f"the ACME directory must be an https:// URL, got {kind(server)}")
    issues.valid(
        ingress_class, k("ingress_class"), "IngressClass name (DNS-1123 subdomain)", _names.dns1123_subdomain
    )
    bundle = _ca_bundle(issues, k("ca_bundle"), ca_bundle)
    if namespace:
        issues.valid(namespace, k("namespace"), "namespace (DNS-1123 label)", _names.dns1123_label)
    issues.raise_if_any()
    trust = {"caBundle": base64.b64encode(bundle.encode()).decode()} if bundle else {}
    metadata: JSON = (
        {"namespace": namespace, "labels": labels(member, SET_ISSUERS)}
        if namespace
        else {"labels": labels(None, SET_CLUSTER_ISSUERS)}
    )

    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer" if namespace else "ClusterIssuer",
            # A ClusterIssuer is cluster-scoped, so shared by every member of the cluster: no member
            # label, or members sharing a cluster would relabel them in turn on every run.
            "metadata": {"name": name, **copy.deepcopy(metadata)},
            "spec": {
                "acme": {
                    "server": server,
                    "email": email,
                    "privateKeySecretRef": {"name": name},
                    **trust,
                    "solvers": [
                        {
                            "http01": {
                                "ingress": {
                                    "ingressClassName": ingress_class,
                                    # Solver Ingresses answer on plain HTTP only. The traefik role's
                                    # allowACMEByPass lets their path past the HTTPS redirect; without
                                    # it the redirect sends the ACME server to websecure, where no
                                    # solver answers, and issuance fails (doctor names the redirect),
                                    # rather than passing over a default certificate.
                                    "ingressTemplate": {
                                        "metadata": {"annotations": {ANNOTATION_ENTRYPOINTS: ENTRYPOINT_WEB}}
                                    },
                                }
                            }
                        }
                    ],
                }
            },
        }
        for name, server in (wanted or {}).items()
    ]


def _controller_selector(
    issues: Issues, target: Any, release: str, namespace: str, selector: object
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
    k = issues.key
    if target == "custom":
        checked = _string_map(issues, k("selector"), selector, "label key", _names.label_value)
        if isinstance(selector, Mapping) and not selector:
            issues.add(k("selector"), f"is required when {k('target')} is custom")
        return checked
    issues.add(k("target"), f"{target!r} is not one of {', '.join(_TARGETS)}")
    return {}


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
    keys: Mapping[str, str] | None = None,
) -> JSON:
    """The member's one public LoadBalancer Service, sending 80/443 to the ingress controller's pods."""
    issues = _issues(member, ENTRYPOINT_KEYS, keys)
    k = issues.key
    issues.valid(namespace, k("namespace"), "namespace (DNS-1123 label)", _names.dns1123_label)
    issues.valid(name, k("name"), "Service name (DNS-1035 label)", _names.dns1035_label)
    # The chart labels its pods with it, so a label value; Helm wants a DNS-1123 label.
    issues.valid(release, k("release"), "Helm release name (DNS-1123 label)", _names.dns1123_label)
    pod_selector = _controller_selector(
        issues, target, release, namespace, selector if selector is not None else {}
    )

    ports_in = issues.mapping(
        target_ports if target_ports is not None else {},
        k("target_ports"),
        "a mapping with http and/or https",
    )
    ports_in = ports_in if ports_in is not None else {}
    issues.unknown_keys(ports_in, k("target_ports"), ("http", "https"))
    defaults: tuple[Port, Port] = _TARGET_PORTS.get(target, (80, 443))
    http_target = issues.port(ports_in.get("http", defaults[0]), f"{k('target_ports')}.http")
    https_target = issues.port(ports_in.get("https", defaults[1]), f"{k('target_ports')}.https")

    checked_annotations = _string_map(
        issues, k("annotations"), annotations if annotations is not None else {}, "annotation name"
    )
    issues.string(load_balancer_ip, k("load_balancer_ip"))
    ranges = issues.sequence(
        load_balancer_source_ranges if load_balancer_source_ranges is not None else [],
        k("load_balancer_source_ranges"),
        "a list of CIDRs",
    )
    for index, network in enumerate(ranges or ()):
        issues.valid(network, f"{k('load_balancer_source_ranges')}[{index}]", "CIDR", _names.cidr)
    issues.raise_if_any()

    metadata: JSON = {
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/name": name, **labels(member, SET_ENTRYPOINT)},
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
