"""site.yml on inventories/local against the real local cluster: time, API requests, memory.

    .venv/bin/python -m bench.converge_bench [--runs N] [--json FILE]

Starts its own local cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok and the
data plane with real traefik), prepares it as a member's cluster
(molecule/resources/sandbox_prepare.yml), then measures:

- the empty-play floor: ansible-playbook of a play with no task on the same inventory;
- the first converge (Helm installs the fixture charts of tests/charts) and N no-op converges;
- the API requests of each no-op run, from kube-apiserver's audit log (the kubeconfig's user
  only; the controllers write all the time): reads, writes (stored) and dry-run writes;
- the per-object reference: `kubectl apply --server-side` of the same objects (rendered by
  playbooks/render.yml), already in place, and the writes it sends;
- the peak memory of the local cluster (RSS of every process it started, traefik included),
  sampled every 0.2 s throughout.

Figures are printed, never asserted: speed is measured here, not enforced by tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import procs
from sandbox import audit

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

EMPTY_PLAY = """\
- name: Nothing, to time ansible-playbook itself
  hosts: binder_members
  gather_facts: false
  tasks: []
"""


def _env(sandbox: Path) -> dict[str, str]:
    state = json.loads((sandbox / "state.json").read_text())
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        KUBECONFIG=str(sandbox / "kubeconfig"),
        PATH=os.pathsep.join([str(BIN), state["engines_bin"], env.get("PATH", "")]),
    )
    return env


def run(sandbox: Path, cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=_env(sandbox), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def playbook(sandbox: Path, path: Path) -> float:
    return run(sandbox, [str(BIN / "ansible-playbook"), str(path), "-i", str(REPO / "inventories" / "local")])


def requests_since(log: Path, offset: int) -> dict[str, int]:
    entries = audit.read(log, offset, user="sandbox")
    return {
        "reads": sum(e["method"] == "GET" for e in entries),
        "writes": sum(audit.is_write(e) for e in entries),
        "dry_run_writes": sum(e["method"] in audit.WRITE_METHODS and e["dryRun"] for e in entries),
    }


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _group_pids(groups: set[int]) -> list[int]:
    """Every process in the cluster's process groups (traefik runs in the data plane's)."""
    return [pid for pid, _ppid, pgid in procs.stats() if pgid in groups]


class PeakMemory(threading.Thread):
    def __init__(self, sandbox: Path) -> None:
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.peak_kb = 0
        self.per_process: dict[str, int] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            state = json.loads((self.sandbox / "state.json").read_text())
            names = {int(pid): name for name, pid in (state.get("pids") or {}).items()}
            total = 0
            for pid in _group_pids(set(names)):
                rss = _rss_kb(pid)
                total += rss
                name = names.get(pid) or Path(f"/proc/{pid}/comm").read_text().strip()
                self.per_process[name] = max(self.per_process.get(name, 0), rss)
            self.peak_kb = max(self.peak_kb, total)

    def stop(self) -> None:
        self._done.set()
        self.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="no-op converges to time (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="converge-bench-") as tmp:
        sandbox = Path(tmp) / "cluster"
        cli = [sys.executable, "-m", "sandbox"]
        started = time.perf_counter()
        subprocess.run([*cli, "up", "--dir", str(sandbox)], cwd=REPO, check=True, capture_output=True)
        up_s = time.perf_counter() - started
        memory = PeakMemory(sandbox)
        memory.start()
        log = sandbox / "audit.jsonl"
        try:
            empty = Path(tmp) / "empty.yml"
            empty.write_text(EMPTY_PLAY)
            floors = [playbook(sandbox, empty) for _ in range(3)]
            playbook(sandbox, REPO / "molecule" / "resources" / "sandbox_prepare.yml")
            first = playbook(sandbox, REPO / "site.yml")
            noop_times = []
            noop_requests = []
            for _ in range(args.runs):
                offset = audit.size(log)
                noop_times.append(playbook(sandbox, REPO / "site.yml"))
                noop_requests.append(requests_since(log, offset))

            rendered = Path(tmp) / "render"
            run(
                sandbox,
                [
                    str(BIN / "ansible-playbook"),
                    "playbooks/render.yml",
                    "-i",
                    "inventories/local",
                    "-e",
                    f"render_dir={rendered}",
                ],
            )
            objects = sorted(p for p in rendered.rglob("*.yaml") if not p.name.endswith("-values.yaml"))
            kubectl = [str(BIN / "kubectl"), "apply", "--server-side", "--force-conflicts"]
            kubectl += ["--field-manager=binder.ingress"]
            for path in objects:
                kubectl += ["-f", str(path)]
            offset = audit.size(log)
            kubectl_s = [run(sandbox, kubectl) for _ in range(3)]
            kubectl_requests = requests_since(log, offset)
            kubectl_requests = {k: v // 3 for k, v in kubectl_requests.items()}
        finally:
            memory.stop()
            subprocess.run([*cli, "down", "--dir", str(sandbox)], cwd=REPO, check=False, capture_output=True)

    floor = min(floors)
    figures: dict[str, Any] = {
        "inventory": "inventories/local (1 member; fixture charts through real helm)",
        "cluster_up_s": round(up_s, 2),
        "empty_play_floor_s": round(floor, 2),
        "first_converge_s": round(first, 2),
        "noop_converge_s": {
            "best": round(min(noop_times), 2),
            "median": round(statistics.median(noop_times), 2),
            "runs": len(noop_times),
            "over_floor_best": round(min(noop_times) - floor, 2),
        },
        "noop_api_requests": noop_requests[-1],
        "noop_api_requests_identical_across_runs": all(r == noop_requests[0] for r in noop_requests),
        "kubectl_apply_server_side": {
            "objects": len(objects),
            "best_s": round(min(kubectl_s), 2),
            "api_requests_per_run": kubectl_requests,
        },
        "peak_memory_mb": round(memory.peak_kb / 1024, 1),
        "peak_memory_mb_per_process": {k: round(v / 1024, 1) for k, v in sorted(memory.per_process.items())},
        "load_average": os.getloadavg(),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
