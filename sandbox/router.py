"""Turn a request path and method into a resource request, as kube-apiserver's RequestInfo does."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from sandbox.errors import ApiError
from sandbox.kinds import Kind, Registry


@dataclass(frozen=True)
class ResourceRequest:
    kind: Kind
    verb: str  # get list watch create update patch delete deletecollection
    namespace: str | None  # None: all namespaces (or a cluster-scoped kind)
    name: str
    subresource: str


@dataclass(frozen=True)
class GroupVersion:
    group: str
    version: str


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def route(
    registry: Registry, method: str, path: str, watch_param: bool
) -> ResourceRequest | GroupVersion | None:
    """Resolve an API path; None when the path is not under /api or /apis (discovery etc.)."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if parts[0] == "api":
        if len(parts) < 2:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 3:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return GroupVersion(group, version)
    legacy_watch = False
    if rest[0] == "watch":
        legacy_watch = True
        rest = rest[1:]
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    elif len(rest) in (2, 3) and rest[0] == "namespaces":
        # /api/v1/namespaces/NAME[/status|finalize]: the Namespace object itself.
        pass
    if not rest:
        raise _not_found_path()
    plural = rest[0]
    kind = registry.lookup(group, version, plural)
    if kind is None:
        raise _not_found_path()
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if len(rest) > 3:
        raise _not_found_path()
    if (
        subresource
        and not (subresource == "status" and kind.has_status)
        and not (subresource == "finalize" and kind.plural == "namespaces" and not kind.group)
    ):
        raise _not_found_path()
    if kind.namespaced is False and namespace is not None:
        raise _not_found_path()
    if kind.namespaced and name and namespace is None:
        raise _not_found_path()
    verb = _verb(method, bool(name), watch_param or legacy_watch)
    return ResourceRequest(kind, verb, namespace, name, subresource)


def _verb(method: str, named: bool, watch: bool) -> str:
    if method == "GET":
        if watch:
            return "watch"
        return "get" if named else "list"
    if method == "POST":
        return "create" if not named else "post-named"
    if method == "PUT":
        return "update" if named else "put-collection"
    if method == "PATCH":
        return "patch" if named else "patch-collection"
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return "unknown"
