"""A small Kubernetes API client for the data plane's controllers (HTTPS, bearer token).

The data plane talks to kube-apiserver exactly as an in-cluster controller does: list,
then watch from the list's resourceVersion, relist on 410 Gone, and plain
create/replace/merge-patch/delete. It never reaches into the API server's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class ApiError(Exception):
    """The API answered with an error status."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body[:300]}")
        self.status = status


@dataclass(frozen=True)
class ApiAccess:
    """Where the API is and how to authenticate (read from the sandbox directory)."""

    url: str
    token: str
    ca_file: Path

    @classmethod
    def from_dir(cls, state_dir: Path) -> ApiAccess:
        state = json.loads((state_dir / "state.json").read_text())
        # The data plane's own user (sandbox.controlplane.cluster.DATAPLANE_USER), not the user's.
        token = (state_dir / "dataplane-token").read_text().strip()
        # Straight to kube-apiserver, past the fault proxy: faults are for the clients under test.
        url = str(state.get("apiserver_url") or state["api_url"]).rstrip("/")
        return cls(url=url, token=token, ca_file=state_dir / "ca.crt")


def key_of(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class Kube:
    """Typed wrapper over one aiohttp session to the sandbox API."""

    def __init__(self, access: ApiAccess) -> None:
        self.access = access
        context = ssl.create_default_context(cafile=str(access.ca_file))
        self._session = aiohttp.ClientSession(
            base_url=access.url,
            headers={"Authorization": f"Bearer {access.token}", "Accept": "application/json"},
            connector=aiohttp.TCPConnector(ssl=context),
        )

    async def close(self) -> None:
        await self._session.close()

    async def _call(
        self,
        method: str,
        path: str,
        body: Obj | None = None,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Obj | None:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": content_type} if body is not None else None
        async with self._session.request(method, path, data=data, headers=headers, params=params) as response:
            text = await response.text()
            if response.status == 404 and method in ("GET", "DELETE"):
                return None
            if response.status >= 400:
                raise ApiError(response.status, method, path, text)
            result: Obj = json.loads(text) if text else {}
            return result

    async def get(self, path: str, params: dict[str, str] | None = None) -> Obj | None:
        return await self._call("GET", path, params=params)

    async def create(self, collection: str, body: Obj) -> Obj:
        result = await self._call("POST", collection, body)
        assert result is not None
        return result

    async def replace(self, path: str, body: Obj) -> Obj:
        result = await self._call("PUT", path, body)
        assert result is not None
        return result

    async def delete(self, path: str) -> None:
        await self._call("DELETE", path)

    async def merge_patch(self, path: str, body: Obj) -> Obj:
        """A JSON merge patch (RFC 7386): maps merge, lists are replaced, null removes."""
        result = await self._call("PATCH", path, body, content_type="application/merge-patch+json")
        assert result is not None
        return result

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the API answers /version (it may still be starting)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                if await self.get("/version") is not None:
                    return
            except (aiohttp.ClientError, ApiError, OSError) as exc:
                if loop.time() > deadline:
                    raise TimeoutError(f"sandbox API at {self.access.url} not answering: {exc}") from exc
            await asyncio.sleep(0.2)

    async def informer(
        self,
        collection: str,
        on_change: Callable[[dict[tuple[str, str], Obj]], Awaitable[None]],
        label_selector: str = "",
    ) -> None:
        """Keep a cache of ``collection`` with list+watch and call ``on_change`` with it.

        Runs until cancelled. The whole cache is passed each time: the controllers
        reconcile level-triggered, so a missed or duplicated event cannot leave them wrong.
        ``label_selector`` limits list and watch to the matching objects.
        """
        selector = {"labelSelector": label_selector} if label_selector else {}
        while True:
            try:
                listing = await self.get(collection, params=selector)
                if listing is None:
                    raise ApiError(404, "GET", collection, "collection not served")
                cache = {key_of(item): item for item in listing.get("items") or []}
                version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
                await on_change(dict(cache))
                await self._watch(collection, version, cache, on_change, selector)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, ApiError, OSError, ValueError, TimeoutError) as exc:
                log.warning("watch of %s interrupted (%s); listing again", collection, exc)
                await asyncio.sleep(1.0)

    async def _watch(
        self,
        collection: str,
        version: str,
        cache: dict[tuple[str, str], Obj],
        on_change: Callable[[dict[tuple[str, str], Obj]], Awaitable[None]],
        selector: dict[str, str],
    ) -> None:
        params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": "300", **selector}
        if version:
            params["resourceVersion"] = version
        timeout = aiohttp.ClientTimeout(total=None, sock_read=400)
        async with self._session.get(collection, params=params, timeout=timeout) as response:
            if response.status == 410:
                return
            if response.status >= 400:
                raise ApiError(response.status, "WATCH", collection, await response.text())
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    # 410 Gone (too old a resourceVersion) and any other error: relist.
                    log.info("watch of %s ended by the API: %s", collection, obj.get("message"))
                    return
                if kind == "BOOKMARK":
                    continue
                if kind == "DELETED":
                    cache.pop(key_of(obj), None)
                elif kind in ("ADDED", "MODIFIED"):
                    cache[key_of(obj)] = obj
                else:
                    continue
                await on_change(dict(cache))


async def reconcile_loop(
    name: str, dirty: asyncio.Event, reconcile: Callable[[], Awaitable[None]], resync: float = 10.0
) -> None:
    """Run ``reconcile`` whenever ``dirty`` is set, and every ``resync`` seconds anyway.

    The periodic pass repairs what no event announces (a Secret or EndpointSlice deleted
    behind the controller's back, a certificate coming due).
    """
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(dirty.wait(), timeout=resync)
        dirty.clear()
        try:
            await reconcile()
        except (ApiError, OSError, aiohttp.ClientError) as exc:
            log.warning("%s: %s; retrying", name, exc)
            await asyncio.sleep(1.0)
            dirty.set()
