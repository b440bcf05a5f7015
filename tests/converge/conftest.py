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
        # The CRDs the skipped cert-manager release would install; namespaces come per test.
        prepared = box.playbook(
            REPO / "molecule" / "resources" / "sandbox_prepare.yml",
            extra_vars={"sandbox_prepare_namespaces": [], "sandbox_prepare_backends": False},
        )
        assert prepared.rc == 0, prepared.output
        yield box
    finally:
        _sandbox_cli("down", "--dir", str(box.dir))


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Shared by the tests that look only at their own namespace."""
    yield from _started(tmp_path_factory.mktemp("converge-sandbox"))


@pytest.fixture
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """For a test that looks at the whole cluster (other tests' members would be in its way)."""
    yield from _started(tmp_path_factory.mktemp("own-sandbox"))
