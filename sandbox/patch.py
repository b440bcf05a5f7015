"""JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.schemas import Schema, SchemaSet, child, items, patch_strategy


class PatchError(ValueError):
    """The patch cannot be applied (kube-apiserver answers 422 or 400)."""


# --- JSON patch ---------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise PatchError(f"doc is missing path: {path!r}")
    return cur


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _container(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise PatchError(f"doc is missing path: {path!r}")


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    parent = _container(doc, parts, path)
    last = parts[-1] if parts else ""
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise PatchError(f"unable to remove nonexistent key: {last}: missing value")


def _add(doc: Any, path: str, value: Any, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _container(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f"replace operation does not apply: doc is missing key: {path}: missing value")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise PatchError(f"add operation does not apply: doc is missing path: {path!r}")
    else:
        raise PatchError(f"doc is missing path: {path!r}")
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            value = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


# --- merge patch --------------------------------------------------------------------------


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# --- strategic merge patch ----------------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN = "$retainKeys"
_ORDER_PREFIX = "$setElementOrder/"
_DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList/"


def strategic_merge(schemas: SchemaSet, schema: Schema | None, doc: Any, patch: Any) -> Any:
    """Apply a strategic merge patch, using the patch strategies and merge keys of `schema`."""
    return _smp_map(schemas, schema, copy.deepcopy(doc) if isinstance(doc, dict) else {}, patch)


def _smp_map(schemas: SchemaSet, schema: Schema | None, doc: dict[str, Any], patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive}")
    retain = patch.get(_RETAIN)
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN) or key.startswith(_ORDER_PREFIX):
            continue
        if key.startswith(_DELETE_PRIMITIVE_PREFIX):
            field = key[len(_DELETE_PRIMITIVE_PREFIX) :]
            current = doc.get(field)
            if isinstance(current, list) and isinstance(value, list):
                doc[field] = [v for v in current if v not in value]
            continue
        sub = child(schemas, schema, key)
        if value is None:
            doc.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(schemas, sub, doc[key] if isinstance(doc.get(key), dict) else {}, value)
            if merged is None:
                doc.pop(key, None)
            else:
                doc[key] = merged
        elif isinstance(value, list):
            doc[key] = _smp_list(schemas, sub, doc.get(key), value)
        else:
            doc[key] = value
    if isinstance(retain, list):
        for key in list(doc):
            if key not in retain:
                del doc[key]
    return doc


def _smp_list(schemas: SchemaSet, schema: Schema | None, current: Any, patch: list[Any]) -> list[Any]:
    strategy, merge_key = patch_strategy(schema)
    if strategy != "merge" or not isinstance(current, list):
        if strategy == "merge" and merge_key is not None:
            current = []
        else:
            return [copy.deepcopy(v) for v in patch if not (isinstance(v, dict) and _DIRECTIVE in v)]
    if merge_key is None:
        # A list of primitives merged as a set: patch values are added if missing.
        out = list(current)
        for v in patch:
            if v not in out:
                out.append(v)
        return out
    item_schema = items(schemas, schema)
    out = [copy.deepcopy(v) for v in current]
    for entry in patch:
        if not isinstance(entry, dict):
            raise PatchError(f"merging list with merge key {merge_key}: element is not a map")
        if entry.get(_DIRECTIVE) == "replace" and merge_key not in entry:
            return [copy.deepcopy(v) for v in patch if v is not entry]
        key_value = entry.get(merge_key)
        index = next(
            (i for i, v in enumerate(out) if isinstance(v, dict) and v.get(merge_key) == key_value), None
        )
        if entry.get(_DIRECTIVE) == "delete":
            if index is not None:
                out.pop(index)
            continue
        if index is None:
            clean = _smp_map(schemas, item_schema, {}, entry)
            out.append(clean)
        else:
            out[index] = _smp_map(schemas, item_schema, out[index], entry)
    return out
