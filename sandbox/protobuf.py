"""Decoding of the Kubernetes protobuf request bodies kubectl's typed generators send.

`kubectl create namespace|configmap|secret|serviceaccount` encode their object as
protobuf (`application/vnd.kubernetes.protobuf`), not JSON. The sandbox decodes the
few messages these need; any other protobuf body is answered 415 by the caller.
Field numbers are those of k8s.io/api/core/v1 and k8s.io/apimachinery meta/v1.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


# message name → field number → (json name, type). Types: string, bytes, bool, int,
# msg:<name>, map:string, map:bytes, rep:string, rep:msg:<name>, time.
_MESSAGES: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {
        1: ("typeMeta", "msg:TypeMeta"),
        2: ("raw", "raw"),
        3: ("contentEncoding", "string"),
        4: ("contentType", "string"),
    },
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        5: ("uid", "string"),
        6: ("resourceVersion", "string"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "time"),
        11: ("labels", "map:string"),
        12: ("annotations", "map:string"),
        13: ("ownerReferences", "rep:msg:OwnerReference"),
        14: ("finalizers", "rep:string"),
    },
    "OwnerReference": {
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "Namespace": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "rep:string")},
    "ConfigMap": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map:string"),
        3: ("binaryData", "map:bytes"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map:bytes"),
        3: ("type", "string"),
        4: ("stringData", "map:string"),
        5: ("immutable", "bool"),
    },
    "ServiceAccount": {1: ("metadata", "msg:ObjectMeta"), 4: ("automountServiceAccountToken", "bool")},
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
}
SUPPORTED = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount")}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, pos = data[pos : pos + width], pos + width
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _message(name: str, data: bytes) -> dict[str, Any]:
    spec = _MESSAGES[name]
    out: dict[str, Any] = {}
    for number, _wire, value in _fields(data):
        if number not in spec:
            continue  # a field this decoder does not know: kubectl's generators do not set them
        key, kind = spec[number]
        if kind == "string":
            if value:  # Go omits empty strings from JSON; protobuf carries them
                out[key] = bytes(value).decode()
        elif kind == "raw":
            out[key] = bytes(value)
        elif kind == "bool":
            out[key] = bool(value)
        elif kind == "int":
            out[key] = int(value)
        elif kind == "time":
            t = _message("Time", value)
            if not t.get("seconds"):
                continue
            out[key] = dt.datetime.fromtimestamp(t.get("seconds", 0), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind.startswith("msg:"):
            out[key] = _message(kind[4:], value)
        elif kind.startswith("map:"):
            entry = {n: v for n, _w, v in _fields(value)}
            raw = bytes(entry.get(2, b""))
            text = base64.b64encode(raw).decode() if kind == "map:bytes" else raw.decode()
            out.setdefault(key, {})[bytes(entry.get(1, b"")).decode()] = text
        elif kind == "rep:string":
            out.setdefault(key, []).append(bytes(value).decode())
        elif kind.startswith("rep:msg:"):
            out.setdefault(key, []).append(_message(kind[8:], value))
    return out


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object; ProtobufError if it is not one this decoder knows."""
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf envelope")
    unknown = _message("Unknown", body[len(MAGIC) :])
    type_meta = unknown.get("typeMeta", {})
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if (api_version, kind) not in SUPPORTED:
        raise ProtobufError(f"protobuf bodies of {api_version}/{kind} are not supported by the sandbox")
    obj = _message(kind, unknown.get("raw", b""))
    return {"apiVersion": api_version, "kind": kind, **obj}
