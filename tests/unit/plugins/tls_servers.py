"""A local HTTPS server and its plain HTTP twin, for the prober's and probe_routes' tests.

The HTTPS server has a certificate for HOST from its own CA, records the server name each
client sent (SNI) and each request, and answers by path: ``/broken`` 503, ``/moved...`` a 302
to https://b.test/, ``/dropped`` what traefik answers when it has no router (Go's
http.NotFound), ``/missing`` a backend's own 404 page, anything else a JSON 200. The plain
server redirects every request to https on port 8443, as traefik's web entrypoint does.

A Drip server answers one byte at a time without end, to prove a probe's deadline.
"""

from __future__ import annotations

import itertools
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

HOST = "a.test"


@dataclass
class Seen:
    server_names: list[str | None] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    seen: Seen

    def answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.seen.requests.append((self.command, self.headers.get("Host", ""), self.path))
        if self.path == "/broken":
            self.answer(503)
        elif self.path.startswith("/moved"):
            self.answer(302, Location="https://b.test/")
        elif self.path == "/dropped":
            self.answer(
                404,
                b"404 page not found\n",
                Content_Type="text/plain; charset=utf-8",
                X_Content_Type_Options="nosniff",
            )
        elif self.path == "/missing":
            self.answer(404, b"<h1>no such page</h1>", Content_Type="text/html")
        else:
            body = json.dumps({"service": "binder", "path": self.path}).encode()
            self.answer(200, body, Content_Type="application/json")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PlainHandler(Handler):
    def do_GET(self) -> None:
        self.seen.requests.append((self.command, self.headers.get("Host", ""), self.path))
        self.answer(308, Location=f"https://{self.headers.get('Host')}:8443{self.path}")


@dataclass
class Servers:
    https_port: int
    http_port: int
    ca_file: Path
    seen: Seen


def _serve(server: HTTPServer) -> None:
    threading.Thread(target=server.serve_forever, daemon=True).start()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    seen = Seen()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    context.sni_callback = lambda _sock, name, _ctx: seen.server_names.append(name)
    tls = HTTPServer(("127.0.0.1", 0), type("H", (Handler,), {"seen": seen}))
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    plain = HTTPServer(("127.0.0.1", 0), type("P", (PlainHandler,), {"seen": seen}))
    _serve(tls)
    _serve(plain)
    try:
        yield Servers(tls.server_address[1], plain.server_address[1], ca_file, seen)
    finally:
        for server in (tls, plain):
            server.shutdown()
            server.server_close()


# ---------------------------------------------------------------------------
# A slow-drip server: it answers, but one byte at a time, for ever


@dataclass
class Drip:
    """A server that answers slowly, to prove that a probe ends by its deadline.

    ``stage`` says how: "head" drips one byte every ``interval`` seconds from the first byte of the
    status line into an endless header; "body" sends a whole head announcing a large body, then drips
    the body; "late" waits ``delay`` seconds before the TLS handshake and again before a whole, quick
    answer, so no single step is slow but all of them together are. With a ``context`` it speaks TLS.
    """

    stage: str
    context: ssl.SSLContext | None = None
    ca_file: Path | None = None
    interval: float = 0.05
    delay: float = 0.0
    port: int = 0
    sent: list[int] = field(default_factory=list)  # bytes dripped, one entry per connection
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _peer = self.listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._answer, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _answer(self, conn: socket.socket) -> None:
        index = len(self.sent)
        self.sent.append(0)
        try:
            conn.settimeout(5)
            if self.stage == "late" and self.stop.wait(self.delay):
                return
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            if self.stage == "late":
                if not self.stop.wait(self.delay):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                return
            stream: Iterator[bytes]
            if self.stage == "body":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
                stream = itertools.repeat(b"x")
            else:
                head = (bytes([c]) for c in b"HTTP/1.1 200 OK\r\nX-Drip: ")
                stream = itertools.chain(head, itertools.repeat(b"a"))
            for byte in stream:
                if self.stop.wait(self.interval):
                    return
                conn.sendall(byte)
                self.sent[index] += 1
        except OSError:
            pass  # the client gave up: what the test wants
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)
        self.listener.close()


@pytest.fixture
def drips(tmp_path: Path) -> Iterator[Callable[..., Drip]]:
    """Start Drip servers: ``drips(stage, tls=True, delay=0.0)``; a TLS one has a certificate for HOST from a CA
    whose PEM file is its ``ca_file``. All are stopped at the end of the test."""
    ca = trustme.CA()
    ca_file = tmp_path / "drip-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    started: list[Drip] = []

    def start(stage: str, *, tls: bool = True, delay: float = 0.0) -> Drip:
        context = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert(HOST).configure_cert(context)
        started.append(Drip(stage, context, ca_file=ca_file, delay=delay))
        return started[-1]

    try:
        yield start
    finally:
        for drip in started:
            drip.close()
