"""Sandbox-only features: the CLI (up/down/status/run), TLS and token auth, the audit log, faults."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import ssl
import stat
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from conformance import wait_for
from harness import Cluster, sandbox_cli
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox import audit

pytestmark = pytest.mark.sandbox_only


def _state(cluster: Cluster) -> dict[str, Any]:
    assert cluster.sandbox_dir is not None
    state: dict[str, Any] = json.loads((cluster.sandbox_dir / "state.json").read_text())
    return state


def _get(url: str, token: str | None, cafile: Path | None) -> int:
    ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl.create_default_context()
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), context=ctx, timeout=10
        ) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_state_files_and_kubeconfig(cluster: Cluster) -> None:
    directory = cluster.sandbox_dir
    assert directory is not None
    state = _state(cluster)
    assert (
        state["api_url"] == f"https://127.0.0.1:{state['api_port']}"
        and state["ports"]["api"] == state["api_port"]
    )
    assert stat.S_IMODE((directory / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / "token").stat().st_mode) == 0o600
    config = yaml.safe_load((directory / "kubeconfig").read_text())
    assert config["current-context"] == "sandbox"
    cluster_entry = config["clusters"][0]
    assert cluster_entry["name"] == "sandbox" and cluster_entry["cluster"]["server"] == state["api_url"]
    assert "insecure-skip-tls-verify" not in cluster_entry["cluster"]
    ca = base64.b64decode(cluster_entry["cluster"]["certificate-authority-data"])
    assert ca == (directory / "ca.crt").read_bytes()
    assert config["users"][0]["user"]["token"] == (directory / "token").read_text().strip()


def test_tls_is_verified_with_the_sandbox_ca(cluster: Cluster) -> None:
    assert cluster.sandbox_dir is not None
    url = _state(cluster)["api_url"] + "/version"
    token = (cluster.sandbox_dir / "token").read_text().strip()
    assert _get(url, token, cluster.sandbox_dir / "ca.crt") == 200
    assert _get(url.replace("127.0.0.1", "localhost"), token, cluster.sandbox_dir / "ca.crt") == 200
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(url, token, None)


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_requests_without_the_token_are_401(cluster: Cluster, token: str | None) -> None:
    assert cluster.sandbox_dir is not None
    url = _state(cluster)["api_url"] + "/api/v1/namespaces"
    assert _get(url, token, cluster.sandbox_dir / "ca.crt") == 401


def test_status_reports_a_running_sandbox(cluster: Cluster) -> None:
    assert cluster.sandbox_dir is not None
    report = json.loads(sandbox_cli("status", "--dir", str(cluster.sandbox_dir)).stdout)
    assert report["running"] is True and report["api"]["pid"] == _state(cluster)["pid"]


def test_run_passes_kubeconfig_and_exit_code_then_stops(tmp_path: Path) -> None:
    script = "import os,sys; open(sys.argv[1],'w').write(os.environ['KUBECONFIG']); sys.exit(7)"
    out = tmp_path / "seen"
    proc = sandbox_cli(
        "run",
        "--dir",
        str(tmp_path / "sb"),
        "--no-dataplane",
        "--",
        sys.executable,
        "-c",
        script,
        str(out),
        check=False,
    )
    assert proc.returncode == 7, proc.stderr
    assert out.read_text() == str(tmp_path / "sb" / "kubeconfig")
    assert not (tmp_path / "sb" / "state.json").exists()


def test_stale_state_is_detected_and_cleaned(tmp_path: Path) -> None:
    directory = tmp_path / "stale"
    state = json.loads(sandbox_cli("up", "--dir", str(directory), "--no-dataplane").stdout)
    os.killpg(state["pid"], signal.SIGKILL)
    wait_for(
        lambda: (
            not Path(f"/proc/{state['pid']}").exists()
            or Path(f"/proc/{state['pid']}/stat").read_text().split()[2] == "Z"
        ),
        10,
        "the killed sandbox to die",
    )
    report = sandbox_cli("status", "--dir", str(directory), check=False)
    assert report.returncode == 3 and json.loads(report.stdout)["running"] is False
    assert not (directory / "state.json").exists()
    again = json.loads(sandbox_cli("up", "--dir", str(directory), "--no-dataplane").stdout)
    try:
        assert again["pid"] != state["pid"]
    finally:
        sandbox_cli("down", "--dir", str(directory))
    assert sandbox_cli("status", "--dir", str(directory), check=False).returncode == 3


def test_up_refuses_a_second_sandbox_in_the_same_dir(cluster: Cluster) -> None:
    assert cluster.sandbox_dir is not None
    proc = sandbox_cli("up", "--dir", str(cluster.sandbox_dir), "--no-dataplane", check=False)
    assert proc.returncode == 1 and "already running" in proc.stderr


def _fault_log(cluster: Cluster) -> list[dict[str, Any]]:
    """The requests the fault proxy answered itself (they never reach kube-apiserver)."""
    assert cluster.sandbox_dir is not None
    path = cluster.sandbox_dir / "faults.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_audit_log_records_requests(cluster: Cluster, core: client.CoreV1Api, ns: str) -> None:
    assert cluster.sandbox_dir is not None
    log = cluster.sandbox_dir / "audit.jsonl"
    offset = audit.size(log)
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="audited")), dry_run="All"
    )
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("audited", ns)
    path = f"/api/v1/namespaces/{ns}/configmaps"

    def entries() -> list[dict[str, Any]]:
        # Only this client's requests: kube-controller-manager writes kube-root-ca.crt there too.
        return [e for e in audit.read(log, offset, user="sandbox") if e["path"].startswith(path)]

    found = wait_for(lambda: len(entries()) >= 2 and entries(), 5, "audit entries")
    create, get = found[0], found[1]
    assert create["verb"] == "create" and create["status"] == 201 and create["dryRun"] is True
    assert create["user"] == "sandbox" and create["method"] == "POST" and create["latency_ms"] >= 0
    assert create["time"].endswith("Z")
    assert get["verb"] == "get" and get["status"] == 404 and get["dryRun"] is False


def _fault(cluster: Cluster, *args: str) -> Any:
    assert cluster.sandbox_dir is not None
    return json.loads(sandbox_cli("fault", "--dir", str(cluster.sandbox_dir), *args).stdout)


@pytest.fixture
def faults(cluster: Cluster) -> Any:
    yield lambda spec: _fault(cluster, "add", spec)
    _fault(cluster, "clear")


def test_fault_error_after_n_matches(cluster: Cluster, core: client.CoreV1Api, ns: str, faults: Any) -> None:
    assert cluster.sandbox_dir is not None
    offset = audit.size(cluster.sandbox_dir / "audit.jsonl")
    faults(f"action=error,code=500,verb=list,path=/namespaces/{ns}/configmaps$,after=1,times=1,name=boom")
    core.list_namespaced_config_map(ns)  # the first match passes
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns)
    assert err.value.status == 500 and json.loads(err.value.body)["reason"] == "InternalError"
    core.list_namespaced_config_map(ns)  # times=1: spent
    listed = _fault(cluster, "list")["faults"]
    assert [(f["name"], f["seen"], f["fired"]) for f in listed] == [("boom", 3, 1)]
    assert any(e.get("fault") == "boom" and e["status"] == 500 for e in _fault_log(cluster))
    # The answered request never reached kube-apiserver: two lists of the namespace's ConfigMaps there.
    since = audit.read(cluster.sandbox_dir / "audit.jsonl", offset, user="sandbox")
    lists = [e for e in since if e["verb"] == "list" and e["path"].endswith(f"/{ns}/configmaps")]
    assert len(lists) == 2, lists


def test_fault_throttle_and_conflict(cluster: Cluster, ns: str, faults: Any) -> None:
    faults(f"action=throttle,retry_after=3,path=/namespaces/{ns}/secrets,times=1")
    faults(f"action=conflict,verb=POST,path=/namespaces/{ns}/services,times=1")
    throttled = cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets")
    assert throttled.status == 429 and throttled.headers["retry-after"] == "3"
    assert throttled.body["reason"] == "TooManyRequests"
    conflicted = cluster.request("POST", f"/api/v1/namespaces/{ns}/services", {"metadata": {"name": "s"}})
    assert conflicted.status == 409 and conflicted.body["reason"] == "Conflict"


def test_fault_delay_and_drop(cluster: Cluster, ns: str, faults: Any) -> None:
    faults(f"action=delay,seconds=0.6,path=/namespaces/{ns}/endpoints,times=1")
    started = time.monotonic()
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/endpoints").status == 200
    assert time.monotonic() - started >= 0.6
    faults(f"action=drop,path=/namespaces/{ns}/serviceaccounts,times=1")
    assert cluster.sandbox_dir is not None
    url = _state(cluster)["api_url"] + f"/api/v1/namespaces/{ns}/serviceaccounts"
    token = (cluster.sandbox_dir / "token").read_text().strip()
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        _get(url, token, cluster.sandbox_dir / "ca.crt")
    assert _get(url, token, cluster.sandbox_dir / "ca.crt") == 200


def test_fault_down_drops_every_request_until_its_time_is_up(cluster: Cluster, ns: str, faults: Any) -> None:
    assert cluster.sandbox_dir is not None
    base = _state(cluster)["api_url"]
    token = (cluster.sandbox_dir / "token").read_text().strip()
    ca = cluster.sandbox_dir / "ca.crt"
    # A watch in flight when the API goes down is cut too.
    watch = urllib.request.Request(
        f"{base}/api/v1/namespaces/{ns}/configmaps?watch=true", headers={"Authorization": f"Bearer {token}"}
    )
    stream = urllib.request.urlopen(watch, context=ssl.create_default_context(cafile=str(ca)), timeout=30)
    faults(f"action=down,seconds=3,path=/namespaces/{ns}/secrets$,name=outage")
    assert _get(f"{base}/api/v1/namespaces/{ns}/pods", token, ca) == 200  # not down before it fires
    started = time.monotonic()
    for path in (f"/api/v1/namespaces/{ns}/secrets", "/api/v1/nodes", "/readyz"):
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            _get(base + path, token, ca)
    with pytest.raises((ConnectionError, OSError, http.client.HTTPException)):
        while stream.read(1):
            pass
    assert time.monotonic() - started < 3
    time.sleep(max(0.0, 3.2 - (time.monotonic() - started)))
    assert _get(f"{base}/api/v1/nodes", token, ca) == 200  # back by itself
    faults(f"action=down,path=/namespaces/{ns}/services$,name=outage2")
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        _get(f"{base}/api/v1/namespaces/{ns}/services", token, ca)
    time.sleep(0.5)
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        _get(f"{base}/api/v1/nodes", token, ca)  # no seconds: down until cleared
    _fault(cluster, "clear", "--name", "outage2")
    assert _get(f"{base}/api/v1/nodes", token, ca) == 200
    dropped = [e for e in _fault_log(cluster) if e.get("fault") in ("outage", "outage2")]
    assert {e["path"] for e in dropped} >= {f"/api/v1/namespaces/{ns}/secrets", "/api/v1/nodes", "/readyz"}
    assert all(e["status"] == 0 for e in dropped)


def test_fault_spec_errors_are_refused(cluster: Cluster) -> None:
    assert cluster.sandbox_dir is not None
    proc = sandbox_cli("fault", "--dir", str(cluster.sandbox_dir), "add", "action=explode", check=False)
    assert proc.returncode == 1 and "fault action must be one of" in proc.stderr


def test_faults_given_at_up(tmp_path: Path) -> None:
    directory = tmp_path / "faulty"
    state = json.loads(
        sandbox_cli(
            "up",
            "--dir",
            str(directory),
            "--no-dataplane",
            "--fault",
            "action=error,code=503,path=^/api/v1/nodes$",
        ).stdout
    )
    try:
        token = (directory / "token").read_text().strip()
        assert _get(state["api_url"] + "/api/v1/nodes", token, directory / "ca.crt") == 503
        assert _get(state["api_url"] + "/api/v1/namespaces", token, directory / "ca.crt") == 200
    finally:
        sandbox_cli("down", "--dir", str(directory))
