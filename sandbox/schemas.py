"""Access to the official Kubernetes schemas shipped by `kubernetes-validate`.

The package holds JSON schemas per Kubernetes minor, with the OpenAPI extensions
(`x-kubernetes-list-type`, patch merge keys, ...) kept. The sandbox uses them to validate
objects (with `jsonschema`), to merge lists by key (strategic merge, server-side apply)
and to build the OpenAPI documents clients ask for.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

Schema = dict[str, Any]

_DEFS_PREFIX = "#/$defs/"
_REF_RE = re.compile(r"^.*#/\$defs/")


def available_minors() -> list[str]:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    minors = set()
    for entry in root.iterdir():
        m = re.match(r"^v(\d+\.\d+)\.\d+-local-strict$", entry.name)
        if m:
            minors.add(m.group(1))
    return sorted(minors, key=lambda v: tuple(int(p) for p in v.split(".")))


def resolve_minor(wanted: str) -> str:
    """The newest shipped minor not newer than `wanted` (e.g. "1.33")."""
    want = tuple(int(p) for p in wanted.lstrip("v").split(".")[:2])
    usable = [m for m in available_minors() if tuple(int(p) for p in m.split(".")) <= want]
    if not usable:
        raise ValueError(f"kubernetes-validate ships no schemas for Kubernetes {wanted} or older")
    return usable[-1]


class SchemaSet:
    """The schemas of one Kubernetes minor."""

    def __init__(self, minor: str) -> None:
        self.minor = resolve_minor(minor)
        self._dir = resources.files("kubernetes_validate").joinpath(
            "kubernetes-json-schema", f"v{self.minor}.0-local-strict"
        )
        defs_doc = json.loads(self._dir.joinpath("_definitions.json").read_text())
        self.defs: dict[str, Schema] = defs_doc["$defs"]
        self._defs_resource = referencing.Resource.from_contents(defs_doc)
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator | None] = {}

    @staticmethod
    def file_name(api_version: str, kind: str) -> str:
        # networking.k8s.io/v1 → networking-v1, v1 → v1 (as kubernetes-validate names them)
        group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        return f"{kind.lower()}-{group_version}.json"

    def root(self, api_version: str, kind: str) -> Schema | None:
        """The schema of a whole object, or None if the minor has no such kind."""
        return self._root_from_file(api_version, kind)

    @cache  # noqa: B019 - one SchemaSet lives as long as the server
    def _root_from_file(self, api_version: str, kind: str) -> Schema | None:
        path = self._dir.joinpath(self.file_name(api_version, kind))
        if not path.is_file():
            return None
        doc: Schema = json.loads(path.read_text())
        return doc

    def validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        key = (api_version, kind)
        if key not in self._validators:
            doc = self._root_from_file(api_version, kind)
            if doc is None:
                self._validators[key] = None
            else:
                registry: referencing.Registry[Any] = referencing.Resource.from_contents(doc) @ (
                    self._defs_resource @ referencing.Registry()
                )
                self._validators[key] = jsonschema.Draft202012Validator(doc, registry=registry)
        return self._validators[key]

    def resolve(self, schema: Schema | None) -> Schema | None:
        """Follow `$ref` (possibly inside allOf, as the generator writes it)."""
        seen = 0
        while schema is not None and seen < 20:
            seen += 1
            ref = schema.get("$ref")
            if ref is None and len(schema.get("allOf", [])) == 1:
                ref = schema["allOf"][0].get("$ref")
            if ref is None:
                return schema
            schema = self.defs.get(_REF_RE.sub("", ref))
        return schema


def child(schemas: SchemaSet | None, schema: Schema | None, key: str) -> Schema | None:
    """The schema of field `key` of an object described by `schema`."""
    if schema is None:
        return None
    if schemas is not None:
        schema = schemas.resolve(schema)
        if schema is None:
            return None
    props = schema.get("properties")
    if props and key in props:
        return _resolved(schemas, props[key])
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return _resolved(schemas, extra)
    return None


def items(schemas: SchemaSet | None, schema: Schema | None) -> Schema | None:
    if schema is None:
        return None
    if schemas is not None:
        schema = schemas.resolve(schema)
    if schema is None:
        return None
    it = schema.get("items")
    return _resolved(schemas, it) if isinstance(it, dict) else None


def _resolved(schemas: SchemaSet | None, schema: Schema) -> Schema | None:
    return schemas.resolve(schema) if schemas is not None else schema


def list_type(schema: Schema | None) -> tuple[str, tuple[str, ...]]:
    """How server-side apply treats a list: ("map", keys), ("set", ()) or ("atomic", ())."""
    if schema is None:
        return ("atomic", ())
    kind = schema.get("x-kubernetes-list-type")
    if kind == "map":
        return ("map", tuple(schema.get("x-kubernetes-list-map-keys") or ()))
    if kind == "set":
        return ("set", ())
    return ("atomic", ())


def patch_strategy(schema: Schema | None) -> tuple[str, str | None]:
    """The strategic-merge strategy of a list: ("merge", key), ("merge", None) for primitives, or ("replace", None)."""
    if schema is None:
        return ("replace", None)
    strategies = str(schema.get("x-kubernetes-patch-strategy", ""))
    if "merge" in strategies.split(","):
        return ("merge", schema.get("x-kubernetes-patch-merge-key"))
    return ("replace", None)


def retain_keys(schema: Schema | None) -> bool:
    return schema is not None and "retainKeys" in str(schema.get("x-kubernetes-patch-strategy", "")).split(
        ","
    )


def is_atomic_map(schema: Schema | None) -> bool:
    return schema is not None and schema.get("x-kubernetes-map-type") == "atomic"
