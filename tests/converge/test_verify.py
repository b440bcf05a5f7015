"""playbooks/verify.yml against the local member served by the local cluster's real traefik.

One module-wide cluster with the data plane: converge inventories/local with site.yml
(sandbox.demo's helpers, as `make demo` does), wait until every route is served, then run
verify.yml. verify.yml finds the address where it sends the probes through the API, in the
entrypoint Service's status.loadBalancer (the data plane plays the cloud's load balancer);
only the ports are the local cluster's own.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from ansible_collections.binder.ingress.plugins.module_utils.constants import REDIRECTOR_SERVICE
from harness import BIN, INVENTORY, REPO, Sandbox

from sandbox.demo import ServedMember, served_member

PLAYBOOK = REPO / "playbooks" / "verify.yml"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedMember]:
    with served_member(INVENTORY, tmp_path_factory.mktemp("verify")) as member:
        yield member


def verify(
    kubeconfig: Path, ports: tuple[int, int], ca_file: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    https, http = ports
    extra = [f"verify_https_port={https}", f"verify_http_port={http}", f"verify_ca_file={ca_file}"]
    cmd = [str(BIN / "ansible-playbook"), str(PLAYBOOK), "-i", str(INVENTORY), *args]
    for item in extra:
        cmd += ["-e", item]
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "KUBECONFIG": str(kubeconfig),
    }
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def served_verify(served: ServedMember, ca_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    ports = (served.sandbox.websecure, served.sandbox.web)
    return verify(served.sandbox.kubeconfig, ports, ca_file, *args)


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
    run = served_verify(served, served.sandbox.ca_file)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "member local via 127.0.0.1" in output, output
    rows = table_rows(output)
    for route in served.routes:
        cells = rows.get((route.host, route.path))
        assert cells is not None, f"{route.host}{route.path} missing from:\n{output}"
        # The status verify saw is the one the data plane gives the same request.
        assert cells[0] == str(served.results[route].status), cells
        assert cells[-1] == "ok", cells
        if route.service == REDIRECTOR_SERVICE:
            assert cells[0] in ("301", "302") and cells[1].startswith("https://"), cells
    assert re.search(r"^local\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", output, re.MULTILINE), (
        output
    )


def test_verify_probes_the_same_in_check_mode(served: ServedMember) -> None:
    run = served_verify(served, served.sandbox.ca_file, "--check")
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
    run = served_verify(served, other_ca)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    rows = table_rows(output)
    for route in served.routes:
        cells = rows.get((route.host, route.path))
        assert cells is not None, f"{route.host}{route.path} missing from:\n{output}"
        assert cells[0] == "-" and "certificate verify failed" in " ".join(cells), cells
    assert f"member local: {len(served.routes)} of {len(served.routes)} routes failed" in output


def test_verify_says_when_the_entrypoint_has_no_address_yet(sandbox: Sandbox) -> None:
    # A cluster without the data plane has no load-balancer controller, like a cloud whose load
    # balancer is still pending: the converged entrypoint Service has no address.
    namespace = sandbox.create_namespace("pending")
    converged = sandbox.converge(namespace)
    assert converged.rc == 0, converged.output[-4000:]
    run = verify(sandbox.kubeconfig, (443, 80), sandbox.dir / "ca.crt", "-e", f"binder_namespace={namespace}")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "TASK [Read the entrypoint Service]" in output
    assert (
        f"member local: the entrypoint Service {namespace}/cluster-entrypoint has no load-balancer address yet"
        in " ".join(output.split())
    ), output
    assert "Probe every host and path" not in output
