"""The local cluster's engines, built from the Go modules pinned in ``engines/*/go.mod``.

``python -m sandbox engines`` builds etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok, helm, and Pebble (Let's Encrypt's test ACME server) with its DNS
server pebble-challtestsrv, with the machine's Go (``GOTOOLCHAIN=local``) into a cache
keyed by what decides the binaries: each wrapper module's go.mod and go.sum, the build
recipe and the Go version. Later runs, and other clones on the same machine, reuse it.
Nothing is downloaded but Go modules through the module proxy.

This module uses only the standard library: the Makefile calls it before the virtualenv
is needed, and the sandbox calls :func:`binary` to find what it starts.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "engines"
# Bumped when the recipe below changes in a way the go.mod files do not show.
RECIPE = "1"


class EngineError(RuntimeError):
    pass


@dataclass(frozen=True)
class Engine:
    """One wrapper module and what is built from it."""

    name: str  # the directory under engines/
    module: str  # the pinned upstream module whose version stamps the binaries
    packages: tuple[str, ...]
    binaries: tuple[str, ...]

    @property
    def dir(self) -> Path:
        return MODULES / self.name

    def version(self) -> str:
        """The pinned version, read from the wrapper's go.mod (the one place it is written)."""
        text = (self.dir / "go.mod").read_text()
        found = re.search(rf"^\s*(?:require\s+)?{re.escape(self.module)}\s+(v\S+)", text, re.M)
        if not found:
            raise EngineError(f"engines/{self.name}/go.mod does not require {self.module}")
        return found.group(1)

    def ldflags(self) -> str:
        version = self.version()
        flags = ["-s", "-w"]
        if self.name == "k8s":
            # Without the stamp, /version answers v0.0.0-master and Helm's kubeVersion checks fail.
            major, minor = version.lstrip("v").split(".")[:2]
            for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
                flags += [
                    f"-X {pkg}.gitVersion={version}",
                    f"-X {pkg}.gitMajor={major}",
                    f"-X {pkg}.gitMinor={minor}",
                    f"-X {pkg}.gitTreeState=clean",
                ]
        elif self.name == "helm":
            flags.append(f"-X helm.sh/helm/v3/internal/version.version={version}")
            flags.append("-X helm.sh/helm/v3/internal/version.gitTreeState=clean")
        elif self.name == "pebble":
            flags.append(f"-X main.version={version}")
        return " ".join(flags)

    def key(self, go_version: str) -> str:
        digest = hashlib.sha256()
        for part in (RECIPE, go_version, " ".join(self.packages), self.ldflags()):
            digest.update(part.encode() + b"\0")
        for name in ("go.mod", "go.sum"):
            digest.update((self.dir / name).read_bytes() + b"\0")
        return f"{self.name}-{self.version()}-{digest.hexdigest()[:12]}"


ENGINES = (
    Engine(
        "k8s",
        "k8s.io/kubernetes",
        (
            "k8s.io/kubernetes/cmd/kube-apiserver",
            "k8s.io/kubernetes/cmd/kube-controller-manager",
            "k8s.io/kubernetes/cmd/kube-scheduler",
        ),
        ("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
    ),
    Engine("etcd", "go.etcd.io/etcd/server/v3", ("go.etcd.io/etcd/server/v3",), ("etcd",)),
    Engine("kwok", "sigs.k8s.io/kwok", ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",)),
    Engine("helm", "helm.sh/helm/v3", ("helm.sh/helm/v3/cmd/helm",), ("helm",)),
    Engine(
        "pebble",
        "github.com/letsencrypt/pebble/v2",
        (
            "github.com/letsencrypt/pebble/v2/cmd/pebble",
            "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv",
        ),
        ("pebble", "pebble-challtestsrv"),
    ),
)
BINARIES = {binary: engine for engine in ENGINES for binary in engine.binaries}


def cache_dir() -> Path:
    explicit = os.environ.get("BINDER_ENGINES_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "binder-ingress" / "engines"


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # The machine's Go builds everything; never fetch another toolchain.
    env["GOTOOLCHAIN"] = "local"
    env["CGO_ENABLED"] = "0"
    return env


_GO_VERSION: list[str] = []


def go_version() -> str:
    if not _GO_VERSION:
        go = shutil.which("go")
        if go is None:
            raise EngineError("go is not on PATH: the engines are built from Go modules (Go >= 1.26)")
        out = subprocess.run(
            [go, "env", "GOVERSION"], capture_output=True, text=True, check=True, env=_go_env()
        ).stdout.strip()
        _GO_VERSION.append(out)
    return _GO_VERSION[0]


def engine_dir(engine: Engine) -> Path:
    return cache_dir() / engine.key(go_version())


def built(engine: Engine) -> bool:
    target = engine_dir(engine)
    return all((target / b).is_file() for b in engine.binaries)


def binary(name: str) -> Path:
    """The path of one built engine binary; an error that says how to build it if missing."""
    engine = BINARIES[name]
    path = engine_dir(engine) / name
    if not path.is_file():
        raise EngineError(f"{name} is not built (expected {path}); run `make engines`")
    return path


def bin_dir() -> Path:
    """One directory with every engine binary (symlinks), for PATH (helm) and the sandbox."""
    keys = "-".join(engine.key(go_version())[-12:] for engine in ENGINES)
    target = cache_dir() / "bin" / hashlib.sha256(keys.encode()).hexdigest()[:12]
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=".bin-"))
        for name in BINARIES:
            (staging / name).symlink_to(binary(name))
        staging.chmod(0o755)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.rename(target)
        except OSError:  # another process made it first
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _fmt(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def build(engine: Engine, out: object = sys.stderr) -> float:
    """Build one engine into its cache directory; the seconds it took (0 if it was cached)."""
    target = engine_dir(engine)
    if built(engine):
        return 0.0
    cache_dir().mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_dir(), prefix=f".{engine.name}-"))
    what = ", ".join(engine.binaries)
    print(f"engines: building {what} ({engine.module} {engine.version()})", file=out, flush=True)  # type: ignore[call-overload]
    start = time.monotonic()
    done = threading.Event()

    def progress() -> None:
        while not done.wait(30):
            print(
                f"engines: still building {engine.name}, {_fmt(time.monotonic() - start)} so far",
                file=out,  # type: ignore[call-overload]
                flush=True,
            )

    ticker = threading.Thread(target=progress, daemon=True)
    ticker.start()
    try:
        # One package: name the binary (etcd's main package is a module root named .../v3).
        output = str(staging / engine.binaries[0]) if len(engine.packages) == 1 else str(staging) + "/"
        cmd = ["go", "build", "-trimpath", "-ldflags", engine.ldflags(), "-o", output]
        proc = subprocess.run(
            [*cmd, *engine.packages],
            cwd=engine.dir,
            env=_go_env(),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        done.set()
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise EngineError(
            f"building {engine.name} failed: (cd engines/{engine.name} && GOTOOLCHAIN=local "
            f"CGO_ENABLED=0 {' '.join(cmd[:3])} ... {' '.join(engine.packages)})\n{proc.stderr.strip()}"
        )
    staging.chmod(0o755)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    elapsed = time.monotonic() - start
    print(f"engines: built {what} in {_fmt(elapsed)}", file=out, flush=True)  # type: ignore[call-overload]
    return elapsed


def build_all(names: list[str] | None = None) -> dict[str, float]:
    chosen = [e for e in ENGINES if not names or e.name in names]
    times: dict[str, float] = {}
    for engine in chosen:
        times[engine.name] = build(engine)
    cached = [e.name for e in chosen if times[e.name] == 0.0]
    if cached:
        print(f"engines: cached in {cache_dir()}: {', '.join(cached)}", file=sys.stderr, flush=True)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox engines", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", help=f"some of {', '.join(e.name for e in ENGINES)} (default: all)"
    )
    parser.add_argument("--print-bin-dir", action="store_true", help="print the directory of the binaries")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - {e.name for e in ENGINES})
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(unknown)}")
    try:
        if args.print_bin_dir:
            print(bin_dir())
            return 0
        build_all(args.names)
        bin_dir()
    except EngineError as exc:
        print(f"engines: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
