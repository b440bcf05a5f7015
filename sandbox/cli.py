"""`python -m sandbox up|down|status|run|fault` — and `serve`, the API server process itself."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import json
import logging
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class SandboxError(Exception):
    pass


# --- process helpers ---------------------------------------------------------------------------


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


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return env


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_env(),
            cwd=_PACKAGE_ROOT,
        )


def _wait_for_file(path: Path, proc: subprocess.Popen[bytes], what: str, log_path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if path.exists():
            try:
                data: dict[str, Any] = json.loads(path.read_text())
                return data
            except ValueError:
                pass  # being written
        if proc.poll() is not None:
            raise SandboxError(
                f"{what} exited with code {proc.returncode} before it was ready; see {log_path}"
            )
        time.sleep(0.05)
    raise SandboxError(
        f"{what} did not become ready within {READY_TIMEOUT:.0f} s (no {path.name}); see {log_path}"
    )


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


# --- state -------------------------------------------------------------------------------------

_STATE_FILES = ("state.json", "server.json", "dataplane.json", "kubeconfig", "token")


def read_state(directory: Path) -> dict[str, Any] | None:
    path = directory / "state.json"
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except ValueError:
        return {}


def _dataplane_pid(state: dict[str, Any]) -> int | None:
    dp = state.get("dataplane") or {}
    pid = dp.get("pid") if isinstance(dp, dict) else None
    return int(pid) if pid else None


def _clean(directory: Path, state: dict[str, Any] | None) -> None:
    if state:
        stop(_dataplane_pid(state))
        stop(state.get("pid"))
    dp_file = directory / "dataplane.json"
    if dp_file.exists():
        with contextlib.suppress(ValueError, OSError):
            stop(json.loads(dp_file.read_text()).get("pid"))
    for name in _STATE_FILES:
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()


def kubeconfig(url: str, ca_pem: bytes, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sandbox",
                "cluster": {"server": url, "certificate-authority-data": base64.b64encode(ca_pem).decode()},
            }
        ],
        "users": [{"name": "sandbox", "user": {"token": token}}],
        "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox"}}],
        "current-context": "sandbox",
        "preferences": {},
    }


# --- commands ----------------------------------------------------------------------------------


def up(
    directory: Path,
    port: int = 0,
    k8s_version: str = "1.33",
    traefik_values: Path | None = None,
    dataplane: bool = True,
    faults: list[str] | None = None,
) -> dict[str, Any]:
    from sandbox import pki

    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    state = read_state(directory)
    if state is not None:
        if alive(state.get("pid")):
            raise SandboxError(
                f"a sandbox is already running in {directory} (pid {state.get('pid')}); "
                f"run `python -m sandbox down --dir {directory}` first"
            )
        _clean(directory, state)  # stale: its process is gone
    else:
        _clean(directory, None)
    token = secrets.token_urlsafe(32)
    _write_private(directory / "token", token)
    certs = pki.ensure(directory)
    log_path = directory / "apiserver.log"
    args = [
        "-m",
        "sandbox",
        "serve",
        "--dir",
        str(directory),
        "--port",
        str(port),
        "--k8s-version",
        k8s_version,
    ]
    for spec in faults or []:
        args += ["--fault", spec]
    proc = _spawn(args, log_path)
    try:
        ready = _wait_for_file(directory / "server.json", proc, "the sandbox API server", log_path)
    except SandboxError:
        stop(proc.pid)
        raise
    api_port = int(ready["port"])
    url = f"https://127.0.0.1:{api_port}"
    config = kubeconfig(url, certs.ca_cert.read_bytes(), token)
    _write_private(directory / "kubeconfig", yaml.safe_dump(config, sort_keys=False))
    state = {
        "api_url": url,
        "api_port": api_port,
        "pid": proc.pid,
        "ports": {"api": api_port},
        "dir": str(directory),
        "k8s_version": ready.get("k8s_version", k8s_version),
        "kubeconfig": str(directory / "kubeconfig"),
        "ca_cert": str(certs.ca_cert),
        "audit_log": str(directory / "audit.jsonl"),
        "log": str(log_path),
    }
    _write_json(directory / "state.json", state)
    if dataplane and importlib.util.find_spec("sandbox.dataplane") is not None:
        state["dataplane"] = _start_dataplane(directory, traefik_values, state)
        dp = state["dataplane"]
        for key, value in (dp.get("ports") or {}).items():
            state["ports"][f"dataplane_{key}"] = value
        traefik = dp.get("traefik") if isinstance(dp.get("traefik"), dict) else {}
        for key, value in (traefik.get("entrypoints") or {}).items():
            state["ports"][f"traefik_{key}"] = value
        _write_json(directory / "state.json", state)
    return state


def _start_dataplane(directory: Path, traefik_values: Path | None, state: dict[str, Any]) -> dict[str, Any]:
    log_path = directory / "dataplane.log"
    args = ["-m", "sandbox.dataplane", "--dir", str(directory)]
    if traefik_values is not None:
        args += ["--traefik-values", str(traefik_values.resolve())]
    proc = _spawn(args, log_path)
    try:
        info = _wait_for_file(directory / "dataplane.json", proc, "the sandbox data plane", log_path)
    except SandboxError:
        stop(proc.pid)
        stop(state["pid"])
        _clean(directory, None)
        raise
    info.setdefault("pid", proc.pid)
    return info


def down(directory: Path) -> bool:
    """Stop the sandbox in `directory`; False if none was running."""
    directory = directory.resolve()
    state = read_state(directory)
    was_running = bool(state) and alive((state or {}).get("pid"))
    _clean(directory, state)
    return was_running


def status(directory: Path) -> dict[str, Any]:
    directory = directory.resolve()
    state = read_state(directory)
    if state is None:
        return {"dir": str(directory), "running": False}
    api_alive = alive(state.get("pid"))
    dp_pid = _dataplane_pid(state)
    if not api_alive:
        _clean(directory, state)
        return {"dir": str(directory), "running": False, "stale_cleaned": True}
    report = dict(state)
    report["running"] = True
    report["api"] = {"pid": state.get("pid"), "running": True, "url": state.get("api_url")}
    if "dataplane" in state:
        report["dataplane_running"] = alive(dp_pid)
    return report


def _admin(directory: Path, method: str, query: str = "", body: dict[str, Any] | None = None) -> Any:
    state = read_state(directory.resolve())
    if not state or not alive(state.get("pid")):
        raise SandboxError(f"no sandbox is running in {directory}")
    token = (directory / "token").read_text().strip()
    ctx = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    req = urllib.request.Request(
        f"{state['api_url']}/sandbox/faults{query}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise SandboxError(f"fault request refused: {exc.read().decode(errors='replace')}") from exc


# --- the server process -----------------------------------------------------------------------


async def _serve(directory: Path, port: int, k8s_version: str, fault_specs: list[str]) -> None:
    from aiohttp import web

    from sandbox import faults as faultmod
    from sandbox import pki
    from sandbox.audit import AuditLog
    from sandbox.handlers import Api
    from sandbox.server import ADDRESS_KEY, make_app, ssl_context

    certs = pki.ensure(directory)
    token = (directory / "token").read_text().strip()
    api = Api(k8s_version)
    fault_set = faultmod.Faults()
    for spec in fault_specs:
        fault_set.add(faultmod.parse(spec))
    audit = AuditLog(directory / "audit.jsonl")
    app = make_app(api, token, audit, fault_set)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(
        runner, "127.0.0.1", port, ssl_context=ssl_context(certs.server_cert, certs.server_key)
    )
    await site.start()
    server = site._server  # aiohttp exposes the bound port only here
    assert server is not None
    bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    app[ADDRESS_KEY][0] = f"127.0.0.1:{bound}"
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    _write_json(
        directory / "server.json", {"port": bound, "pid": os.getpid(), "k8s_version": api.schemas.minor}
    )
    await stopping.wait()
    await runner.cleanup()
    audit.close()


# --- argument parsing -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox", description="The binder.ingress sandbox cluster.")
    sub = p.add_subparsers(dest="command", required=True)

    def with_up_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--dir", required=True, type=Path, help="state directory (kubeconfig, CA, logs)")
        sp.add_argument("--port", type=int, default=0, help="API port (0: any free port)")
        sp.add_argument("--k8s-version", default="1.33", help="Kubernetes minor whose schemas are enforced")
        sp.add_argument("--traefik-values", type=Path, help="traefik chart values for the data plane")
        sp.add_argument("--no-dataplane", action="store_true", help="start the API server only")
        sp.add_argument("--fault", action="append", default=[], help="fault spec (see docs/sandbox.md)")

    with_up_options(sub.add_parser("up", help="start the sandbox in the background"))
    for name in ("down", "status"):
        sp = sub.add_parser(name)
        sp.add_argument("--dir", required=True, type=Path)
    run = sub.add_parser("run", help="up, run a command with KUBECONFIG set, down")
    with_up_options(run)
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    fault = sub.add_parser("fault", help="add, list or clear faults of a running sandbox")
    fault.add_argument("--dir", required=True, type=Path)
    fault.add_argument("action", choices=("add", "list", "clear"))
    fault.add_argument("spec", nargs="?", help="fault spec for `add`")
    fault.add_argument("--name", help="for `clear`: only this fault")
    serve = sub.add_parser("serve", help=argparse.SUPPRESS)
    serve.add_argument("--dir", required=True, type=Path)
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--k8s-version", default="1.33")
    serve.add_argument("--fault", action="append", default=[])
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _main(args)
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1


def _main(args: argparse.Namespace) -> int:
    if args.command == "serve":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        asyncio.run(_serve(args.dir.resolve(), args.port, args.k8s_version, args.fault))
        return 0
    if args.command == "up":
        state = up(
            args.dir, args.port, args.k8s_version, args.traefik_values, not args.no_dataplane, args.fault
        )
        print(json.dumps(state, indent=2, sort_keys=True))
        return 0
    if args.command == "down":
        print("stopped" if down(args.dir) else "not running")
        return 0
    if args.command == "status":
        report = status(args.dir)
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0 if report.get("running") else 3
    if args.command == "run":
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            raise SandboxError("run needs a command after --")
        state = up(
            args.dir, args.port, args.k8s_version, args.traefik_values, not args.no_dataplane, args.fault
        )
        try:
            env = dict(os.environ, KUBECONFIG=state["kubeconfig"], SANDBOX_DIR=state["dir"])
            return subprocess.call(cmd, env=env)
        finally:
            down(args.dir)
    if args.command == "fault":
        if args.action == "add":
            if not args.spec:
                raise SandboxError("fault add needs a spec, e.g. action=error,code=500,path=/services")
            result = _admin(args.dir, "POST", body={"spec": args.spec})
        elif args.action == "list":
            result = _admin(args.dir, "GET")
        else:
            result = _admin(args.dir, "DELETE", f"?name={args.name}" if args.name else "")
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    return 2
