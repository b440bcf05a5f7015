"""Unit tests of the probe_routes module: classification, and real requests to a local TLS server."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from ansible.module_utils.testing import patch_module_args
from ansible_collections.binder.ingress.plugins.module_utils import _probe
from ansible_collections.binder.ingress.plugins.modules import probe_routes
from tls_servers import HOST, Drip, Servers

# ---------------------------------------------------------------------------
# Pure parts


def test_a_route_without_expect_gets_the_defaults_of_its_component() -> None:
    backend = probe_routes.expectation({"host": HOST, "path": "v2", "component": "binderhub"})
    assert backend["request"] == "/v2"
    assert backend["status"] == ["2xx", "3xx", "4xx"]
    assert backend["backend"] is True and backend["location"] == "" and backend["hsts"] is False
    # A redirect is known by its component; the Service name does not matter.
    redirect = probe_routes.expectation({"host": HOST, "component": "redirector", "service": "anything"})
    assert redirect["request"] == "/"
    assert redirect["status"] == ["301", "302"]
    assert redirect["backend"] is False and redirect["redirect"] is True
    named_like_one = probe_routes.expectation({"host": HOST, "service": "redirector"})
    assert named_like_one["redirect"] is False and named_like_one["backend"] is True


@pytest.mark.parametrize("written", [302, "302", ["302"], [302]])
def test_one_status_may_be_written_without_a_list(written: Any) -> None:
    assert probe_routes.expectation({"host": HOST, "expect": {"status": written}})["status"] == ["302"]


@pytest.mark.parametrize(
    ("status", "accepted", "matches"),
    [
        (200, ["2xx"], True),
        (204, ["2xx", "3xx"], True),
        (302, ["2xx", "3xx"], True),
        (404, ["2xx", "3xx"], False),
        (404, ["2xx", "3xx", "4xx"], True),
        (502, ["2xx", "3xx", "4xx"], False),
        (302, ["302"], True),
        (301, ["302"], False),
        (0, ["2xx"], False),
    ],
)
def test_status_matches_codes_and_classes(status: int, accepted: list[str], matches: bool) -> None:
    assert probe_routes.status_matches(status, accepted) is matches


TRAEFIK_404 = {
    "status": 404,
    "headers": {"content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff"},
    "body": b"404 page not found\n",
}


def answer(**overrides: Any) -> _probe.Answer:
    fields: dict[str, Any] = {
        "status": 200,
        "headers": {"content-type": "application/json"},
        "body": b'{"service": "binder"}',
        "cert": _probe.Certificate(HOST, "ca", (HOST,), time.time() + 60 * 86400),
    }
    fields.update(overrides)
    return _probe.Answer(**fields)


def plain_answer(**overrides: Any) -> _probe.Answer:
    fields: dict[str, Any] = {"status": 308, "headers": {"location": f"https://{HOST}:8443/x"}}
    fields.update(overrides)
    return _probe.Answer(**fields)


BACKEND = {"host": HOST, "path": "/", "component": "binderhub"}
PAGE = {**BACKEND, "expect": {"request": "/", "status": ["2xx", "3xx"]}}
REDIRECT = {
    "host": HOST,
    "path": "/",
    "component": "redirector",
    "expect": {"request": "/p?q", "status": ["302"], "location": "https://b.test/p?q", "backend": False},
}


def redirected(location: str, status: int = 302) -> dict[str, Any]:
    return {"status": status, "headers": {"location": location}, "body": b""}


@pytest.mark.parametrize(
    ("route", "overrides", "problem"),
    [
        (BACKEND, {}, None),
        # A backend's own 404 still shows the route reaches it, where 4xx is accepted.
        (BACKEND, {"status": 404, "body": b"<h1>no such page</h1>"}, None),
        (PAGE, {"status": 404, "body": b"<h1>no such page</h1>"}, "status 404, expected 2xx or 3xx"),
        # traefik's own 404 fails a route to a backend, whatever the accepted classes.
        (BACKEND, TRAEFIK_404, "traefik's own 404"),
        (PAGE, TRAEFIK_404, "traefik's own 404"),
        (BACKEND, {"status": 502}, "status 502, expected 2xx or 3xx or 4xx"),
        (BACKEND, {"status": 504}, "status 504"),
        (
            BACKEND,
            {"status": 0, "cert": None, "error": "certificate does not cover a.test: it names b.test"},
            "certificate does not cover a.test",
        ),
        (REDIRECT, redirected("https://b.test/p?q"), None),
        (REDIRECT, redirected("https://b.test/p?q", 301), "status 301, expected 302"),
        (REDIRECT, redirected("https://b.test/"), "Location https://b.test/, expected https://b.test/p?q"),
        (REDIRECT, redirected("https://c.test/p?q"), "Location https://c.test/p?q, expected"),
        (REDIRECT, {"status": 302, "headers": {}}, "Location (none), expected https://b.test/p?q"),
        # A redirect route answered by traefik's own 404 fails on its status, not as a backend.
        (REDIRECT, TRAEFIK_404, ("status 404, expected 302", "Location (none), expected")),
        ({"host": HOST, "component": "redirector"}, redirected("https://anywhere.test/"), None),
        ({"host": HOST, "component": "redirector"}, {"status": 302, "headers": {}}, "without a Location"),
        (
            {**BACKEND, "expect": {"json": {"service": "binder"}}},
            {"body": b'{"service": "binder", "port": 80}'},
            None,
        ),
        (
            {**BACKEND, "expect": {"json": {"service": "proxy-public"}}},
            {},
            "body has {'service': 'binder'}, expected {'service': 'proxy-public'}",
        ),
        (
            BACKEND,
            {"cert": _probe.Certificate(HOST, "ca", (HOST,), time.time() + 13.9 * 86400)},
            "expires in 13.9",
        ),
    ],
)
def test_problems(
    route: dict[str, Any], overrides: dict[str, Any], problem: str | tuple[str, ...] | None
) -> None:
    expect = probe_routes.expectation(route)
    found = probe_routes.problems(expect, answer(**overrides), plain_answer(), HOST, min_days_left=14)
    wanted = () if problem is None else (problem,) if isinstance(problem, str) else problem
    assert len(found) == len(wanted), found
    assert all(text in line for text, line in zip(wanted, found, strict=True)), found


@pytest.mark.parametrize("hsts", [False, True])
def test_hsts_is_required_only_where_the_route_expects_it(hsts: bool) -> None:
    expect = probe_routes.expectation({**BACKEND, "expect": {"hsts": hsts}})
    missing = probe_routes.problems(expect, answer(), None, HOST, min_days_left=14)
    assert missing == (["no Strict-Transport-Security header"] if hsts else [])
    sent = answer(headers={"strict-transport-security": "max-age=31536000"})
    assert probe_routes.problems(expect, sent, None, HOST, min_days_left=14) == []


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("max-age=31536000", ""),
        ("max-age=63072000; includeSubDomains; preload", ""),
        ('max-age="31536000"', ""),
        ("Max-Age=31536000", ""),
        ("max-age=86400", "max-age 86400, expected at least 31536000"),
        ("max-age=0", "max-age 0, expected at least 31536000"),
        ("includeSubDomains", "without a max-age: 'includeSubDomains'"),
        ("", "no Strict-Transport-Security header"),
    ],
)
def test_hsts_max_age_must_reach_the_expectation(header: str, problem: str) -> None:
    expect = probe_routes.expectation({**BACKEND, "expect": {"hsts": True, "hsts_max_age": 31536000}})
    headers = {"strict-transport-security": header} if header else {}
    found = probe_routes.problems(expect, answer(headers=headers), None, HOST, min_days_left=14)
    assert (found[0] if found else "").endswith(problem) and len(found) == (1 if problem else 0), found


@pytest.mark.parametrize(
    ("version", "older_accepted", "problem"),
    [
        ("TLSv1.3", "", ""),
        ("TLSv1.2", "", ""),
        ("TLSv1.2", "TLSv1.1", "accepts TLSv1.1, older than TLS 1.2"),
        ("TLSv1", "TLSv1", "answered over TLSv1, expected TLS 1.2 or newer"),
    ],
)
def test_the_tls_version_must_reach_the_expectation(version: str, older_accepted: str, problem: str) -> None:
    expect = probe_routes.expectation({**BACKEND, "expect": {"tls_min_version": "1.2"}})
    sent = answer()
    sent.tls_version = version
    found = probe_routes.problems(expect, sent, None, HOST, min_days_left=14, older_accepted=older_accepted)
    assert found == ([problem] if problem else [])


def test_a_server_of_tls_1_2_and_newer_refuses_older_handshakes(servers: Servers) -> None:
    # Python's default server context (the test servers') accepts TLS 1.2 and newer only.
    assert _probe.older_tls_accepted("127.0.0.1", servers.https_port, HOST, "1.2", timeout=5) == ""
    # Asked for 1.3 at least, the server's TLS 1.2 is reported.
    assert _probe.older_tls_accepted("127.0.0.1", servers.https_port, HOST, "1.3", timeout=5) == "TLSv1.2"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"status": 200, "headers": {}}, "plain HTTP answered 200"),
        ({"headers": {"location": f"http://{HOST}/"}}, "expected a redirect to https"),
        ({"headers": {"location": "https://elsewhere.test/"}}, "another host"),
        (
            {"status": 0, "headers": {}, "error": "ConnectionRefusedError: no"},
            "plain HTTP: ConnectionRefused",
        ),
    ],
)
def test_plain_http_problems(overrides: dict[str, Any], problem: str) -> None:
    expect = probe_routes.expectation(BACKEND)
    found = probe_routes.problems(expect, answer(), plain_answer(**overrides), HOST, min_days_left=14)
    assert len(found) == 1 and problem in found[0], found


def test_plain_http_is_not_judged_when_the_check_is_off() -> None:
    assert probe_routes.problems(probe_routes.expectation(BACKEND), answer(), None, HOST, 14) == []


def test_report_puts_one_aligned_row_per_route_after_the_header() -> None:
    base = {"location": "", "http_status": 308, "error": "", "problems": [], "ok": True}
    rows = [
        {
            **base,
            "host": HOST,
            "request": "/",
            "status": 200,
            "cert": {"days_left": 60.0, "issuer": "R11", "sans": [HOST, "b.test"], "verified": True},
            "tls_version": "TLSv1.3",
        },
        {
            **base,
            "host": "long-name.a.test",
            "request": "/p?q",
            "status": 0,
            "cert": {},
            "error": "boom",
            "problems": ["boom"],
            "ok": False,
        },
    ]
    lines = probe_routes.report_lines(rows)
    assert len(lines) == 3
    assert lines[0].split()[:3] == ["host", "request", "status"]
    assert lines[1].split() == [
        HOST,
        "/",
        "200",
        "-",
        "60.0",
        "R11",
        f"{HOST},b.test",
        "TLSv1.3",
        "308",
        "ok",
    ]
    assert lines[2].endswith("FAIL: boom") and lines[2].split()[2] == "-"
    assert lines[1].index("/") == lines[2].index("/")


# ---------------------------------------------------------------------------
# main(), against a local TLS server (tests/unit/plugins/conftest.py)


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
        {
            "host": HOST,
            "path": "/",
            "component": "redirector",
            "expect": {"request": "/moved?q=1", "status": ["302"], "location": "https://b.test/"},
        },
        {"host": HOST, "path": "/missing", "component": "gcs-proxy"},
    ]
    result = call_main(monkeypatch, module_args(servers, routes, _ansible_check_mode=True))
    assert "failed" not in result, result
    assert result["changed"] is False
    assert result["failed_routes"] == 0
    assert [(r["request"], r["status"], r["http_status"], r["ok"]) for r in result["routes"]] == [
        ("/", 200, 308, True),
        ("/moved?q=1", 302, 308, True),
        ("/missing", 404, 308, True),
    ]
    # Keys the module does not use are handed back with the route.
    assert result["routes"][0]["component"] == "x"
    assert result["routes"][1]["path"] == "/"
    assert result["routes"][0]["cert"]["sans"] == [HOST]
    assert len(result["report"].splitlines()) == 4
    # Only GETs, one HTTPS and one plain HTTP request per route, at the requested path.
    assert servers.seen.requests == [
        ("GET", HOST, path) for path in ("/", "/", "/moved?q=1", "/moved?q=1", "/missing", "/missing")
    ]


def test_main_fails_with_the_table_as_its_message(monkeypatch: pytest.MonkeyPatch, servers: Servers) -> None:
    routes = [
        {"host": HOST, "path": "/broken", "component": "binderhub"},
        {"host": HOST, "path": "/", "component": "redirector"},
        {"host": HOST, "path": "/dropped", "component": "harbor"},
        {"host": HOST, "path": "/fine", "component": "binderhub"},
        {
            "host": HOST,
            "path": "/",
            "component": "redirector",
            "expect": {"request": "/moved", "status": ["302"], "location": "https://b.test/moved"},
        },
    ]
    result = call_main(monkeypatch, module_args(servers, routes, check_http_redirect=False))
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["failed_routes"] == 4
    assert result["msg"] == (
        f"4 of 5 routes failed via 127.0.0.1: {HOST}/broken, {HOST}/, {HOST}/dropped, {HOST}/moved (see report)"
    )
    lines = result["report"].splitlines()
    assert lines[0].split()[:3] == ["host", "request", "status"]
    rows = {line.split()[1]: line for line in lines[1:]}
    assert list(rows) == ["/broken", "/", "/dropped", "/fine", "/moved"]
    assert rows["/broken"].endswith("FAIL: status 503, expected 2xx or 3xx or 4xx")
    assert rows["/"].endswith("FAIL: status 200, expected 301 or 302; a redirect without a Location")
    assert "FAIL: traefik's own 404" in rows["/dropped"]
    assert rows["/fine"].endswith("ok")
    assert rows["/moved"].endswith("FAIL: Location https://b.test/, expected https://b.test/moved")
    # Ansible prints a failure's msg twice: the table is only in the report, the results not at all.
    assert "routes" not in result


def test_main_names_at_most_five_failed_routes_in_its_message(
    monkeypatch: pytest.MonkeyPatch, servers: Servers
) -> None:
    routes = [{"host": HOST, "path": f"/broken{i}", "expect": {"status": ["404"]}} for i in range(7)]
    result = call_main(monkeypatch, module_args(servers, routes, check_http_redirect=False))
    assert result["msg"].endswith(f"{HOST}/broken4 and 2 more (see report)"), result["msg"]
    assert len(result["report"].splitlines()) == 8


def test_main_names_the_hosts_a_certificate_has_when_it_does_not_cover_the_route(
    monkeypatch: pytest.MonkeyPatch, servers: Servers
) -> None:
    result = call_main(monkeypatch, module_args(servers, [{"host": "b.test"}], check_http_redirect=False))
    assert result["failed_routes"] == 1
    assert "FAIL: certificate does not cover b.test: it names a.test" in result["report"]
    assert servers.seen.requests == []


def test_main_refuses_a_route_without_host(monkeypatch: pytest.MonkeyPatch, servers: Servers) -> None:
    result = call_main(monkeypatch, module_args(servers, [{"host": HOST}, {"path": "/"}]))
    assert result["failed"] is True
    assert result["msg"] == "routes: every route needs a host; missing in routes[1]"
    assert servers.seen.requests == []


@pytest.mark.parametrize("timeout", [-1, 0, "nan", "inf"])
def test_main_refuses_a_timeout_that_is_not_a_positive_number(
    monkeypatch: pytest.MonkeyPatch, servers: Servers, timeout: object
) -> None:
    result = call_main(monkeypatch, module_args(servers, [{"host": HOST}], timeout=timeout))
    assert result["failed"] is True
    assert result["msg"] == f"timeout: expected a positive number of seconds, got {float(str(timeout))!r}"
    assert servers.seen.requests == []


def test_main_fails_a_route_whose_server_drips_within_one_deadline_per_probe(
    monkeypatch: pytest.MonkeyPatch, drips: Callable[..., Drip]
) -> None:
    https, http = drips("body"), drips("head", tls=False)
    args = {
        "address": "127.0.0.1",
        "https_port": https.port,
        "http_port": http.port,
        "ca_file": str(https.ca_file),
        "timeout": 1,
        "routes": [{"host": HOST, "path": "/"}, {"host": HOST, "path": "/two"}],
    }
    box: list[dict[str, Any]] = []
    start = time.monotonic()
    thread = threading.Thread(target=lambda: box.append(call_main(monkeypatch, args)), daemon=True)
    thread.start()
    thread.join(12)
    took = time.monotonic() - start
    assert box, "probe_routes still runs after 12 s with a 1 s timeout"
    result = box[0]
    assert result["failed"] is True and result["failed_routes"] == 2
    rows = result["report"].splitlines()[1:]
    assert [row.split("FAIL: ", 1)[1] for row in rows] == [
        "timed out after 1 s reading the answer; plain HTTP: timed out after 1 s reading the answer"
    ] * 2
    # Four probes (two routes, HTTPS and plain HTTP each), a second each, one after the other.
    assert 3.6 <= took <= 4 + 1.5
    assert min(https.sent) >= 5 and min(http.sent) >= 5


@pytest.mark.parametrize(
    ("days", "verified", "warning"),
    [
        (30.0, True, ""),
        (20.9, True, "certificate expires in 20.9 days (fewer than 21): renewal is overdue"),
        (7.0, True, "certificate expires in 7.0 days (fewer than 21): renewal is overdue"),
        (6.9, True, ""),  # a failure, not a warning (problems() says it)
        (10.0, False, ""),  # a certificate that did not verify fails its route anyway
    ],
)
def test_a_certificate_close_to_its_end_warns_before_it_fails(
    days: float, verified: bool, warning: str
) -> None:
    cert = {"days_left": days, "verified": verified}
    assert probe_routes.expiry_warning(cert, warn_days_left=21, min_days_left=7) == warning


def test_the_default_thresholds_warn_below_21_days_and_fail_below_7() -> None:
    spec = probe_routes.DOCUMENTATION
    assert "default: 7" in spec.split("min_days_left:")[1].split("warn_days_left:")[0]
    assert "default: 21" in spec.split("warn_days_left:")[1].split("check_http_redirect:")[0]
    expect = probe_routes.expectation(BACKEND)
    short = answer()
    assert short.cert is not None
    short.cert = dataclasses.replace(short.cert, not_after=time.time() + 6.5 * 86400)
    assert any("fewer than 7" in p for p in probe_routes.problems(expect, short, None, HOST, min_days_left=7))


def test_a_row_shows_the_certificate_sent_even_when_it_did_not_verify(
    servers: Servers, tmp_path: Path
) -> None:
    """The served certificate is read as it is: issuer, names and days, with `!` after the days."""
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    answer_ = _probe.request(
        "127.0.0.1", servers.https_port, HOST, "/", _probe.Trust(str(other_ca)), timeout=5
    )
    assert answer_.error.startswith("certificate verify failed") and answer_.der
    cert = probe_routes.served_certificate(answer_)
    assert cert["verified"] is False and HOST in cert["sans"] and cert["days_left"] > 1
