"""A local HTTPS server and its plain HTTP twin, for the prober's and probe_routes' tests.

The HTTPS server has a certificate for HOST from its own CA, records the server name each
client sent (SNI) and each request, and answers by path: ``/broken`` 503, ``/moved...`` a 302
to https://b.test/, ``/dropped`` what traefik answers when it has no router (Go's
http.NotFound), ``/missing`` a backend's own 404 page, anything else a JSON 200. The plain
server redirects every request to https on port 8443, as traefik's web entrypoint does.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
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
