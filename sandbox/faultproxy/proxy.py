"""The fault proxy: an HTTPS reverse proxy in front of kube-apiserver that injects faults.

Clients talk to the proxy as if it were the API server. A request that a fault (sandbox/faultproxy/faults.py,
docs/sandbox.md "Fault injection") fires on is answered here — an error `Status`, a 429 with
`Retry-After`, a 409, a delay before forwarding, a dropped connection, or the API down (every
request dropped until the fault's time is up or it is cleared) — and recorded in a
JSON-lines log. Every other request goes to kube-apiserver unchanged (method, path, query, headers
with the client's own bearer token, body) and its answer is streamed back as it arrives, so watches
work. Connection upgrades (exec, attach, port-forward) are refused with 501. TLS ends here, so a
client certificate cannot reach kube-apiserver through the proxy: its clients use bearer tokens.
/healthz, /livez and /readyz are forwarded and never faulted, except while the API is down.

The admin API shares the listener, behind the sandbox token: `GET /sandbox/faults` lists,
`POST /sandbox/faults` with `{"spec": "action=..."}` (or the keys as an object) adds,
`DELETE /sandbox/faults[?name=NAME]` clears. Nothing under /sandbox/ is forwarded.

    python -m sandbox.faultproxy --upstream URL --ca-file CA --cert CERT --key KEY \\
        --token-file TOKEN --log FILE --ready-file FILE [--port 0] [--fault SPEC]...

aiohttp is imported where the proxy runs, not at import time, so that the launcher can import
this module (its config, `request_verb`) without paying for it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import os
import signal
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sandbox.faultproxy.faults import Fault, Faults, FaultSpecError, parse

if TYPE_CHECKING:
    import aiohttp
    from aiohttp import web
    from multidict import CIMultiDict, CIMultiDictProxy

log = logging.getLogger("sandbox.faultproxy")

ADMIN_PATH = "/sandbox/faults"
_ADMIN_PREFIX = "/sandbox/"
# Health checks are never faulted (a launcher polls them); they are forwarded like any request.
_HEALTH = ("/healthz", "/livez", "/readyz")
# kube-apiserver refuses bodies over 3 MiB itself; this only bounds what the proxy holds in memory.
MAX_BODY = 64 * 1024 * 1024
# RFC 9110 7.6.1 hop-by-hop fields, plus the ones the proxy sets itself for the next hop.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {"host", "content-length", "expect"}

# Status reasons kube-apiserver gives each code (k8s.io/apimachinery/pkg/api/errors).
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


# --- what a request is ---------------------------------------------------------------------------

_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


def request_verb(method: str, path: str, watch: str | None = None) -> str:
    """The kube verb of a request, as kube-apiserver's RequestInfo names it.

    k8s.io/apiserver/pkg/endpoints/request/requestinfo.go: resource requests under /api and
    /apis get get list watch create update patch delete deletecollection (or proxy); any other
    path gets the lower-case HTTP method. `watch` is the first `watch` query value: any value but
    "0" and "false" (`?watch`, too) turns a list into a watch; a GET of a named object stays a get.
    """
    parts = path.strip("/").split("/") if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return method.lower()
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return method.lower()
        rest = rest[1:]  # the group
    rest = rest[1:]  # the version
    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:  # kube-apiserver answers 404
            return method.lower()
        verb, rest = rest[0], rest[1:]
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")
    if rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        rest = rest[2:]  # namespaces/NS/<resource>...: the resource is what follows
    named = len(rest) >= 2
    if not named and verb == "get":
        verb = "watch" if _query_bool(watch) else "list"
    if not named and verb == "delete":
        verb = "deletecollection"
    return verb


def _query_bool(value: str | None) -> bool:
    """A query-string bool as kube decodes it (runtime.Convert_Slice_string_To_bool)."""
    return value is not None and value != "0" and value.lower() != "false"


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A metav1.Status as kube-apiserver answers a failed request."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def fault_answer(fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status code, `Status` body and extra headers for an error, throttle or conflict fault."""
    if fault.action == "throttle":
        return (
            429,
            status_body(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
                {
                    "retryAfterSeconds": fault.retry_after,
                    "causes": [{"reason": "UnexpectedServerResponse", "message": "sandbox fault"}],
                },
            ),
            {"Retry-After": str(fault.retry_after)},
        )
    if fault.action == "conflict":
        message = (
            "Operation cannot be fulfilled: the object has been modified; please apply "
            "your changes to the latest version and try again (sandbox fault)"
        )
        return 409, status_body(409, "Conflict", message, {}), {}
    if fault.action != "error":
        raise ValueError(f"fault action {fault.action!r} has no answer of its own")
    code = fault.code
    reason = _REASONS.get(code, "InternalError" if code >= 500 else "BadRequest")
    if reason == "InternalError":
        message = f"Internal error occurred: sandbox fault {fault.name}"
    else:
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = reason
        message = f"{phrase} (sandbox fault {fault.name})"
    return code, status_body(code, reason, message, {}), {}


def check_fault(fault: Fault) -> Fault:
    """A fault the proxy can answer with; FaultSpecError otherwise."""
    if fault.action == "error" and not 400 <= fault.code <= 599:
        raise FaultSpecError(f"fault code must be an HTTP error status (400-599), got {fault.code}")
    if (fault.seconds or 0) < 0 or fault.retry_after < 0 or fault.after < 0 or (fault.times or 0) < 0:
        raise FaultSpecError("fault seconds, retry_after, after and times must not be negative")
    return fault


# --- the fault log -------------------------------------------------------------------------------


class FaultLog:
    """JSON lines: one per request a fault fired on (requests that reached kube-apiserver are in its audit log)."""

    def __init__(self, path: Path | None) -> None:
        self._fh: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a", buffering=1, encoding="utf-8")

    def record(
        self, *, verb: str, method: str, path: str, query: str, status: int, fault: str, user_agent: str
    ) -> None:
        if self._fh is None:
            return
        entry = {
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "verb": verb,
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "fault": fault,
            "userAgent": user_agent,
        }
        self._fh.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# --- the proxy -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxyConfig:
    upstream: str  # kube-apiserver, e.g. https://127.0.0.1:6443
    ca_file: Path  # verifies the upstream; the proxy's own certificate is signed by it too
    cert: Path  # the proxy's serving certificate (chain) and key
    key: Path
    token: str  # the sandbox token that guards /sandbox/faults
    log: Path | None = None  # the fault log (JSON lines)
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    faults: tuple[str, ...] = ()  # specs active from the start


def _drop_headers(headers: CIMultiDictProxy[str], extra: frozenset[str]) -> CIMultiDict[str]:
    from multidict import CIMultiDict

    named = {
        token.strip().lower() for value in headers.getall("Connection", []) for token in value.split(",")
    }
    out: CIMultiDict[str] = CIMultiDict()
    for key, value in headers.items():
        lowered = key.lower()
        if lowered not in extra and lowered not in named:
            out.add(key, value)
    return out


def _wants_upgrade(headers: CIMultiDictProxy[str]) -> bool:
    connection = {t.strip().lower() for v in headers.getall("Connection", []) for t in v.split(",")}
    return "upgrade" in connection or "Upgrade" in headers


def _json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    from aiohttp import web

    return web.Response(
        body=json.dumps(obj, separators=(",", ":")).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def _status_response(code: int, reason: str, message: str) -> web.Response:
    return _json_response(status_body(code, reason, message), code)


def _is_health(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in _HEALTH)


class FaultProxy:
    """The proxy in-process: `async with FaultProxy(config) as proxy:` serves on `proxy.url`."""

    def __init__(self, config: ProxyConfig, faults: Faults | None = None) -> None:
        self.config = config
        self.faults = faults if faults is not None else Faults()
        for spec in config.faults:
            self.faults.add(check_fault(parse(spec)))
        self._base = config.upstream.rstrip("/")
        self._log = FaultLog(None)  # opened by start()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port: int | None = None
        # Client connections with a forwarded request in flight (watches included): the API going
        # down cuts them, as a dead kube-apiserver would.
        self._open: set[Any] = set()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fault proxy is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"https://{self.config.host}:{self.port}"

    async def start(self) -> int:
        """Listen; the port bound."""
        import aiohttp
        from aiohttp import web

        serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        serving.load_cert_chain(str(self.config.cert), str(self.config.key))
        # HTTP/1.1 only: Go clients then do not try HTTP/2 (which aiohttp does not serve).
        serving.set_alpn_protocols(["http/1.1"])
        upstream_tls = ssl.create_default_context(cafile=str(self.config.ca_file))
        self._log = FaultLog(self.config.log)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=upstream_tls, limit=0),
            # Watches last for minutes: no overall deadline, only one for connecting.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, connect=30),
            # Bytes pass through as they came: gzip stays gzip for the client to decode.
            auto_decompress=False,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            max_field_size=65536,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a client that goes away ends its handler, and so the upstream watch.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=1.0,
            max_field_size=65536,
            max_line_size=65536,
        )
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, self.config.host, self.config.port, ssl_context=serving)
            await site.start()
        except BaseException:
            await self.close()
            raise
        self._port = int(self._runner.addresses[0][1])
        log.info("fault proxy on %s, forwarding to %s", self.url, self._base)
        return self._port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._log.close()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- requests ---

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(_ADMIN_PREFIX):
            return await self._admin(request)
        verb = request_verb(request.method, path, next(iter(request.query.getall("watch", [])), None))
        down = self.faults.down(time.monotonic())
        if down is not None:
            # Down is down: health checks and watches get no answer either.
            return await self._inject(request, down, verb)
        if _is_health(path):
            return await self._forward(request)
        fault = self.faults.pick(request.method, verb, path)
        if fault is None:
            return await self._forward(request)
        return await self._inject(request, fault, verb)

    async def _inject(self, request: web.Request, fault: Fault, verb: str) -> web.StreamResponse:
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            self._log.record(
                verb=verb,
                method=request.method,
                path=request.path,
                query=request.query_string,
                status=status,
                fault=fault.name,
                user_agent=request.headers.get("User-Agent", ""),
            )

        from aiohttp import web

        log.info("fault %s (%s) on %s %s", fault.name, fault.action, request.method, request.path_qs)
        try:
            if fault.action == "delay":
                await asyncio.sleep(fault.seconds or 0.0)
                return await self._forward(request, record)
            if fault.action == "down":
                self.faults.go_down(fault, time.monotonic())
                for transport in list(self._open):
                    transport.abort()
            if fault.action in ("drop", "down"):
                record(0)
                if request.transport is not None:
                    request.transport.abort()
                # Writing it fails on the aborted transport, which aiohttp takes as the client leaving.
                return web.Response(status=500)
            code, body, headers = fault_answer(fault)
            record(code)
            return _json_response(body, code, headers)
        finally:
            record(0)  # the client left before it had an answer (a no-op once recorded)

    async def _forward(
        self, request: web.Request, on_status: Callable[[int], None] | None = None
    ) -> web.StreamResponse:

        def answered(status: int) -> None:
            if on_status is not None:
                on_status(status)

        if _wants_upgrade(request.headers):
            answered(501)
            return _status_response(
                501,
                "",  # kube's StatusReasonUnknown: it has no reason for 501
                "the sandbox fault proxy does not forward connection upgrades (exec, attach)",
            )
        assert self._session is not None
        transport = request.transport
        if transport is not None:
            self._open.add(transport)
        try:
            return await self._send(request, answered)
        finally:
            self._open.discard(transport)

    async def _send(self, request: web.Request, answered: Callable[[int], None]) -> web.StreamResponse:
        import aiohttp
        from aiohttp import web
        from yarl import URL

        assert self._session is not None
        body = await request.read() if request.body_exists else None
        headers = _drop_headers(request.headers, _NOT_FORWARDED)
        target = request.raw_path if request.raw_path.startswith("/") else str(request.rel_url)
        url = URL(self._base + target, encoded=True)
        try:
            # aiohttp itself sends an idempotent request again when a pooled connection was stale.
            upstream = await self._session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return self._bad_gateway(request, exc, answered)
        try:
            answered(upstream.status)
            response = web.StreamResponse(
                status=upstream.status,
                reason=upstream.reason,
                headers=_drop_headers(upstream.headers, _HOP_BY_HOP),
            )
            await response.prepare(request)
            while True:
                try:
                    chunk = await upstream.content.readany()  # what has arrived, as soon as it has
                except aiohttp.ClientError as exc:
                    # The answer was started: a clean end would pass a cut-off body for a whole one,
                    # so the client learns of it the way it would from kube-apiserver: a lost connection.
                    log.warning("upstream broke off %s %s: %r", request.method, request.path, exc)
                    upstream.close()
                    if request.transport is not None:
                        request.transport.abort()
                    return response
                if not chunk:
                    break
                try:
                    await response.write(chunk)
                except ConnectionResetError:
                    upstream.close()  # the client left; aiohttp finds that out itself
                    return response
            await response.write_eof()
        except BaseException:
            upstream.close()
            raise
        upstream.release()
        return response

    def _bad_gateway(
        self, request: web.Request, exc: BaseException, answered: Callable[[int], None]
    ) -> web.Response:
        log.warning("upstream %s unreachable for %s %s: %r", self._base, request.method, request.path, exc)
        answered(502)
        return _status_response(
            502,
            "InternalError",
            f"the sandbox fault proxy could not reach kube-apiserver at {self._base}: {exc}",
        )

    # --- the admin API ---

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.config.token.encode()
        )

    async def _admin(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _status_response(401, "Unauthorized", "Unauthorized")
        if request.path.rstrip("/") != ADMIN_PATH:
            return _status_response(404, "NotFound", "the server could not find the requested resource")
        if request.method == "GET":
            return _json_response({"faults": self.faults.list()})
        if request.method == "DELETE":
            return _json_response({"removed": self.faults.clear(request.query.get("name"))})
        if request.method == "POST":
            try:
                body = json.loads(await request.read() or b"{}")
                spec = body.get("spec", body) if isinstance(body, dict) else body
                if not isinstance(spec, str | dict):
                    raise FaultSpecError('a fault is {"spec": "action=...,..."} or its keys as an object')
                fault = self.faults.add(check_fault(parse(spec)))
            except ValueError as exc:  # FaultSpecError and JSON errors
                return _json_response({"error": str(exc)}, 400)
            return _json_response({"added": fault.describe()}, 201)
        return _json_response({"error": "method not allowed"}, 405, {"Allow": "GET, POST, DELETE"})


# --- the process ---------------------------------------------------------------------------------


def write_ready(path: Path, info: dict[str, Any]) -> None:
    """Write `info` as JSON so that a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


async def serve(
    config: ProxyConfig,
    *,
    ready_file: Path | None = None,
    stop: asyncio.Event | None = None,
    faults: Faults | None = None,
) -> None:
    """Run the proxy until `stop` is set (or SIGTERM/SIGINT when it is None)."""
    handled: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    proxy = FaultProxy(config, faults)
    try:
        port = await proxy.start()
        if ready_file is not None:
            write_ready(ready_file, {"port": port, "pid": os.getpid()})
        await stop.wait()
    finally:
        await proxy.close()
        for sig in handled:
            asyncio.get_running_loop().remove_signal_handler(sig)
        if ready_file is not None:
            with contextlib.suppress(OSError, ValueError):
                if json.loads(ready_file.read_text()).get("pid") == os.getpid():
                    ready_file.unlink()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m sandbox.faultproxy",
        description="HTTPS proxy in front of kube-apiserver that injects faults (docs/sandbox.md).",
    )
    p.add_argument("--upstream", required=True, help="kube-apiserver URL, e.g. https://127.0.0.1:6443")
    p.add_argument("--ca-file", required=True, type=Path, help="CA that signed kube-apiserver's certificate")
    p.add_argument("--cert", required=True, type=Path, help="the proxy's serving certificate (PEM chain)")
    p.add_argument("--key", required=True, type=Path, help="its private key")
    p.add_argument(
        "--token-file", required=True, type=Path, help="the sandbox token guarding /sandbox/faults"
    )
    p.add_argument("--log", required=True, type=Path, help="fault log, JSON lines (appended)")
    p.add_argument(
        "--ready-file", required=True, type=Path, help='written as {"port": N, "pid": P} once listening'
    )
    p.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    p.add_argument("--fault", action="append", default=[], help="fault spec, repeatable (docs/sandbox.md)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.upstream.startswith("https://"):
        parser.error(f"--upstream must be an https:// URL, got {args.upstream!r}")
    try:
        token = args.token_file.read_text().strip()
    except OSError as exc:
        parser.error(f"--token-file: {exc}")
    if not token:
        parser.error(f"--token-file {args.token_file} is empty")
    for spec in args.fault:
        try:
            check_fault(parse(spec))
        except FaultSpecError as exc:
            parser.error(f"--fault {spec!r}: {exc}")
    config = ProxyConfig(
        upstream=args.upstream,
        ca_file=args.ca_file,
        cert=args.cert,
        key=args.key,
        token=token,
        log=args.log,
        port=args.port,
        faults=tuple(args.fault),
    )
    try:
        asyncio.run(serve(config, ready_file=args.ready_file))
    except OSError as exc:  # ssl.SSLError too: a port in use, unreadable certificates
        print(f"sandbox.faultproxy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
