"""Fixtures of the playbook-level tests: sandboxes (helpers in converge_support.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from converge_support import REPO, Sandbox


def _sandbox_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=REPO, check=True, timeout=120)


def _started(directory: Path) -> Iterator[Sandbox]:
    box = Sandbox(directory)
    _sandbox_cli("up", "--dir", str(box.dir), "--no-dataplane")
    try:
        # Nothing is prepared: the cert-manager chart installs its CRDs, namespaces come per test.
        yield box
    finally:
        _sandbox_cli("down", "--dir", str(box.dir))


@pytest.fixture
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A fresh cluster per test: a member's traefik release owns the cluster-wide IngressClass,
    so two tests' members cannot share one cluster (nor can two members in production)."""
    yield from _started(tmp_path_factory.mktemp("converge-sandbox"))


@pytest.fixture
def second_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Another member's cluster, for tests with two members."""
    yield from _started(tmp_path_factory.mktemp("second-sandbox"))
