"""Server-side apply and field ownership (`metadata.managedFields`, fieldsV1).

A field set is a set of paths. A path is a tuple of fieldsV1 elements: `f:<name>` for a
map field, `k:<json>` for an item of a list keyed by its map keys, `v:<json>` for an item
of a set. Leaves and list items are recorded, maps are not (unless atomic or empty).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from sandbox.schemas import Schema, SchemaSet, child, is_atomic_map, items, list_type

Path = tuple[str, ...]
Flat = dict[Path, Any]

_MEMBER = object()  # the value recorded for a list item (its presence is what counts)

# Fields kube-apiserver never records in managedFields.
_SERVER_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)


# Defaults of list-map key fields: an applied item without them still names the live item
# (kube-apiserver's structured-merge-diff reads them from the schema's defaults).
_KEY_DEFAULTS = {"protocol": "TCP"}


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, str, Path]]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


@dataclass
class Scope:
    """What part of the object a write owns: the main resource or its status subresource."""

    schemas: SchemaSet | None
    schema: Schema | None
    status_subresource: bool  # the kind has a status subresource
    subresource: str = ""  # "" or "status"


def _item_key(item: Any, keys: tuple[str, ...]) -> str:
    if not isinstance(item, dict):
        return "v:" + json.dumps(item, separators=(",", ":"))
    present = {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in sorted(keys) if k in item or k in _KEY_DEFAULTS}
    return "k:" + json.dumps(present, separators=(",", ":"), sort_keys=True)


def flatten(scope: Scope, obj: dict[str, Any], members: bool = False) -> Flat:
    """Every owned path of `obj` with its value, within the scope.

    With `members`, maps of arbitrary keys and keyed lists are recorded themselves too, as
    kube-apiserver records them for Update operations (the `.` entries of fieldsV1).
    """
    out: Flat = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if scope.status_subresource and (key == "status") != (scope.subresource == "status"):
            continue
        sub = child(scope.schemas, scope.schema, key)
        if key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in _SERVER_META}
            _walk(scope.schemas, sub, meta, ("f:metadata",), out, members)
        else:
            _walk(scope.schemas, sub, value, (f"f:{key}",), out, members)
    return out


def _walk(
    schemas: SchemaSet | None, schema: Schema | None, value: Any, path: Path, out: Flat, members: bool
) -> None:
    resolved = schemas.resolve(schema) if schemas is not None and schema is not None else schema
    if isinstance(value, dict) and not is_atomic_map(resolved):
        # Structs are not owned themselves, only what they hold (an empty one holds nothing).
        if members and value and resolved is not None and "properties" not in resolved:
            out[path] = _MEMBER
        for k, v in value.items():
            _walk(schemas, child(schemas, resolved, k), v, (*path, f"f:{k}"), out, members)
        return
    if isinstance(value, list) and value:
        kind, keys = list_type(resolved)
        if kind == "map" and all(isinstance(i, dict) for i in value):
            item_schema = items(schemas, resolved)
            if members:
                out[path] = _MEMBER
            for item in value:
                member = (*path, _item_key(item, keys))
                out[member] = _MEMBER
                for k, v in item.items():
                    _walk(schemas, child(schemas, item_schema, k), v, (*member, f"f:{k}"), out, members)
            return
        if kind == "set":
            if members:
                out[path] = _MEMBER
            for item in value:
                out[(*path, _item_key(item, ()))] = _MEMBER
            return
    out[path] = value


def to_fields_v1(paths: set[Path] | list[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        if path and any(p[: len(path)] == path and len(p) > len(path) for p in paths):
            node["."] = {}
    return tree


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in tree.items():
        if key == ".":
            out.add(prefix)
        elif isinstance(sub, dict) and sub:
            out |= from_fields_v1(sub, (*prefix, key))
        else:
            out.add((*prefix, key))
    return out


def _entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not obj:
        return []
    return copy.deepcopy(obj.get("metadata", {}).get("managedFields") or [])


def _locate(container: Any, element: str) -> tuple[Any, Any]:
    """(parent, index-or-key) of one path element inside container, or (None, None)."""
    if element.startswith("f:") and isinstance(container, dict):
        name = element[2:]
        return (container, name) if name in container else (None, None)
    if isinstance(container, list):
        for i, item in enumerate(container):
            keys = tuple(item) if isinstance(item, dict) and element.startswith("k:") else ()
            if element.startswith("k:"):
                wanted = json.loads(element[2:])
                if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()):
                    return (container, i)
            elif _item_key(item, keys) == element:
                return (container, i)
    return (None, None)


def remove_path(obj: dict[str, Any], path: Path) -> None:
    cur: Any = obj
    for element in path[:-1]:
        parent, idx = _locate(cur, element)
        if parent is None:
            return
        cur = parent[idx]
    parent, idx = _locate(cur, path[-1])
    if parent is not None:
        del parent[idx]


def merge_applied(schemas: SchemaSet | None, schema: Schema | None, live: Any, applied: Any) -> Any:
    """The live object with the applied configuration merged in (lists by their keys)."""
    if isinstance(applied, dict) and isinstance(live, dict) and not is_atomic_map(schema):
        out = dict(live)
        for k, v in applied.items():
            out[k] = merge_applied(schemas, child(schemas, schema, k), live.get(k), v)
        return out
    if isinstance(applied, list) and isinstance(live, list):
        resolved = schemas.resolve(schema) if schemas is not None and schema is not None else schema
        kind, keys = list_type(resolved)
        if kind == "map" and all(isinstance(i, dict) for i in applied + live):
            item_schema = items(schemas, resolved)
            result = list(live)
            index = {_item_key(i, keys): n for n, i in enumerate(result)}
            for item in applied:
                key = _item_key(item, keys)
                if key in index:
                    result[index[key]] = merge_applied(schemas, item_schema, result[index[key]], item)
                else:
                    result.append(copy.deepcopy(item))
            return result
        if kind == "set":
            return list(live) + [i for i in applied if i not in live]
    return copy.deepcopy(applied)


def _now_entry(manager: str, operation: str, api_version: str, now: str, subresource: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _same_owner(entry: dict[str, Any], manager: str, operation: str, subresource: str) -> bool:
    return (
        entry.get("manager") == manager
        and entry.get("operation") == operation
        and entry.get("subresource", "") == subresource
    )


def apply(
    scope: Scope,
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
    api_version: str,
    now: str,
) -> dict[str, Any]:
    """Server-side apply `applied` onto `live` (None when creating); returns the new object."""
    entries = _entries(live)
    applied_flat = flatten(scope, applied)
    live_flat = flatten(scope, live) if live else {}
    own_previous: set[Path] = set()
    others: list[tuple[dict[str, Any], set[Path]]] = []
    for entry in entries:
        fields = from_fields_v1(entry.get("fieldsV1") or {})
        if _same_owner(entry, manager, "Apply", scope.subresource):
            own_previous = fields
        else:
            others.append((entry, fields))

    conflicts: list[tuple[str, str, Path]] = []
    for entry, fields in others:
        if entry.get("subresource", "") != scope.subresource:
            continue
        for path in fields & applied_flat.keys():
            if path not in live_flat or not _equal(live_flat[path], applied_flat[path]):
                conflicts.append((str(entry.get("manager")), str(entry.get("apiVersion")), path))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    taken = {p for _, _, p in conflicts}

    base = copy.deepcopy(live) if live else {}
    merged: dict[str, Any] = merge_applied(scope.schemas, scope.schema, base, applied)
    still_owned: set[Path] = set()
    for _entry, fields in others:
        still_owned |= fields - taken
    dropped = own_previous - set(applied_flat) - still_owned
    # Outer paths first: a list item is found by its key fields, so those must still be there.
    for path in sorted(dropped, key=len):
        if any(p[: len(path)] == path for p in still_owned | set(applied_flat) if len(p) > len(path)):
            continue
        remove_path(merged, path)

    new_entries: list[dict[str, Any]] = []
    for entry, fields in others:
        if taken & fields:
            entry["fieldsV1"] = to_fields_v1(fields - taken)
        if entry.get("fieldsV1"):
            new_entries.append(entry)
    mine = _now_entry(manager, "Apply", api_version, now, scope.subresource)
    mine["fieldsV1"] = to_fields_v1(set(applied_flat))
    position = next(
        (i for i, e in enumerate(entries) if _same_owner(e, manager, "Apply", scope.subresource)), None
    )
    if position is None or position > len(new_entries):
        new_entries.append(mine)
    else:
        new_entries.insert(position, mine)
    merged.setdefault("metadata", {})["managedFields"] = new_entries
    return merged


def _equal(a: Any, b: Any) -> bool:
    if a is _MEMBER or b is _MEMBER:
        return a is b
    return bool(a == b)


def record_update(
    scope: Scope,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    api_version: str,
    now: str,
) -> None:
    """Update `new`'s managedFields after a create/update/patch by `manager` (in place)."""
    entries = _entries(old)
    old_flat = flatten(scope, old, members=True) if old else {}
    new_flat = flatten(scope, new, members=True)
    changed = {p for p, v in new_flat.items() if p not in old_flat or not _equal(old_flat[p], v)}
    gone = set(old_flat) - set(new_flat)
    result: list[dict[str, Any]] = []
    mine_fields: set[Path] = set()
    mine_at: int | None = None
    for entry in entries:
        fields = from_fields_v1(entry.get("fieldsV1") or {})
        if _same_owner(entry, manager, "Update", scope.subresource):
            mine_fields = fields
            mine_at = len(result)
            continue
        if entry.get("subresource", "") == scope.subresource:
            kept = fields - changed - gone
            if kept != fields:
                entry["fieldsV1"] = to_fields_v1(kept)
            if not kept:
                continue
        result.append(entry)
    mine_fields = (mine_fields - gone) | changed
    if mine_fields:
        mine = _now_entry(manager, "Update", api_version, now, scope.subresource)
        mine["fieldsV1"] = to_fields_v1(mine_fields)
        if mine_at is None:
            result.append(mine)
        else:
            result.insert(mine_at, mine)
    new.setdefault("metadata", {})
    if result:
        new["metadata"]["managedFields"] = result
    else:
        new["metadata"].pop("managedFields", None)


def describe_conflicts(conflicts: list[tuple[str, str, Path]]) -> tuple[str, list[dict[str, str]]]:
    """Message and causes as kube-apiserver words them for an apply conflict."""
    causes = []
    by_manager: dict[tuple[str, str], list[str]] = {}
    for manager, api_version, path in conflicts:
        field = _dotted(path)
        causes.append(
            {"reason": "FieldManagerConflict", "message": f'conflict with "{manager}"', "field": field}
        )
        by_manager.setdefault((manager, api_version), []).append(field)
    count = len(conflicts)
    if count == 1:
        (manager, api_version), fields = next(iter(by_manager.items()))
        return (
            f'Apply failed with 1 conflict: conflict with "{manager}" using {api_version}: {fields[0]}',
            causes,
        )
    parts = []
    for (manager, api_version), fields in by_manager.items():
        parts.append(
            f'conflicts with "{manager}" using {api_version}:\n' + "\n".join(f"- {f}" for f in fields)
        )
    return f"Apply failed with {count} conflicts: " + "\n".join(parts), causes


def _dotted(path: Path) -> str:
    out = ""
    for element in path:
        if element.startswith("f:"):
            out += "." + element[2:]
        elif element.startswith("k:"):
            keys = json.loads(element[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
        else:
            out += "[=" + element[2:] + "]"
    return out
