"""The prober: real requests to a local HTTPS server and slow-drip servers (tests/unit/plugins/tls_servers.py)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from ansible_collections.binder.ingress.plugins.module_utils import _probe
from tls_servers import HOST, Drip, Servers


def test_a_request_carries_sni_host_and_path_to_the_address(servers: Servers) -> None:
    trust = _probe.Trust(str(servers.ca_file))
    answer = _probe.request("127.0.0.1", servers.https_port, HOST, "/api/?x=1", trust, timeout=5)
    assert answer.error == ""
    assert answer.status == 200
    assert answer.json() == {"service": "binder", "path": "/api/?x=1"}
    assert servers.seen.server_names == [HOST]
    assert servers.seen.requests == [("GET", HOST, "/api/?x=1")]
    assert answer.cert is not None
    assert answer.cert.sans == (HOST,)
    assert "organizationalUnitName=Testing CA" in answer.cert.issuer
    assert answer.cert.days_left > 14
    assert answer.der  # as sent, for callers that decode it themselves


def test_headers_are_lower_case_and_the_body_is_bounded(servers: Servers) -> None:
    trust = _probe.Trust(str(servers.ca_file))
    answer = _probe.request("127.0.0.1", servers.https_port, HOST, "/", trust, limit=5)
    assert answer.headers["content-type"] == "application/json"
    assert answer.body == b'{"ser'
    assert answer.json() is None


def test_a_certificate_that_does_not_cover_the_host_is_named_with_its_hosts(servers: Servers) -> None:
    trust = _probe.Trust(str(servers.ca_file))
    answer = _probe.request("127.0.0.1", servers.https_port, "b.test", "/", trust)
    assert answer.status == 0
    assert answer.error == "certificate does not cover b.test: it names a.test"
    assert servers.seen.server_names == ["b.test", "b.test"]
    assert servers.seen.requests == []


def test_a_certificate_of_another_ca_fails_verification(servers: Servers, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    answer = _probe.request("127.0.0.1", servers.https_port, HOST, "/", _probe.Trust(str(other)))
    assert answer.status == 0 and answer.cert is None
    assert answer.error.startswith("certificate verify failed: ")
    assert servers.seen.requests == []


def test_without_verification_the_certificate_is_only_returned_as_sent(servers: Servers) -> None:
    answer = _probe.request("127.0.0.1", servers.https_port, "b.test", "/", _probe.Trust(verify=False))
    assert answer.status == 200
    assert answer.cert is None and answer.der


def test_plain_http_without_trust(servers: Servers) -> None:
    answer = _probe.request("127.0.0.1", servers.http_port, HOST, "/x", None)
    assert (answer.status, answer.location) == (308, f"https://{HOST}:8443/x")
    assert answer.cert is None and answer.der == b""


def test_a_refused_connection_is_an_error_not_an_exception(servers: Servers) -> None:
    trust = _probe.Trust(str(servers.ca_file))
    answer = _probe.request("127.0.0.1", 1, HOST, "/", trust, timeout=2)
    assert answer.status == 0
    assert answer.error.startswith("ConnectionRefusedError")


def test_connect_gives_a_verified_socket(servers: Servers) -> None:
    with _probe.connect("127.0.0.1", servers.https_port, HOST, _probe.Trust(str(servers.ca_file))) as sock:
        cert = _probe.certificate(sock)
    assert cert is not None and cert.sans == (HOST,)


@pytest.mark.parametrize(("path", "own"), [("/dropped", True), ("/missing", False), ("/", False)])
def test_traefiks_own_404_is_told_from_a_backends(servers: Servers, path: str, own: bool) -> None:
    answer = _probe.request("127.0.0.1", servers.https_port, HOST, path, _probe.Trust(str(servers.ca_file)))
    assert _probe.is_traefik_not_found(answer) is own


# ---------------------------------------------------------------------------
# One deadline per probe, against servers that answer slowly (tls_servers.Drip)

TIMEOUT = 1.0
# The probe may end this much after its deadline: a loaded 2-core machine schedules threads late.
SLACK = 0.6
# How long a test waits for a probe that does not end before calling it hung.
HUNG = 8.0


def timed(call: Callable[[], _probe.Answer]) -> tuple[_probe.Answer | None, float]:
    """The answer of call() and the seconds it took, or None if it was still running after HUNG."""
    box: list[_probe.Answer] = []
    start = time.monotonic()
    thread = threading.Thread(target=lambda: box.append(call()), daemon=True)
    thread.start()
    thread.join(HUNG)
    return (box[0] if box else None), time.monotonic() - start


@pytest.mark.parametrize(
    ("stage", "tls", "delay", "where"),
    [
        ("head", False, 0.0, "reading the answer"),
        ("head", True, 0.0, "reading the answer"),
        ("body", True, 0.0, "reading the answer"),
        # Handshake and answer each within the timeout, but not both together.
        ("late", True, 0.6, "reading the answer"),
        ("late", True, 1.5, "in the TLS handshake"),
    ],
)
def test_a_slow_server_cannot_keep_a_probe_past_its_deadline(
    drips: Callable[..., Drip], stage: str, tls: bool, delay: float, where: str
) -> None:
    drip = drips(stage, tls=tls, delay=delay)
    trust = _probe.Trust(str(drip.ca_file)) if tls else None
    answer, took = timed(lambda: _probe.request("127.0.0.1", drip.port, HOST, "/", trust, timeout=TIMEOUT))
    assert answer is not None, f"the probe still runs after {HUNG} s with a {TIMEOUT} s timeout"
    assert (answer.status, answer.error) == (0, f"timed out after {TIMEOUT:g} s {where}")
    assert TIMEOUT * 0.9 <= took <= TIMEOUT + SLACK
    if stage != "late":
        # The server kept sending: no single read waited long, only the whole probe did.
        assert drip.sent[0] >= 5


def test_connect_also_ends_by_its_deadline(drips: Callable[..., Drip]) -> None:
    drip = drips("late", delay=1.5)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        _probe.connect("127.0.0.1", drip.port, HOST, _probe.Trust(str(drip.ca_file)), TIMEOUT)
    assert time.monotonic() - start <= TIMEOUT + SLACK


@pytest.mark.parametrize("timeout", [-1, 0, -0.5, math.nan, math.inf])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused(
    servers: Servers, timeout: float
) -> None:
    with pytest.raises(ValueError, match=r"^timeout: expected a positive number of seconds, got "):
        _probe.request("127.0.0.1", servers.https_port, HOST, "/", None, timeout=timeout)
    assert servers.seen.requests == []
