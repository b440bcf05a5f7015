"""Objects, the resourceVersion counter and the history of watch events.

Stored objects are never mutated: a write stores a new dict, so readers may hold
references without copying.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

# The counter starts high so that a client asking for a small resourceVersion gets
# 410 Gone, as it would from a cluster whose etcd has been compacted.
FIRST_RESOURCE_VERSION = 1000
HISTORY_LENGTH = 50_000


@dataclass(frozen=True)
class Event:
    rv: int
    resource: str  # Kind.resource_key
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj


class Watcher:
    """One open watch: a queue of events, with the filter it applies."""

    def __init__(self, resource: str, accepts: Callable[[Obj], bool], limit: int = 10_000) -> None:
        self.resource = resource
        self.accepts = accepts
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.limit = limit
        self.overflowed = False

    def offer(self, event: Event) -> None:
        if self.queue.qsize() >= self.limit:
            # A consumer this far behind is closed, as the watch cache does, and relists.
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)


def key_of(obj: Obj) -> tuple[str, str]:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


class Store:
    def __init__(self) -> None:
        self._rv = FIRST_RESOURCE_VERSION
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._history: deque[Event] = deque(maxlen=HISTORY_LENGTH)
        self._watchers: dict[str, set[Watcher]] = {}

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def oldest_watchable(self) -> int:
        """The oldest resourceVersion a watch may start from (older ones get 410 Gone)."""
        if len(self._history) == self._history.maxlen:
            return self._history[0].rv
        return FIRST_RESOURCE_VERSION

    def next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self._objects.get(resource, {}).get((namespace, name))

    def items(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """Objects of a resource, sorted by namespace and name (one namespace, or all)."""
        bucket = self._objects.get(resource, {})
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [bucket[k] for k in keys]

    def put(self, resource: str, obj: Obj, event_type: str) -> None:
        """Store `obj` (its metadata.resourceVersion already set from next_rv())."""
        self._objects.setdefault(resource, {})[key_of(obj)] = obj
        self._emit(Event(int(obj["metadata"]["resourceVersion"]), resource, event_type, obj))

    def remove(self, resource: str, obj: Obj) -> None:
        """Delete `obj`; the DELETED event carries it with a fresh resourceVersion."""
        self._objects.get(resource, {}).pop(key_of(obj), None)
        self._emit(Event(int(obj["metadata"]["resourceVersion"]), resource, "DELETED", obj))

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        for watcher in list(self._watchers.get(event.resource, ())):
            if watcher.accepts(event.obj):
                watcher.offer(event)

    def history_since(self, resource: str, rv: int) -> list[Event]:
        return [e for e in self._history if e.rv > rv and e.resource == resource]

    def add_watcher(self, watcher: Watcher) -> None:
        self._watchers.setdefault(watcher.resource, set()).add(watcher)

    def drop_watcher(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.resource, set()).discard(watcher)
