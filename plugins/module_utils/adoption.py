# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which live objects a member may take over: the adoption list, checked in one place.

A converge changes only objects that carry its set's labels. An object of the same kind and name
that something else made (Helm, kubectl, another member) is refused, unless the inventory names it
as ``Kind/name`` in the adoption list (``binder_adopt``; a role alone has ``<role>_adopt``, the
apply_set module ``adopt``). Namespaced kinds are the member's namespace's. The apply_set module
and the binder role's filters read the list through this module only.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

__all__ = ["ADOPTABLE_KINDS", "adopted_in", "adoption_problems", "ref"]

# The kinds of the objects a member is made of: its entrypoint Service and redirector Service, its
# Ingresses, the ClusterIssuers of its cluster.
ADOPTABLE_KINDS = ("ClusterIssuer", "Ingress", "Service")
# Kind/name; the name as kube-apiserver accepts names of these kinds (DNS subdomain).
_ENTRY_RE = re.compile(r"([A-Za-z][A-Za-z0-9]*)/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\Z")


def ref(obj: Any) -> str:
    """``Kind/name`` of an object definition, as the adoption list names it."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return f"{obj.get('kind')}/{name}" if isinstance(obj, dict) else ""


def adoption_problems(entries: Any, objects: list[Any], key: str, whose: str = "the member") -> list[str]:
    """What is wrong with the adoption list ``entries`` against the desired ``objects``, each problem
    naming ``key`` (the variable the user wrote); empty when every entry names one of them."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        return [
            f"{key}: must be a list of Kind/name strings (for example Ingress/jupyterhub), got {entries!r}"
        ]
    wanted = {ref(o) for o in objects}
    kinds = sorted({r.split("/", 1)[0] for r in wanted} | set(ADOPTABLE_KINDS))
    problems: list[str] = []
    for index, entry in enumerate(entries):
        where = f"{key}[{index}]"
        match = _ENTRY_RE.match(entry) if isinstance(entry, str) else None
        if match is None:
            problems.append(f"{where}: {entry!r} is not Kind/name (for example Ingress/jupyterhub)")
            continue
        kind, name = match.group(1), match.group(2)
        if kind not in kinds:
            close = difflib.get_close_matches(kind, kinds, n=1, cutoff=0.5) or [
                k for k in kinds if k.lower() == kind.lower()
            ]
            hint = f"; did you mean {close[0]}/{name}?" if close else ""
            problems.append(f"{where}: {entry!r}: unknown kind {kind}, not one of {', '.join(kinds)}{hint}")
            continue
        if entry not in wanted:
            same = sorted(r for r in wanted if r.startswith(f"{kind}/"))
            close = difflib.get_close_matches(entry, same, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f"{where}: {entry!r} names no object of {whose}{hint}")
    return problems


def adopted_in(entries: Any, objects: list[Any]) -> list[str]:
    """The entries of the adoption list that name one of ``objects``, in the list's order."""
    wanted = {ref(o) for o in objects}
    return [e for e in entries or [] if isinstance(e, str) and e in wanted]
