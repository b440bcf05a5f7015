"""The kubeconfig k3s_member fetches holds the cluster's admin client key: no run prints it.

The node's kubeconfig is read (slurp: base64 of the whole file) and rewritten on the controller.
Runs at -vvv with --diff and the default callback, as an operator debugging a member would, and
searches the whole output for each secret value, as written and as base64 at any offset (the
form a slurped file takes), and for the PEM key the base64 stands for.
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import secret_search
import yaml

from .conftest import ReleaseServer, run_playbook
from .test_k3s_member_chroot import base_vars, write_inventory

pytestmark = pytest.mark.slow

PEM_KEY = b"-----BEGIN EC PRIVATE KEY-----\nTUVNQkVSLUFETUlOLUtFWS1OT1QtVE8tQkUtUFJJTlRFRA==\n-----END EC PRIVATE KEY-----\n"
PEM_CERT = b"-----BEGIN CERTIFICATE-----\nTUVNQkVSLUFETUlOLUNFUlQtTk9ULVRPLUJFLVBSSU5URUQ=\n-----END CERTIFICATE-----\n"
CLIENT_KEY = base64.b64encode(PEM_KEY).decode()
CLIENT_CERT = base64.b64encode(PEM_CERT).decode()
TOKEN = "k3s-member-bearer-token-0123456789abcdef"
SECRETS = {"client-key-data": CLIENT_KEY, "client-certificate-data": CLIENT_CERT, "token": TOKEN}


def node_kubeconfig(api_version: str = "v1") -> dict[str, Any]:
    """What k3s writes on its first start, with a token as well as the client certificate and key."""
    return {
        "apiVersion": api_version,
        "kind": "Config",
        "clusters": [
            {
                "name": "default",
                "cluster": {"certificate-authority-data": "Q0E=", "server": "https://127.0.0.1:6443"},
            }
        ],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
        "preferences": {},
        "users": [{"name": "default", "user": dict(SECRETS)}],
    }


def seed(root: Path, config: dict[str, Any]) -> None:
    path = root / "etc/rancher/k3s/k3s.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def leaks(output: str) -> list[str]:
    """Which secret, in which form, ``output`` shows."""
    found: list[str] = secret_search.leaks(
        output, {**SECRETS, "PEM key": PEM_KEY.decode(), "PEM cert": PEM_CERT.decode()}
    )
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_base64_forms_find_a_secret_inside_a_slurped_file() -> None:
    """The search below is only as good as this: a slurped file shows the secret in one of the forms."""
    for prefix in ("", "a", "ab", "abc"):
        slurped = base64.b64encode((prefix + yaml.safe_dump(node_kubeconfig())).encode()).decode()
        assert leaks(slurped), prefix


def test_fetching_the_kubeconfig_prints_no_secret_and_writes_it_owner_only(
    node_root: Path, release_server: ReleaseServer, tmp_path: Path
) -> None:
    release_server.add_release("v1.34.3+k3s1")
    seed(node_root, node_kubeconfig())
    inventory = write_inventory(tmp_path, node_root)
    role_vars = base_vars(tmp_path, release_server)
    dest = Path(role_vars["k3s_member_kubeconfig_dest"])
    # A directory the operator made group-writable: the role closes it before writing the key.
    dest.parent.mkdir(mode=0o775)
    dest.parent.chmod(0o775)

    for args in (("--check",), ()):
        run = run_playbook(inventory, role_vars, "-vvv", "--diff", *args, json_output=False)
        assert run.rc == 0, f"{args}: {run.stdout[-4000:]}{run.stderr[-2000:]}"
        # -vvv shows each module's arguments and results: the search below is not of a quiet run.
        assert "TASK [binder.ingress.k3s_member : Read the node's kubeconfig]" in run.stdout
        assert "<127.0.0.1>" in run.stdout or "ESTABLISH" in run.stdout, "the run was not verbose"
        assert leaks(run.stdout + run.stderr) == [], args
        if args == ("--check",):
            # Diffs are on where no secret passes: the node's k3s configuration shows its change.
            assert "+write-kubeconfig-mode: '0600'" in run.stdout

    fetched = yaml.safe_load(dest.read_text())
    assert fetched["users"] == [{"name": "hetzner-gesis", "user": SECRETS}]
    assert mode(dest) == 0o600
    assert mode(dest.parent) == 0o700


def test_a_kubeconfig_the_role_cannot_rewrite_fails_with_the_reason_not_the_file(
    node_root: Path, release_server: ReleaseServer, tmp_path: Path
) -> None:
    """The read and the write hide their output; the failure still says what is wrong (the check
    between them says it; ansible-core 2.19 also shows the write's templating error under no_log)."""
    release_server.add_release("v1.34.3+k3s1")
    seed(node_root, node_kubeconfig(api_version="v2"))
    inventory = write_inventory(tmp_path, node_root)
    role_vars = base_vars(tmp_path, release_server)

    run = run_playbook(inventory, role_vars, "-vvv", "--diff", json_output=False)
    output = run.stdout + run.stderr
    assert run.rc != 0
    # The node's values are not quoted either: the node is not trusted.
    assert "member hetzner-gesis, node hetzner-gesis-node: apiVersion must be 'v1'" in output, output[-4000:]
    assert "'v2'" not in output
    assert leaks(output) == []
    assert not Path(role_vars["k3s_member_kubeconfig_dest"]).exists()


# k3s's own secrets an operator may put in k3s_member_config (k3s server's flags of the same names).
CONFIG_SECRETS = {
    "token": "k3s-config-join-token-5e7d9a",
    "agent-token": "k3s-config-agent-token-1b2c3d",
    "etcd-s3-secret-key": "k3s-config-s3-secret-9f8e7d",
}


def test_secrets_in_k3s_member_config_are_written_owner_only_and_never_shown(
    node_root: Path, release_server: ReleaseServer, tmp_path: Path
) -> None:
    release_server.add_release("v1.34.3+k3s1")
    seed(node_root, node_kubeconfig())
    inventory = write_inventory(tmp_path, node_root)
    role_vars = {**base_vars(tmp_path, release_server), "k3s_member_config": CONFIG_SECRETS}
    config = node_root / "etc/rancher/k3s/config.yaml"

    for args in (("--check",), (), ("--check",)):
        run = run_playbook(inventory, role_vars, "-vvv", "--diff", *args, json_output=False)
        output = run.stdout + run.stderr
        assert run.rc == 0, f"{args}: {output[-4000:]}"
        assert "TASK [binder.ingress.k3s_member : Write the k3s configuration]" in output
        shown = [key for key, value in CONFIG_SECRETS.items() if value in output]
        assert shown == [], f"{args}: k3s_member_config's {shown} printed"
        if args == ():
            assert mode(config) == 0o600
            assert {key: yaml.safe_load(config.read_text())[key] for key in CONFIG_SECRETS} == CONFIG_SECRETS
