"""Fault injection: answer matching API requests with errors, delays or a dropped connection.

A fault is written as comma-separated key=value pairs (docs/sandbox.md):

    action=error|throttle|conflict|delay|drop|down   what to do (required)
    path=REGEX      searched in the request path (default: every API request)
    verb=V[|V...]   kube verbs (get list watch create update patch delete deletecollection)
                    or HTTP methods (GET POST PUT PATCH DELETE)
    code=N          status for action=error (default 500)
    retry_after=S   Retry-After seconds for action=throttle (answers 429; default 1)
    seconds=S       for action=delay (default 1.0); the request is then served normally.
                    For action=down: how long the API stays down (default: until cleared)
    after=N         let the first N matching requests through (default 0)
    times=N         fire at most N times (default: no limit)
    name=NAME       shown in the audit log and in listings (default fault-<n>)
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass, field
from typing import Any

ACTIONS = ("error", "throttle", "conflict", "delay", "drop", "down")
_counter = itertools.count(1)


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    action: str
    path: str = ""
    verbs: tuple[str, ...] = ()
    code: int = 500
    retry_after: int = 1
    seconds: float | None = 1.0  # None: action=down until cleared
    after: int = 0
    times: int | None = None
    name: str = ""
    seen: int = 0
    fired: int = 0
    _path_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise FaultSpecError(f"fault action must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        try:
            self._path_re = re.compile(self.path) if self.path else None
        except re.error as exc:
            raise FaultSpecError(f"fault path is not a valid regular expression: {exc}") from exc
        if not self.name:
            self.name = f"fault-{next(_counter)}"

    def matches(self, method: str, verb: str, path: str) -> bool:
        if self.verbs and method not in self.verbs and verb not in self.verbs:
            return False
        return self._path_re is None or self._path_re.search(path) is not None

    def trigger(self) -> bool:
        """Count a matching request; True if the fault fires for it."""
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("_path_re", None)
        out["verbs"] = list(self.verbs)
        return out


def parse(spec: str | dict[str, Any]) -> Fault:
    """A fault from its text form (`action=error,code=503,path=/services`) or a JSON object."""
    if isinstance(spec, dict):
        pairs = {str(k): str(v) for k, v in spec.items()}
    else:
        pairs = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            if not sep:
                raise FaultSpecError(f"fault spec part {part!r} is not key=value")
            pairs[key.strip()] = value.strip()
    known = {"action", "path", "verb", "verbs", "code", "retry_after", "seconds", "after", "times", "name"}
    unknown = set(pairs) - known
    if unknown:
        raise FaultSpecError(f"unknown fault spec key(s): {', '.join(sorted(unknown))}")
    if "action" not in pairs:
        raise FaultSpecError(f"fault spec needs action={'|'.join(ACTIONS)}")
    try:
        verbs = tuple(v for v in (pairs.get("verb") or pairs.get("verbs") or "").split("|") if v)
        return Fault(
            action=pairs["action"],
            path=pairs.get("path", ""),
            verbs=verbs,
            code=int(pairs.get("code", 500)),
            retry_after=int(pairs.get("retry_after", 1)),
            seconds=(
                float(pairs["seconds"]) if "seconds" in pairs else None if pairs["action"] == "down" else 1.0
            ),
            after=int(pairs.get("after", 0)),
            times=int(pairs["times"]) if "times" in pairs else None,
            name=pairs.get("name", ""),
        )
    except ValueError as exc:
        if isinstance(exc, FaultSpecError):
            raise
        raise FaultSpecError(f"fault spec {spec!r}: {exc}") from exc


class Faults:
    """The faults in force, in the order added; and whether a `down` fault took the API down."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._down: tuple[Fault, float] | None = None  # the fault, and when the API comes back

    def down(self, now: float) -> Fault | None:
        """The `down` fault that holds the API down at ``now``, if any."""
        if self._down is None:
            return None
        fault, until = self._down
        if now >= until:
            self._down = None
            return None
        fault.fired += 1
        return fault

    def go_down(self, fault: Fault, now: float) -> None:
        self._down = (fault, now + fault.seconds if fault.seconds is not None else float("inf"))

    def add(self, fault: Fault) -> Fault:
        self._faults = [f for f in self._faults if f.name != fault.name]
        self._faults.append(fault)
        return fault

    def clear(self, name: str | None = None) -> int:
        before = len(self._faults)
        self._faults = [f for f in self._faults if name is not None and f.name != name]
        if self._down is not None and not any(f is self._down[0] for f in self._faults):
            self._down = None  # the API is back once the fault that took it down is gone
        return before - len(self._faults)

    def list(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self._faults]

    def pick(self, method: str, verb: str, path: str) -> Fault | None:
        """The first fault that fires for this request (every matching fault counts it)."""
        chosen: Fault | None = None
        for fault in self._faults:
            if fault.matches(method, verb, path) and fault.trigger() and chosen is None:
                chosen = fault
        return chosen
