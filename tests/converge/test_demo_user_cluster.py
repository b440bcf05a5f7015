"""The demo's path for a user who has their own cluster exported, and what `down` leaves behind.

Most Kubernetes operators have ``KUBECONFIG`` set (and in a pod, ``KUBERNETES_SERVICE_*``). The
local cluster must serve the member through real traefik all the same: its processes never see
those settings. And once the cluster is down, no file of it holds the API token or a private key.
"""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import pytest
import yaml
from harness import INVENTORY, sandbox_cli

from sandbox.demo import route_ready, served_member

pytestmark = pytest.mark.slow

# A PEM private key, as text or base64-encoded (as in a Secret's data).
KEY_MARKERS = (b"PRIVATE KEY-----", base64.b64encode(b"-----BEGIN ")[:12])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def users_own_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Export what a user of another cluster has: a kubeconfig and an in-cluster API, both elsewhere."""
    port = closed_port()
    kubeconfig = tmp_path / "real.yaml"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "real", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
                "users": [{"name": "real", "user": {"token": "the-users-own-token"}}],
                "contexts": [{"name": "real", "context": {"cluster": "real", "user": "real"}}],
                "current-context": "real",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(port))


def secrets_left(directory: Path, *tokens: str) -> list[str]:
    """Every file under directory that holds one of the tokens or a private key."""
    found = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if any(t.encode() in data for t in tokens) or any(marker in data for marker in KEY_MARKERS):
            found.append(str(path.relative_to(directory)))
    return found


def test_the_member_is_served_with_its_certificates_whatever_kubeconfig_the_user_has(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    users_own_cluster(monkeypatch, tmp_path)
    with served_member(INVENTORY, tmp_path / "demo") as served:
        # served_member waits until every route is served with its own certificate, or raises.
        assert served.routes and all(route_ready(r, served.results[r]) for r in served.routes)
        for route in served.routes:
            cert = served.results[route].cert
            assert cert is not None and route.host in cert.sans, route
        directory = served.sandbox.dir
        tokens = [(directory / name).read_text().strip() for name in ("token", "dataplane-token")]
        # traefik reads the API with the data plane's token, from its static configuration: a file
        # down must remove.
        assert tokens[1] in (directory / "traefik-static.yaml").read_text()
        assert secrets_left(directory, *tokens), "the check below must be able to find a secret"
    assert secrets_left(directory, *tokens) == []


def test_down_leaves_no_token_and_no_private_key(tmp_path: Path) -> None:
    directory = tmp_path / "sandbox"
    sandbox_cli("up", "--dir", str(directory))
    tokens = [(directory / name).read_text().strip() for name in ("token", "dataplane-token")]
    ca_cert = (directory / "ca.crt").read_bytes()
    assert {"ca.key", "token", "dataplane-token", "kubeconfig"} <= set(secrets_left(directory, *tokens))
    sandbox_cli("down", "--dir", str(directory))
    assert secrets_left(directory, *tokens) == []
    # The next cluster in the same directory makes a PKI of its own, and works.
    sandbox_cli("up", "--dir", str(directory))
    try:
        assert (directory / "ca.crt").read_bytes() != ca_cert
        assert json.loads(sandbox_cli("status", "--dir", str(directory)).stdout)["running"] is True
    finally:
        sandbox_cli("down", "--dir", str(directory))
