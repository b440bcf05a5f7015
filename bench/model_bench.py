"""Benchmark the model: build and validate one generated member with 1,000 hosts.

Run from the repository root: `.venv/bin/python bench/model_bench.py [--runs N] [--hosts N]`.
Prints the best and median wall time of `build_member` (build + validate) and of
`as_dict` (adds the summary), and the peak memory of one build. The model is
imported from this working tree, not from an installed collection.
"""

from __future__ import annotations

import argparse
import gc
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

# Share of the hosts per component; the rest goes to generic components.
SHARES = {
    "jupyterhub": 0.10,
    "binderhub": 0.10,
    "federation-redirect": 0.05,
    "harbor": 0.05,
    "static": 0.05,
    "prometheus": 0.05,
    "grafana": 0.05,
    "gcs-proxy": 0.15,
    "redirector": 0.15,
}
GENERIC_COMPONENTS = 10


def member(total: int) -> dict[str, Any]:
    """A valid catalogue with `total` hosts across every component type, generic ones included."""
    counter = iter(range(total))

    def hosts(n: int, kind: str) -> list[str]:
        return [f"{kind}-{next(counter)}.member.example.org" for _ in range(n)]

    counts = {name: int(total * share) for name, share in SHARES.items()}
    catalogue: dict[str, Any] = {}
    for name in (
        "jupyterhub",
        "binderhub",
        "federation-redirect",
        "harbor",
        "static",
        "prometheus",
        "grafana",
    ):
        catalogue[name] = {"hosts": hosts(counts[name], name)}
    catalogue["gcs-proxy"] = {
        "buckets": [
            {"name": f"bucket-{i}", "host": h} for i, h in enumerate(hosts(counts["gcs-proxy"], "archive"))
        ]
    }
    catalogue["redirector"] = {
        "redirects": [
            {
                "type": "host" if i % 2 else "url",
                "from": h,
                "to": f"target-{i}.example.net" + ("" if i % 2 else "/page"),
            }
            for i, h in enumerate(hosts(counts["redirector"], "old"))
        ]
    }
    rest = total - sum(counts.values())
    for g in range(GENERIC_COMPONENTS):
        n = rest // GENERIC_COMPONENTS + (1 if g < rest % GENERIC_COMPONENTS else 0)
        catalogue[f"app-{g}"] = {
            "hosts": hosts(n, f"app{g}"),
            "service": {"name": f"app-{g}", "port": 8080},
            "paths": [{"path": "/"}, {"path": "/api/", "service": {"name": f"app-{g}-api", "port": "http"}}],
        }
    return catalogue


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


if __name__ == "__main__":
    main()
