"""How long `make engines` takes: warm (everything cached), and cold on request.

    .venv/bin/python -m bench.engines_bench [--cold] [--json FILE]

Warm: `python -m sandbox.engines` with the engines already in their cache (what every
`make test` after the first pays). Cold (`--cold`, about 14 minutes on 2 cores): the same
build into an empty engine cache with empty GOCACHE and GOMODCACHE, so every module is
downloaded from the Go module proxy and every package compiled, as on a new machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox import engines

REPO = Path(__file__).resolve().parents[1]


def timed(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sandbox.engines"], cwd=REPO, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also build from nothing (slow)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures: dict[str, object] = {
        "go": engines.go_version(),
        "pins": {e.name: f"{e.module} {e.version()}" for e in engines.ENGINES},
        "warm_s": round(timed(dict(os.environ)), 2),
    }
    if args.cold:
        scratch = Path(tempfile.mkdtemp(prefix="engines-cold-"))
        env = dict(
            os.environ,
            BINDER_ENGINES_CACHE=str(scratch / "engines"),
            GOCACHE=str(scratch / "gocache"),
            GOMODCACHE=str(scratch / "gomodcache"),
            # Module files are read-only by default; this lets the scratch tree be removed.
            GOFLAGS=" ".join(filter(None, [os.environ.get("GOFLAGS"), "-modcacherw"])),
        )
        try:
            figures["cold_s"] = round(timed(env), 1)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
