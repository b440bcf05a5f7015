"""The hardened edge (issue 11), checked with real requests through real traefik serving the
values the converge gave the traefik release: TLS versions and ciphers, HSTS, the plain HTTP
entrypoint, traefik's own endpoints, the access log and Harbor's request bodies."""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.binder.ingress.plugins.module_utils import _probe
from harness import Member, local_hosts, local_member, probe
from rawhttp import Connection, upload

from sandbox.demo import LB_ADDRESS

MEMBER = local_member()
NAMESPACE = MEMBER["binder_namespace"]
COMPONENTS = MEMBER["binder_ingresses_components"]
HUB = COMPONENTS["jupyterhub"]["hosts"][0]
BINDER = COMPONENTS["binderhub"]["hosts"][0]
STATIC = COMPONENTS["static"]["hosts"][0]
REGISTRY = COMPONENTS["harbor"]["hosts"][0]
MB = 1_000_000
ONE_YEAR = 31536000


HOSTS = local_hosts()

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


# --- Plain HTTP: the redirect, and the ACME solvers only -------------------------------------

# What cert-manager's http01 solver creates for a challenge: a Service for its pod and an Ingress
# of the issuer's IngressClass routing exactly /.well-known/acme-challenge/<token> to it, no TLS.
SOLVER = "cm-acme-http-solver-e2e7x"
TOKEN = "Xn3Fq0e2eHardeningTokenR8mYwV5sK1aPzL0cT6uJ"
CHALLENGE = f"/.well-known/acme-challenge/{TOKEN}"


def _solver_objects(host: str) -> list[dict[str, Any]]:
    labels = {
        "acme.cert-manager.io/http01-solver": "true",
        "acme.cert-manager.io/http-domain": "1234567890",
        "acme.cert-manager.io/http-token": "987654321",
    }
    meta = {"name": SOLVER, "namespace": NAMESPACE, "labels": labels}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {
                "type": "NodePort",
                "selector": {"acme.cert-manager.io/http01-solver": "true"},
                "ports": [{"name": "http", "port": 8089, "targetPort": 8089, "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                **meta,
                "annotations": {"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"},
            },
            "spec": {
                "ingressClassName": MEMBER.get("binder_ingress_class", "traefik"),
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": CHALLENGE,
                                    "pathType": "ImplementationSpecific",
                                    "backend": {"service": {"name": SOLVER, "port": {"number": 8089}}},
                                }
                            ]
                        },
                    }
                ],
            },
        },
    ]


def _plain(member: Member, host: str, path: str) -> _probe.Answer:
    return _probe.request(member.entrypoint.address, member.web, host, path, None)


@pytest.fixture(scope="module")
def solver(member: Member) -> Iterator[Member]:
    """A solver for the hub host's certificate, as cert-manager would create it; removed afterwards."""
    member.sandbox.apply(_solver_objects(HUB), field_manager="cert-manager-challenges")
    try:
        yield member
    finally:
        member.sandbox.kubectl("delete", "-n", NAMESPACE, "ingress,service", SOLVER, "--ignore-not-found")


def test_the_acme_solver_answers_its_challenge_over_plain_http(solver: Member) -> None:
    def solver_answer() -> _probe.Answer | None:
        answer = _plain(solver, HUB, CHALLENGE)
        return answer if (answer.json() or {}).get("service") == SOLVER else None

    deadline = time.monotonic() + 30
    while (answer := solver_answer()) is None:
        assert time.monotonic() < deadline, (
            f"the solver never answered its challenge: {_plain(solver, HUB, CHALLENGE)}"
        )
        time.sleep(0.3)
    assert answer.status == 200
    body = answer.json()
    assert body is not None
    assert (body["namespace"], body["path"], body["host"].split(":")[0]) == (NAMESPACE, CHALLENGE, HUB)


@pytest.mark.parametrize("host", HOSTS)
def test_plain_http_acme_paths_of_member_hosts_reach_no_member_backend(solver: Member, host: str) -> None:
    # With allowACMEByPass, a router also attached to `web` would hand this to the member's backend in
    # cleartext; pinned to websecure, only the solver's own token path is served over plain HTTP.
    for path in ("/.well-known/acme-challenge/x", "/.well-known/acme-challenge/", CHALLENGE + "x"):
        answer = _plain(solver, host, path)
        assert answer.error == ""
        body = answer.json()
        if body is not None:
            # traefik matches an ImplementationSpecific path as a prefix: below its token, the
            # solver (which answers only its token) may get the request, never a member backend.
            assert (host, body["service"]) == (HUB, SOLVER), f"http://{host}{path} reached {body}"
            assert path.startswith(CHALLENGE)
            continue
        assert answer.status == 404 or answer.location.startswith(f"https://{host}"), (
            answer.status,
            answer.location,
        )


@pytest.mark.parametrize("host", HOSTS)
def test_plain_http_is_redirected_to_https_on_every_host(member: Member, host: str) -> None:
    answer = _plain(member, host, "/some/path?q=1")
    assert answer.status in (301, 308)
    # The local cluster redirects to its local websecure port where a member would use 443.
    assert answer.location == f"https://{host}:{member.websecure}/some/path?q=1"


# --- traefik's own endpoints ---------------------------------------------------------------

INTERNAL_PATHS = ("/api/rawdata", "/api/overview", "/api/http/routers", "/dashboard/", "/ping", "/metrics")


@pytest.mark.parametrize("path", INTERNAL_PATHS)
@pytest.mark.parametrize("host", [BINDER, STATIC, "unknown.local.test", "127.0.0.1", "localhost"])
def test_traefiks_api_dashboard_metrics_and_ping_are_not_served_through_the_entrypoint(
    member: Member, host: str, path: str
) -> None:
    https = _probe.request(LB_ADDRESS, member.websecure, host, path, _probe.Trust(verify=False))
    assert https.error == ""
    # A member backend may answer its own /metrics; traefik's own answer never comes.
    body = https.json()
    if body is not None:
        assert body["host"].split(":")[0] == host, body
    else:
        assert _probe.is_traefik_not_found(https), (https.status, https.headers, https.body[:200])
    plain = _plain(member, host, path)
    assert plain.json() is None
    assert plain.status in (301, 308, 404), (plain.status, plain.body[:200])
    assert b"traefik_" not in plain.body + https.body
    assert plain.body.strip() != b"OK" and https.body.strip() != b"OK"


def test_the_entrypoint_service_exposes_only_web_and_websecure(member: Member) -> None:
    service = json.loads(
        member.sandbox.kubectl(
            "get",
            "service",
            "-n",
            NAMESPACE,
            MEMBER.get("binder_entrypoint_name", "cluster-entrypoint"),
            "-o",
            "json",
        )
    )
    assert sorted((p["port"], p["targetPort"]) for p in service["spec"]["ports"]) == [
        (80, "web"),
        (443, "websecure"),
    ]
    values = yaml.safe_load(member.traefik_values)
    assert values["api"]["dashboard"] is False
    assert values["ingressRoute"]["dashboard"]["enabled"] is False


# --- The badge-only host -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/badge.svg/x", "/BADGE.SVG", "/badge.svg.png", "/.well-known/acme-challenge/x", "/api/", "/v2/"],
)
def test_the_badge_host_serves_nothing_but_its_paths(member: Member, path: str) -> None:
    answer = probe(STATIC, path, member.websecure, member.sandbox.ca_file)
    assert _probe.is_traefik_not_found(answer), (answer.status, answer.body[:200])
    assert probe(STATIC, "/badge.svg", member.websecure, member.sandbox.ca_file).json() is not None


# --- The access log -------------------------------------------------------------------------


def test_the_access_log_keeps_no_query_no_credentials_and_no_referer(member: Member) -> None:
    marker = f"access-log-hardening-{time.time_ns()}"
    secrets = {"query": f"{marker}-QUERYTOKEN", "auth": f"{marker}-AUTHTOKEN", "cookie": f"{marker}-COOKIE"}
    secrets["referer"] = f"{marker}-REFERER"
    path = f"/user/someone/lab/{marker}"
    answer = probe(
        HUB,
        f"{path}?token={secrets['query']}&other=1",
        member.websecure,
        member.sandbox.ca_file,
        headers={
            "Authorization": f"token {secrets['auth']}",
            "Proxy-Authorization": f"Basic {secrets['auth']}",
            "Cookie": f"jupyterhub-session-id={secrets['cookie']}",
            "Referer": f"https://{HUB}/hub/login?next={secrets['referer']}",
            "User-Agent": f"{marker}-agent",
        },
    )
    # The backend got all of it: only the log leaves it out.
    assert answer.status == 200
    body = answer.json()
    assert body is not None and body["query"] == f"token={secrets['query']}&other=1"
    access_log = Path(member.sandbox.dataplane()["traefik"]["access_log"])
    deadline = time.monotonic() + 10
    while path not in access_log.read_text():
        assert time.monotonic() < deadline, f"{path} not in {access_log}"
        time.sleep(0.2)
    text = access_log.read_text()
    (line,) = [line for line in text.splitlines() if marker in line]
    assert f"{marker}-agent" in line  # User-Agent is kept
    assert f"{path} " in line  # the path, without its query
    for what, secret in secrets.items():
        assert secret not in text, f"the access log holds the {what}: {line}"
    assert "token=" not in line


# --- Harbor's request bodies ------------------------------------------------------------------


def _spool_files(pid: int) -> list[str]:
    """The temporary files traefik holds open: where its buffering middleware spools a request body
    beyond its in-memory 1 MB (files named temp-multibuf-*, unlinked while open)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if "multibuf" in target:
            found.append(target)
    return found


def _half_sent_upload(member: Member, host: str, path: str, size: int) -> tuple[list[str], int]:
    """The files traefik spools while a ``size``-byte upload is half sent, and the body size the
    backend reports once it is complete."""
    pid = member.sandbox.dataplane()["traefik"]["pid"]
    chunk = b"\0" * MB
    with Connection(host, member.websecure, member.sandbox.ca_file, timeout=60) as conn:
        conn.send_head("POST", path, size)
        for _ in range(size // MB // 2):
            conn.sock.sendall(chunk)
        deadline = time.monotonic() + 3
        spooled = _spool_files(pid)
        while not spooled and time.monotonic() < deadline:
            time.sleep(0.2)
            spooled = _spool_files(pid)
        for _ in range(size // MB - size // MB // 2):
            conn.sock.sendall(chunk)
        answer = conn.read()
    assert answer.status == 200, answer
    return spooled, int(answer.json()["body_bytes"])


def test_harbor_bodies_are_streamed_not_spooled_to_traefiks_disk(member: Member) -> None:
    spooled, received = _half_sent_upload(member, REGISTRY, "/v2/library/e2e/blobs/uploads/", 8 * MB)
    assert spooled == [], f"traefik spooled Harbor's upload to disk: {spooled}"
    assert received == 8 * MB


def test_a_buffered_body_is_spooled_which_the_check_above_would_see(member: Member) -> None:
    # hub@file buffers (64 MB): the same upload to the hub lands in traefik's temporary files.
    spooled, received = _half_sent_upload(member, HUB, "/hub/upload", 8 * MB)
    assert spooled, "no spooled file found for a buffered upload: the Harbor check could not fail"
    assert received == 8 * MB


def test_harbor_takes_bodies_beyond_the_hubs_limit(member: Member) -> None:
    answer = upload(
        REGISTRY, "/v2/library/e2e/blobs/uploads/", member.websecure, member.sandbox.ca_file, 80 * MB
    )
    assert answer.status == 200
    assert answer.json()["body_bytes"] == 80 * MB


def test_traefiks_temporary_volume_and_ephemeral_storage_are_bounded(member: Member) -> None:
    # What the release's pods get (kwok runs them): /tmp an emptyDir with a size limit, and an
    # ephemeral-storage limit on the container.
    (deployment,) = json.loads(
        member.sandbox.kubectl(
            "get", "deployments", "-n", member.namespace, "-l", "app.kubernetes.io/name=traefik", "-o", "json"
        )
    )["items"]
    pod = deployment["spec"]["template"]["spec"]
    (tmp,) = [v for v in pod["volumes"] if v["name"] == "tmp"]
    assert tmp["emptyDir"].get("sizeLimit")
    (container,) = pod["containers"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["limits"].get("ephemeral-storage")


# --- Last: the release upgraded to a weakened edge, restored after the module -------------


@pytest.fixture(scope="module")
def weakened(member: Member) -> Iterator[Member]:
    """The release upgraded with the converge's values, but traefik's TLS option opened to TLS 1.0
    and Go's default suites, and no HSTS middleware: what the checks above and verify.yml must catch."""
    values = yaml.safe_load(member.traefik_values)
    values["providers"]["file"]["content"]["tls"]["options"]["default"] = {"minVersion": "VersionTLS10"}
    del values["ports"]["websecure"]["http"]["middlewares"]
    member.set_traefik_values(yaml.safe_dump(values))
    try:
        yield member
    finally:
        member.set_traefik_values(member.traefik_values)


def test_the_refused_handshakes_succeed_when_traefik_allows_them(weakened: Member) -> None:
    # The client above is able to complete what the role's values refuse: the refusals are traefik's.
    port = weakened.websecure
    assert _handshake(port, _client(ssl.TLSVersion.TLSv1))[0] == "TLSv1"
    assert _handshake(port, _client(ssl.TLSVersion.TLSv1_1))[0] == "TLSv1.1"
    for cipher in OUTSIDE_PROFILE:
        assert _handshake(port, _client(ssl.TLSVersion.TLSv1_2, cipher)) == ("TLSv1.2", cipher)


def test_verify_fails_every_route_of_an_edge_without_its_tls_minimum_and_hsts(weakened: Member) -> None:
    from sandbox.demo import verify

    passed, output = verify(weakened.sandbox, weakened.entrypoint)
    assert not passed
    assert "accepts TLSv1.1, older than TLS 1.2" in output
    assert "no Strict-Transport-Security header" in output
    assert f"{len(weakened.routes)} of {len(weakened.routes)} routes failed" in output, output[-3000:]
