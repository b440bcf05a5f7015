"""Unit tests of the probe_routes module: classification, and real requests to a local TLS server."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from ansible.module_utils.testing import patch_module_args
from ansible_collections.binder.ingress.plugins.module_utils.constants import REDIRECTOR_SERVICE
from ansible_collections.binder.ingress.plugins.modules import probe_routes

HOST = "a.test"


# ---------------------------------------------------------------------------
# Pure parts


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"host": HOST, "path": "/api/", "path_type": "Prefix"}, "/api/"),
        ({"host": HOST, "path": "/badge.svg", "path_type": "Exact"}, "/badge.svg"),
        ({"host": HOST}, "/"),
        ({"host": HOST, "path": "v2"}, "/v2"),
    ],
)
def test_request_path_is_the_route_path(route: dict[str, Any], expected: str) -> None:
    assert probe_routes.request_path(route) == expected


def outcome(**overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "status": 200,
        "location": "",
        "cert": {"subject": "commonName=a.test", "sans": [HOST], "not_after": "", "days_left": 60.0},
        "error": "",
        "http_status": 308,
        "http_location": f"https://{HOST}:8443/x",
        "http_error": "",
    }
    result.update(overrides)
    return result


BACKEND = {"host": HOST, "path": "/", "service": "binder"}
REDIRECTOR = {"host": HOST, "path": "/", "service": REDIRECTOR_SERVICE}


@pytest.mark.parametrize(
    ("route", "overrides", "problem"),
    [
        (BACKEND, {}, None),
        # The backend's own 404 still shows the route reaches it.
        (BACKEND, {"status": 404}, None),
        (BACKEND, {"status": 502}, "status 502"),
        (BACKEND, {"status": 504}, "status 504"),
        (
            BACKEND,
            {"status": 0, "cert": {}, "error": "certificate verify failed: x"},
            "certificate verify failed",
        ),
        (REDIRECTOR, {"status": 302, "location": "https://b.test/"}, None),
        (REDIRECTOR, {"status": 301, "location": "https://b.test/"}, None),
        (REDIRECTOR, {"status": 302}, "redirector answered 302"),
        (REDIRECTOR, {"status": 200}, "redirector answered 200"),
        (REDIRECTOR, {"status": 308, "location": "https://b.test/"}, "redirector answered 308"),
        (
            BACKEND,
            {"cert": {"subject": "", "sans": [HOST], "not_after": "", "days_left": 13.9}},
            "expires in 13.9",
        ),
        (BACKEND, {"http_status": 200, "http_location": ""}, "plain HTTP answered 200"),
        (BACKEND, {"http_location": f"http://{HOST}/"}, "expected a redirect to https"),
        (BACKEND, {"http_location": "https://elsewhere.test/"}, "another host"),
        (
            BACKEND,
            {"http_status": 0, "http_error": "ConnectionRefusedError: no"},
            "plain HTTP: ConnectionRefused",
        ),
    ],
)
def test_problems(route: dict[str, Any], overrides: dict[str, Any], problem: str | None) -> None:
    found = probe_routes.problems(route, outcome(**overrides), min_days_left=14, check_http=True)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0], found


def test_plain_http_is_not_judged_when_the_check_is_off() -> None:
    result = outcome(http_status=0, http_location="", http_error="")
    assert probe_routes.problems(BACKEND, result, min_days_left=14, check_http=False) == []


def test_report_puts_one_aligned_row_per_route_after_the_header() -> None:
    rows = [
        {**BACKEND, **outcome(), "problems": [], "ok": True},
        {
            **REDIRECTOR,
            "host": "long-name.a.test",
            **outcome(status=0, cert={}, error="boom"),
            "problems": ["boom"],
            "ok": False,
        },
    ]
    lines = probe_routes.report_lines(rows)
    assert len(lines) == 3
    assert lines[0].split()[:3] == ["host", "path", "status"]
    assert lines[1].split() == [HOST, "/", "200", "-", "60.0", "308", "ok"]
    assert lines[2].endswith("FAIL: boom") and lines[2].split()[2] == "-"
    assert lines[1].index("/") == lines[2].index("/")


# ---------------------------------------------------------------------------
# Against a local TLS server


@dataclass
class Seen:
    server_names: list[str | None] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    seen: Seen

    def do_GET(self) -> None:
        self.seen.requests.append((self.command, self.headers.get("Host", ""), self.path))
        if self.path == "/broken":
            self.send_response(503)
        elif self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "https://b.test/")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PlainHandler(Handler):
    def do_GET(self) -> None:
        self.send_response(308)
        self.send_header("Location", f"https://{self.headers.get('Host')}:8443{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()


@dataclass
class Servers:
    https_port: int
    http_port: int
    ca_file: Path
    seen: Seen


def _serve(server: HTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    seen = Seen()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    context.sni_callback = lambda _sock, name, _ctx: seen.server_names.append(name)
    handler = type("H", (Handler,), {"seen": seen})
    tls = HTTPServer(("127.0.0.1", 0), handler)
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


def test_https_request_carries_sni_host_and_path(servers: Servers) -> None:
    context = probe_routes.tls_context(str(servers.ca_file))
    result = probe_routes.probe_https("127.0.0.1", servers.https_port, HOST, "/api/", context, 5)
    assert result["error"] == ""
    assert result["status"] == 200
    assert servers.seen.server_names == [HOST]
    assert servers.seen.requests == [("GET", HOST, "/api/")]
    assert result["cert"]["sans"] == [HOST]
    assert result["cert"]["days_left"] > 14


def test_a_host_the_certificate_does_not_name_fails_verification(servers: Servers) -> None:
    context = probe_routes.tls_context(str(servers.ca_file))
    result = probe_routes.probe_https("127.0.0.1", servers.https_port, "b.test", "/", context, 5)
    assert result["status"] == 0
    assert result["error"].startswith("certificate verify failed")
    assert servers.seen.requests == []


def test_another_ca_fails_verification(servers: Servers, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    result = probe_routes.probe_https(
        "127.0.0.1", servers.https_port, HOST, "/", probe_routes.tls_context(str(other)), 5
    )
    assert result["error"].startswith("certificate verify failed")
    assert servers.seen.requests == []


class Exited(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result


def call_main(monkeypatch: pytest.MonkeyPatch, args: dict[str, Any]) -> dict[str, Any]:
    def finish(_module: Any, **kwargs: Any) -> None:
        raise Exited(kwargs)

    monkeypatch.setattr(probe_routes.AnsibleModule, "exit_json", finish)
    monkeypatch.setattr(probe_routes.AnsibleModule, "fail_json", lambda m, **kw: finish(m, failed=True, **kw))
    with patch_module_args(args), pytest.raises(Exited) as exited:
        probe_routes.main()
    return exited.value.result


def module_args(servers: Servers, routes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "address": "127.0.0.1",
        "https_port": servers.https_port,
        "http_port": servers.http_port,
        "ca_file": str(servers.ca_file),
        "timeout": 5,
        "routes": routes,
        **extra,
    }


def test_main_passes_good_routes_in_check_mode(monkeypatch: pytest.MonkeyPatch, servers: Servers) -> None:
    routes = [
        {"host": HOST, "path": "/", "path_type": "Prefix", "service": "binder", "port": 80, "component": "x"},
        {"host": HOST, "path": "/moved", "path_type": "Prefix", "service": REDIRECTOR_SERVICE, "port": 80},
    ]
    result = call_main(monkeypatch, module_args(servers, routes, _ansible_check_mode=True))
    assert "failed" not in result
    assert result["changed"] is False
    assert result["failed_routes"] == 0
    assert [(r["path"], r["status"], r["http_status"], r["ok"]) for r in result["routes"]] == [
        ("/", 200, 308, True),
        ("/moved", 302, 308, True),
    ]
    # Keys the module does not use are handed back with the route.
    assert result["routes"][0]["component"] == "x"
    assert len(result["report"]) == 3
    # Only GETs, one HTTPS request per route (the plain HTTP server records nothing).
    assert [method for method, _host, _path in servers.seen.requests] == ["GET", "GET"]


def test_main_fails_naming_each_failed_host_and_path(
    monkeypatch: pytest.MonkeyPatch, servers: Servers
) -> None:
    routes = [
        {"host": HOST, "path": "/broken", "service": "binder"},
        {"host": HOST, "path": "/", "service": REDIRECTOR_SERVICE},
        {"host": HOST, "path": "/fine", "service": "binder"},
    ]
    result = call_main(monkeypatch, module_args(servers, routes))
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["failed_routes"] == 2
    assert result["msg"].startswith("2 of 3 routes failed via 127.0.0.1: ")
    assert f"{HOST}/broken: status 503" in result["msg"]
    assert f"{HOST}/: redirector answered 200" in result["msg"]
    assert "/fine" not in result["msg"]


def test_main_refuses_a_route_without_host(monkeypatch: pytest.MonkeyPatch, servers: Servers) -> None:
    result = call_main(monkeypatch, module_args(servers, [{"host": HOST}, {"path": "/"}]))
    assert result["failed"] is True
    assert result["msg"] == "routes: every route needs a host; missing in routes[1]"
    assert servers.seen.requests == []
