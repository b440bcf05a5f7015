"""Benchmark of the sandbox API server: GET and server-side-apply throughput, 50 watches, memory.

    python bench/sandbox_bench.py [--objects 10000] [--concurrency 16] [--json]

Starts its own sandbox (API server only) in a temporary directory, measures, stops it.
Figures are printed; nothing is asserted (targets: >= 500 GET/s on 2 cores, < 300 MB peak RSS
with 10,000 stored objects).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent


def _sandbox(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout


def _memory(pid: int) -> dict[str, float]:
    """VmHWM (peak) and VmRSS of the server, in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 1024
    return out


async def _timed(session: aiohttp.ClientSession, n: int, concurrency: int, make: Any) -> tuple[float, int]:
    """Run `n` requests made by make(session, i) with `concurrency` workers; (req/s, failures)."""
    counter = iter(range(n))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for i in counter:
            async with make(session, i) as resp:
                await resp.read()
                if resp.status >= 300:
                    failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - started), failures


async def run(url: str, token: str, cafile: Path, pid: int, objects: int, concurrency: int) -> dict[str, Any]:
    ctx = ssl.create_default_context(cafile=str(cafile))
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(ssl=ctx, limit=concurrency + 60)
    results: dict[str, Any] = {"concurrency": concurrency}
    async with aiohttp.ClientSession(url, headers=headers, connector=connector) as session:
        ns = "bench"
        async with session.post("/api/v1/namespaces", json={"metadata": {"name": ns}}) as resp:
            assert resp.status == 201, await resp.text()
        cm = {"metadata": {"name": "target", "labels": {"app": "bench"}}, "data": {"k": "v" * 100}}
        async with session.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm) as resp:
            assert resp.status == 201, await resp.text()

        # Warm up connections and caches.
        await _timed(
            session, 200, concurrency, lambda s, i: s.get(f"/api/v1/namespaces/{ns}/configmaps/target")
        )
        rate, failed = await _timed(
            session, 5000, concurrency, lambda s, i: s.get(f"/api/v1/namespaces/{ns}/configmaps/target")
        )
        results["get_per_s"] = round(rate, 1)
        results["get_failures"] = failed

        def apply(s: aiohttp.ClientSession, i: int) -> Any:
            body = json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"ssa-{i % 50}", "labels": {"app": "bench"}},
                    "data": {"round": str(i // 50), "payload": "x" * 100},
                }
            )
            return s.patch(
                f"/api/v1/namespaces/{ns}/configmaps/ssa-{i % 50}",
                params={"fieldManager": "bench", "force": "true"},
                data=body,
                headers={"Content-Type": "application/apply-patch+yaml"},
            )

        rate, failed = await _timed(session, 2000, concurrency, apply)
        results["server_side_apply_per_s"] = round(rate, 1)
        results["server_side_apply_failures"] = failed

        # 50 concurrent watches: all held open, each must see every event.
        watchers = 50
        events = 20
        async with session.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": "1"}) as resp:
            rv = (await resp.json())["metadata"]["resourceVersion"]
        streams = [
            await session.get(
                f"/api/v1/namespaces/{ns}/configmaps",
                params={
                    "watch": "true",
                    "resourceVersion": rv,
                    "labelSelector": "watched=yes",
                    "timeoutSeconds": "60",
                },
            )
            for _ in range(watchers)
        ]

        async def consume(resp: aiohttp.ClientResponse) -> float:
            seen = 0
            async for _line in resp.content:
                seen += 1
                if seen == events:
                    break
            return time.perf_counter()

        consumers = [asyncio.create_task(consume(r)) for r in streams]
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        for i in range(events):
            body = {"metadata": {"name": f"w-{i}", "labels": {"watched": "yes"}}}
            async with session.post(f"/api/v1/namespaces/{ns}/configmaps", json=body) as resp:
                assert resp.status == 201
        finished = await asyncio.wait_for(asyncio.gather(*consumers), 60)
        for r in streams:
            r.close()
        results["watches_held"] = watchers
        results["watch_events_delivered"] = watchers * events
        results["watch_all_delivered_ms"] = round((max(finished) - started) * 1000, 1)

        # Memory with `objects` stored objects (ConfigMaps of ~300 bytes, like small manifests).
        def create(s: aiohttp.ClientSession, i: int) -> Any:
            body = {
                "metadata": {"name": f"obj-{i}", "labels": {"app": "bench", "n": str(i % 10)}},
                "data": {"config.yaml": f"key: value-{i}\n" + "# padding\n" * 20},
            }
            return s.post(f"/api/v1/namespaces/{ns}/configmaps", json=body)

        started = time.perf_counter()
        rate, failed = await _timed(session, objects, concurrency, create)
        results["create_per_s"] = round(rate, 1)
        results["create_failures"] = failed
        results["objects_stored"] = objects
        async with session.get(
            f"/api/v1/namespaces/{ns}/configmaps", params={"labelSelector": "n=3"}
        ) as resp:
            listed = await resp.json()
        results["list_selector_items"] = len(listed["items"])
        mem = _memory(pid)
        results["peak_rss_mb"] = round(mem["VmHWM"], 1)
        results["rss_mb"] = round(mem["VmRSS"], 1)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        state = json.loads(_sandbox("up", "--dir", tmp, "--no-dataplane"))
        try:
            token = (Path(tmp) / "token").read_text().strip()
            results = asyncio.run(
                run(
                    state["api_url"],
                    token,
                    Path(tmp) / "ca.crt",
                    state["pid"],
                    args.objects,
                    args.concurrency,
                )
            )
        finally:
            _sandbox("down", "--dir", tmp)
    if args.json:
        print(json.dumps(results, sort_keys=True))
    else:
        for key, value in results.items():
            print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
