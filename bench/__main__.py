"""`make bench`: run every benchmark of the project, print its figures and write them down.

    .venv/bin/python -m bench [--quick] [--results-dir DIR] [NAME ...]
    NAME: model, render, engines, converge, scale (default: all)

Each benchmark is its own script (runnable alone, see its docstring); this runs them one
after the other and prints what each measured. Then it writes the figures into
bench/results/<date>.md, in a section of their own that the next run of the same day replaces
(notes written by hand around it stay), and the plot of wall time against hosts beside it,
bench/results/<date>.png: a generated image, not committed (.gitignore). `--quick` runs small
sizes and writes into a temporary directory instead. Nothing is asserted: targets are compared
by the reader, in the results and the issue notes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BEGIN = "<!-- make bench: figures below are written by `python -m bench`; the next run replaces them -->"
END = "<!-- make bench: end -->"

TITLES = {
    "model": "model: build + validate a generated member with 1,000 hosts",
    "render": "render: playbooks/render.yml over inventories/prod (wall time)",
    "engines": "engines: make engines with everything cached",
    "converge": "converge: site.yml on inventories/local against the local cluster; kubectl reference; memory",
    "scale": "scale: a generated member of 100 to 1,000 hosts, then 20 members in parallel, on the local cluster",
}


def command(name: str, quick: bool, json_path: Path, plot_path: Path) -> list[str] | None:
    """The benchmark's command line; None for render, which is timed here."""
    if name == "render":
        return None
    cmd = [sys.executable, "-m", f"bench.{name}_bench", "--json", str(json_path)]
    if name == "model" and quick:
        cmd += ["--runs", "3"]
    if name == "converge" and quick:
        cmd += ["--runs", "1"]
    if name == "scale":
        cmd += ["--plot", str(plot_path)] + (["--quick"] if quick else [])
    return cmd


def render_cmd() -> list[str]:
    out = tempfile.mkdtemp(prefix="binder-bench-render-")
    return [
        str(BIN / "ansible-playbook"),
        "playbooks/render.yml",
        "-i",
        "inventories/prod",
        "-e",
        f"render_dir={out}",
    ]


def _flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [
            row for key, item in value.items() for row in _flat(item, f"{prefix}.{key}" if prefix else key)
        ]
    return [(prefix, value)]


def _mark(met: bool) -> str:
    return "met" if met else "**missed**"


def scale_tables(s: dict[str, Any]) -> list[str]:
    rows = s["sizes"]
    lines = [
        "One generated member (bench/members.py), a fresh local cluster per size (`sandbox up --no-dataplane`),",
        "`ansible-playbook site.yml -i <generated inventory>`; Helm installs the fixture charts in the first converge.",
        "Memory: the ansible-playbook process tree (forks, modules, helm), sampled every 0.2 s from /proc;",
        "PSS counts each shared page once, RSS once per process.",
        "",
        "| hosts | Ingresses | namespaced objects | first converge | no-op converge | of which before the first "
        "API request | no-op writes | no-op `changed` "
        "| peak PSS / RSS of the controller tree | largest process | kubectl first | kubectl again |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f, n = r["first"], r["noop"]
        peak_pss = max(f["peak_pss_mb"], n["peak_pss_mb"])
        peak_rss = max(f["peak_rss_mb"], n["peak_rss_mb"])
        largest = max(f["largest_process_mb"], n["largest_process_mb"])
        lines.append(
            f"| {r['hosts']} | {r['ingresses']} | {r['objects']} | {f['seconds']} s | {n['seconds']} s "
            f"| {n.get('until_first_request_s')} s | {n['writes']} "
            f"| {n['changed']} | {peak_pss} / {peak_rss} MB | {largest} MB | {r['kubectl_first']['seconds']} s "
            f"| {r['kubectl_again']['seconds']} s |"
        )
    big = max(rows, key=lambda r: r["hosts"])
    peak = max(big["first"]["peak_pss_mb"], big["noop"]["peak_pss_mb"])
    sl = s["slope_s_per_ingress"]
    ratio = sl["converge_over_kubectl_first"]
    fed = s["federation"]
    lines += [
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        f"| no-op converge of the {big['hosts']}-host member: writes | {big['noop']['writes']} | 0: "
        f"{_mark(big['noop']['writes'] == 0)} |",
        f"| peak memory of the controller, {big['hosts']}-host member (PSS of the tree) | {peak} MB | < 400 MB: "
        f"{_mark(peak < 400)} |",
        f"| marginal cost of one Ingress, first converge / kubectl first apply (least squares over the sizes) "
        f"| {sl['converge_first'] * 1000:.1f} ms / {sl['kubectl_first'] * 1000:.1f} ms = {ratio}x | ≤ 2x: "
        f"{_mark(ratio is not None and ratio <= 2)} |",
        f"| marginal cost of one Ingress, no-op converge / kubectl again | {sl['converge_noop'] * 1000:.1f} ms / "
        f"{sl['kubectl_again'] * 1000:.1f} ms | — |",
        f"| {fed['members']} members of {fed['hosts_per_member']} hosts in parallel (`--forks {fed['forks']}`), "
        f"first converge, against one alone | {fed['many_first']['seconds']} s / {fed['one_first']['seconds']} s = "
        f"{fed['ratio_first']}x | ≤ 12x: {_mark(fed['ratio_first'] <= 12)} |",
        f"| the same, no-op converge ({fed['many_noop']['writes']} writes) | {fed['many_noop']['seconds']} s / "
        f"{fed['one_noop']['seconds']} s = {fed['ratio_noop']}x | ≤ 12x: {_mark(fed['ratio_noop'] <= 12)} |",
        f"| peak memory of the controller, {fed['members']} members in parallel (PSS / RSS of the tree) "
        f"| {fed['many_first']['peak_pss_mb']} / {fed['many_first']['peak_rss_mb']} MB, "
        f"up to {fed['many_first']['processes']} processes | — |",
        f"| the seed member alone (also installs cert-manager, once per cluster) | {fed['seed_first']['seconds']} s | — |",
        "",
        "Federation run: one cluster, each member its own namespace and traefik release; the cluster owns",
        "the ClusterIssuers and the IngressClass (docs/inventory.md): the seed member installs cert-manager",
        "and creates the IngressClass, the measured members run with `cert_manager_helm_enabled: false`",
        "and their traefik chart's IngressClass off.",
    ]
    return lines


def markdown(figures: dict[str, Any], quick: bool, plot: Path | None) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        "",
        f"## make bench{' --quick' if quick else ''}, {now}",
        "",
        f"Commit {commit.stdout.strip() or '?'}{' (with uncommitted changes)' if dirty.strip() else ''}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load average at the end "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}.",
    ]
    if "scale" in figures:
        lines += ["", "### Federation scale", "", *scale_tables(figures["scale"])]
        if plot:
            lines += ["", f"Plot: `{plot.name}` beside this file (written by `make bench`, not committed)."]
    for name, data in figures.items():
        if name == "scale":
            continue
        lines += ["", f"### {TITLES[name]}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in _flat(data)]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write_results(path: Path, section: str) -> None:
    """Put the generated section into the day's results, replacing the previous one."""
    text = path.read_text() if path.exists() else f"# Benchmark results, {path.stem}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section.rstrip("\n") + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(TITLES))
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and few runs, results in a temp dir"
    )
    parser.add_argument(
        "--results-dir", type=Path, help="where <date>.md and <date>.png go (default bench/results)"
    )
    args = parser.parse_args(argv)
    names = args.names or list(TITLES)
    unknown = [n for n in names if n not in TITLES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(TITLES)}")
    results = args.results_dir or (
        Path(tempfile.mkdtemp(prefix="binder-bench-quick-")) if args.quick else ROOT / "bench" / "results"
    )
    stem = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    plot = results / f"{stem}.png"
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    figures: dict[str, Any] = {}
    failed = []
    with tempfile.TemporaryDirectory(prefix="binder-bench-") as tmp:
        for name in names:
            print(f"== {TITLES[name]}", flush=True)
            json_path = Path(tmp) / f"{name}.json"
            cmd = command(name, args.quick, json_path, plot)
            started = time.monotonic()
            done = subprocess.run(
                cmd or render_cmd(),
                cwd=ROOT,
                env=env,
                check=False,
                stdout=None if cmd else subprocess.DEVNULL,
            )
            took = time.monotonic() - started
            print(f"   ({name} took {took:.1f} s wall, exit {done.returncode})\n", flush=True)
            if done.returncode != 0:
                failed.append(name)
            elif cmd is None:
                figures[name] = {"wall_s": round(took, 2)}
            elif json_path.exists():
                figures[name] = json.loads(json_path.read_text())
    if figures:
        results.mkdir(parents=True, exist_ok=True)
        md = results / f"{stem}.md"
        has_plot = "scale" in figures and plot.exists()
        section = markdown(figures, args.quick, plot if has_plot else None)
        write_results(md, section)
        print(section)
        print(f"results: {md}")
        if has_plot:
            print(f"plot: {plot}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
