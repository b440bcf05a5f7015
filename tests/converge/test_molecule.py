"""Molecule's default scenario (docs/molecule.md), so that `make test` runs it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from harness import BIN, REPO

from sandbox import engines


def _processes_under(directory: Path) -> list[str]:
    """Command lines of running processes that name ``directory`` (the local cluster's do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in cmdline:
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def test_molecule_default_scenario(tmp_path: Path) -> None:
    # molecule removes the parent of this directory when the scenario ends.
    ephemeral = tmp_path / "scenario" / "molecule"
    env = dict(
        os.environ,
        # molecule runs ansible-playbook and ansible-config; kubernetes.core.helm runs helm.
        PATH=os.pathsep.join([str(BIN), str(engines.bin_dir()), os.environ.get("PATH", "")]),
        # Its own state directory (the cluster lives there), not the one shared by every run of
        # this checkout: another run of the scenario may be going on.
        MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral),
        ANSIBLE_NOCOLOR="1",
        NO_COLOR="1",
    )
    env.pop("KUBECONFIG", None)  # the scenario starts its own local cluster and points KUBECONFIG at it
    cmd = [str(BIN / "molecule"), "-c", "molecule/config.yml", "test", "-s", "default"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, output[-6000:]
    for step in ("create", "check", "converge", "idempotence", "side_effect", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in output, f"molecule step {step} did not succeed"
    # check and converge start from a new member's cluster: no namespace (create.yml makes none) ...
    # ... and the member's backend Services come after all three (side_effect.yml).
    entrypoint = (
        "Apply the cluster entrypoint Service if it differs, creating the member's namespace if missing]"
    )
    assert output.count(entrypoint) == 3, "site.yml did not run three times: check, converge, idempotence"
    assert output.index("TASK [Create the member's backend Services]") > output.rindex(entrypoint)
    # verify ran the hand-written probes and the users' verify.yml, both through the entrypoint.
    assert "TASK [Request every host and path through the entrypoint, over HTTPS and plain HTTP]" in output
    assert (
        "TASK [Check each host's own certificate, and plain HTTP redirected to HTTPS keeping host and path]"
        in output
    )
    assert "TASK [Request a host the member does not serve]" in output
    assert "TASK [Probe every host and path of the member]" in output
    assert not _processes_under(ephemeral), "destroy left the local cluster running"
