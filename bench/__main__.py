"""`make bench`: run every benchmark of the project and print its figures.

    .venv/bin/python -m bench [NAME ...]     # NAME: model, render, engines, converge

Each benchmark is its own script (runnable alone, see its docstring); this runs them one
after the other on an otherwise idle machine and prints what each measured. Nothing is
asserted: targets are compared by the reader, in the issue notes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _render_cmd() -> list[str]:
    out = tempfile.mkdtemp(prefix="binder-bench-render-")
    return [
        str(BIN / "ansible-playbook"),
        "playbooks/render.yml",
        "-i",
        "inventories/prod",
        "-e",
        f"render_dir={out}",
    ]


BENCHES: dict[str, tuple[str, list[str] | None]] = {
    "model": ("model: build + validate a generated member with 1,000 hosts", ["bench/model_bench.py"]),
    "render": ("render: playbooks/render.yml over inventories/prod (wall time)", None),
    "engines": ("engines: make engines with everything cached", ["-m", "bench.engines_bench"]),
    "converge": (
        "converge: site.yml on inventories/local against the local cluster; kubectl reference; memory",
        ["-m", "bench.converge_bench"],
    ),
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHES)}", file=sys.stderr
        )
        return 2
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    failed = []
    for name in names:
        title, script = BENCHES[name]
        print(f"== {title}", flush=True)
        cmd = _render_cmd() if script is None else [sys.executable, *script]
        started = time.monotonic()
        done = subprocess.run(
            cmd, cwd=ROOT, env=env, check=False, stdout=None if script else subprocess.DEVNULL
        )
        print(
            f"   ({name} took {time.monotonic() - started:.1f} s wall, exit {done.returncode})\n", flush=True
        )
        if done.returncode != 0:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
