"""playbooks/verify.yml against the local member served by the sandbox's real traefik.

One module-wide sandbox with the data plane: render inventories/local, start the sandbox with
the rendered traefik values, converge with site.yml (sandbox.demo's helpers, as `make demo`
does), wait until every route is served, then run verify.yml through the sandbox's ports.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from converge_support import BIN, INVENTORY, REPO

from sandbox.demo import ServedMember, served_member

PLAYBOOK = REPO / "playbooks" / "verify.yml"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedMember]:
    with served_member(INVENTORY, tmp_path_factory.mktemp("verify")) as member:
        yield member


def verify(
    served: ServedMember, ca_file: Path, address: str | None = "127.0.0.1", *args: str
) -> subprocess.CompletedProcess[str]:
    extra = [
        f"verify_https_port={served.sandbox.websecure}",
        f"verify_http_port={served.sandbox.web}",
        f"verify_ca_file={ca_file}",
    ]
    if address is not None:
        extra.append(f"verify_address={address}")
    cmd = [str(BIN / "ansible-playbook"), str(PLAYBOOK), "-i", str(INVENTORY), *args]
    for item in extra:
        cmd += ["-e", item]
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "KUBECONFIG": str(served.sandbox.kubeconfig),
    }
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def table_rows(output: str) -> dict[tuple[str, str], list[str]]:
    """The probe table's rows, keyed by (host, path): the cells after them, split on spaces."""
    rows: dict[tuple[str, str], list[str]] = {}
    for line in output.splitlines():
        # Either callback format: JSON ("...",) or YAML (- '...').
        cells = line.strip().lstrip("- ").strip("\"',").split()
        if len(cells) >= 3 and re.fullmatch(r"[a-z0-9.-]+\.test", cells[0]) and cells[1].startswith("/"):
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


def test_verify_reports_every_route_of_the_served_member(served: ServedMember) -> None:
    run = verify(served, served.sandbox.ca_file)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    rows = table_rows(output)
    for route in served.routes:
        cells = rows.get((route.host, route.path))
        assert cells is not None, f"{route.host}{route.path} missing from:\n{output}"
        # The status verify saw is the one the data plane gives the same request.
        assert cells[0] == str(served.results[route].status), cells
        assert cells[-1] == "ok", cells
        if route.service == "redirector":
            assert cells[0] in ("301", "302") and cells[1].startswith("https://"), cells
    assert re.search(r"^local\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", output, re.MULTILINE), (
        output
    )


def test_verify_probes_the_same_in_check_mode(served: ServedMember) -> None:
    run = verify(served, served.sandbox.ca_file, "127.0.0.1", "--check")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    rows = table_rows(output)
    assert {(r.host, r.path): str(served.results[r].status) for r in served.routes} == {
        key: cells[0] for key, cells in rows.items()
    }


def test_verify_fails_every_route_when_the_certificate_does_not_verify(
    served: ServedMember, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    run = verify(served, other_ca)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    rows = table_rows(output)
    for route in served.routes:
        cells = rows.get((route.host, route.path))
        assert cells is not None, f"{route.host}{route.path} missing from:\n{output}"
        assert cells[0] == "-" and "certificate verify failed" in " ".join(cells), cells
    assert f"member local: {len(served.routes)} of {len(served.routes)} routes failed" in output


def test_verify_without_an_address_reads_the_entrypoint_and_says_it_has_none_yet(
    served: ServedMember,
) -> None:
    # The sandbox never fills status.loadBalancer, like a cloud whose load balancer is still pending.
    run = verify(served, served.sandbox.ca_file, address=None)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "TASK [Read the entrypoint Service]" in output
    assert (
        "member local: the entrypoint Service binder-local/cluster-entrypoint has no load-balancer address yet"
        in output
    ), output
    assert "Probe every host and path" not in output
