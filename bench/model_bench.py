"""Benchmark the model: build and validate one generated member with 1,000 hosts.

Run from the repository root: `.venv/bin/python -m bench.model_bench [--runs N] [--hosts N] [--json FILE]`.
The member is bench/members.py's generated catalogue (the one the scale benchmark converges).
Prints the best and median wall time of `build_member` (build + validate) and of
`as_dict` (adds the summary), and the peak memory of one build. The model is
imported from this working tree, not from an installed collection.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# collections/ansible_collections/binder/ingress is a symlink to this checkout.
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.binder.ingress.plugins.module_utils.model import build_member  # noqa: E402

from bench.members import catalogue as member  # noqa: E402


def timed(func: Any, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    catalogue = member(args.hosts)
    state = build_member("bench", catalogue, namespace="bench")
    hosts = {route.host for route in state.routes}
    if len(hosts) != args.hosts:
        raise SystemExit(f"generated {len(hosts)} hosts, wanted {args.hosts}")

    build = timed(lambda: build_member("bench", catalogue, namespace="bench"), args.runs)
    full = timed(lambda: build_member("bench", catalogue, namespace="bench").as_dict(), args.runs)

    tracemalloc.start()
    build_member("bench", catalogue, namespace="bench").as_dict()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    print(
        f"member: {len(hosts)} hosts, {len(state.routes)} routes, {len(state.ingresses)} Ingresses, "
        f"{len(state.redirect_middlewares)} redirects, {len(catalogue)} components"
    )
    print(f"python {sys.version.split()[0]}, {args.runs} runs each")
    print(
        f"build_member (build + validate): best {min(build) * 1000:.1f} ms, median {statistics.median(build) * 1000:.1f} ms"
    )
    print(
        f"build_member + as_dict (summary): best {min(full) * 1000:.1f} ms, median {statistics.median(full) * 1000:.1f} ms"
    )
    print(
        f"peak memory of one build + as_dict (tracemalloc): {peak / 1024 / 1024:.1f} MiB; process max RSS {maxrss_kib / 1024:.1f} MiB"
    )
    if args.json:
        figures = {
            "hosts": len(hosts),
            "ingresses": len(state.ingresses),
            "redirects": len(state.redirect_middlewares),
            "components": len(catalogue),
            "build_best_ms": round(min(build) * 1000, 1),
            "build_and_summary_best_ms": round(min(full) * 1000, 1),
            "peak_traced_mib": round(peak / 1024 / 1024, 1),
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
