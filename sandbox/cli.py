"""`python -m sandbox up|down|status|run|fault|engines` — the local cluster's front door."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sandbox import engines
from sandbox.controlplane import pebble, pki
from sandbox.controlplane.cluster import (
    SandboxError,
    alive,
    spawn,
    start,
    stop,
    stop_all,
    wait_until,
    write_json,
    write_private,
)
from sandbox.environ import local_env

READY_TIMEOUT = 30.0

# --- state -------------------------------------------------------------------------------------

# Removed by down (and before up): the state, and every file that holds the API token or a private
# key (traefik's static configuration carries the token it reads the API with). The PKI goes too.
_STATE_FILES = (
    "state.json",
    "dataplane.json",
    "faultproxy.json",
    "kubeconfig",
    "token",
    "dataplane-token",
    "tokens.csv",
    "traefik-static.yaml",
    "traefik-dynamic.yaml",
    "pebble-config.json",
    "acme-roots.pem",
    "acme-intermediate.pem",
    "trust.pem",
)


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
        stop_all({k: int(v) for k, v in (state.get("pids") or {}).items()})
        stop(state.get("pid"))
    dp_file = directory / "dataplane.json"
    if dp_file.exists():
        with contextlib.suppress(ValueError, OSError):
            stop(json.loads(dp_file.read_text()).get("pid"))
    for name in _STATE_FILES:
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    shutil.rmtree(directory / "etcd", ignore_errors=True)
    pki.remove(directory)


# --- commands ----------------------------------------------------------------------------------


def up(
    directory: Path,
    port: int = 0,
    dataplane: bool = True,
    faults: list[str] | None = None,
) -> dict[str, Any]:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    state = read_state(directory)
    if state is not None:
        if alive(state.get("pid")):
            raise SandboxError(
                f"a sandbox is already running in {directory} (pid {state.get('pid')}); "
                f"run `python -m sandbox down --dir {directory}` first"
            )
        _clean(directory, state)  # stale: its API server is gone
    else:
        _clean(directory, None)
    token = secrets.token_urlsafe(32)
    write_private(directory / "token", token)
    pids: dict[str, int] = {}
    try:
        started = start(directory, token, port, faults or [], pids)
        state = {
            **started,
            "pids": pids,
            "dir": str(directory),
            "kubeconfig": str(directory / "kubeconfig"),
            "ca_cert": str(directory / "ca.crt"),
            "log": str(directory / "apiserver.log"),
        }
        write_json(directory / "state.json", state)
        if dataplane and importlib.util.find_spec("sandbox.dataplane") is not None:
            state["dataplane"] = _start_dataplane(directory)
            dp = state["dataplane"]
            pids["dataplane"] = int(dp["pid"])
            for key, value in (dp.get("ports") or {}).items():
                state["ports"][f"dataplane_{key}"] = value
            traefik = dp.get("traefik") if isinstance(dp.get("traefik"), dict) else {}
            for key, value in (traefik.get("entrypoints") or {}).items():
                state["ports"][f"traefik_{key}"] = value
            write_json(directory / "state.json", state)
            # The local ACME server validates http01 through traefik's web entrypoint, so it
            # starts once the data plane has reserved that port.
            state["acme"] = pebble.start(directory, int(traefik["web"]), pids)
            write_json(directory / "state.json", state)
    except BaseException:
        # Ctrl-C or a failed start: nothing is left running.
        stop_all(pids)
        _clean(directory, None)
        raise
    return state


def _start_dataplane(directory: Path) -> dict[str, Any]:
    args = ["-m", "sandbox.dataplane", "--dir", str(directory)]
    ready = directory / "dataplane.json"
    ready.unlink(missing_ok=True)
    proc = spawn("dataplane", args, directory, python=True)
    try:
        info: dict[str, Any] = wait_until(
            lambda: json.loads(ready.read_text()),
            READY_TIMEOUT,
            "the sandbox data plane",
            proc,
            directory / "dataplane.log",
        )
    except BaseException:
        stop(proc.pid)
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
    report["processes"] = {name: alive(int(pid)) for name, pid in (state.get("pids") or {}).items()}
    if "dataplane" in state:
        report["dataplane_running"] = alive(dp_pid)
    if "acme" in state:
        report["acme_running"] = all(
            alive(int((state.get("pids") or {}).get(n) or 0)) for n in ("pebble", "challtestsrv")
        )
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


# --- argument parsing -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox", description="The binder.ingress sandbox cluster.")
    sub = p.add_subparsers(dest="command", required=True)

    def with_up_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--dir", required=True, type=Path, help="state directory (kubeconfig, CA, logs)")
        sp.add_argument("--port", type=int, default=0, help="API port of the kubeconfig (0: any free port)")
        sp.add_argument("--no-dataplane", action="store_true", help="start the control plane only")
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
    build = sub.add_parser("engines", help="build the engines into their cache (make engines)")
    build.add_argument("names", nargs="*", help="default: all")
    build.add_argument("--print-bin-dir", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _main(args)
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1


def _main(args: argparse.Namespace) -> int:
    if args.command == "engines":
        return engines.main([*args.names, *(["--print-bin-dir"] if args.print_bin_dir else [])])
    if args.command == "up":
        state = up(args.dir, args.port, not args.no_dataplane, args.fault)
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
        state = up(args.dir, args.port, not args.no_dataplane, args.fault)
        try:
            path = os.pathsep.join([state["engines_bin"], os.environ.get("PATH", "")])
            env = local_env({"KUBECONFIG": state["kubeconfig"], "SANDBOX_DIR": state["dir"], "PATH": path})
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
