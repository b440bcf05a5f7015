"""Watch: a stream of ADDED/MODIFIED/DELETED/BOOKMARK events, as kube-apiserver's watch cache sends."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from sandbox import tables
from sandbox.errors import ApiError, Causes, bad_request
from sandbox.handlers import Api, present
from sandbox.kinds import Kind
from sandbox.selectors import SelectorError, parse_fields, parse_labels
from sandbox.store import Event, Obj, Watcher

BOOKMARK_INTERVAL = 1.0  # kube-apiserver sends one about every minute; tests should not wait that long
DEFAULT_TIMEOUT = 1800.0


def _line(event_type: str, obj: Obj) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


class _Encoder:
    """Turns events into lines: objects as they are, or as one-row Tables for kubectl."""

    def __init__(self, kind: Kind, as_table: bool, include: str) -> None:
        self.kind = kind
        self.as_table = as_table
        self.include = include
        self.first = True

    def __call__(self, event_type: str, obj: Obj) -> bytes:
        if event_type not in ("BOOKMARK", "ERROR"):
            obj = present(self.kind, obj)
        if not self.as_table or event_type in ("BOOKMARK", "ERROR"):
            return _line(event_type, obj)
        meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
        rendered = tables.table(self.kind, [obj], meta, self.include, columns=self.first)
        self.first = False
        return _line(event_type, rendered)


def _bookmark(kind: Kind, rv: int, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return _line("BOOKMARK", {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": meta})


def _expired(rv: str, current: int) -> Obj:
    return ApiError(410, "Expired", f"too old resource version: {rv} ({current})").status()


async def serve(
    request: web.Request,
    api: Api,
    kind: Kind,
    namespace: str | None,
    params: dict[str, str],
    as_table: bool = False,
) -> web.StreamResponse:
    line = _Encoder(kind, as_table, params.get("includeObject", "Metadata"))
    try:
        labels = parse_labels(params.get("labelSelector", ""))
        fields = parse_fields(params.get("fieldSelector", ""), kind.plural)
    except SelectorError as exc:
        raise bad_request(str(exc)) from exc
    send_initial = params.get("sendInitialEvents") == "true"
    bookmarks = params.get("allowWatchBookmarks") in ("true", "1")
    rv = params.get("resourceVersion", "")
    if send_initial:
        causes = Causes()
        if params.get("resourceVersionMatch") != "NotOlderThan":
            causes.forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )
        if not bookmarks:
            causes.forbidden(
                "allowWatchBookmarks", "sendInitialEvents requires setting allowWatchBookmarks to true"
            )
        if causes:
            raise ApiError(
                422,
                "Invalid",
                'ListOptions.meta.k8s.io "" is invalid: '
                + "; ".join(f"{c['field']}: {c['message']}" for c in causes.items),
                {"kind": "ListOptions", "group": "meta.k8s.io", "causes": causes.items},
            )
    elif params.get("resourceVersionMatch"):
        raise bad_request("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
    if rv and rv != "0" and not rv.isdigit():
        raise bad_request(f'resourceVersion: Invalid value: "{rv}": must be an integer')
    try:
        timeout = float(params.get("timeoutSeconds") or DEFAULT_TIMEOUT)
    except ValueError as exc:
        raise bad_request("timeoutSeconds must be a number") from exc

    def accepts(obj: Obj) -> bool:
        if namespace is not None and obj["metadata"].get("namespace") != namespace:
            return False
        return labels(obj) and fields(obj)

    store = api.store
    watcher = Watcher(kind.resource_key, accepts)
    # Snapshot and registration happen without an await in between, so no event is lost or doubled.
    initial: list[bytes] = []
    expired: Obj | None = None
    if send_initial or rv in ("", "0"):
        initial = [line("ADDED", o) for o in store.items(kind.resource_key, namespace) if accepts(o)]
    elif int(rv) < store.oldest_watchable:
        expired = _expired(rv, store.resource_version)
    else:
        initial = [
            line(e.type, e.obj) for e in store.history_since(kind.resource_key, int(rv)) if accepts(e.obj)
        ]
    start_rv = store.resource_version
    if expired is None:
        store.add_watcher(watcher)

    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        if expired is not None:
            await response.write(_line("ERROR", expired))
            return response
        if initial:
            await response.write(b"".join(initial))
        if send_initial:
            await response.write(_bookmark(kind, start_rv, initial_end=True))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                event: Event | None = await asyncio.wait_for(
                    watcher.queue.get(), min(left, BOOKMARK_INTERVAL)
                )
            except TimeoutError:
                if bookmarks:
                    await response.write(_bookmark(kind, store.resource_version))
                continue
            if event is None:
                break
            chunk = [line(event.type, event.obj)]
            while not watcher.queue.empty():
                more = watcher.queue.get_nowait()
                if more is None:
                    break
                chunk.append(line(more.type, more.obj))
            await response.write(b"".join(chunk))
            if watcher.overflowed:
                break  # too far behind: end the watch so that the client relists
    except ConnectionResetError:
        pass
    finally:
        store.drop_watcher(watcher)
    return response
