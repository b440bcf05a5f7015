"""Server-side printing: the meta.k8s.io/v1 Table kubectl asks for with `Accept: ...;as=Table`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.kinds import Kind

Obj = dict[str, Any]

_COLUMNS = [
    {
        "name": "Name",
        "type": "string",
        "format": "name",
        "priority": 0,
        "description": "Name must be unique within a namespace.",
    },
    {
        "name": "Age",
        "type": "string",
        "format": "",
        "priority": 0,
        "description": "CreationTimestamp is a timestamp representing the server time when this object was created.",
    },
]


def wants_table(accept: str) -> bool:
    for part in accept.split(","):
        params = {
            p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in part.split(";")[1:] if "=" in p
        }
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") == "v1":
            return True
    return False


def _age(stamp: str | None) -> str:
    if not stamp:
        return "<unknown>"
    created = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    seconds = max(0, int((dt.datetime.now(dt.UTC) - created).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _row(kind: Kind, obj: Obj, include: str) -> Obj:
    row: Obj = {"cells": [obj["metadata"]["name"], _age(obj["metadata"].get("creationTimestamp"))]}
    if include == "Object":
        row["object"] = {"apiVersion": kind.api_version, "kind": kind.kind, **obj}
    elif include != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        }
    return row


def table(kind: Kind, objs: list[Obj], meta: Obj, include: str, columns: bool = True) -> Obj:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {
            k: v for k, v in meta.items() if k in ("resourceVersion", "continue", "remainingItemCount")
        },
        "columnDefinitions": _COLUMNS if columns else [],
        "rows": [_row(kind, o, include) for o in objs],
    }
