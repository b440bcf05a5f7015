"""Start and stop the local cluster's processes: real engines on loopback.

Order: etcd → kube-apiserver (token and client-certificate auth, RBAC, audit log of every
request) → the fault proxy in front of it (what the user's kubeconfig points at) → the
node object → kube-controller-manager, kube-scheduler and kwok → wait for a Ready node and
the `default` ServiceAccount. Each process runs in its own process group and writes its
output to `DIR/<name>.log`; `state.json` records every pid so `down` stops them all.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from sandbox import engines
from sandbox.audit import POLICY
from sandbox.controlplane import pki
from sandbox.environ import local_env

STOP_TIMEOUT = 10.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding sandbox/
NODE_NAME = "sandbox"
# The data plane's own user, and the file (in the sandbox directory) holding its token.
DATAPLANE_USER = "sandbox-dataplane"
DATAPLANE_TOKEN = "dataplane-token"
POD_CIDR = "10.244.0.0/16"
# Stopped last to first.
ORDER = (
    "etcd",
    "apiserver",
    "faultproxy",
    "controller-manager",
    "scheduler",
    "kwok",
    "dataplane",
    "challtestsrv",
    "pebble",
)


class SandboxError(Exception):
    pass


# --- processes ---------------------------------------------------------------------------------


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie (exited, not yet reaped) counts as dead.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def stop(pid: int | None) -> None:
    """SIGTERM the process group of `pid`, then SIGKILL it if it is still there after a while."""
    if not alive(pid):
        return
    assert pid is not None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not alive(pid):
                return
            time.sleep(0.05)


def stop_all(pids: dict[str, int]) -> None:
    for name in sorted(pids, key=lambda n: -ORDER.index(n) if n in ORDER else -len(ORDER)):
        stop(pids[name])


def spawn(
    name: str, args: list[str], directory: Path, python: bool = False, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    # Never the user's own cluster settings: the data plane's traefik would follow their KUBECONFIG.
    env = local_env(env)
    if python:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        args = [sys.executable, *args]
    with (directory / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=directory,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, proc: subprocess.Popen[bytes] | None, log: Path
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise SandboxError(f"{what}: exited with code {proc.returncode}; see {log}\n{tail}")
        with contextlib.suppress(OSError, ValueError, urllib.error.URLError):
            result = check()
            if result:
                return result
        time.sleep(0.1)
    raise SandboxError(f"{what}: not ready within {timeout:.0f} s; see {log}")


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


# --- the API, before any client library is involved ----------------------------------------------


class Api:
    """Just enough of an HTTPS client to bring the cluster up (token auth, sandbox CA)."""

    def __init__(self, url: str, token: str, ca_file: Path) -> None:
        self.url = url
        self.token = token
        self.context = ssl.create_default_context(cafile=str(ca_file))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw.startswith(b"{") else raw.decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")


def kubeconfig(server: str, ca_pem: bytes, user: dict[str, str]) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sandbox",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": "sandbox", "user": user}],
        "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox"}}],
        "current-context": "sandbox",
        "preferences": {},
    }
    text: str = yaml.safe_dump(config, sort_keys=False)
    return text


def node_object(version: str) -> dict[str, Any]:
    """The one node: no taint, so chart pods schedule without tolerations; kwok keeps it Ready."""
    resources = {"cpu": "32", "memory": "256Gi", "pods": "250", "ephemeral-storage": "500Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {
                "kubernetes.io/hostname": NODE_NAME,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
            "annotations": {"kwok.x-k8s.io/node": "fake"},
        },
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "nodeInfo": {
                "kubeletVersion": version,
                "architecture": "amd64",
                "operatingSystem": "linux",
                "containerRuntimeVersion": "kwok",
            },
        },
    }


def _node_ready(api: Api) -> bool:
    status, body = api.call("GET", f"/api/v1/nodes/{NODE_NAME}")
    if status != 200 or not isinstance(body, dict):
        return False
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


# --- up ------------------------------------------------------------------------------------------


def start(directory: Path, token: str, port: int, faults: list[str], pids: dict[str, int]) -> dict[str, Any]:
    """Start the control plane; fills `pids` as it goes (the caller stops them on failure)."""
    certs = pki.ensure(directory)
    timeout = float(os.environ.get("SANDBOX_START_TIMEOUT", "90"))
    binaries = {name: str(engines.binary(name)) for name in engines.BINARIES}
    ports = {
        "etcd": free_port(),
        "etcd_peer": free_port(),
        "apiserver": free_port(),
        "api": port or free_port(),
    }

    # etcd: a fresh data directory every time; the cluster lives as long as the sandbox.
    data = directory / "etcd"
    shutil.rmtree(data, ignore_errors=True)
    client_url = f"http://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd_peer']}"
    etcd = spawn(
        "etcd",
        [
            binaries["etcd"],
            f"--name={NODE_NAME}",
            f"--data-dir={data}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster={NODE_NAME}={peer_url}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
        directory,
    )
    pids["etcd"] = etcd.pid

    def etcd_healthy() -> bool:
        with urllib.request.urlopen(client_url + "/health", timeout=2) as resp:
            return bool(json.loads(resp.read()).get("health") == "true")

    wait_until(etcd_healthy, timeout, "etcd", etcd, directory / "etcd.log")

    # kube-apiserver: the user's token and the data plane's (tokens.csv), and the components' client
    # certificates. The data plane (traefik, the load balancer, the cert-manager stand-in) has a user
    # of its own, as a cluster's controllers have their service accounts, so that the audit log
    # tells what a playbook wrote from what those controllers wrote meanwhile.
    dataplane_token = secrets.token_urlsafe(32)
    write_private(directory / DATAPLANE_TOKEN, dataplane_token)
    write_private(
        directory / "tokens.csv",
        f'{token},sandbox,sandbox,"system:masters"\n'
        f'{dataplane_token},{DATAPLANE_USER},{DATAPLANE_USER},"system:masters"\n',
    )
    (directory / "audit-policy.yaml").write_text(POLICY)
    audit_log = directory / "audit.jsonl"
    audit_log.unlink(missing_ok=True)
    apiserver_url = f"https://127.0.0.1:{ports['apiserver']}"
    apiserver = spawn(
        "apiserver",
        [
            binaries["kube-apiserver"],
            f"--etcd-servers={client_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={ports['apiserver']}",
            f"--tls-cert-file={certs.server_cert}",
            f"--tls-private-key-file={certs.server_key}",
            f"--client-ca-file={certs.ca_cert}",
            f"--token-auth-file={directory / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--anonymous-auth=false",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={certs.sa_pub}",
            f"--service-account-signing-key-file={certs.sa_key}",
            f"--service-cluster-ip-range={pki.SERVICE_RANGE}",
            # Loopback is no valid endpoint for the `kubernetes` Service: leave its endpoints alone.
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            f"--audit-policy-file={directory / 'audit-policy.yaml'}",
            f"--audit-log-path={audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--audit-log-maxbackup=0",
            "--profiling=false",
            f"--cert-dir={directory / 'pki'}",
        ],
        directory,
    )
    pids["apiserver"] = apiserver.pid
    direct = Api(apiserver_url, token, certs.ca_cert)
    wait_until(
        lambda: direct.call("GET", "/readyz")[0] == 200,
        timeout,
        "kube-apiserver",
        apiserver,
        directory / "apiserver.log",
    )
    version = direct.call("GET", "/version")[1]
    git_version = str(version.get("gitVersion", "")) if isinstance(version, dict) else ""

    # The fault proxy: what clients of the kubeconfig talk to (docs/sandbox.md, faults).
    ready = directory / "faultproxy.json"
    ready.unlink(missing_ok=True)
    proxy_args = [
        "-m",
        "sandbox.faultproxy",
        "--upstream",
        apiserver_url,
        "--ca-file",
        str(certs.ca_cert),
        "--cert",
        str(certs.server_cert),
        "--key",
        str(certs.server_key),
        "--token-file",
        str(directory / "token"),
        "--log",
        str(directory / "faults.jsonl"),
        "--ready-file",
        str(ready),
        "--port",
        str(ports["api"]),
    ]
    for spec in faults:
        proxy_args += ["--fault", spec]
    proxy = spawn("faultproxy", proxy_args, directory, python=True)
    pids["faultproxy"] = proxy.pid
    proxy_info = wait_until(
        lambda: json.loads(ready.read_text()), timeout, "the fault proxy", proxy, directory / "faultproxy.log"
    )
    ports["api"] = int(proxy_info["port"])
    api_url = f"https://127.0.0.1:{ports['api']}"

    # One kubeconfig per component (client certificate, straight to kube-apiserver).
    ca_pem = certs.ca_cert.read_bytes()
    configs: dict[str, Path] = {}
    for name in pki.CLIENTS:
        cert, key = certs.client(name)
        path = directory / "pki" / f"{name}.kubeconfig"
        write_private(
            path,
            kubeconfig(apiserver_url, ca_pem, {"client-certificate": str(cert), "client-key": str(key)}),
        )
        configs[name] = path
    write_private(directory / "kubeconfig", kubeconfig(api_url, ca_pem, {"token": token}))

    status, body = direct.call("POST", "/api/v1/nodes", node_object(git_version))
    if status not in (201, 409):
        raise SandboxError(f"creating node {NODE_NAME} failed: {status} {body}")

    controllers: dict[str, list[str]] = {
        "controller-manager": [
            binaries["kube-controller-manager"],
            f"--kubeconfig={configs['controller-manager']}",
            "--leader-elect=false",
            "--secure-port=0",
            "--controllers=*",
            f"--service-account-private-key-file={certs.sa_key}",
            f"--root-ca-file={certs.ca_cert}",
            "--cluster-name=sandbox",
        ],
        "scheduler": [
            binaries["kube-scheduler"],
            f"--kubeconfig={configs['scheduler']}",
            "--leader-elect=false",
            "--secure-port=0",
        ],
        "kwok": [
            binaries["kwok"],
            f"--kubeconfig={configs['kwok']}",
            "--manage-all-nodes=true",
            f"--cidr={POD_CIDR}",
            "--node-ip=127.0.0.1",
            "--node-lease-duration-seconds=40",
        ],
    }
    procs = {}
    for name, args in controllers.items():
        procs[name] = spawn(name, args, directory)
        pids[name] = procs[name].pid

    def settled() -> bool:
        for name, proc in procs.items():
            if proc.poll() is not None:
                tail = (directory / f"{name}.log").read_text(errors="replace")[-2000:]
                raise SandboxError(f"{name}: exited with code {proc.returncode}\n{tail}")
        sa = direct.call("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0]
        return sa == 200 and _node_ready(direct)

    wait_until(settled, timeout, "node Ready and the default ServiceAccount", None, directory / "kwok.log")
    return {
        "api_url": api_url,
        "api_port": ports["api"],
        "apiserver_url": apiserver_url,
        "pid": pids["apiserver"],
        "ports": ports,
        "k8s_version": git_version,
        "kubeconfigs": {name: str(path) for name, path in configs.items()},
        "engines_bin": str(engines.bin_dir()),
        "audit_log": str(audit_log),
        "fault_log": str(directory / "faults.jsonl"),
    }
