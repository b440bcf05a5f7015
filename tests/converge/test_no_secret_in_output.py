"""No secret in any output, even at -vvv: the kubeconfig's token, private keys.

The local cluster's kubeconfig authenticates with a bearer token, as many members' do; the
certificate stand-in keeps TLS private keys in the member's namespace. The user's commands run
with -vvv and --diff (first converge, a check run, render.yml) and their whole output is
searched, as are the files render.yml writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import secret_search
import yaml
from harness import REPO, Sandbox

pytestmark = pytest.mark.slow


def test_no_token_or_key_in_verbose_output_or_rendered_files(sandbox: Sandbox, tmp_path: Path) -> None:
    token = yaml.safe_load(sandbox.kubeconfig.read_text())["users"][0]["user"]["token"]
    assert len(token) >= 16  # the search below means something only for a real secret
    namespace = sandbox.new_namespace("secrets")
    rendered = tmp_path / "rendered"

    runs = {
        "first converge": sandbox.converge(namespace, "-vvv", "--diff"),
        "check": sandbox.converge(namespace, "-vvv", "--check", "--diff"),
        "render": sandbox.playbook(
            REPO / "playbooks" / "render.yml",
            "-vvv",
            "--diff",
            extra_vars={"binder_namespace": namespace, "render_dir": str(rendered)},
        ),
    }

    for name, run in runs.items():
        assert run.rc == 0, f"{name}: {run.output[-3000:]}"
        # -vvv prints each task's path, and every module's arguments and results.
        assert "task path: " in run.output, f"{name} did not run verbosely"
        # As written, inside base64 (a slurped file, a Secret's data), and any PEM private key.
        assert secret_search.leaks(run.output, {"token": token}) == [], name
    files = [path for path in rendered.rglob("*") if path.is_file()]
    assert files, "render.yml wrote nothing"
    for path in files:
        assert secret_search.leaks(path.read_text(), {"token": token}) == [], path
