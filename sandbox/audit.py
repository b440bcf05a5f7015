"""The audit log: one JSON line per API request."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any


class AuditLog:
    def __init__(self, path: Path | None) -> None:
        self._fh: IO[str] | None = path.open("a", buffering=1) if path is not None else None

    def record(
        self,
        *,
        user: str,
        verb: str,
        method: str,
        path: str,
        query: str,
        status: int,
        latency: float,
        dry_run: bool,
        user_agent: str,
        fault: str | None = None,
    ) -> None:
        if self._fh is None:
            return
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            + f".{int(time.time() * 1e6) % 1_000_000:06d}Z",
            "user": user,
            "verb": verb,
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "latency_ms": round(latency * 1000, 3),
            "dryRun": dry_run,
            "userAgent": user_agent,
        }
        if fault:
            entry["fault"] = fault
        self._fh.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
