"""Label and field selectors, parsed as kube-apiserver parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]


class SelectorError(ValueError):
    pass


_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|in\b|notin\b|[A-Za-z0-9_./-]+)\s*")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SelectorError(f"unable to parse requirement: invalid label selector {text!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


LabelTest = Callable[[dict[str, str]], bool]


def _absent(key: str) -> LabelTest:
    return lambda labels: key not in labels


def _present(key: str) -> LabelTest:
    return lambda labels: key in labels


def _equals(key: str, values: set[str], wanted: bool) -> LabelTest:
    # `!=` and `notin` also match objects without the label, as in kube-apiserver.
    return lambda labels: (labels.get(key) in values) == wanted


def _field_equals(field: str, value: str, wanted: bool) -> Predicate:
    return lambda obj: (_field(obj, field) == value) == wanted


def parse_labels(text: str) -> Predicate:
    """A predicate on an object's labels for a selector like `a=b,c!=d,e in (x,y),!f`."""
    tokens = _tokens(text or "")
    reqs: list[Callable[[dict[str, str]], bool]] = []
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(tokens):
            raise SelectorError(f"unable to parse requirement: unexpected end of selector {text!r}")
        i += 1
        return tokens[i - 1]

    while i < len(tokens):
        tok = take()
        if tok == ",":
            continue
        if tok == "!":
            key = take()
            reqs.append(_absent(key))
        else:
            key = tok
            op = tokens[i] if i < len(tokens) else ","
            if op == ",":
                reqs.append(_present(key))
            elif op in ("=", "==", "!="):
                take()
                value = take() if i < len(tokens) and tokens[i] not in (",",) else ""
                reqs.append(_equals(key, {value}, op != "!="))
            elif op in ("in", "notin"):
                take()
                if take() != "(":
                    raise SelectorError(f"unable to parse requirement: expected '(' in {text!r}")
                values: set[str] = set()
                while True:
                    t = take()
                    if t == ")":
                        break
                    if t != ",":
                        values.add(t)
                reqs.append(_equals(key, values, op == "in"))
            else:
                raise SelectorError(f"unable to parse requirement: unexpected {op!r} in {text!r}")
        if i < len(tokens) and tokens[i] != ",":
            raise SelectorError(f"unable to parse requirement: expected ',' in {text!r}")

    def match(obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


# Field selectors every kind supports, plus the few extra ones kube-apiserver registers.
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "secrets": ("type",),
    "events": ("involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "reason", "type"),
    "pods": ("spec.nodeName", "status.phase"),
    "namespaces": ("status.phase",),
}


def _field(obj: Obj, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def parse_fields(text: str, plural: str) -> Predicate:
    reqs: list[Callable[[Obj], bool]] = []
    allowed = _COMMON_FIELDS + _EXTRA_FIELDS.get(plural, ())
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        m = re.match(r"^([^!=]+?)\s*(!=|==|=)\s*(.*)$", part)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.groups()
        if field not in allowed:
            raise SelectorError(f"field label not supported: {field}")
        reqs.append(_field_equals(field, value, op != "!="))
    return lambda obj: all(r(obj) for r in reqs)
