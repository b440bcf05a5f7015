"""Discovery documents (/api, /apis, ...) and the OpenAPI v3 documents kubectl asks for."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sandbox.kinds import ALL_VERBS, Kind, Registry
from sandbox.schemas import SchemaSet

Doc = dict[str, Any]


def version_info(minor: str) -> Doc:
    major, mnr = minor.split(".")
    return {
        "major": major,
        "minor": mnr,
        "emulationMajor": major,
        "emulationMinor": mnr,
        "gitVersion": f"v{minor}.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> Doc:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_doc(group: str, versions: list[str]) -> Doc:
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(registry: Registry) -> Doc:
    groups = [_group_doc(g, vs) for g, vs in registry.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> Doc | None:
    versions = registry.groups().get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def _hash(kind: Kind) -> str:
    return hashlib.sha256(f"{kind.group}/{kind.version}/{kind.kind}".encode()).hexdigest()[:11]


def resource_list(registry: Registry, group: str, version: str) -> Doc | None:
    kinds = [k for k in registry.all() if k.group == group and k.version == version]
    if not kinds:
        return None
    resources: list[Doc] = []
    for k in sorted(kinds, key=lambda k: k.plural):
        entry: Doc = {
            "name": k.plural,
            "singularName": k.singular,
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": list(ALL_VERBS),
            "storageVersionHash": _hash(k),
        }
        if k.short_names:
            entry["shortNames"] = list(k.short_names)
        if k.categories:
            entry["categories"] = list(k.categories)
        resources.append(entry)
        if k.has_status:
            resources.append(
                {
                    "name": f"{k.plural}/status",
                    "singularName": "",
                    "namespaced": k.namespaced,
                    "kind": k.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


# --- OpenAPI v2 ----------------------------------------------------------------------------


def _pb_string(field: int, value: str) -> bytes:
    data = value.encode()
    assert len(data) < 128  # one-byte varint lengths are enough here
    return bytes([(field << 3) | 2, len(data)]) + data


def openapi_v2(minor: str, protobuf: bool) -> tuple[bytes, str]:
    """A minimal OpenAPI v2 document: no definitions.

    kubectl fetches /openapi/v2 (as protobuf, gnostic's openapi_v2.Document) only to validate
    on the client what the server cannot (a `kind: List`); with no definitions it skips that
    and leaves validation to the server, which checks every item.
    """
    if not protobuf:
        doc = {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": f"v{minor}.0"},
            "paths": {},
            "definitions": {},
        }
        return json.dumps(doc).encode(), "application/json"
    info = _pb_string(1, "Kubernetes") + _pb_string(2, f"v{minor}.0")
    body = _pb_string(1, "2.0") + bytes([(2 << 3) | 2, len(info)]) + info
    return body, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


# --- OpenAPI v3 -----------------------------------------------------------------------------

_REF = re.compile(r"^.*#/\$defs/")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _rewrite(node: Any, used: set[str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = _REF.sub("", value)
                used.add(name)
                out[key] = f"#/components/schemas/{name}"
            else:
                out[key] = _rewrite(value, used)
        return out
    if isinstance(node, list):
        return [_rewrite(v, used) for v in node]
    return node


_WRITE_PARAMS = [
    {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
]


class OpenAPI:
    def __init__(self, schemas: SchemaSet, registry: Registry) -> None:
        self.schemas = schemas
        self.registry = registry
        self._cache: dict[tuple[str, str, int], Doc] = {}

    def index(self) -> Doc:
        paths: Doc = {}
        for group, versions in self.registry.groups().items():
            for version in versions:
                rel = _gv_path(group, version)
                digest = hashlib.sha512(
                    json.dumps(self.document(group, version) or {}, sort_keys=True).encode()
                )
                paths[rel] = {
                    "serverRelativeURL": f"/openapi/v3/{rel}?hash={digest.hexdigest()[:128].upper()}"
                }
        paths["api"] = {"serverRelativeURL": "/openapi/v3/api?hash=0"}
        paths["apis"] = {"serverRelativeURL": "/openapi/v3/apis?hash=0"}
        return {"paths": paths}

    def document(self, group: str, version: str) -> Doc | None:
        kinds = [k for k in self.registry.all() if k.group == group and k.version == version]
        if not kinds:
            return None
        key = (group, version, hash(tuple(kinds)))
        if key in self._cache:
            return self._cache[key]
        used: set[str] = set()
        components: Doc = {}
        paths: Doc = {}
        for k in kinds:
            name = f"{k.group or 'core'}.{k.version}.{k.kind}"
            if k.custom:
                root = json.loads(json.dumps(k.crd_schema or {"type": "object"}))
            else:
                root = self.schemas.root(k.api_version, k.kind) or {"type": "object"}
                root = _rewrite(root, used)
            root = {key: value for key, value in root.items() if key not in ("$id", "$schema")}
            root = {
                **root,
                "x-kubernetes-group-version-kind": [{"group": k.group, "version": k.version, "kind": k.kind}],
            }
            components[name] = root
            ref = {"$ref": f"#/components/schemas/{name}"}
            gvk = {"group": k.group, "version": k.version, "kind": k.kind}
            base = "/" + _gv_path(group, version)
            item_path = (
                f"{base}/namespaces/{{namespace}}/{k.plural}/{{name}}"
                if k.namespaced
                else f"{base}/{k.plural}/{{name}}"
            )
            coll_path = (
                f"{base}/namespaces/{{namespace}}/{k.plural}" if k.namespaced else f"{base}/{k.plural}"
            )
            body = {"content": {"application/json": {"schema": ref}}}
            answer = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
            paths[item_path] = {
                "get": {
                    "operationId": f"read{k.kind}",
                    "responses": answer,
                    "x-kubernetes-action": "get",
                    "x-kubernetes-group-version-kind": gvk,
                },
                "put": {
                    "operationId": f"replace{k.kind}",
                    "requestBody": body,
                    "responses": answer,
                    "parameters": _WRITE_PARAMS,
                    "x-kubernetes-action": "put",
                    "x-kubernetes-group-version-kind": gvk,
                },
                "patch": {
                    "operationId": f"patch{k.kind}",
                    "responses": answer,
                    "parameters": [
                        *_WRITE_PARAMS,
                        {"name": "force", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                },
                "delete": {
                    "operationId": f"delete{k.kind}",
                    "responses": answer,
                    "parameters": [_WRITE_PARAMS[0]],
                    "x-kubernetes-action": "delete",
                    "x-kubernetes-group-version-kind": gvk,
                },
            }
            paths[coll_path] = {
                "post": {
                    "operationId": f"create{k.kind}",
                    "requestBody": body,
                    "responses": answer,
                    "parameters": _WRITE_PARAMS,
                    "x-kubernetes-action": "post",
                    "x-kubernetes-group-version-kind": gvk,
                },
            }
        pending = list(used)
        while pending:
            name = pending.pop()
            if name in components or name not in self.schemas.defs:
                continue
            more: set[str] = set()
            components[name] = _rewrite(self.schemas.defs[name], more)
            pending.extend(more - set(components))
        doc = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": f"v{self.schemas.minor}.0"},
            "paths": paths,
            "components": {"schemas": components},
        }
        self._cache[key] = doc
        return doc
