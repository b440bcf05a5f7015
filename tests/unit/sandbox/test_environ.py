"""sandbox.environ: the processes of the local cluster never see the user's cluster settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sandbox.controlplane.cluster import spawn
from sandbox.environ import local_env

USER = {
    "KUBECONFIG": "/home/me/.kube/real.yaml",
    "KUBERNETES_SERVICE_HOST": "10.0.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "KUBERNETES_SERVICE_PORT_HTTPS": "443",
    "KUBERNETES_MASTER": "https://real.example:6443",
    "K8S_AUTH_KUBECONFIG": "/home/me/.kube/real.yaml",
    "K8S_AUTH_HOST": "https://real.example:6443",
    "K8S_AUTH_API_KEY": "real-token",
    "HELM_KUBECONTEXT": "prod",
    "HELM_KUBETOKEN": "real-token",
    "HELM_NAMESPACE": "prod",
}
KEPT = {"PATH": "/usr/bin", "HOME": "/home/me", "KUBECTL_EXTERNAL_DIFF": "diff -u", "HELM_CACHE_HOME": "/c"}


def test_the_users_cluster_settings_are_dropped_and_the_rest_kept() -> None:
    assert local_env(base={**USER, **KEPT}) == KEPT


def test_what_the_local_cluster_sets_wins() -> None:
    env = local_env({"KUBECONFIG": "/tmp/sandbox/kubeconfig"}, base={**USER, **KEPT})
    assert env == {**KEPT, "KUBECONFIG": "/tmp/sandbox/kubeconfig"}


def test_the_default_base_is_the_current_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in USER.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BINDER_TEST_KEPT", "1")
    env = local_env()
    assert not set(USER) & set(env)
    assert env["BINDER_TEST_KEPT"] == "1"


def test_a_spawned_process_starts_without_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in USER.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "env.json"
    script = f"import json, os; open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))"
    proc = spawn("envdump", [sys.executable, "-c", script], tmp_path)
    assert proc.wait(timeout=30) == 0
    seen = json.loads(out.read_text())
    assert not set(USER) & set(seen)
    assert seen["PATH"]
