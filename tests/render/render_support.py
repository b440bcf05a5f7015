"""What the render tests share: running render.yml on the repository (tests/harness.py's environment)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import BIN, REPO, ansible_env

ROOT = REPO


def run_render(*args: str, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """ansible-playbook playbooks/render.yml with the repository's ansible.cfg and plain output."""
    return subprocess.run(
        [str(BIN / "ansible-playbook"), str(ROOT / "playbooks" / "render.yml"), *args],
        cwd=cwd,
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK="default"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
