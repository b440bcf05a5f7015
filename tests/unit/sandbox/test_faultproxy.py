"""The fault proxy (sandbox/faultproxy/proxy.py) in front of a small HTTPS upstream, all in-process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from sandbox.faultproxy.faults import parse
from sandbox.faultproxy.proxy import FaultProxy, ProxyConfig, fault_answer, main, request_verb, serve

REPO = Path(__file__).resolve().parents[3]
TOKEN = "sandbox-admin-token"
CLIENT_TOKEN = "client-token"
UA = "faultproxy-test/1.0"
WATCH_EVENTS = (b'{"type":"ADDED","object":{"n":1}}\n', b'{"type":"MODIFIED","object":{"n":2}}\n')


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path


def _issue(directory: Path, name: str) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    pki = Pki(directory / f"{name}-ca.crt", directory / f"{name}.crt", directory / f"{name}.key")
    authority.cert_pem.write_to_path(str(pki.ca))
    pki.cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    issued.private_key_pem.write_to_path(str(pki.key))
    return pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return _issue(tmp_path_factory.mktemp("pki"), "sandbox")


def run(coro: Coroutine[Any, Any, None]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro, 60)

    asyncio.run(bounded())


# --- the upstream: echoes requests, streams watches ----------------------------------------------


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class Upstream:
    seen: list[Seen] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)  # lets a watch send its second event
    watch_cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    watch_done: bool = False

    def paths(self) -> list[str]:
        return [s.raw_path for s in self.seen]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.raw_path, CIMultiDict(request.headers), body))
        if request.query.get("watch") in ("1", "true"):
            return await self._watch(request)
        if request.path == "/gzip":
            payload = json.dumps({"compressed": True}).encode()
            return web.Response(
                body=gzip.compress(payload),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        if request.path == "/broken":  # starts a chunked answer, then loses the connection
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(b'{"kind":')
            assert request.transport is not None
            request.transport.abort()
            return response
        if request.path.startswith("/status/"):
            code = int(request.path.rsplit("/", 1)[1])
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": code,
            }
            return web.json_response(status, status=code)
        echo = {
            # A list shape, so that the kubernetes client can read it as a ConfigMapList too.
            "kind": "ConfigMapList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "7"},
            "items": [],
            "method": request.method,
            "path": request.raw_path,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body": body.decode(),
        }
        response = web.json_response(echo, status=201 if request.method == "POST" else 200)
        response.headers["X-Upstream"] = "echo"
        response.headers.add("Warning", '299 - "first"')
        response.headers.add("Warning", '299 - "second"')
        # Hop-by-hop: meant for the proxy only.
        response.headers["Keep-Alive"] = "timeout=5"
        response.headers["Connection"] = "keep-alive, X-Hop"
        response.headers["X-Hop"] = "proxy only"
        return response

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            await response.write(WATCH_EVENTS[0])
            await asyncio.wait_for(self.release.wait(), 20)
            await response.write(WATCH_EVENTS[1])
            await response.write_eof()
        except asyncio.CancelledError:
            self.watch_cancelled.set()
            raise
        self.watch_done = True
        return response


@dataclass
class Stack:
    proxy: FaultProxy
    upstream: Upstream
    session: aiohttp.ClientSession
    log: Path

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    async def admin(self, method: str, query: str = "", body: Any = None, token: str | None = TOKEN) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with self.session.request(
            method, f"/sandbox/faults{query}", json=body, headers=headers
        ) as resp:
            return resp.status, await resp.json()


def client_context(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca))


@asynccontextmanager
async def upstream_server(pki: Pki) -> AsyncIterator[tuple[Upstream, str]]:
    upstream = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", upstream.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(str(pki.cert), str(pki.key))
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=serving).start()
    try:
        yield upstream, f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        upstream.release.set()
        await runner.cleanup()


@asynccontextmanager
async def stack(pki: Pki, tmp_path: Path, *faults: str) -> AsyncIterator[Stack]:
    log = tmp_path / "faults.jsonl"
    async with upstream_server(pki) as (upstream, url):
        config = ProxyConfig(
            upstream=url, ca_file=pki.ca, cert=pki.cert, key=pki.key, token=TOKEN, log=log, faults=faults
        )
        async with (
            FaultProxy(config) as proxy,
            aiohttp.ClientSession(
                base_url=proxy.url,
                connector=aiohttp.TCPConnector(ssl=client_context(pki)),
                timeout=aiohttp.ClientTimeout(total=20),
                headers={"Authorization": f"Bearer {CLIENT_TOKEN}", "User-Agent": UA},
            ) as session,
        ):
            yield Stack(proxy, upstream, session, log)


# --- what a request is -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "watch", "verb"),
    [
        ("GET", "/api/v1/namespaces/ns/configmaps", None, "list"),
        ("GET", "/api/v1/namespaces/ns/configmaps", "true", "watch"),
        ("GET", "/api/v1/namespaces/ns/configmaps", "1", "watch"),
        ("GET", "/api/v1/namespaces/ns/configmaps", "", "watch"),
        ("GET", "/api/v1/namespaces/ns/configmaps", "false", "list"),
        ("GET", "/api/v1/namespaces/ns/configmaps", "0", "list"),
        ("GET", "/api/v1/watch/namespaces/ns/configmaps", None, "watch"),
        ("GET", "/api/v1/watch/namespaces/ns/configmaps/cm", None, "watch"),
        ("GET", "/api/v1/namespaces/ns/configmaps/cm", None, "get"),
        ("GET", "/api/v1/namespaces/ns/configmaps/cm", "true", "get"),  # as kube-apiserver: still a get
        ("HEAD", "/api/v1/namespaces/ns/configmaps/cm", None, "get"),
        ("GET", "/apis/networking.k8s.io/v1/ingresses", "1", "watch"),
        ("GET", "/apis/networking.k8s.io/v1/namespaces/ns/ingresses/i", None, "get"),
        ("POST", "/apis/networking.k8s.io/v1/namespaces/ns/ingresses", None, "create"),
        ("POST", "/api/v1/namespaces/ns/pods/p/eviction", None, "create"),
        ("PUT", "/apis/apps/v1/namespaces/ns/deployments/d/status", None, "update"),
        ("PATCH", "/api/v1/namespaces/ns/services/s", None, "patch"),
        ("DELETE", "/api/v1/namespaces/ns/secrets/s", None, "delete"),
        ("DELETE", "/api/v1/namespaces/ns/secrets", None, "deletecollection"),
        ("GET", "/api/v1/namespaces", None, "list"),
        ("GET", "/api/v1/namespaces/ns", None, "get"),
        ("PUT", "/api/v1/namespaces/ns/finalize", None, "update"),
        ("GET", "/api/v1/namespaces/ns/status", None, "get"),
        ("DELETE", "/api/v1/namespaces/ns", None, "delete"),
        ("GET", "/api/v1/nodes", None, "list"),
        ("OPTIONS", "/api/v1/nodes", None, ""),
        # Non-resource requests: the lower-case method.
        ("GET", "/api", None, "get"),
        ("GET", "/api/v1", None, "get"),
        ("GET", "/apis/networking.k8s.io/v1", None, "get"),
        ("GET", "/version", None, "get"),
        ("POST", "/openapi/v3", None, "post"),
    ],
)
def test_request_verb_follows_kube_request_info(method: str, path: str, watch: str | None, verb: str) -> None:
    assert request_verb(method, path, watch) == verb


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (500, "InternalError"),
        (502, "InternalError"),
        (503, "ServiceUnavailable"),
        (504, "Timeout"),
        (409, "Conflict"),
    ],
)
def test_error_answers_carry_the_kube_reason(code: int, reason: str) -> None:
    status, body, headers = fault_answer(parse(f"action=error,code={code},name=boom"))
    assert (status, body["code"], body["reason"], headers) == (code, code, reason, {})
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert "sandbox fault boom" in body["message"] and body["details"] == {}


# --- forwarding ------------------------------------------------------------------------------------


def test_forwards_method_path_query_headers_and_body(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            path = "/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dweb&dryRun=All"
            headers = {
                "Content-Type": "application/json",
                "X-Custom": "kept",
                "Connection": "keep-alive, X-Private",
                "X-Private": "for the proxy only",
                "Keep-Alive": "timeout=9",
            }
            async with s.session.post(path, data=b'{"metadata":{"name":"cm"}}', headers=headers) as resp:
                assert resp.status == 201
                echo = await resp.json()
                assert resp.headers["X-Upstream"] == "echo"
                assert resp.headers.getall("Warning") == ['299 - "first"', '299 - "second"']
                assert "X-Hop" not in resp.headers and "Keep-Alive" not in resp.headers
            assert echo["method"] == "POST" and echo["path"] == path
            assert echo["body"] == '{"metadata":{"name":"cm"}}'
            (seen,) = s.upstream.seen
            assert seen.headers["Authorization"] == f"Bearer {CLIENT_TOKEN}"
            assert seen.headers["X-Custom"] == "kept" and seen.headers["User-Agent"] == UA
            assert seen.headers["Content-Length"] == str(len(seen.body))
            assert seen.headers["Host"] != f"127.0.0.1:{s.proxy.port}"  # the upstream's own
            for hop in ("X-Private", "Keep-Alive"):
                assert hop not in seen.headers
            assert "x-private" not in seen.headers.get("Connection", "").lower()

    run(scenario())


def test_encoded_paths_and_errors_pass_through_unchanged(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            raw = "/api/v1/namespaces/ns/configmaps/a%3Ab%2Fc?fieldSelector=metadata.name%3Da%2Cb"
            async with s.session.get(URL(raw, encoded=True)) as resp:
                assert resp.status == 200
            async with s.session.get("/status/404") as resp:
                assert resp.status == 404 and (await resp.json())["reason"] == "NotFound"
            assert s.upstream.paths() == [raw, "/status/404"]
            assert s.records() == []  # no fault fired

    run(scenario())


def test_adds_no_accept_encoding_and_passes_gzip_through(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            async with s.session.get(
                "/api/v1/nodes", skip_auto_headers=["Accept-Encoding", "Accept"]
            ) as resp:
                assert resp.status == 200
            assert "Accept-Encoding" not in s.upstream.seen[0].headers
            assert "Accept" not in s.upstream.seen[0].headers
            async with s.session.get("/gzip", headers={"Accept-Encoding": "gzip"}) as resp:
                assert resp.headers["Content-Encoding"] == "gzip"
                assert await resp.json() == {"compressed": True}

    run(scenario())


def test_watch_is_streamed_not_buffered(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            async with s.session.get("/api/v1/namespaces/ns/configmaps?watch=1") as resp:
                assert resp.status == 200
                first = await asyncio.wait_for(resp.content.readline(), 10)
                assert first == WATCH_EVENTS[0]
                assert not s.upstream.watch_done  # the upstream is still holding the stream open
                s.upstream.release.set()
                assert await asyncio.wait_for(resp.content.read(), 10) == WATCH_EVENTS[1]
            assert s.upstream.watch_done

    run(scenario())


def test_an_upstream_breaking_off_is_not_passed_off_as_a_whole_answer(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            with pytest.raises(aiohttp.ClientPayloadError):
                async with s.session.get("/broken") as resp:
                    assert resp.status == 200
                    await resp.read()
            async with s.session.get("/api/v1/nodes") as resp:
                assert resp.status == 200  # the proxy goes on

    run(scenario())


def test_a_client_leaving_a_watch_ends_the_upstream_watch(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            async with s.session.get("/api/v1/namespaces/ns/configmaps?watch=true") as resp:
                assert await asyncio.wait_for(resp.content.readline(), 10) == WATCH_EVENTS[0]
                resp.close()  # drops the connection
            await asyncio.wait_for(s.upstream.watch_cancelled.wait(), 10)
            assert not s.upstream.watch_done

    run(scenario())


def test_keep_alive_serves_several_requests_on_one_connection(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", s.proxy.port, ssl=client_context(pki), server_hostname="127.0.0.1"
            )
            try:
                for method, name in (("GET", "a"), ("HEAD", "b"), ("GET", "c")):
                    path = f"/api/v1/namespaces/ns/pods/{name}"
                    writer.write(
                        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        f"Authorization: Bearer {CLIENT_TOKEN}\r\n\r\n".encode()
                    )
                    await writer.drain()
                    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
                    assert head.startswith("HTTP/1.1 200"), head
                    assert "connection: close" not in head.lower()
                    length = re.search(r"(?im)^content-length: (\d+)", head)
                    assert length is not None, head
                    if method == "GET":  # a HEAD answer has the length but no body
                        body = await asyncio.wait_for(reader.readexactly(int(length.group(1))), 10)
                        assert json.loads(body)["path"] == path
            finally:
                writer.close()
            assert [(seen.method, seen.raw_path[-1]) for seen in s.upstream.seen] == [
                ("GET", "a"),
                ("HEAD", "b"),
                ("GET", "c"),
            ]

    run(scenario())


def test_connection_upgrades_are_refused(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13"}
            async with s.session.get("/api/v1/namespaces/ns/pods/p/exec?command=ls", headers=headers) as resp:
                assert resp.status == 501 and (await resp.json())["kind"] == "Status"
            assert s.upstream.seen == []

    run(scenario())


@pytest.mark.parametrize("problem", ["unreachable", "untrusted"])
def test_an_upstream_it_cannot_use_is_a_502(pki: Pki, tmp_path: Path, problem: str) -> None:
    async def scenario() -> None:
        if problem == "unreachable":
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                url = f"https://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens there once closed
            await check(url, None)
        else:
            other = _issue(tmp_path / "other", "other")  # an upstream the sandbox CA did not sign
            async with upstream_server(other) as (upstream, url):
                await check(url, upstream)

    async def check(url: str, upstream: Upstream | None) -> None:
        config = ProxyConfig(upstream=url, ca_file=pki.ca, cert=pki.cert, key=pki.key, token=TOKEN)
        async with (
            FaultProxy(config) as proxy,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context(pki))) as session,
            session.get(f"{proxy.url}/api/v1/nodes") as resp,
        ):
            assert resp.status == 502
            body = await resp.json()
            assert body["kind"] == "Status" and body["code"] == 502
        assert upstream is None or upstream.seen == []

    run(scenario())


# --- faults ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [(500, "InternalError"), (503, "ServiceUnavailable"), (504, "Timeout"), (409, "Conflict")],
)
def test_error_fault_answers_a_status(pki: Pki, tmp_path: Path, code: int, reason: str) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path, f"action=error,code={code},path=/configmaps$,name=boom") as s:
            async with s.session.get("/api/v1/namespaces/ns/configmaps") as resp:
                assert resp.status == code
                assert resp.headers["Content-Type"].startswith("application/json")
                body = await resp.json()
            assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
            assert body["reason"] == reason and body["code"] == code and body["details"] == {}
            assert s.upstream.seen == []

    run(scenario())


def test_throttle_and_conflict_faults(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(
            pki,
            tmp_path,
            "action=throttle,retry_after=3,path=/secrets",
            "action=conflict,verb=POST,path=/services",
        ) as s:
            async with s.session.get("/api/v1/namespaces/ns/secrets") as resp:
                assert resp.status == 429 and resp.headers["Retry-After"] == "3"
                body = await resp.json()
                assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] == 3
            async with s.session.post("/api/v1/namespaces/ns/services", json={}) as resp:
                assert resp.status == 409 and (await resp.json())["reason"] == "Conflict"
            async with s.session.get("/api/v1/namespaces/ns/services") as resp:
                assert resp.status == 200  # verb=POST: a GET passes
            assert s.upstream.paths() == ["/api/v1/namespaces/ns/services"]

    run(scenario())


def test_delay_fault_waits_then_forwards(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path, "action=delay,seconds=0.4,path=/endpoints,name=slow") as s:
            started = time.monotonic()
            async with s.session.get("/api/v1/namespaces/ns/endpoints") as resp:
                assert resp.status == 200 and (await resp.json())["path"] == "/api/v1/namespaces/ns/endpoints"
            assert time.monotonic() - started >= 0.4
            (record,) = s.records()
            assert (record["fault"], record["status"], record["verb"]) == ("slow", 200, "list")

    run(scenario())


def test_drop_fault_closes_the_connection_without_an_answer(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path, "action=drop,path=/serviceaccounts,times=1,name=gone") as s:
            # A raw connection: aiohttp's client would send a GET again after a disconnect.
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", s.proxy.port, ssl=client_context(pki), server_hostname="127.0.0.1"
            )
            writer.write(b"GET /api/v1/namespaces/ns/serviceaccounts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            try:
                answer = await asyncio.wait_for(reader.read(), 10)
            except (ConnectionError, ssl.SSLError):
                answer = b""
            finally:
                writer.close()
            assert answer == b""
            assert s.upstream.seen == []
            async with s.session.get("/api/v1/namespaces/ns/serviceaccounts") as resp:
                assert resp.status == 200  # times=1: spent
            assert [(r["fault"], r["status"]) for r in s.records()] == [("gone", 0)]

    run(scenario())


def test_after_and_times(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        spec = "action=error,code=500,verb=list,path=/namespaces/ns/configmaps$,after=1,times=2,name=boom"
        async with stack(pki, tmp_path, spec) as s:
            statuses = []
            for _ in range(4):
                async with s.session.get("/api/v1/namespaces/ns/configmaps") as resp:
                    statuses.append(resp.status)
            assert statuses == [200, 500, 500, 200]
            _, listed = await s.admin("GET")
            assert [(f["name"], f["seen"], f["fired"]) for f in listed["faults"]] == [("boom", 4, 2)]
            assert len(s.upstream.seen) == 2

    run(scenario())


VERB_CASES = [
    (
        "list",
        [
            ("GET", "/api/v1/namespaces/ns/configmaps", True),
            ("GET", "/api/v1/namespaces/ns/configmaps/cm", False),
            ("GET", "/api/v1/namespaces/ns/configmaps?watch=1", False),
        ],
    ),
    (
        "get",
        [
            ("GET", "/api/v1/namespaces/ns/configmaps", False),
            ("GET", "/api/v1/namespaces/ns/configmaps/cm", True),
        ],
    ),
    (
        "watch",
        [
            ("GET", "/api/v1/namespaces/ns/configmaps?watch=true", True),
            ("GET", "/api/v1/watch/namespaces/ns/configmaps", True),
            ("GET", "/api/v1/namespaces/ns/configmaps", False),
        ],
    ),
    (
        "create|patch",
        [
            ("POST", "/api/v1/namespaces/ns/configmaps", True),
            ("PATCH", "/api/v1/namespaces/ns/configmaps/cm", True),
            ("PUT", "/api/v1/namespaces/ns/configmaps/cm", False),
            ("GET", "/api/v1/namespaces/ns/configmaps/cm", False),
        ],
    ),
    (
        "deletecollection",
        [
            ("DELETE", "/api/v1/namespaces/ns/configmaps", True),
            ("DELETE", "/api/v1/namespaces/ns/configmaps/cm", False),
        ],
    ),
    (
        "PUT",
        [
            ("PUT", "/api/v1/namespaces/ns/configmaps/cm", True),
            ("PATCH", "/api/v1/namespaces/ns/configmaps/cm", False),
        ],
    ),
]


@pytest.mark.parametrize(("verbs", "cases"), VERB_CASES, ids=[v for v, _ in VERB_CASES])
def test_faults_match_kube_verbs_and_methods(
    pki: Pki, tmp_path: Path, verbs: str, cases: list[tuple[str, str, bool]]
) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path, f"action=error,code=503,verb={verbs},path=/configmaps") as s:
            s.upstream.release.set()  # watches that pass end at once
            for method, path, faulted in cases:
                async with s.session.request(method, path, data=b"{}" if method != "GET" else None) as resp:
                    await resp.read()
                    assert (resp.status == 503) is faulted, (method, path, resp.status)

    run(scenario())


def test_faults_skip_health_checks(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path, "action=error,code=500") as s:
            async with s.session.get("/readyz") as resp:
                assert resp.status == 200
            async with s.session.get("/version") as resp:
                assert resp.status == 500

    run(scenario())


# --- the admin API and the fault log --------------------------------------------------------------


def test_admin_api_needs_the_sandbox_token(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            for token in (None, CLIENT_TOKEN, ""):
                for method, body in (("GET", None), ("POST", {"spec": "action=drop"}), ("DELETE", None)):
                    status, answer = await s.admin(method, body=body, token=token)
                    assert status == 401 and answer["reason"] == "Unauthorized", (method, token)
            assert s.proxy.faults.list() == []
            status, _ = await s.admin("GET", token=TOKEN)
            assert status == 200
            assert s.upstream.seen == []  # never forwarded

    run(scenario())


def test_admin_api_adds_lists_and_clears(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(pki, tmp_path) as s:
            status, added = await s.admin(
                "POST", body={"spec": "action=error,code=503,path=^/api/v1/nodes$,name=n"}
            )
            assert status == 201 and added["added"]["name"] == "n" and added["added"]["code"] == 503
            status, added = await s.admin(
                "POST", body={"action": "throttle", "path": "/secrets", "name": "t"}
            )
            assert status == 201 and added["added"]["action"] == "throttle"
            status, listed = await s.admin("GET")
            assert status == 200 and [f["name"] for f in listed["faults"]] == ["n", "t"]
            async with s.session.get("/api/v1/nodes") as resp:
                assert resp.status == 503
            for bad, message in (
                ({"spec": "action=explode"}, "fault action must be one of"),
                ({"spec": "action=error,bogus=1"}, "unknown fault spec key"),
                ({"spec": "action=error,code=200"}, "400-599"),
                ({"spec": 5}, "action="),
            ):
                status, answer = await s.admin("POST", body=bad)
                assert status == 400 and message in answer["error"], (bad, answer)
            async with s.session.post(
                "/sandbox/faults", data=b"{not json", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as resp:
                assert resp.status == 400
            assert await s.admin("DELETE", "?name=n") == (200, {"removed": 1})
            async with s.session.get("/api/v1/nodes") as resp:
                assert resp.status == 200
            assert await s.admin("DELETE") == (200, {"removed": 1})
            assert await s.admin("GET") == (200, {"faults": []})
            async with s.session.get("/sandbox/other", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert resp.status == 404
            assert s.upstream.paths() == ["/api/v1/nodes"]

    run(scenario())


def test_fault_log_records_each_fired_request(pki: Pki, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with stack(
            pki,
            tmp_path,
            "action=error,code=500,verb=list,path=/configmaps$,times=1,name=boom",
            "action=throttle,verb=create,path=/secrets,name=slowdown",
        ) as s:
            async with s.session.get("/api/v1/namespaces/ns/configmaps?limit=5") as resp:
                assert resp.status == 500
            async with s.session.get("/api/v1/namespaces/ns/configmaps?limit=5") as resp:
                assert resp.status == 200  # spent: not a fault, not logged
            async with s.session.post("/api/v1/namespaces/ns/secrets", json={}) as resp:
                assert resp.status == 429
            records = s.records()
        assert [set(r) for r in records] == [
            {"time", "verb", "method", "path", "query", "status", "fault", "userAgent"}
        ] * 2
        boom, slowdown = records
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", boom["time"])
        assert boom["time"] <= slowdown["time"]
        assert {k: v for k, v in boom.items() if k != "time"} == {
            "verb": "list",
            "method": "GET",
            "path": "/api/v1/namespaces/ns/configmaps",
            "query": "limit=5",
            "status": 500,
            "fault": "boom",
            "userAgent": UA,
        }
        assert (slowdown["verb"], slowdown["method"], slowdown["status"], slowdown["fault"]) == (
            "create",
            "POST",
            429,
            "slowdown",
        )

    run(scenario())


# --- real clients --------------------------------------------------------------------------------


def test_kubernetes_python_client_through_the_proxy(pki: Pki, tmp_path: Path) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    async def scenario() -> None:
        async with stack(
            pki, tmp_path, "action=error,code=500,verb=list,path=/configmaps$,after=1,name=boom"
        ) as s:
            configuration = client.Configuration()
            configuration.host = s.proxy.url
            configuration.ssl_ca_cert = str(pki.ca)
            configuration.api_key = {"authorization": f"Bearer {CLIENT_TOKEN}"}
            core = client.CoreV1Api(client.ApiClient(configuration))
            listed = await asyncio.to_thread(core.list_namespaced_config_map, "ns")
            assert listed.metadata.resource_version == "7"
            with pytest.raises(ApiException) as err:
                await asyncio.to_thread(core.list_namespaced_config_map, "ns")
            assert err.value.status == 500 and json.loads(err.value.body)["reason"] == "InternalError"
            assert s.upstream.seen[0].headers["Authorization"] == f"Bearer {CLIENT_TOKEN}"

    run(scenario())


def test_kubectl_through_the_proxy(pki: Pki, tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")

    async def scenario() -> None:
        async with stack(pki, tmp_path, "action=error,code=500,path=/nodes$,name=boom") as s:

            def kube(path: str) -> subprocess.CompletedProcess[str]:
                args = [kubectl, "--server", s.proxy.url, "--token", CLIENT_TOKEN]
                args += ["--certificate-authority", str(pki.ca), "get", "--raw", path]
                env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-kubeconfig")}
                return subprocess.run(args, capture_output=True, text=True, timeout=30, env=env)

            ok = await asyncio.to_thread(kube, "/api/v1/namespaces/ns/configmaps")
            assert ok.returncode == 0, ok.stderr
            assert json.loads(ok.stdout)["path"] == "/api/v1/namespaces/ns/configmaps"
            failed = await asyncio.to_thread(kube, "/api/v1/nodes")
            assert failed.returncode != 0
            assert "InternalError" in failed.stderr and "sandbox fault boom" in failed.stderr

    run(scenario())


# --- the command line -----------------------------------------------------------------------------


def test_serve_writes_the_ready_file_and_stops_on_its_event(pki: Pki, tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"

    async def scenario() -> None:
        async with upstream_server(pki) as (upstream, url):
            config = ProxyConfig(upstream=url, ca_file=pki.ca, cert=pki.cert, key=pki.key, token=TOKEN)
            stop = asyncio.Event()
            task = asyncio.create_task(serve(config, ready_file=ready, stop=stop))
            for _ in range(200):
                if ready.exists() or task.done():
                    break
                await asyncio.sleep(0.02)
            info = json.loads(ready.read_text())
            assert info == {"port": info["port"], "pid": os.getpid()}
            async with (
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context(pki))) as session,
                session.get(f"https://127.0.0.1:{info['port']}/version") as resp,
            ):
                assert resp.status == 200
            stop.set()
            await asyncio.wait_for(task, 10)
            assert not ready.exists()
            assert upstream.paths() == ["/version"]

    run(scenario())


def test_command_line_serves_until_sigterm(pki: Pki, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    ready = tmp_path / "faultproxy.json"
    log = tmp_path / "faults.jsonl"

    async def scenario() -> None:
        async with upstream_server(pki) as (upstream, url):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "sandbox.faultproxy",
                *(
                    "--upstream",
                    url,
                    "--ca-file",
                    str(pki.ca),
                    "--cert",
                    str(pki.cert),
                    "--key",
                    str(pki.key),
                ),
                *("--token-file", str(token_file), "--log", str(log), "--ready-file", str(ready)),
                *("--port", "0", "--fault", "action=error,code=503,path=^/api/v1/nodes$,name=n"),
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                deadline = time.monotonic() + 30
                while not ready.exists():
                    assert proc.returncode is None, "the proxy exited before it was ready"
                    assert time.monotonic() < deadline, "the proxy did not get ready in 30 s"
                    await asyncio.sleep(0.05)
                info = json.loads(ready.read_text())
                assert info["pid"] == proc.pid and isinstance(info["port"], int)
                base = f"https://127.0.0.1:{info['port']}"
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=client_context(pki)), headers=headers
                ) as session:
                    async with session.get(f"{base}/api/v1/nodes") as resp:
                        assert resp.status == 503
                    async with session.get(f"{base}/api/v1/namespaces") as resp:
                        assert resp.status == 200
                    async with session.get(f"{base}/sandbox/faults") as resp:
                        assert [f["name"] for f in (await resp.json())["faults"]] == ["n"]
                    # A watch still open does not hold up the stop.
                    async with session.get(f"{base}/api/v1/namespaces/ns/pods?watch=1") as watch:
                        assert await asyncio.wait_for(watch.content.readline(), 10) == WATCH_EVENTS[0]
                        proc.send_signal(signal.SIGTERM)
                        _, stderr = await asyncio.wait_for(proc.communicate(), 15)
                    await asyncio.wait_for(upstream.watch_cancelled.wait(), 10)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            assert proc.returncode == 0, stderr.decode()
            assert not ready.exists()
            assert upstream.paths() == ["/api/v1/namespaces", "/api/v1/namespaces/ns/pods?watch=1"]
            assert [json.loads(line)["fault"] for line in log.read_text().splitlines()] == ["n"]

    run(scenario())


def test_command_line_refuses_bad_arguments(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    base = ["--ca-file", str(pki.ca), "--cert", str(pki.cert), "--key", str(pki.key)]
    base += ["--log", str(tmp_path / "f.jsonl"), "--ready-file", str(tmp_path / "r.json")]
    good = ["--upstream", "https://127.0.0.1:1", "--token-file", str(token_file)]
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for args, message in (
        ([*good, "--fault", "action=explode"], "fault action must be one of"),
        (["--upstream", "http://127.0.0.1:1", "--token-file", str(token_file)], "https://"),
        (["--upstream", "https://127.0.0.1:1", "--token-file", str(empty)], "is empty"),
        (["--upstream", "https://127.0.0.1:1", "--token-file", str(tmp_path / "missing")], "--token-file"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main([*base, *args])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
