"""The resource operations: create, get, list, update, patch, delete (with dry-run).

Every write goes through one pipeline: defaults → validation → server metadata →
field ownership → store (unless dry-run). The HTTP layer lives in server.py.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml

from sandbox import patch as patches
from sandbox import protobuf, ssa
from sandbox.defaults import Allocator, apply_defaults
from sandbox.errors import ApiError, Causes, already_exists, bad_request, conflict, not_found
from sandbox.kinds import Kind, Registry
from sandbox.schemas import SchemaSet
from sandbox.selectors import SelectorError, parse_fields, parse_labels
from sandbox.store import Obj, Store
from sandbox.validation import Validator

# Kinds whose metadata.generation kube-apiserver maintains.
_GENERATION = {
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "ingressclasses"),
    ("networking.k8s.io", "networkpolicies"),
    ("policy", "poddisruptionbudgets"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
}
# Kinds whose DELETE answers with the object rather than a Status.
_DELETE_RETURNS_OBJECT = {
    ("", "services"),
    ("", "namespaces"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
}
_SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def present(kind: Kind, obj: Obj) -> Obj:
    """`obj` as the version asked for: custom resources of another served version are
    converted the way a CRD without a conversion webhook does (only apiVersion changes)."""
    if obj.get("apiVersion", kind.api_version) == kind.api_version:
        return obj
    return {**obj, "apiVersion": kind.api_version}


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Ctx:
    """What one request asks for beyond its path."""

    params: dict[str, str]
    user_agent: str = ""
    content_type: str = "application/json"
    warnings: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    @property
    def dry_run(self) -> bool:
        return self.params.get("dryRun") == "All"

    @property
    def field_validation(self) -> str:
        return self.params.get("fieldValidation") or "Warn"

    @property
    def manager(self) -> str:
        explicit = self.params.get("fieldManager")
        if explicit:
            return explicit
        return (self.user_agent.split("/", 1)[0] or "unknown")[:128]

    @property
    def force(self) -> bool:
        return self.params.get("force", "false").lower() == "true"


def check_params(ctx: Ctx) -> None:
    dry = ctx.params.get("dryRun")
    if dry not in (None, "", "All"):
        raise ApiError(400, "BadRequest", f'Invalid dryRun value: "{dry}" (supported values: "All")', {})
    fv = ctx.params.get("fieldValidation")
    if fv not in (None, "", "Strict", "Warn", "Ignore"):
        raise bad_request(f"fieldValidation must be one of Ignore, Warn, Strict or empty string, got {fv}")
    manager = ctx.params.get("fieldManager")
    if manager is not None and len(manager) > 128:
        raise bad_request("fieldManager is too long (max 128 characters)")


def parse_body(raw: bytes, content_type: str, duplicates: list[str] | None = None) -> Any:
    """Decode a request body; JSON keys given twice in one object are appended to `duplicates`."""
    if "protobuf" in content_type:
        try:
            return protobuf.decode(raw)
        except protobuf.ProtobufError as exc:
            raise ApiError(
                415, "UnsupportedMediaType", f"the body of the request could not be decoded: {exc}", {}
            ) from exc
    if "cbor" in content_type:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml",
            {},
        )
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw.decode() or "null")
        return json.loads(raw or b"null", object_pairs_hook=lambda pairs: _object(pairs, duplicates))
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"error decoding request body: {exc}") from exc


def _object(pairs: list[tuple[str, Any]], duplicates: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out and duplicates is not None:
            duplicates.append(key)
        out[key] = value  # the last one wins, as in Go's decoder
    return out


class Api:
    """The emulated cluster: registry, store and the rules that bind them."""

    def __init__(self, minor: str = "1.33") -> None:
        self.registry = Registry()
        self.store = Store()
        self.schemas = SchemaSet(minor)
        self.validator = Validator(self.schemas)
        self.alloc = Allocator()
        self._tasks: set[asyncio.Task[None]] = set()
        self._bootstrap()

    # --- setup ----------------------------------------------------------------------------

    def _bootstrap(self) -> None:
        ns_kind = self._kind("", "namespaces")
        ctx = Ctx({}, user_agent="kube-apiserver/v1")
        for name in _SYSTEM_NAMESPACES:
            self.create(
                ns_kind, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, ctx
            )
        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "clusterIP": "10.96.0.1",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            },
        }
        self.create(self._kind("", "services"), "default", svc, ctx)
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "sandbox", "labels": {"kubernetes.io/hostname": "sandbox"}},
        }
        created = self.create(self._kind("", "nodes"), None, node, ctx)
        created = copy.deepcopy(created)
        created["status"] = {
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": "sandbox"},
            ],
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "sandbox"}
            ],
        }
        self.update(self._kind("", "nodes"), None, "sandbox", created, ctx, subresource="status")

    def _kind(self, group: str, plural: str) -> Kind:
        kind = self.registry.storage_version(group, plural)
        assert kind is not None
        return kind

    # --- helpers --------------------------------------------------------------------------

    def scope(self, kind: Kind, subresource: str = "") -> ssa.Scope:
        if kind.custom:
            return ssa.Scope(None, kind.crd_schema, kind.has_status, subresource)
        return ssa.Scope(
            self.schemas, self.schemas.root(kind.api_version, kind.kind), kind.has_status, subresource
        )

    def _check_namespace(self, kind: Kind, namespace: str | None, creating: bool) -> None:
        if not kind.namespaced or namespace is None:
            return
        ns = self.store.get("namespaces", "", namespace)
        if ns is None:
            raise not_found(self._kind("", "namespaces"), namespace)
        if creating and ns.get("status", {}).get("phase") == "Terminating":
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being terminated",
                {
                    "name": namespace,
                    "kind": kind.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _check_type(self, kind: Kind, obj: Any, name: str | None = None) -> Obj:
        if not isinstance(obj, dict):
            raise bad_request(f"Object '{kind.kind}' is missing in '{json.dumps(obj)[:100]}'")
        api_version = obj.get("apiVersion")
        if obj.get("kind") and obj.get("kind") != kind.kind:
            raise bad_request(
                f"the kind in the data ({obj['kind']}) does not match the expected kind ({kind.kind})"
            )
        if api_version and api_version != kind.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({kind.api_version})"
            )
        obj["apiVersion"] = kind.api_version
        obj["kind"] = kind.kind
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = meta = {}
        if not isinstance(meta, dict):
            raise bad_request(
                f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                "metadata must be an object"
            )
        if name is not None and meta.get("name") not in (None, name):
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if name is not None:
            meta["name"] = name
        return obj

    def _place(self, kind: Kind, obj: Obj, namespace: str | None) -> str:
        meta = obj["metadata"]
        if not kind.namespaced:
            meta.pop("namespace", None)
            return ""
        body_ns = meta.get("namespace")
        if namespace is not None and body_ns not in (None, "", namespace):
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        if namespace is None:
            raise bad_request("the server could not find the requested resource (namespace required)")
        meta["namespace"] = namespace
        return namespace

    def _admit(self, kind: Kind, obj: Obj, ctx: Ctx, old: Obj | None) -> None:
        if ctx.duplicates and ctx.field_validation != "Ignore":
            found = [f'duplicate field "{d}"' for d in ctx.duplicates]
            if ctx.field_validation == "Strict":
                raise bad_request("strict decoding error: " + ", ".join(found))
            ctx.warnings.extend(found)
            ctx.duplicates.clear()
        apply_defaults(kind, obj, old, self.alloc)
        ctx.warnings.extend(self.validator.validate(kind, obj, ctx.field_validation, old))

    def _spec_changed(self, kind: Kind, old: Obj, new: Obj) -> bool:
        skip = {"metadata", "apiVersion", "kind"}
        if kind.has_status:
            skip.add("status")
        return {k: v for k, v in old.items() if k not in skip} != {
            k: v for k, v in new.items() if k not in skip
        }

    # --- create ---------------------------------------------------------------------------

    def create(
        self, kind: Kind, namespace: str | None, body: Any, ctx: Ctx, managed_fields: list[Any] | None = None
    ) -> Obj:
        obj = self._check_type(kind, copy.deepcopy(body))
        ns = self._place(kind, obj, namespace)
        meta = obj["metadata"]
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(random.choice(_NAME_CHARS) for _ in range(5))
            else:
                causes = Causes()
                causes.required("metadata.name", "name or generateName is required")
                raise causes.error(kind, "")
        name = meta["name"]
        self._check_namespace(kind, namespace if kind.namespaced else None, creating=True)
        if self.store.get(kind.resource_key, ns, name) is not None:
            raise already_exists(kind, name)
        for server_field in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "managedFields",
            "selfLink",
        ):
            meta.pop(server_field, None)
        if kind.has_status and kind.plural not in ("nodes",):
            obj.pop("status", None)
        self._admit(kind, obj, ctx, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if kind.custom or (kind.group, kind.plural) in _GENERATION:
            meta["generation"] = 1
        if kind.group == "apiextensions.k8s.io":
            self._crd_status(obj)
        if managed_fields is None:
            ssa.record_update(
                self.scope(kind), None, obj, ctx.manager, kind.api_version, meta["creationTimestamp"]
            )
        else:
            meta["managedFields"] = managed_fields
        if ctx.dry_run:
            return obj
        meta["resourceVersion"] = str(self.store.next_rv())
        self.store.put(kind.resource_key, obj, "ADDED")
        if kind.group == "apiextensions.k8s.io":
            self._crd_changed(obj)
        return obj

    # --- read -----------------------------------------------------------------------------

    def get(self, kind: Kind, namespace: str | None, name: str) -> Obj:
        obj = self.store.get(kind.resource_key, namespace or "", name)
        if obj is None:
            raise not_found(kind, name)
        return present(kind, obj)

    def list(self, kind: Kind, namespace: str | None, params: dict[str, str]) -> Obj:
        try:
            labels = parse_labels(params.get("labelSelector", ""))
            fields = parse_fields(params.get("fieldSelector", ""), kind.plural)
        except SelectorError as exc:
            raise bad_request(str(exc)) from exc
        rv = params.get("resourceVersion", "")
        match = params.get("resourceVersionMatch", "")
        current = self.store.resource_version
        if rv and rv != "0":
            if not rv.isdigit():
                raise bad_request(f'resourceVersion: Invalid value: "{rv}": must be an integer')
            if int(rv) > current:
                raise ApiError(
                    504,
                    "Timeout",
                    f"Too large resource version: {rv}, current: {current}",
                    {
                        "causes": [
                            {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                        ],
                        "retryAfterSeconds": 1,
                    },
                )
            if match == "Exact" and int(rv) != current:
                raise ApiError(410, "Expired", f"too old resource version: {rv} ({current})", {})
        items = [
            present(kind, o)
            for o in self.store.items(kind.resource_key, namespace)
            if labels(o) and fields(o)
        ]
        cont = params.get("continue", "")
        if cont:
            try:
                token = json.loads(base64.urlsafe_b64decode(cont.encode()))
                start_key = (token["ns"], token["name"])
            except (ValueError, KeyError, TypeError) as exc:
                raise bad_request(
                    "continue key is not valid: incorrect encoded start resourceVersion"
                ) from exc
            items = [
                o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start_key
            ]
        limit = int(params.get("limit") or 0)
        meta: dict[str, Any] = {"resourceVersion": str(current)}
        if limit and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            last = items[-1]["metadata"]
            token = {"ns": last.get("namespace", ""), "name": last["name"], "rv": current}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            meta["remainingItemCount"] = rest
        if not kind.custom:
            # Built-in kinds are listed without their type (kube-apiserver encodes them that way).
            items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in items]
        return {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": meta, "items": items}

    # --- update ---------------------------------------------------------------------------

    def update(
        self, kind: Kind, namespace: str | None, name: str, body: Any, ctx: Ctx, subresource: str = ""
    ) -> Obj:
        new = self._check_type(kind, copy.deepcopy(body), name)
        ns = self._place(kind, new, namespace)
        old = self.store.get(kind.resource_key, ns, name)
        if old is None:
            raise not_found(kind, name)
        rv = new["metadata"].get("resourceVersion")
        if rv not in (None, "") and rv != old["metadata"]["resourceVersion"]:
            raise conflict(kind, name)
        return self._commit_update(kind, old, new, ctx, subresource)

    def _commit_update(
        self, kind: Kind, old: Obj, new: Obj, ctx: Ctx, subresource: str, managed_already: bool = False
    ) -> Obj:
        meta = new["metadata"]
        old_meta = old["metadata"]
        for server_field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if server_field in old_meta:
                meta[server_field] = old_meta[server_field]
            else:
                meta.pop(server_field, None)
        meta["namespace"] = old_meta.get("namespace")
        if not kind.namespaced:
            meta.pop("namespace", None)
        if not managed_already:
            meta.pop("managedFields", None)
            if "managedFields" in old_meta:
                meta["managedFields"] = old_meta["managedFields"]
        if subresource == "status":
            status = new.get("status")
            new = {**copy.deepcopy(old), "status": status} if status is not None else copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            managed = meta.get("managedFields", old_meta.get("managedFields"))
            meta = new["metadata"]
            meta.pop("managedFields", None)
            if managed:
                meta["managedFields"] = managed
        elif kind.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        self._admit(kind, new, ctx, old)
        if kind.group == "apiextensions.k8s.io":
            new["status"] = copy.deepcopy(old.get("status", {}))
            self._crd_status(new)
        if "generation" in meta and self._spec_changed(kind, old, new):
            meta["generation"] = int(meta["generation"]) + 1
        if not managed_already:
            ssa.record_update(self.scope(kind, subresource), old, new, ctx.manager, kind.api_version, now())
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if _same(old, new):
            return old
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            if ctx.dry_run:
                return new
            self._remove(kind, new)
            return new
        if ctx.dry_run:
            return new
        meta["resourceVersion"] = str(self.store.next_rv())
        self.store.put(kind.resource_key, new, "MODIFIED")
        if kind.group == "apiextensions.k8s.io":
            self._crd_changed(new)
        return new

    # --- patch ----------------------------------------------------------------------------

    def patch(
        self, kind: Kind, namespace: str | None, name: str, raw: bytes, ctx: Ctx, subresource: str = ""
    ) -> tuple[Obj, bool]:
        """Apply a patch; returns the object and whether it was created (server-side apply)."""
        ctype = ctx.content_type.split(";")[0].strip()
        ns = namespace or ""
        if ctype == "application/apply-patch+yaml" or ctype == "application/apply-patch+cbor":
            return self._apply(kind, namespace, name, raw, ctx, subresource)
        old = self.store.get(kind.resource_key, ns, name)
        if old is None:
            raise not_found(kind, name)
        body = parse_body(raw, "application/json", ctx.duplicates)
        try:
            if ctype == "application/json-patch+json":
                new = patches.json_patch(old, body)
            elif ctype == "application/merge-patch+json":
                if not isinstance(body, dict):
                    raise bad_request("json: cannot unmarshal into map: merge patch must be an object")
                new = patches.merge_patch(old, body)
            elif ctype == "application/strategic-merge-patch+json":
                if kind.custom:
                    raise ApiError(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: "
                        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                        {},
                    )
                if not isinstance(body, dict):
                    raise bad_request("strategic merge patch must be an object")
                new = patches.strategic_merge(
                    self.schemas, self.schemas.root(kind.api_version, kind.kind), old, body
                )
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
                    "application/strategic-merge-patch+json",
                    {},
                )
        except patches.PatchError as exc:
            raise ApiError(422, "Invalid", str(exc), {}) from exc
        if not isinstance(new, dict):
            raise bad_request("patch produced a non-object")
        self._check_type(kind, new, name)
        rv = new["metadata"].get("resourceVersion")
        if rv not in (None, "") and rv != old["metadata"]["resourceVersion"]:
            raise conflict(kind, name)
        if new["metadata"].get("uid") not in (None, old["metadata"].get("uid")):
            raise conflict(kind, name)
        return self._commit_update(kind, old, new, ctx, subresource), False

    def _apply(
        self, kind: Kind, namespace: str | None, name: str, raw: bytes, ctx: Ctx, subresource: str
    ) -> tuple[Obj, bool]:
        if not ctx.params.get("fieldManager"):
            causes = Causes()
            causes.required("fieldManager", "is required for apply patch")
            raise causes.error(kind, name)
        applied = parse_body(raw, "application/yaml")
        if not isinstance(applied, dict):
            raise bad_request("error decoding YAML: apply patch must be an object")
        for key in ("apiVersion", "kind"):
            if not applied.get(key):
                raise bad_request(f"invalid object type: {key} must be set in the applied configuration")
        self._check_type(kind, applied, name)
        meta = applied["metadata"]
        if meta.get("managedFields") is not None:
            raise bad_request("metadata.managedFields must be nil")
        ns = self._place(kind, applied, namespace)
        old = self.store.get(kind.resource_key, ns, name)
        rv = meta.pop("resourceVersion", None)
        if old is not None and rv not in (None, "") and rv != old["metadata"]["resourceVersion"]:
            raise conflict(kind, name)
        if old is None and rv not in (None, ""):
            raise not_found(kind, name)
        for server_field in ("uid", "creationTimestamp", "generation"):
            meta.pop(server_field, None)
        if old is None:
            self._check_namespace(kind, namespace if kind.namespaced else None, creating=True)
        scope = self.scope(kind, subresource)
        try:
            merged = ssa.apply(
                scope, old, applied, ctx.params["fieldManager"], ctx.force, kind.api_version, now()
            )
        except ssa.ApplyConflict as exc:
            message, conflict_causes = ssa.describe_conflicts(exc.conflicts)
            details: dict[str, Any] = {"name": name, "kind": kind.plural, "causes": conflict_causes}
            if kind.group:
                details["group"] = kind.group
            raise ApiError(409, "Conflict", message, details) from exc
        if old is None:
            managed = merged["metadata"].pop("managedFields", [])
            return self.create(kind, namespace, merged, ctx, managed_fields=managed), True
        return self._commit_update(kind, old, merged, ctx, subresource, managed_already=True), False

    # --- delete ---------------------------------------------------------------------------

    def delete(self, kind: Kind, namespace: str | None, name: str, body: Any, ctx: Ctx) -> tuple[Obj, int]:
        obj = self.get(kind, namespace, name)
        pre = (body or {}).get("preconditions") or {} if isinstance(body, dict) else {}
        if pre.get("resourceVersion") not in (None, obj["metadata"]["resourceVersion"]):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.qualified} "{name}": Precondition failed: '
                f"ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta: "
                f"{obj['metadata']['resourceVersion']}",
                {"name": name, "kind": kind.plural},
            )
        if pre.get("uid") not in (None, obj["metadata"]["uid"]):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.qualified} "{name}": Precondition failed: '
                f"UID in precondition: {pre['uid']}, UID in object meta: {obj['metadata']['uid']}",
                {"name": name, "kind": kind.plural},
            )
        is_namespace = kind.plural == "namespaces" and not kind.group
        if is_namespace or obj["metadata"].get("finalizers"):
            if obj["metadata"].get("deletionTimestamp"):
                return obj, 200
            pending = copy.deepcopy(obj)
            pending["metadata"]["deletionTimestamp"] = now()
            pending["metadata"]["deletionGracePeriodSeconds"] = 0
            if is_namespace:
                pending["status"] = {"phase": "Terminating"}
            if ctx.dry_run:
                return pending, 200
            pending["metadata"]["resourceVersion"] = str(self.store.next_rv())
            self.store.put(kind.resource_key, pending, "MODIFIED")
            if is_namespace:
                self._spawn(self._finish_namespace(name))
            return pending, 200
        if ctx.dry_run:
            return self._deleted_answer(kind, obj), 200
        self._remove(kind, obj)
        return self._deleted_answer(kind, obj), 200

    def delete_collection(self, kind: Kind, namespace: str | None, params: dict[str, str], ctx: Ctx) -> Obj:
        listed = self.list(
            kind, namespace, {k: v for k, v in params.items() if k in ("labelSelector", "fieldSelector")}
        )
        for obj in listed["items"]:
            self.delete(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"], None, ctx)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    def _deleted_answer(self, kind: Kind, obj: Obj) -> Obj:
        if (kind.group, kind.plural) in _DELETE_RETURNS_OBJECT:
            return obj
        details: dict[str, Any] = {
            "name": obj["metadata"]["name"],
            "kind": kind.plural,
            "uid": obj["metadata"]["uid"],
        }
        if kind.group:
            details["group"] = kind.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _remove(self, kind: Kind, obj: Obj) -> None:
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.store.remove(kind.resource_key, gone)
        if kind.plural == "services" and not kind.group:
            self.alloc.release(obj)
        if kind.group == "apiextensions.k8s.io":
            self._crd_removed(obj)

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            asyncio.run(coro)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish_namespace(self, name: str) -> None:
        # The namespace controller deletes what the namespace holds (objects with finalizers
        # wait for them), then the namespace itself once it is empty.
        ctx = Ctx({}, user_agent="kube-controller-manager/v1")
        await asyncio.sleep(0.05)
        while True:
            remaining = 0
            for kind in self.registry.all():
                if not kind.namespaced or self.registry.storage_version(kind.group, kind.plural) != kind:
                    continue
                for obj in self.store.items(kind.resource_key, name):
                    remaining += 1
                    if not obj["metadata"].get("deletionTimestamp"):
                        self.delete(kind, name, obj["metadata"]["name"], None, ctx)
            if remaining == 0 or not any(
                self.store.items(k.resource_key, name) for k in self.registry.all() if k.namespaced
            ):
                break
            await asyncio.sleep(0.2)
        ns = self.store.get("namespaces", "", name)
        if ns is not None:
            self._remove(self._kind("", "namespaces"), ns)

    # --- CRDs -----------------------------------------------------------------------------

    def _crd_status(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        names = dict(spec.get("names") or {})
        stamp = now()
        status = crd.setdefault("status", {})
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        for ctype, reason, message in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ):
            if ctype not in conditions:
                conditions[ctype] = {
                    "type": ctype,
                    "status": "True",
                    "lastTransitionTime": stamp,
                    "reason": reason,
                    "message": message,
                }
        status["conditions"] = list(conditions.values())
        status["acceptedNames"] = names
        stored = list(status.get("storedVersions") or [])
        for v in spec.get("versions") or []:
            if v.get("storage") and v.get("name") not in stored:
                stored.append(v["name"])
        status["storedVersions"] = stored

    def _crd_changed(self, crd: Obj) -> None:
        self.registry.register_crd(crd)
        self.validator.forget_crd(crd["spec"]["group"])

    def _crd_removed(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        kind = self.registry.storage_version(
            spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        )
        if kind is not None:
            for obj in self.store.items(kind.resource_key):
                gone = copy.deepcopy(obj)
                gone["metadata"]["resourceVersion"] = str(self.store.next_rv())
                self.store.remove(kind.resource_key, gone)
        self.registry.unregister_crd(crd["metadata"]["name"])
        self.validator.forget_crd(spec.get("group", ""))


def _strip_volatile(obj: Obj) -> Obj:
    clone = dict(obj)
    meta = dict(clone.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta["managedFields"] = [
        {k: v for k, v in m.items() if k != "time"} for m in meta.get("managedFields") or []
    ]
    clone["metadata"] = meta
    return clone


def _same(old: Obj, new: Obj) -> bool:
    """A write that changes nothing is a no-op: no new resourceVersion, no event."""
    return _strip_volatile(old) == _strip_volatile(new)
