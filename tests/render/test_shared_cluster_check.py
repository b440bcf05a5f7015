"""site.yml refuses members that share a cluster without saying so, before any cluster call.

No cluster is needed, and none is started: the members' kubeconfig points at a port nothing listens
on, so any request to a cluster would fail with a connection error instead of the check's message.
"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest
import yaml
from harness import BIN, REPO, ansible_env, member_inventory

pytestmark = pytest.mark.slow

FATAL = re.compile(r"^fatal: \[([^\]]+)\]: FAILED! =>[^\n]*\n((?:[ \t]+[^\n]*\n|\n)*)", re.M)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "shared", "cluster": {"server": server}}],
                "users": [{"name": "admin", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": "shared", "context": {"cluster": "shared", "user": "admin"}}],
                "current-context": "shared",
            }
        )
    )
    return path


def test_members_in_one_cluster_that_do_not_say_so_fail_before_any_write(tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{_closed_port()}"
    # Two files, one API server: the same cluster.
    configs = {m: _kubeconfig(tmp_path / f"{m}.kubeconfig", server) for m in ("alpha", "beta")}
    members = {
        m: {"binder_kubeconfig": str(path), "binder_context": "shared", "binder_namespace": m}
        for m, path in configs.items()
    }
    members["beta"]["binder_shared_cluster"] = True
    inventory = member_inventory(tmp_path / "inventory", members)

    run = subprocess.run(
        [str(BIN / "ansible-playbook"), str(REPO / "site.yml"), "-i", str(inventory)],
        cwd=REPO,
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK="default"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode != 0
    found = {m.group(1): re.sub(r"\s+", " ", m.group(2)) for m in FATAL.finditer(run.stdout)}
    assert sorted(found) == ["alpha", "beta"], run.stdout[-4000:]
    assert (
        f"member alpha: binder_shared_cluster: members alpha and beta use the same cluster ({server}),"
        " but alpha does not set binder_shared_cluster: true" in found["alpha"]
    ), found["alpha"]
    assert (
        f"member beta: binder_shared_cluster: members beta and alpha use the same cluster ({server}),"
        " but alpha does not set binder_shared_cluster: true" in found["beta"]
    ), found["beta"]
    # The check came before the first cluster call: nothing tried to reach the API server.
    assert "Connection refused" not in run.stdout
    assert "not-a-real-token" not in run.stdout + run.stderr
