"""Molecule's default scenario (docs/molecule.md), so that `make test` runs it."""

from __future__ import annotations

import os
import re
import subprocess

from converge_support import BIN, REPO


def test_molecule_default_scenario() -> None:
    env = dict(
        os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", ANSIBLE_NOCOLOR="1", NO_COLOR="1"
    )
    env.pop("KUBECONFIG", None)  # the scenario starts its own sandbox and points KUBECONFIG at it
    cmd = [str(BIN / "molecule"), "-c", "molecule/config.yml", "test", "-s", "default"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, output[-6000:]
    for step in ("create", "check", "converge", "idempotence", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in output, f"molecule step {step} did not succeed"
