"""Wall time of site.yml on inventories/local, and what a no-op run asks of the API.

    .venv/bin/python bench/converge_bench.py [--runs N] [--json FILE]

Starts its own sandbox (API server only: the Helm releases are skipped, as in the sandbox
scenario), prepares it as a member's cluster (molecule/resources/sandbox_prepare.yml), then
times the first converge and N no-op converges, and counts the API requests of each no-op run
from the sandbox's audit log: reads (GET), writes (POST/PUT/PATCH/DELETE that change stored
state) and dry-run writes (validated by the server, nothing stored). The figures are printed,
never asserted: speed is measured here, not enforced by tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def playbook(sandbox: Path, path: Path, extra: dict[str, Any]) -> float:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        KUBECONFIG=str(sandbox / "kubeconfig"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    cmd = [str(BIN / "ansible-playbook"), str(path), "-i", str(REPO / "inventories" / "local")]
    cmd += ["--extra-vars", json.dumps(extra)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{path.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def requests_since(audit: Path, offset: int) -> dict[str, int]:
    with audit.open("rb") as fh:
        fh.seek(offset)
        entries = [json.loads(line) for line in fh.read().splitlines() if line.strip()]
    return {
        "reads": sum(e["method"] == "GET" for e in entries),
        "writes": sum(e["method"] in WRITES and not e["dryRun"] for e in entries),
        "dry_run_writes": sum(e["method"] in WRITES and e["dryRun"] for e in entries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="no-op converges to time (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="converge-bench-") as tmp:
        sandbox = Path(tmp)
        cli = [sys.executable, "-m", "sandbox"]
        subprocess.run(
            [*cli, "up", "--dir", tmp, "--no-dataplane"], cwd=REPO, check=True, capture_output=True
        )
        try:
            playbook(sandbox, REPO / "molecule" / "resources" / "sandbox_prepare.yml", {})
            extra = {"binder_helm_enabled": False}
            first = playbook(sandbox, REPO / "site.yml", extra)
            noop_times = []
            noop_requests = []
            for _ in range(args.runs):
                offset = (sandbox / "audit.jsonl").stat().st_size
                noop_times.append(playbook(sandbox, REPO / "site.yml", extra))
                noop_requests.append(requests_since(sandbox / "audit.jsonl", offset))
        finally:
            subprocess.run([*cli, "down", "--dir", tmp], cwd=REPO, check=False, capture_output=True)

    figures = {
        "inventory": "inventories/local (1 member, Helm skipped)",
        "first_converge_s": round(first, 2),
        "noop_converge_s": {
            "best": round(min(noop_times), 2),
            "median": round(statistics.median(noop_times), 2),
            "runs": len(noop_times),
        },
        "noop_api_requests": noop_requests[-1],
        "noop_api_requests_identical_across_runs": all(r == noop_requests[0] for r in noop_requests),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
