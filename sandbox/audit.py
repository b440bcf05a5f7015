"""kube-apiserver's audit log, read as one flat record per request.

kube-apiserver writes `DIR/audit.jsonl` (policy `audit-policy.yaml`: every request at
level Metadata, at the ResponseComplete stage; watches also at ResponseStarted, which is
skipped here so that each request counts once). Tests and benchmarks read it through
:func:`read` so they see plain fields: who (`user`), what (`verb`, `method`, `path`,
`query`, `dryRun`) and the answer (`status`).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  # A delete's DeleteOptions body decides whether it is a dry run (the query is then ignored),
  # so deletes are logged with their request body; it holds no secret.
  - level: Request
    verbs: [delete, deletecollection]
  # Everything else, metadata only (no bodies: Secrets stay out of the log).
  - level: Metadata
"""

# HTTP method of each kube verb (the audit event keeps only the verb).
_METHODS = {
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _seconds(stamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _dry_run(query: dict[str, list[str]], body: Any) -> bool:
    """Whether kube-apiserver stored nothing: a delete with a DeleteOptions body takes dryRun
    from that body only (its query parameters are ignored); every other request from the query."""
    if isinstance(body, dict) and body.get("kind") == "DeleteOptions":
        return "All" in (body.get("dryRun") or [])
    return "All" in query.get("dryRun", [])


def record(event: dict[str, Any]) -> dict[str, Any] | None:
    """The flat record of one audit event; None for a stage that is not the request's end."""
    if event.get("stage") not in ("ResponseComplete", "Panic"):
        return None
    uri = urlsplit(str(event.get("requestURI", "")))
    query = parse_qs(uri.query)
    verb = str(event.get("verb", ""))
    user = event.get("user") or {}
    status = (event.get("responseStatus") or {}).get("code", 0)
    received, done = _seconds(event.get("requestReceivedTimestamp")), _seconds(event.get("stageTimestamp"))
    latency = round((done - received) * 1000, 3) if received is not None and done is not None else 0.0
    return {
        "time": event.get("stageTimestamp") or event.get("requestReceivedTimestamp"),
        "user": str(user.get("username", "")),
        "groups": list(user.get("groups") or []),
        "verb": verb,
        "method": _METHODS.get(verb, verb.upper()),
        "path": uri.path,
        "query": uri.query,
        "status": int(status or 0),
        "dryRun": _dry_run(query, event.get("requestObject")),
        "userAgent": str(event.get("userAgent", "")),
        "latency_ms": latency,
        "objectRef": event.get("objectRef") or {},
    }


def size(path: Path) -> int:
    """The log's size now: pass it to :func:`read` to get only what comes after."""
    return path.stat().st_size if path.exists() else 0


def read(path: Path, offset: int = 0, user: str | None = None) -> list[dict[str, Any]]:
    """The flat records in `path` from byte `offset` on, optionally only those of `user`."""
    if not path.exists():
        return []
    with path.open("rb") as fh:
        fh.seek(offset)
        lines = fh.read().splitlines()
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line being written
        flat = record(event)
        if flat is not None and (user is None or flat["user"] == user):
            out.append(flat)
    return out


def is_write(entry: dict[str, Any]) -> bool:
    """A request that stores something: a write method without dryRun."""
    return entry["method"] in WRITE_METHODS and not entry["dryRun"]
