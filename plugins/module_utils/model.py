# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The model: a federation member's ingress catalogue -> its complete desired state.

Pure Python with no Ansible import, so it is tested and benchmarked on its
own and the filters stay thin. ``build_member`` validates the whole member
at once and raises ``MemberError`` carrying *every* problem found, each
naming the member and the inventory key; it never returns a partial state.

The catalogue contract (keys, defaults, names) is docs/inventory.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from ansible_collections.binder.ingress.plugins.module_utils import _names
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    ENTRYPOINT_WEBSECURE,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    LABEL_MEMBER,
    LABEL_SET,
    MANAGED_BY,
    MIDDLEWARE_DEFAULT,
    MIDDLEWARE_HARBOR,
    MIDDLEWARE_HUB,
    REDIRECTOR,
    REDIRECTOR_SERVICE,
    SET_INGRESSES,
)

__all__ = [
    "FILE_PROVIDER",
    "HSTS_MIN_MAX_AGE",
    "MEMBER_KEYS",
    "TLS_MIN_VERSIONS",
    "TRAEFIK_MIDDLEWARES",
    "Expectation",
    "Issue",
    "Issues",
    "MemberError",
    "MemberState",
    "Route",
    "build_member",
    "check_hsts_max_age",
    "check_member",
    "check_tls_min_version",
    "kind",
    "labels",
    "redirect_middleware_name",
    "summary_markdown",
]

# Where build_member's inputs come from (input field -> the variable a user writes), for error
# keys: the binder_ingresses role's variables. Callers that map other variables onto these pass
# their own names (`keys`), so an error names what the user actually wrote.
MEMBER_KEYS: Mapping[str, str] = {
    "member": "inventory_hostname",
    "components": "binder_ingresses_components",
    "namespace": "binder_ingresses_namespace",
    "ingress_class": "binder_ingresses_ingress_class",
    "tls_acme": "binder_ingresses_tls_acme",
    "entrypoints": "binder_ingresses_entrypoints",
    "tls_min_version": "binder_ingresses_tls_min_version",
    "hsts_max_age": "binder_ingresses_hsts_max_age",
    "issuer": "binder_ingresses_issuer",
}

# The HTTPS policy of a member's edge: the traefik role serves it, and every route's expectation
# carries it, so that verify.yml checks it. TLS 1.0 and 1.1 are never offered; HSTS, when on,
# lasts at least a year (what browsers' preload lists and Mozilla ask for).
TLS_MIN_VERSIONS = ("1.2", "1.3")
HSTS_MIN_MAX_AGE = 31_536_000

# The middlewares the traefik role defines in its file provider, besides one per redirect. The
# traefik role enables no other provider that defines middlewares (kubernetesCRD and
# kubernetesGateway are off; kubernetesIngress defines none), so `@file` is the only suffix an
# Ingress can name.
TRAEFIK_MIDDLEWARES = (MIDDLEWARE_HUB, MIDDLEWARE_HARBOR, MIDDLEWARE_DEFAULT)
FILE_PROVIDER = "file"

ANNOTATION_TLS_ACME = "kubernetes.io/tls-acme"
ANNOTATION_MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"
ANNOTATION_LEGACY_CLASS = "kubernetes.io/ingress.class"
ANNOTATION_ENTRYPOINTS = "traefik.ingress.kubernetes.io/router.entrypoints"
# cert-manager's ingress-shim: the namespaced Issuer, or the ClusterIssuer, that signs an Ingress's certificate.
ANNOTATION_ISSUER = "cert-manager.io/issuer"
ANNOTATION_CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
# Set by the model itself; a component's `annotations` must not fight over them.
_RESERVED_ANNOTATIONS = {
    ANNOTATION_LEGACY_CLASS: (
        "must not be set: the Ingress uses spec.ingressClassName, and the API server rejects both together"
    ),
    ANNOTATION_MIDDLEWARES: "must not be set here: use the component's `middlewares` key",
    ANNOTATION_TLS_ACME: "must not be set here: it follows the role's binder_ingresses_tls_acme",
    ANNOTATION_ENTRYPOINTS: "must not be set here: it follows the role's binder_ingresses_entrypoints",
}

REDIRECTOR_PORT = 80
DEFAULT_MIDDLEWARE = f"{MIDDLEWARE_DEFAULT}@{FILE_PROVIDER}"

# traefik's redirectRegex has only `permanent`: for GET it answers 301 (permanent)
# or 302; for any other method it answers 308 or 307 by itself. So 301 and 302 are
# the only codes an inventory can ask for and get (pkg/middlewares/redirect).
REDIRECT_CODES = {301: True, 302: False}
DEFAULT_REDIRECT_CODE = 302
REDIRECT_TYPES = ("host", "url")

# A Service port: its number or its name.
Port: TypeAlias = "int | str"
Manifest = dict[str, Any]


@dataclass(frozen=True)
class Issue:
    """One problem of a member's inventory, located by its inventory key."""

    member: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"member {self.member}: {self.key}: {self.message}"


class MemberError(ValueError):
    """Every problem of one member, in a stable order; str() gives one per line."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues: list[Issue] = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass(frozen=True)
class Expectation:
    """What a GET of a route through the member's entrypoint must get (probe_routes checks it).

    `request` is the path (and query) to send. `status` lists the accepted answers, each a
    code ("302") or a class ("2xx"). `location` is a redirect's exact Location ("" for a route
    to a backend). `backend`: the answer must come from the backend, not be traefik's own 404
    (traefik has no router for the request, e.g. one it dropped). `hsts`: the answer must carry
    Strict-Transport-Security with a max-age of at least `hsts_max_age`. `tls_min_version`: the
    oldest TLS version the host accepts ("1.2"); older handshakes must fail ("" checks nothing).
    """

    request: str
    status: tuple[str, ...]
    location: str = ""
    backend: bool = True
    hsts: bool = False
    hsts_max_age: int = 0
    tls_min_version: str = ""


@dataclass(frozen=True)
class Route:
    """One row of the member's summary: host -> path -> backend, and what a probe must get."""

    component: str
    ingress: str
    host: str
    path: str
    path_type: str
    service: str
    port: Port
    tls_secret: str
    middlewares: tuple[str, ...]
    expect: Expectation


@dataclass
class MemberState:
    """The member's complete desired ingress state, ready to render or apply."""

    member: str
    namespace: str
    ingresses: list[Manifest]
    services: list[Manifest]
    redirect_middlewares: dict[str, dict[str, Any]]
    routes: list[Route]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form, what the filters hand to Ansible."""
        return {
            "member": self.member,
            "namespace": self.namespace,
            # The set the objects below are applied (and pruned) as: the value of their set label.
            "set": SET_INGRESSES,
            "ingresses": self.ingresses,
            "services": self.services,
            "redirect_middlewares": self.redirect_middlewares,
            "routes": [_route_dict(route) for route in self.routes],
            "summary": summary_markdown(self),
        }


def _route_dict(route: Route) -> dict[str, Any]:
    # By hand rather than dataclasses.asdict: five times faster on a 1,000-host member.
    return {
        "component": route.component,
        "ingress": route.ingress,
        "host": route.host,
        "path": route.path,
        "path_type": route.path_type,
        "service": route.service,
        "port": route.port,
        "tls_secret": route.tls_secret,
        "middlewares": list(route.middlewares),
        "expect": {
            "request": route.expect.request,
            "status": list(route.expect.status),
            "location": route.expect.location,
            "backend": route.expect.backend,
            "hsts": route.expect.hsts,
            "hsts_max_age": route.expect.hsts_max_age,
            "tls_min_version": route.expect.tls_min_version,
        },
    }


# What a probe of a route must get. A built-in backend at its default path serves a page or
# redirects to one (JupyterHub's proxy sends / to /hub/, Grafana to /login, BinderHub's
# /badge.svg to its image). Anywhere else, and for a generic component, the backend may also
# answer 4xx (Harbor's /v2/ asks for credentials, a bucket's root is no object): that it
# answers at all is what shows the route works. 5xx never passes: no backend, or a broken one.
_PAGE = ("2xx", "3xx")
_ANY_ANSWER = ("2xx", "3xx", "4xx")
_PAGE_PATHS = {
    ("jupyterhub", "/"),
    ("binderhub", "/"),
    ("federation-redirect", "/"),
    ("harbor", "/"),
    ("static", "/badge.svg"),
    ("prometheus", "/"),
    ("grafana", "/"),
}
# A redirect is probed below its root, with a query, so that a Location shows whether the
# path is kept (type host) or replaced (type url).
REDIRECT_PROBE_PATH = "/binder-ingress-probe/path?query=kept"


def _backend_expectation(component: str, path: str) -> Expectation:
    # The path itself (validated absolute), also for a Prefix: the backend's own root there.
    return Expectation(request=path, status=_PAGE if (component, path) in _PAGE_PATHS else _ANY_ANSWER)


def _redirect_expectation(redirect: _Redirect) -> Expectation:
    # What traefik's redirectRegex makes of _redirect_middleware's replacement for the probe.
    kept = REDIRECT_PROBE_PATH if redirect.type == "host" else ""
    return Expectation(
        request=REDIRECT_PROBE_PATH,
        status=("301" if redirect.permanent else "302",),
        location=f"https://{redirect.target}{kept}",
        backend=False,
    )


# ---------------------------------------------------------------------------
# The built-in catalogue (docs/inventory.md)


@dataclass(frozen=True)
class _DefaultPath:
    path: str
    path_type: str
    # None: the component's service. A name may hold "{release}".
    service: tuple[str, Port] | None = None


@dataclass(frozen=True)
class _Builtin:
    service: tuple[str, Port] | None
    middleware: str = DEFAULT_MIDDLEWARE
    paths: tuple[_DefaultPath, ...] = (_DefaultPath("/", "Prefix"),)
    uses_release: bool = False
    hosts_key: str = "hosts"


_COMMON_KEYS = ("enabled", "hosts", "tls_secret", "name", "service", "paths", "middlewares", "annotations")
_HARBOR_CORE = ("{release}-harbor-core", 80)

BUILTINS: dict[str, _Builtin] = {
    "jupyterhub": _Builtin(service=("proxy-public", "http"), middleware=f"{MIDDLEWARE_HUB}@{FILE_PROVIDER}"),
    "binderhub": _Builtin(service=("binder", 80)),
    "federation-redirect": _Builtin(service=("federation-redirect", 80)),
    "gcs-proxy": _Builtin(service=("gcs-proxy", 80), hosts_key="buckets"),
    "redirector": _Builtin(service=(REDIRECTOR_SERVICE, REDIRECTOR_PORT), hosts_key="redirects"),
    "harbor": _Builtin(
        service=("{release}-harbor-portal", 80),
        middleware=f"{MIDDLEWARE_HARBOR}@{FILE_PROVIDER}",
        paths=(
            _DefaultPath("/", "Prefix"),
            _DefaultPath("/api/", "Prefix", _HARBOR_CORE),
            _DefaultPath("/service/", "Prefix", _HARBOR_CORE),
            _DefaultPath("/v2/", "Prefix", _HARBOR_CORE),
            _DefaultPath("/c/", "Prefix", _HARBOR_CORE),
        ),
        uses_release=True,
    ),
    "static": _Builtin(service=("binder", 80), paths=(_DefaultPath("/badge.svg", "Exact"),)),
    "prometheus": _Builtin(service=("{release}-prometheus-server", 80), uses_release=True),
    "grafana": _Builtin(service=("{release}-grafana", 80), uses_release=True),
}


def _allowed_keys(component: str) -> tuple[str, ...]:
    if component == REDIRECTOR:
        return ("enabled", "redirects", "tls_secret", "annotations")
    builtin = BUILTINS.get(component)
    keys: tuple[str, ...] = _COMMON_KEYS
    if builtin is not None and builtin.hosts_key == "buckets":
        keys = (*tuple(k for k in keys if k != "hosts"), "buckets")
    if builtin is not None and builtin.uses_release:
        keys = (*keys, "release")
    return keys


_PATH_KEYS = ("path", "path_type", "service")
_SERVICE_KEYS = ("name", "port")
_BUCKET_KEYS = ("name", "host", "tls_secret")
_REDIRECT_KEYS = ("type", "from", "to", "code", "tls_secret")


# ---------------------------------------------------------------------------
# Names


def redirect_middleware_name(from_host: str) -> str:
    """The traefik file-provider middleware of the redirect away from `from_host`.

    Always a DNS-1123 label for a valid host: a name that would be longer than 63 characters is
    shortened and ends with a hash of the host. The redirect's Ingress annotation and the traefik
    role's file provider both take it from the member state, so they always agree.
    """
    name: str = _names.bounded("redirect-", _names.dashed(from_host), _names.DNS1123_LABEL_MAX)
    return name


def _redirect_ingress_name(from_host: str) -> str:
    name: str = _names.bounded(f"{REDIRECTOR}-", _names.dashed(from_host), _names.DNS1123_SUBDOMAIN_MAX)
    return name


# ---------------------------------------------------------------------------
# Reading the inventory: type checks that record issues instead of raising


def kind(value: Any) -> str:
    """What a value is, for "must be X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        # The YAML 1.1 pitfall: unquoted yes/no/on/off/true/false become booleans.
        return f"a boolean ({value}; quote it in YAML if a string was meant)"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


class Issues:
    """Collects issues in discovery order, dropping exact repeats.

    `keys` maps the builder's input fields to the variables the user wrote; `key(field)` is the
    name an issue about that field carries.
    """

    def __init__(self, member: str, keys: Mapping[str, str] | None = None) -> None:
        self.member = member
        self.keys: Mapping[str, str] = keys if keys is not None else {}
        self.items: list[Issue] = []
        self._seen: set[Issue] = set()

    def key(self, field: str) -> str:
        return self.keys.get(field, field)

    def add(self, key: str, message: str) -> None:
        issue = Issue(self.member, key, message)
        if issue not in self._seen:
            self._seen.add(issue)
            self.items.append(issue)

    def raise_if_any(self) -> None:
        if self.items:
            raise MemberError(self.items)

    def string(self, value: Any, key: str) -> str | None:
        if isinstance(value, str):
            return value
        self.add(key, f"must be a string, got {kind(value)}")
        return None

    def mapping(self, value: Any, key: str, what: str) -> Mapping[Any, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.add(key, f"must be {what}, got {kind(value)}")
        return None

    def sequence(self, value: Any, key: str, what: str) -> Sequence[Any] | None:
        if _is_list(value):
            return value  # type: ignore[no-any-return]
        self.add(key, f"must be {what}, got {kind(value)}")
        return None

    def entries(self, value: Any, key: str, what: str, noun: str) -> list[tuple[str, Any]]:
        """A non-empty list's items with their keys (`key[i]`); an empty list is reported."""
        items = self.sequence(value, key, what)
        if items is None:
            return []
        if not items:
            self.add(key, f"must list at least one {noun}")
        return [(f"{key}[{i}]", item) for i, item in enumerate(items)]

    def record(self, value: Any, key: str, allowed: Sequence[str]) -> Mapping[Any, Any] | None:
        """A mapping holding only `allowed` keys (unknown ones are reported, with a did-you-mean)."""
        spec = self.mapping(value, key, "a mapping {" + ", ".join(allowed) + "}")
        if spec is not None:
            self.unknown_keys(spec, key, allowed)
        return spec

    def unknown_keys(self, value: Mapping[Any, Any], key: str, allowed: Sequence[str]) -> None:
        for name in value:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.add(f"{key}.{name}", f"unknown key ({hint}allowed here: {', '.join(allowed)})")

    def name(self, value: str, key: str, what: str, check: Any) -> bool:
        reason = check(value)
        if reason:
            self.add(key, f"{value!r} is not a valid {what}: {reason}")
            return False
        return True

    def valid(self, value: Any, key: str, what: str, check: Any) -> str | None:
        """The value if it is a string that passes `check`; else the problem is recorded."""
        text = self.string(value, key)
        if text is not None and self.name(text, key, what, check):
            return text
        return None

    def port(self, value: Any, key: str) -> Port | None:
        """A Service port, by number or by name (kept even when invalid: it is reported)."""
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self.add(key, f"must be a port number (1-65535) or a port name, got {kind(value)}")
            return None
        if isinstance(value, int):
            reason = _names.port_number(value)
            if reason:
                self.add(key, f"{value} is not a valid port number: {reason}")
            return value
        reason = _names.port_name(value)
        if reason:
            self.add(key, f"{value!r} is not a valid port name: {reason}")
        return value

    def host(self, value: Any, key: str, *, allow_wildcard: bool = True) -> str | None:
        """The host if it is a string (valid or not: an invalid one is reported and kept for the cross checks)."""
        host = self.string(value, key)
        if host is not None:
            reason = _names.host_name(host, allow_wildcard=allow_wildcard)
            if reason:
                self.add(key, f"{host!r} is not a valid DNS-1123 host name: {reason}")
        return host


# ---------------------------------------------------------------------------
# The plan: what the inventory asks for, located, before it becomes manifests.
#
# A value of the right type but invalid (a bad host, a bad secret name) is
# reported and still kept in the plan, so the member-wide checks see it too and
# every problem is reported in one run. A member with any issue never gets
# manifests, so nothing invalid is ever rendered.


@dataclass
class _Backend:
    name: str
    port: Port


# Stands in for a backend that is wrongly typed (already reported).
_NO_BACKEND = _Backend("", 0)
# A generic component without `service`: an error only if one of its paths names none.
_MISSING_BACKEND = _Backend("", 0)


@dataclass
class _Path:
    path: str
    path_type: str
    backend: _Backend
    key: str


@dataclass
class _Host:
    host: str
    key: str
    tls_secret: str
    secret_key: str


@dataclass
class _Ingress:
    component: str
    name: str
    name_key: str
    hosts: list[_Host]
    paths: list[_Path]
    middlewares: tuple[str, ...]
    annotations: dict[str, str]
    redirect_from: str | None = None
    # The inventory key of each of `middlewares`, when the inventory wrote them (not defaults).
    middleware_keys: tuple[str, ...] = ()


@dataclass
class _Redirect:
    type: str
    source: str
    target: str  # host, or host + path for type url
    permanent: bool
    tls_secret: str
    key: str  # key of the entry
    secret_key: str

    @property
    def target_host(self) -> str:
        return self.target.split("/", 1)[0]


def _placeholder(key: str) -> str:
    # A wrongly typed name (already reported): unique, so it cannot collide with another.
    return f"<{key}>"


def _service(r: Issues, value: Any, key: str) -> _Backend:
    spec = r.record(value, key, _SERVICE_KEYS)
    if spec is None:
        return _NO_BACKEND
    name: str | None = None
    if "name" in spec:
        name = r.string(spec["name"], f"{key}.name")
        if name is not None:
            r.name(name, f"{key}.name", "Service name (DNS-1035 label)", _names.dns1035_label)
    else:
        r.add(key, "missing key 'name'")
    port: Port | None = None
    if "port" in spec:
        port = r.port(spec["port"], f"{key}.port")
    else:
        r.add(key, "missing key 'port'")
    if name is None or port is None:
        return _NO_BACKEND
    return _Backend(name, port)


def _secret(r: Issues, value: Any, key: str) -> str:
    secret = r.string(value, key)
    if secret is None:
        return _placeholder(key)
    r.name(secret, key, "Secret name (DNS-1123 subdomain)", _names.dns1123_subdomain)
    return secret


def _middlewares(r: Issues, value: Any, key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The well-formed references and their keys; what they name is checked member-wide."""
    items = r.sequence(value, key, "a list of traefik middleware references ('name@provider')")
    refs: list[str] = []
    keys: list[str] = []
    for i, item in enumerate(items or ()):
        ref = r.valid(item, f"{key}[{i}]", "middleware reference", _names.middleware_ref)
        if ref is not None:
            refs.append(ref)
            keys.append(f"{key}[{i}]")
    return tuple(refs), tuple(keys)


def _annotations(r: Issues, value: Any, key: str) -> dict[str, str]:
    spec = r.mapping(value, key, "a mapping of annotation name to string value")
    result: dict[str, str] = {}
    if spec is None:
        return result
    for name, val in spec.items():
        item_key = f"{key}.{name}"
        if not isinstance(name, str):
            r.add(key, f"annotation names must be strings, got {kind(name)}")
            continue
        if name in _RESERVED_ANNOTATIONS:
            r.add(item_key, _RESERVED_ANNOTATIONS[name])
            continue
        r.name(name, item_key, "annotation name", _names.qualified_name)
        text = r.string(val, item_key)
        if text is not None:
            result[name] = text
    return result


def _paths(r: Issues, value: Any, key: str, default: _Backend, static: bool) -> list[_Path]:
    result: list[_Path] = []
    for item_key, item in r.entries(value, key, "a list of {path, path_type, service}", "path"):
        spec = r.record(item, item_key, _PATH_KEYS)
        if spec is None:
            continue
        path_type: str | None = "Exact" if static else "Prefix"
        if "path_type" in spec:
            path_type = r.string(spec["path_type"], f"{item_key}.path_type")
            if path_type is not None and path_type not in _names.PATH_TYPES:
                r.add(f"{item_key}.path_type", f"{path_type!r} is not one of {', '.join(_names.PATH_TYPES)}")
        if static and path_type is not None and path_type != "Exact":
            r.add(
                f"{item_key}.path_type",
                f"must be Exact for the badge-only static host (got {path_type}): it exposes only its listed paths",
            )
        path = None
        if "path" not in spec:
            r.add(item_key, "missing key 'path'")
        else:
            path = r.string(spec["path"], f"{item_key}.path")
            if path is not None:
                reason = _names.http_path(path, path_type or "Prefix")
                if reason:
                    r.add(f"{item_key}.path", f"{path!r} is not a valid path: {reason}")
                elif static and path == "/":
                    r.add(
                        f"{item_key}.path",
                        "must not be '/' for the badge-only static host: it would expose everything",
                    )
        backend = _service(r, spec["service"], f"{item_key}.service") if "service" in spec else default
        if path is not None and path_type is not None:
            result.append(_Path(path, path_type, backend, f"{item_key}.path"))
    return result


def _hosts(r: Issues, value: Any, key: str, secret: str, secret_key: str) -> list[_Host]:
    result: list[_Host] = []
    for item_key, item in r.entries(value, key, "a list of host names", "host"):
        host = r.host(item, item_key)
        if host is not None:
            result.append(_Host(host, item_key, secret, secret_key))
    return result


def _buckets(r: Issues, value: Any, key: str, secret: str, secret_key: str) -> list[_Host]:
    result: list[_Host] = []
    for item_key, item in r.entries(value, key, "a list of {name, host, tls_secret}", "bucket"):
        spec = r.record(item, item_key, _BUCKET_KEYS)
        if spec is None:
            continue
        if "name" not in spec:
            r.add(item_key, "missing key 'name' (the bucket)")
        elif r.string(spec["name"], f"{item_key}.name") == "":
            r.add(f"{item_key}.name", "must not be empty")
        bucket_secret, bucket_secret_key = secret, secret_key
        if "tls_secret" in spec:
            bucket_secret_key = f"{item_key}.tls_secret"
            bucket_secret = _secret(r, spec["tls_secret"], bucket_secret_key)
        if "host" not in spec:
            r.add(item_key, "missing key 'host'")
            continue
        host = r.host(spec["host"], f"{item_key}.host")
        if host is not None:
            result.append(_Host(host, f"{item_key}.host", bucket_secret, bucket_secret_key))
    return result


def _redirect_target(r: Issues, value: Any, key: str, redirect_type: str | None) -> str | None:
    target = r.string(value, key)
    if target is None:
        return None
    if redirect_type == "url":
        host, slash, path = target.partition("/")
        reason = "it has a scheme" if "://" in target else _names.host_name(host, allow_wildcard=False)
        if reason:
            r.add(key, f"{target!r} is not a host name with an optional absolute path: {reason}")
        elif slash and re.search(r"\s", path):
            r.add(key, f"{target!r} has whitespace in its path")
        elif slash and re.search(r"%(?![0-9A-Fa-f]{2})", path):
            # traefik parses the new URL and answers 500 if it cannot.
            r.add(key, f"{target!r} has a '%' that is not a percent-escape (%XX) in its path")
        return target
    reason = _names.host_name(target, allow_wildcard=False)
    if reason:
        hint = "; type host keeps the request path, use type url for a fixed URL" if "/" in target else ""
        r.add(key, f"{target!r} is not a valid DNS-1123 host name: {reason}{hint}")
    return target


def _redirects(r: Issues, value: Any, key: str, base_secret: str) -> list[_Redirect]:
    """The redirect entries, with the checks that need only the redirects (self-redirects, loops)."""
    result: list[_Redirect] = []
    seen: dict[str, str] = {}
    for item_key, item in r.entries(value, key, "a list of {type, from, to, code, tls_secret}", "redirect"):
        spec = r.record(item, item_key, _REDIRECT_KEYS)
        if spec is None:
            continue
        redirect_type: str | None = None
        if "type" not in spec:
            r.add(item_key, "missing key 'type' (host or url)")
        else:
            redirect_type = r.string(spec["type"], f"{item_key}.type")
            if redirect_type is not None and redirect_type not in REDIRECT_TYPES:
                r.add(f"{item_key}.type", f"{redirect_type!r} is not one of host, url")
        source = None
        if "from" not in spec:
            r.add(item_key, "missing key 'from'")
        else:
            source = r.host(spec["from"], f"{item_key}.from", allow_wildcard=False)
        target = None
        if "to" not in spec:
            r.add(item_key, "missing key 'to'")
        else:
            target = _redirect_target(r, spec["to"], f"{item_key}.to", redirect_type)
        permanent = REDIRECT_CODES[DEFAULT_REDIRECT_CODE]
        if "code" in spec:
            code = spec["code"]
            if isinstance(code, bool) or not isinstance(code, int):
                r.add(f"{item_key}.code", f"must be an integer (301 or 302), got {kind(code)}")
            elif code not in REDIRECT_CODES:
                r.add(
                    f"{item_key}.code",
                    f"{code} cannot be produced: traefik's redirectRegex answers GET with 301 (permanent) or 302,"
                    " and other methods with 308 or 307 by itself; use 301 or 302",
                )
            else:
                permanent = REDIRECT_CODES[code]
        if source is None or target is None:
            continue
        if source in seen:
            r.add(f"{item_key}.from", f"{source!r} is already redirected by {seen[source]}")
            continue
        seen[source] = item_key
        if "tls_secret" in spec:
            secret_key = f"{item_key}.tls_secret"
            secret = _secret(r, spec["tls_secret"], secret_key)
        else:
            secret_key = item_key
            secret = _names.bounded(f"{base_secret}-", _names.dashed(source), _names.DNS1123_SUBDOMAIN_MAX)
            r.name(secret, item_key, "Secret name (DNS-1123 subdomain)", _names.dns1123_subdomain)
        redirect = _Redirect(redirect_type or "host", source, target, permanent, secret, item_key, secret_key)
        if redirect.target_host == source:
            r.add(f"{item_key}.to", f"{target!r} redirects {source!r} to itself")
            continue
        result.append(redirect)
    _redirect_loops(r, result)
    return result


def _redirect_loops(r: Issues, redirects: Sequence[_Redirect]) -> None:
    """Report each cycle of redirects (a -> b -> ... -> a) once, at its first entry in inventory order."""
    by_source = {redirect.source: redirect for redirect in redirects}
    position = {redirect.source: i for i, redirect in enumerate(redirects)}
    done: set[str] = set()
    for start in redirects:
        if start.source in done:
            continue
        chain: list[_Redirect] = []
        on_chain: dict[str, int] = {}
        current: _Redirect | None = start
        while current is not None and current.source not in done:
            on_chain[current.source] = len(chain)
            chain.append(current)
            nxt = by_source.get(current.target_host)
            if nxt is not None and nxt.source in on_chain:
                cycle = chain[on_chain[nxt.source] :]
                first = min(cycle, key=lambda c: position[c.source])
                at = cycle.index(first)
                ordered = cycle[at:] + cycle[:at]
                path = " -> ".join([c.source for c in ordered] + [first.source])
                keys = ", ".join(c.key for c in ordered)
                r.add(f"{first.key}.to", f"redirect loop: {path} (entries {keys})")
                break
            current = nxt
        done.update(c.source for c in chain)


def _redirect_middleware(redirect: _Redirect) -> dict[str, Any]:
    # traefik hands the middleware scheme://host[:port]/path?query, the host as
    # the client sent it (Host header, maybe with a port, any case): match that.
    host_re = redirect.source.replace(".", r"\.")  # validated: only [a-z0-9.-] left
    regex = f"^https?://(?i:{host_re})(?::[0-9]+)?(/.*)?$"
    if redirect.type == "host":
        # ${1}, not $1: Go's Expand would read "$1foo" as a group named "1foo".
        replacement = f"https://{redirect.target}${{1}}"
    else:
        # A literal '$' in the fixed target must not be read as a group reference.
        replacement = "https://" + redirect.target.replace("$", "$$")
    return {"redirectRegex": {"regex": regex, "replacement": replacement, "permanent": redirect.permanent}}


# ---------------------------------------------------------------------------
# Components


def _component(
    r: Issues, component: str, value: Any, ckey: str, namespace: str
) -> tuple[list[_Ingress], list[_Redirect]]:
    spec = r.mapping(value, ckey, "a mapping of the component's settings (write {} to take every default)")
    if spec is None:
        return [], []
    r.name(component, ckey, "component name (DNS-1123 label)", _names.dns1123_label)
    builtin = BUILTINS.get(component)
    r.unknown_keys(spec, ckey, _allowed_keys(component))
    enabled = spec.get("enabled", True)
    if not isinstance(enabled, bool):
        r.add(f"{ckey}.enabled", f"must be a boolean, got {kind(enabled)}")
        return [], []
    if not enabled:
        return [], []

    annotations = _annotations(r, spec["annotations"], f"{ckey}.annotations") if "annotations" in spec else {}

    if component == REDIRECTOR:
        base = f"tls-{REDIRECTOR}"
        if "tls_secret" in spec:
            # The base of every redirect's own Secret name: reported here once, not once per redirect.
            given = r.string(spec["tls_secret"], f"{ckey}.tls_secret")
            if given is not None and r.name(
                given, f"{ckey}.tls_secret", "Secret name (DNS-1123 subdomain)", _names.dns1123_subdomain
            ):
                base = given
        if "redirects" not in spec:
            r.add(ckey, "missing key 'redirects' (a list of {type, from, to})")
            return [], []
        redirects = _redirects(r, spec["redirects"], f"{ckey}.redirects", base)
        ingresses = [
            _Ingress(
                component=REDIRECTOR,
                name=_redirect_ingress_name(rd.source),
                name_key=f"{rd.key}.from",
                hosts=[_Host(rd.source, f"{rd.key}.from", rd.tls_secret, rd.secret_key)],
                paths=[_Path("/", "Prefix", _Backend(REDIRECTOR_SERVICE, REDIRECTOR_PORT), f"{rd.key}.from")],
                middlewares=(f"{redirect_middleware_name(rd.source)}@file",),
                annotations=annotations,
                redirect_from=rd.source,
            )
            for rd in redirects
        ]
        for ingress in ingresses:
            r.name(
                ingress.name, ingress.name_key, "Ingress name (DNS-1123 subdomain)", _names.dns1123_subdomain
            )
        return ingresses, redirects

    name_key = f"{ckey}.name" if "name" in spec else ckey
    name = r.string(spec["name"], name_key) if "name" in spec else component
    if name is None:
        name = _placeholder(name_key)
    else:
        r.name(name, name_key, "Ingress name (DNS-1123 subdomain)", _names.dns1123_subdomain)

    if "tls_secret" in spec:
        secret_key = f"{ckey}.tls_secret"
        secret = _secret(r, spec["tls_secret"], secret_key)
    else:
        secret_key = ckey
        secret = f"tls-{component}"
        r.name(secret, ckey, "Secret name (DNS-1123 subdomain)", _names.dns1123_subdomain)

    release = namespace
    release_key = r.key("namespace")
    if builtin is not None and builtin.uses_release and "release" in spec:
        release_key = f"{ckey}.release"
        release = r.string(spec["release"], release_key) or namespace

    if "service" in spec:
        backend = _service(r, spec["service"], f"{ckey}.service")
    elif builtin is not None and builtin.service is not None:
        backend = _default_backend(r, builtin.service, release, release_key)
    else:
        backend = _MISSING_BACKEND

    paths: list[_Path]
    if "paths" in spec:
        paths = _paths(r, spec["paths"], f"{ckey}.paths", backend, component == "static")
    else:
        paths = [
            _Path(
                default.path,
                default.path_type,
                backend
                if default.service is None
                else _default_backend(r, default.service, release, release_key),
                ckey,
            )
            for default in (builtin.paths if builtin is not None else _Builtin(service=None).paths)
        ]

    if any(path.backend is _MISSING_BACKEND for path in paths):
        # A misspelt built-in name lands here as a generic component: say which one was meant.
        close = difflib.get_close_matches(component, BUILTINS, n=1)
        if close:
            r.add(
                ckey,
                f"{component!r} is not a built-in component: did you mean {close[0]!r}?"
                " (as a generic component it would have to give 'service')",
            )
        else:
            r.add(
                ckey,
                "missing key 'service' ({name, port}): a component that is not built in must name the"
                " backend of every path that names none",
            )

    middlewares: tuple[str, ...] = (builtin.middleware if builtin is not None else DEFAULT_MIDDLEWARE,)
    middleware_keys: tuple[str, ...] = ()
    if "middlewares" in spec:
        middlewares, middleware_keys = _middlewares(r, spec["middlewares"], f"{ckey}.middlewares")

    hosts: list[_Host] = []
    hosts_key = builtin.hosts_key if builtin is not None else "hosts"
    if hosts_key not in spec:
        what = "a list of {name, host}" if hosts_key == "buckets" else "a list of host names"
        r.add(ckey, f"missing key {hosts_key!r} ({what})")
    else:
        reader = _buckets if hosts_key == "buckets" else _hosts
        hosts = reader(r, spec[hosts_key], f"{ckey}.{hosts_key}", secret, secret_key)

    if not hosts or not paths:
        return [], []
    return [
        _Ingress(component, name, name_key, hosts, paths, middlewares, annotations, None, middleware_keys)
    ], []


def _default_backend(r: Issues, service: tuple[str, Port], release: str, release_key: str) -> _Backend:
    name = service[0].format(release=release)
    r.name(name, release_key, "Service name (DNS-1035 label) for this release", _names.dns1035_label)
    return _Backend(name, service[1])


# ---------------------------------------------------------------------------
# Member-wide checks


def _cross_checks(r: Issues, ingresses: Sequence[_Ingress], redirects: Sequence[_Redirect]) -> None:
    served: dict[tuple[str, str, str], tuple[str, str]] = {}
    routed_by: dict[str, tuple[str, str]] = {}  # host -> first (component, key) routing it
    routed_by_non_static: dict[str, tuple[str, str]] = {}
    for ingress in ingresses:
        if ingress.redirect_from is not None:
            continue  # a redirect host's collisions are reported on the redirect (below)
        for host in ingress.hosts:
            routed_by.setdefault(host.host, (ingress.component, host.key))
            if ingress.component != "static":
                routed_by_non_static.setdefault(host.host, (ingress.component, host.key))
            for path in ingress.paths:
                route = (host.host, path.path, path.path_type)
                seen = served.get(route)
                if seen is None:
                    served[route] = (ingress.component, host.key)
                    continue
                # The same host entry twice means the path is listed twice.
                at = path.key if seen[1] == host.key else host.key
                r.add(
                    at,
                    f"host {host.host!r} path {path.path!r} ({path.path_type}) is served twice:"
                    f" by component {seen[0]} ({seen[1]}) and by component {ingress.component} ({host.key})",
                )
    # Static is badge-only: another component routing the same host would expose more than its paths.
    for ingress in ingresses:
        if ingress.component != "static":
            continue
        for host in ingress.hosts:
            other = routed_by_non_static.get(host.host)
            if other is not None:
                r.add(
                    host.key,
                    f"the badge-only static host {host.host!r} is also routed by component {other[0]} ({other[1]}):"
                    " it must expose only its listed paths",
                )
    for redirect in redirects:
        owner = routed_by.get(redirect.source)
        if owner is not None:
            r.add(
                f"{redirect.key}.from",
                f"{redirect.source!r} is redirected but also served by component {owner[0]} ({owner[1]})",
            )

    names: dict[str, tuple[str, str]] = {}
    secrets: dict[str, tuple[str, str]] = {}
    for ingress in ingresses:
        seen_name = names.get(ingress.name)
        if seen_name is not None:
            r.add(
                ingress.name_key,
                f"Ingress name {ingress.name!r} is already used by component {seen_name[0]} ({seen_name[1]})",
            )
        else:
            names[ingress.name] = (ingress.component, ingress.name_key)
        for host in ingress.hosts:
            seen_secret = secrets.get(host.tls_secret)
            if seen_secret is None:
                secrets[host.tls_secret] = (ingress.name, host.secret_key)
            elif seen_secret[0] != ingress.name:
                r.add(
                    host.secret_key,
                    f"TLS secret {host.tls_secret!r} is already used by Ingress {seen_secret[0]} ({seen_secret[1]}):"
                    " cert-manager keeps one Certificate per Secret, so two Ingresses must not share one",
                )


def _middleware_checks(r: Issues, ingresses: Sequence[_Ingress], redirects: Sequence[_Redirect]) -> None:
    """Every middleware an Ingress names must exist in traefik, or traefik drops its router (and
    the host answers traefik's own 404): the traefik role's middlewares, through the file provider."""
    defined = (*TRAEFIK_MIDDLEWARES, *(redirect_middleware_name(rd.source) for rd in redirects))
    refs = [f"{name}@{FILE_PROVIDER}" for name in defined]
    listing = ", ".join(defined)
    for ingress in ingresses:
        # Only what the inventory wrote has keys; the defaults are the traefik role's own.
        for ref, key in zip(ingress.middlewares, ingress.middleware_keys, strict=False):
            name, _at, provider = ref.rpartition("@")
            if provider != FILE_PROVIDER:
                r.add(
                    key,
                    f"{ref!r} names the provider {provider!r}, which the traefik role does not enable:"
                    f" only file-provider middlewares exist ({FILE_PROVIDER!r}: {listing})",
                )
            elif name not in defined:
                close = difflib.get_close_matches(ref, refs, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                r.add(key, f"{ref!r} is not a middleware the traefik role defines ({listing}){hint}")


def _issuer_checks(r: Issues, ingresses: Sequence[_Ingress], key: str) -> None:
    """With the member's own Issuer, no component may pick another issuer: its challenge would be
    solved through the IngressClass that issuer names, another member's traefik."""
    for ingress in ingresses:
        for name in (ANNOTATION_ISSUER, ANNOTATION_CLUSTER_ISSUER):
            if name in ingress.annotations:
                r.add(
                    f"{key}.{ingress.component}.annotations.{name}",
                    "must not be set on a member that shares its cluster: its Ingresses use the member's own Issuer",
                )


# ---------------------------------------------------------------------------
# Manifests


def _port_ref(port: Port) -> dict[str, Port]:
    return {"number": port} if isinstance(port, int) else {"name": port}


def _ingress_manifest(
    ingress: _Ingress,
    member: str,
    namespace: str,
    ingress_class: str,
    tls_acme: bool,
    entrypoints: Sequence[str],
    issuer: str,
) -> Manifest:
    annotations: dict[str, str] = {}
    if tls_acme:
        annotations[ANNOTATION_TLS_ACME] = "true"
        if issuer:
            # The member's own Issuer (a member that shares its cluster): its solver names the
            # member's IngressClass, where the cluster's default ClusterIssuer names another's.
            annotations[ANNOTATION_ISSUER] = issuer
    # Without it traefik attaches the router to every entry point, web included, where
    # allowACMEByPass lets /.well-known/acme-challenge/ through to the member's own backends.
    annotations[ANNOTATION_ENTRYPOINTS] = ",".join(entrypoints)
    if ingress.middlewares:
        annotations[ANNOTATION_MIDDLEWARES] = ",".join(ingress.middlewares)
    annotations.update(ingress.annotations)
    metadata: dict[str, Any] = {
        "name": ingress.name,
        "namespace": namespace,
        "labels": labels(member, SET_INGRESSES, ingress.component),
    }
    if annotations:
        metadata["annotations"] = annotations
    tls: dict[str, list[str]] = {}
    for host in ingress.hosts:
        tls.setdefault(host.tls_secret, []).append(host.host)
    http_paths = [
        {
            "path": path.path,
            "pathType": path.path_type,
            "backend": {"service": {"name": path.backend.name, "port": _port_ref(path.backend.port)}},
        }
        for path in ingress.paths
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": {
            "ingressClassName": ingress_class,
            "tls": [{"hosts": hosts, "secretName": secret} for secret, hosts in tls.items()],
            # Each rule gets its own copy so that a consumer editing one rule cannot change another.
            "rules": [
                {"host": host.host, "http": {"paths": [_copy_path(p) for p in http_paths]}}
                for host in ingress.hosts
            ],
        },
    }


def _copy_path(path: dict[str, Any]) -> dict[str, Any]:
    service = path["backend"]["service"]
    return {
        "path": path["path"],
        "pathType": path["pathType"],
        "backend": {"service": {"name": service["name"], "port": dict(service["port"])}},
    }


def _redirector_service(member: str, namespace: str) -> Manifest:
    # No selector: no pod answers; traefik's redirect middleware does, before any
    # backend is picked (the chart sets allowEmptyServices for exactly this).
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": REDIRECTOR_SERVICE,
            "namespace": namespace,
            "labels": labels(member, SET_INGRESSES, REDIRECTOR),
        },
        "spec": {
            "type": "ClusterIP",
            "ports": [
                {"name": "http", "port": REDIRECTOR_PORT, "protocol": "TCP", "targetPort": REDIRECTOR_PORT}
            ],
        },
    }


# ---------------------------------------------------------------------------
# Public API


def _entrypoints(r: Issues, value: Any, key: str) -> list[str]:
    names: list[str] = []
    for item_key, item in r.entries(value, key, "a list of traefik entry point names", "entry point"):
        name = r.valid(item, item_key, "entry point name (DNS-1123 label)", _names.dns1123_label)
        if name is not None and name not in names:
            names.append(name)
    return names


def check_tls_min_version(r: Issues, value: Any, key: str) -> str | None:
    """The oldest TLS version a member's edge accepts, as an inventory writes it ("1.2")."""
    if value in TLS_MIN_VERSIONS:
        return str(value)
    r.add(
        key,
        f"{value!r} is not one of {', '.join(map(repr, TLS_MIN_VERSIONS))} (TLS 1.0 and 1.1 are never offered)",
    )
    return None


def check_hsts_max_age(r: Issues, value: Any, key: str) -> int | None:
    """HSTS max-age in seconds: at least a year, or 0 for no header."""
    if isinstance(value, int) and not isinstance(value, bool) and (value == 0 or value >= HSTS_MIN_MAX_AGE):
        return value
    r.add(
        key,
        f"must be at least {HSTS_MIN_MAX_AGE} seconds (one year), or 0 to send no HSTS header, got {value!r}",
    )
    return None


def check_member(r: Issues, member: Any) -> None:
    """The member's name: it becomes a label value on everything, so it must be one."""
    if not isinstance(member, str):
        r.add(r.key("member"), f"must be a string, got {kind(member)}")
    elif member == "":
        r.add(r.key("member"), "must not be empty")
    else:
        r.name(member, r.key("member"), "member name (it is a label value)", _names.label_value)


def labels(member: str | None, set_name: str, component: str | None = None) -> dict[str, str]:
    """The labels of every object the collection writes: what apply and prune select by.

    A cluster-scoped set shared by the members of a cluster (member None) has no member label.
    """
    result = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_SET: set_name}
    if member is not None:
        result[LABEL_MEMBER] = member
    if component is not None:
        result[LABEL_COMPONENT] = component
    return result


def build_member(
    member: str,
    components: Mapping[str, Any],
    *,
    namespace: str,
    ingress_class: str = "traefik",
    tls_acme: bool = True,
    entrypoints: Sequence[str] = (ENTRYPOINT_WEBSECURE,),
    tls_min_version: str = "1.2",
    hsts_max_age: int = HSTS_MIN_MAX_AGE,
    issuer: str = "",
    keys: Mapping[str, str] | None = None,
) -> MemberState:
    """Build and validate a member's ingress state; raise MemberError with every problem found.

    `entrypoints` are the traefik entry points every Ingress's routers attach to (only websecure by
    default: plain HTTP then reaches no member backend, only the redirect and the ACME solvers).
    `tls_min_version` and `hsts_max_age` are the edge's HTTPS policy (the traefik role serves it),
    which every route's expectation carries.
    `issuer` (a member that shares its cluster) is the name of the member's own cert-manager Issuer in
    `namespace`, which every Ingress names (``cert-manager.io/issuer``) instead of the cluster's default.
    `keys` maps the inputs (`member`, `components`, `namespace`, `ingress_class`, ...) to the
    variables the user wrote, over MEMBER_KEYS.
    """
    r = Issues(str(member), {**MEMBER_KEYS, **(keys or {})})
    check_member(r, member)
    r.valid(namespace, r.key("namespace"), "namespace (DNS-1123 label)", _names.dns1123_label)
    r.valid(
        ingress_class,
        r.key("ingress_class"),
        "IngressClass name (DNS-1123 subdomain)",
        _names.dns1123_subdomain,
    )
    if not isinstance(tls_acme, bool):
        r.add(r.key("tls_acme"), f"must be a boolean, got {kind(tls_acme)}")
    pinned = _entrypoints(r, entrypoints, r.key("entrypoints"))
    if issuer:
        r.valid(issuer, r.key("issuer"), "Issuer name (DNS-1123 subdomain)", _names.dns1123_subdomain)
    min_version = check_tls_min_version(r, tls_min_version, r.key("tls_min_version")) or ""
    max_age = check_hsts_max_age(r, hsts_max_age, r.key("hsts_max_age")) or 0
    key = r.key("components")
    catalogue = r.mapping(components, key, "a mapping of component name to its settings")
    ingresses: list[_Ingress] = []
    redirects: list[_Redirect] = []
    if catalogue is not None:
        names = []
        for component in catalogue:
            if isinstance(component, str):
                names.append(component)
            else:
                r.add(key, f"component names must be strings, got {kind(component)}")
        for component in sorted(names):
            found, found_redirects = _component(
                r, component, catalogue[component], f"{key}.{component}", str(namespace)
            )
            ingresses.extend(found)
            redirects.extend(found_redirects)
        _cross_checks(r, ingresses, redirects)
        _middleware_checks(r, ingresses, redirects)
        if issuer:
            _issuer_checks(r, ingresses, key)
    if r.items:
        raise MemberError(r.items)

    manifests = [
        _ingress_manifest(i, member, namespace, ingress_class, tls_acme, pinned, str(issuer or ""))
        for i in ingresses
    ]
    redirect_by_source = {rd.source: rd for rd in redirects}
    routes = [
        Route(
            component=i.component,
            ingress=i.name,
            host=h.host,
            path=p.path,
            path_type=p.path_type,
            service=p.backend.name,
            port=p.backend.port,
            tls_secret=h.tls_secret,
            middlewares=i.middlewares,
            expect=dataclasses.replace(
                _redirect_expectation(redirect_by_source[i.redirect_from])
                if i.redirect_from is not None
                else _backend_expectation(i.component, p.path),
                hsts=bool(max_age),
                hsts_max_age=max_age,
                tls_min_version=min_version,
            ),
        )
        for i in ingresses
        for h in i.hosts
        for p in i.paths
    ]
    return MemberState(
        member=member,
        namespace=namespace,
        ingresses=manifests,
        services=[_redirector_service(member, namespace)] if redirects else [],
        redirect_middlewares={
            redirect_middleware_name(rd.source): _redirect_middleware(rd) for rd in redirects
        },
        routes=routes,
    )


def summary_markdown(state: MemberState) -> str:
    """The member's routes as a markdown table, sorted by host then path."""
    lines = [
        f"# {state.member} (namespace {state.namespace})",
        "",
        "| host | path | pathType | backend service:port | TLS secret | middlewares |",
        "|---|---|---|---|---|---|",
    ]
    for route in sorted(state.routes, key=lambda x: (x.host, x.path, x.path_type)):
        cells = (
            route.host,
            route.path,
            route.path_type,
            f"{route.service}:{route.port}",
            route.tls_secret,
            ", ".join(route.middlewares) or "-",
        )
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if not state.routes:
        lines.append("| - | - | - | - | - | - |")
    return "\n".join(lines) + "\n"
