"""The hardened edge (issue 11), checked with real requests through real traefik serving the
values the converge gave the traefik release: TLS versions and ciphers, HSTS, the plain HTTP
entrypoint, traefik's own endpoints, the access log and Harbor's request bodies."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
import yaml
from harness import Member, local_member, probe

from sandbox.demo import LB_ADDRESS

COMPONENTS = local_member()["binder_ingresses_components"]
HUB = COMPONENTS["jupyterhub"]["hosts"][0]
BINDER = COMPONENTS["binderhub"]["hosts"][0]
STATIC = COMPONENTS["static"]["hosts"][0]
ONE_YEAR = 31536000


def _hosts() -> list[str]:
    """Every host of the inventory: components' hosts, buckets' hosts and redirects' sources."""
    hosts: list[str] = []
    for name, spec in COMPONENTS.items():
        if name == "gcs-proxy":
            hosts += [b["host"] for b in spec["buckets"]]
        elif name == "redirector":
            hosts += [r["from"] for r in spec["redirects"]]
        else:
            hosts += spec["hosts"]
    return sorted(hosts)


HOSTS = _hosts()

# OpenSSL's names of Mozilla's "intermediate" TLS 1.2 suites for the stand-in's EC certificates,
# and suites outside the profile that Go (so traefik) would offer by default.
INTERMEDIATE_ECDSA = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
)
OUTSIDE_PROFILE = ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA")


def _client(version: ssl.TLSVersion, ciphers: str | None = None) -> ssl.SSLContext:
    """A client that offers exactly ``version``; OpenSSL's security level 0 lets it offer TLS 1.0 and
    1.1 and old suites at all, so a failed handshake is the server's refusal."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    return context


def _handshake(port: int, context: ssl.SSLContext, host: str = HUB) -> tuple[str, str]:
    """(TLS version, cipher) of a completed handshake; raises ssl.SSLError when it fails."""
    with (
        socket.create_connection((LB_ADDRESS, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as sock,
    ):
        cipher = sock.cipher()
        assert cipher is not None
        return str(sock.version()), cipher[0]


# --- TLS versions and cipher suites -------------------------------------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["TLS1.0", "TLS1.1"])
def test_tls_1_0_and_1_1_handshakes_fail(member: Member, version: ssl.TLSVersion) -> None:
    with pytest.raises(ssl.SSLError):
        _handshake(member.websecure, _client(version))


@pytest.mark.parametrize("cipher", INTERMEDIATE_ECDSA)
def test_tls_1_2_with_an_intermediate_cipher_succeeds(member: Member, cipher: str) -> None:
    assert _handshake(member.websecure, _client(ssl.TLSVersion.TLSv1_2, cipher)) == ("TLSv1.2", cipher)


@pytest.mark.parametrize("cipher", OUTSIDE_PROFILE)
def test_tls_1_2_with_a_cipher_outside_the_intermediate_profile_fails(member: Member, cipher: str) -> None:
    with pytest.raises(ssl.SSLError):
        _handshake(member.websecure, _client(ssl.TLSVersion.TLSv1_2, cipher))


def test_tls_1_3_succeeds(member: Member) -> None:
    assert _handshake(member.websecure, _client(ssl.TLSVersion.TLSv1_3))[0] == "TLSv1.3"


# --- HSTS ---------------------------------------------------------------------------------


def _hsts(header: str) -> dict[str, str]:
    directives = (part.strip().partition("=") for part in header.split(";") if part.strip())
    return {name.lower(): value for name, _, value in directives}


@pytest.mark.parametrize("host", HOSTS)
def test_every_tls_host_sends_hsts_for_at_least_a_year_without_subdomains(member: Member, host: str) -> None:
    # The static host's only path, and / elsewhere: a backend's page, a redirect, or the static
    # host's 404 for its root (traefik's own answers on websecure carry it too).
    path = "/badge.svg" if host == STATIC else "/"
    answer = probe(host, path, member.websecure, member.sandbox.ca_file)
    assert answer.error == ""
    header = answer.headers.get("strict-transport-security")
    assert header, f"{host}{path}: {answer.status} without Strict-Transport-Security"
    directives = _hsts(header)
    assert int(directives["max-age"]) >= ONE_YEAR
    assert "includesubdomains" not in directives


def test_hsts_comes_with_backend_errors_too(member: Member) -> None:
    answer = probe(BINDER, "/", member.websecure, member.sandbox.ca_file, headers={"X-Sandbox-Fail": "502"})
    assert answer.status == 502
    assert int(_hsts(answer.headers["strict-transport-security"])["max-age"]) >= ONE_YEAR


# Last: it upgrades the release, and restores the converge's values after its one test.
@pytest.fixture
def legacy_tls(member: Member) -> Iterator[Member]:
    """The release upgraded with the converge's values but traefik's TLS option opened to TLS 1.0 and
    any suite: shows the client above can complete the handshakes that the role's values refuse."""
    values = yaml.safe_load(member.traefik_values)
    values["providers"]["file"]["content"]["tls"]["options"]["default"] = {"minVersion": "VersionTLS10"}
    member.set_traefik_values(yaml.safe_dump(values))
    try:
        yield member
    finally:
        member.set_traefik_values(member.traefik_values)


def test_the_refused_handshakes_succeed_when_traefik_allows_them(legacy_tls: Member) -> None:
    port = legacy_tls.websecure
    assert _handshake(port, _client(ssl.TLSVersion.TLSv1))[0] == "TLSv1"
    assert _handshake(port, _client(ssl.TLSVersion.TLSv1_1))[0] == "TLSv1.1"
    for cipher in OUTSIDE_PROFILE:
        assert _handshake(port, _client(ssl.TLSVersion.TLSv1_2, cipher)) == ("TLSv1.2", cipher)
