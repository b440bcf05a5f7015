"""playbooks/verify.yml against the local member served by the local cluster's real traefik.

One module-wide cluster with the data plane: converge inventories/local with site.yml
(sandbox.demo's helpers, as `make demo` does), wait until every route is served, then run
verify.yml. verify.yml finds the address where it sends the probes through the API, in the
entrypoint Service's status.loadBalancer (the data plane plays the cloud's load balancer);
only the ports are the local cluster's own.

The failure tests break one route in the cluster the way a user's mistake would (an Ingress
naming a middleware traefik does not have, a redirect pointing at the wrong middleware, a
certificate for other names), check that verify.yml fails naming that route and why, and put
the Ingress back.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import secret_search
import trustme
import yaml
from ansible_collections.binder.ingress.plugins.module_utils import _probe
from harness import BIN, CHARTS, INVENTORY, LOCAL_VARS, REPO, Sandbox, member_inventory

from sandbox.demo import ServedMember, route_ready, served_member, wait_served

PLAYBOOK = REPO / "playbooks" / "verify.yml"
NAMESPACE = "binder-local"
MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"
# inventories/local's redirects, as written there.
BETA, STATUS, TARGET = "beta.local.test", "status.local.test", "mybinder.local.test"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedMember]:
    with served_member(INVENTORY, tmp_path_factory.mktemp("verify")) as member:
        yield member


def verify(
    kubeconfig: Path, ports: tuple[int, int], ca_file: Path, *args: str, inventory: Path = INVENTORY
) -> subprocess.CompletedProcess[str]:
    https, http = ports
    extra = [f"verify_https_port={https}", f"verify_http_port={http}", f"verify_ca_file={ca_file}"]
    cmd = [str(BIN / "ansible-playbook"), str(PLAYBOOK), "-i", str(inventory), *args]
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
    """The probe table's rows, keyed by (host, request): the cells after them, split on spaces.

    The table is the debug message of a member that passed, the failure message of one that
    failed; either way the YAML result format prints it as a block, one row per line."""
    rows: dict[tuple[str, str], list[str]] = {}
    for line in output.splitlines():
        cells = line.strip().lstrip("- ").strip("\"',").split()
        if len(cells) >= 3 and re.fullmatch(r"[a-z0-9.-]+\.test", cells[0]) and cells[1].startswith("/"):
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


def row(rows: dict[tuple[str, str], list[str]], host: str) -> list[str]:
    """The one row of `host` (each host of inventories/local is probed at one path but harbor's)."""
    found = [cells for (h, _), cells in rows.items() if h == host]
    assert len(found) == 1, (host, rows)
    return found[0]


def test_verify_reports_every_route_of_the_served_member(served: ServedMember) -> None:
    run = served_verify(served, served.sandbox.ca_file)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert f"member local via 127.0.0.1: all {len(served.routes)} routes passed" in output, output
    rows = table_rows(output)
    assert len(rows) == len(served.routes), rows
    for route in served.routes:
        if route.service == "redirector":
            continue
        cells = rows.get((route.host, route.path))
        assert cells is not None, f"{route.host}{route.path} missing from:\n{output}"
        # The status verify saw is the one the data plane gives the same request.
        assert cells[0] == str(served.results[route].status), cells
        assert cells[-1] == "ok", cells
    # Redirects are probed below their root: type host keeps path and query, type url does not.
    beta, status = row(rows, BETA), row(rows, STATUS)
    beta_request = next(request for (host, request) in rows if host == BETA)
    assert beta_request != "/" and "?" in beta_request, rows
    assert beta[:2] == ["302", f"https://{TARGET}{beta_request}"] and beta[-1] == "ok", beta
    assert status[:2] == ["301", f"https://{TARGET}/status"] and status[-1] == "ok", status
    assert re.search(r"^local\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", output, re.MULTILINE), (
        output
    )


def test_verify_probes_the_same_in_check_mode(served: ServedMember) -> None:
    run = served_verify(served, served.sandbox.ca_file, "--check")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    rows = table_rows(output)
    assert {
        (r.host, r.path): str(served.results[r].status) for r in served.routes if r.service != "redirector"
    } == {key: cells[0] for key, cells in rows.items() if key[0] not in (BETA, STATUS)}


def test_verify_prints_no_token_or_key_at_vvv(served: ServedMember) -> None:
    """An operator debugging a member runs verify.yml with -vvv: every module's arguments and
    results are printed, and neither the kubeconfig's token nor a TLS key may be among them."""
    token = yaml.safe_load(served.sandbox.kubeconfig.read_text())["users"][0]["user"]["token"]
    assert len(token) >= 16  # the search below means something only for a real secret
    run = served_verify(served, served.sandbox.ca_file, "-vvv", "--diff")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "task path: " in output and "module_args" in output, "verify.yml did not run verbosely"
    # The token as written or inside base64 (a slurped kubeconfig), and any PEM private key.
    assert secret_search.leaks(output, {"token": token}) == []


def failed_rows(output: str) -> dict[tuple[str, str], list[str]]:
    return {key: cells for key, cells in table_rows(output).items() if cells[-1] != "ok"}


def test_verify_fails_every_route_when_the_certificate_does_not_verify(
    served: ServedMember, tmp_path: Path
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    run = served_verify(served, other_ca)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    rows = table_rows(output)
    assert len(rows) == len(served.routes), output
    for cells in rows.values():
        assert cells[0] == "-" and "certificate verify failed" in " ".join(cells), cells
    assert f"{len(served.routes)} of {len(served.routes)} routes failed via 127.0.0.1: " in output
    # The table is printed once, by the failed task itself: no later task shows it again.
    assert output.count("FAIL: certificate verify failed") == len(served.routes), output
    assert "TASK [Show the member's routes]" not in output


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def https(served: ServedMember, host: str, path: str) -> _probe.Answer:
    trust = _probe.Trust(str(served.sandbox.ca_file))
    return _probe.request(served.entrypoint.address, served.entrypoint.https, host, path, trust, timeout=5)


class Broken:
    """One of the member's Ingresses changed in the cluster by hand, then put back as the
    converge left it (traefik serves every route again before the next test)."""

    def __init__(self, served: ServedMember, ingress: str) -> None:
        self.served = served
        self.ingress = ingress
        self.saved = json.loads(
            served.sandbox.kubectl("get", "ingress", "-n", NAMESPACE, ingress, "-o", "json")
        )

    def __enter__(self) -> Broken:
        return self

    def annotate(self, middlewares: str) -> None:
        self.served.sandbox.kubectl(
            "annotate",
            "ingress",
            "-n",
            NAMESPACE,
            self.ingress,
            f"{MIDDLEWARES}={middlewares}",
            "--overwrite",
        )

    def __exit__(self, *_: object) -> None:
        annotation = self.saved["metadata"]["annotations"][MIDDLEWARES]
        self.annotate(annotation)
        _, results = wait_served(self.served.sandbox, self.served.routes, timeout=60)
        assert all(route_ready(r, results[r]) for r in self.served.routes), results


def test_verify_fails_the_route_traefik_dropped_for_a_middleware_typo(served: ServedMember) -> None:
    # What `middlewares: [defualt@file]` in the catalogue would make: the collection now refuses
    # it before writing, so the typo is put on the Ingress directly.
    with Broken(served, "binderhub") as broken:
        broken.annotate("defualt@file")
        wait_for(
            "traefik to drop the binderhub router",
            lambda: _probe.is_traefik_not_found(https(served, "binder.local.test", "/")),
        )
        run = served_verify(served, served.sandbox.ca_file)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert (
        f"1 of {len(served.routes)} routes failed via 127.0.0.1: binder.local.test/ (see report)" in output
    ), output
    failed = failed_rows(output)
    assert list(failed) == [("binder.local.test", "/")], output
    assert "traefik's own 404" in " ".join(failed[("binder.local.test", "/")]), failed
    assert re.search(r"^local\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=1", output, re.MULTILINE), (
        output
    )


def traefik_upgraded(served: ServedMember, values: dict[str, Any]) -> int:
    """``helm upgrade`` the member's traefik release with these values; the revision."""
    values_file = served.sandbox.dir / "verify-traefik-values.json"
    values_file.write_text(json.dumps(values))
    upgraded = served.sandbox.helm(
        "upgrade", "traefik", str(CHARTS / "traefik"), "-n", NAMESPACE, "-f", str(values_file), "-o", "json"
    )
    return int(json.loads(upgraded)["version"])


def test_verify_fails_a_redirect_with_the_wrong_location(served: ServedMember) -> None:
    # beta's redirect middleware changed in the traefik release to a fixed URL: still a 302 to
    # the right host, but the path is no longer kept as its type (host) says.
    values = yaml.safe_load(served.sandbox.helm("get", "values", "traefik", "-n", NAMESPACE, "-o", "yaml"))
    broken = copy.deepcopy(values)
    middleware = broken["providers"]["file"]["content"]["http"]["middlewares"]["redirect-beta-local-test"]
    middleware["redirectRegex"]["replacement"] = f"https://{TARGET}/"
    traefik_upgraded(served, broken)
    try:
        wait_for(
            "traefik to serve the changed redirect",
            lambda: https(served, BETA, "/x").location == f"https://{TARGET}/",
        )
        run = served_verify(served, served.sandbox.ca_file)
    finally:
        traefik_upgraded(served, values)
        _, results = wait_served(served.sandbox, served.routes, timeout=90)
        assert all(route_ready(r, results[r]) for r in served.routes), results
        wait_for(
            "beta's path kept again", lambda: https(served, BETA, "/x").location == f"https://{TARGET}/x"
        )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    failed = failed_rows(output)
    assert [host for host, _ in failed] == [BETA], output
    request, cells = next(iter(failed.items()))
    assert cells[:2] == ["302", f"https://{TARGET}/"], cells
    assert f"Location https://{TARGET}/, expected https://{TARGET}{request[1]}" in " ".join(cells), cells


def test_verify_fails_a_host_no_certificate_covers(served: ServedMember) -> None:
    # binderhub's Ingress made to ask for a certificate of another name: the issuer reissues its
    # Secret for that name, and traefik, with no certificate for binder.local.test, answers its
    # TLS handshake with its own default certificate.
    def tls_hosts(hosts: list[str]) -> None:
        patch = [{"op": "replace", "path": "/spec/tls/0/hosts", "value": hosts}]
        served.sandbox.kubectl(
            "patch", "ingress", "-n", NAMESPACE, "binderhub", "--type=json", "-p", json.dumps(patch)
        )

    tls_hosts(["elsewhere.local.test"])
    try:
        wait_for(
            "traefik to serve binder.local.test without its certificate",
            lambda: https(served, "binder.local.test", "/").error.startswith("certificate"),
            timeout=90,
        )
        run = served_verify(served, served.sandbox.ca_file)
    finally:
        tls_hosts(["binder.local.test"])
        _, results = wait_served(served.sandbox, served.routes, timeout=90)
        assert all(route_ready(r, results[r]) for r in served.routes), results
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    failed = failed_rows(output)
    assert list(failed) == [("binder.local.test", "/")], output
    cells = failed[("binder.local.test", "/")]
    assert cells[0] == "-" and "FAIL: certificate verify failed" in " ".join(cells), cells


def test_verify_says_when_the_entrypoint_has_no_address_yet(sandbox: Sandbox) -> None:
    # A cluster without the data plane has no load-balancer controller, like a cloud whose load
    # balancer is still pending: the converged entrypoint Service has no address.
    namespace = sandbox.new_namespace("pending")
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


# A redirect host whose first label is 60 characters: valid for the catalogue, far too long for
# `redirect-<host, dots as dashes>` to be a middleware name (a DNS-1123 label, 63 at most).
LONG = "a-federation-member-with-a-rather-long-name-for-its-redirect.local.test"


def test_a_long_host_redirect_is_converged_served_and_verified(tmp_path: Path) -> None:
    components = copy.deepcopy(LOCAL_VARS["binder_ingresses_components"])
    components["redirector"]["redirects"].append({"type": "host", "from": LONG, "to": TARGET})
    inventory = member_inventory(tmp_path, {"local": {"binder_ingresses_components": components}})
    # served_member converges with site.yml and waits until traefik serves every route: a
    # redirect is served only when traefik has the middleware its Ingress names.
    with served_member(inventory, tmp_path / "served") as served:
        long_routes = [route for route in served.routes if route.host == LONG]
        assert len(long_routes) == 1, served.routes
        answer = served.results[long_routes[0]]
        assert answer.status == 302 and answer.location == f"https://{TARGET}/", answer
        ingress = next(o for o in served.objects if LONG in [r["host"] for r in o["spec"]["rules"]])
        middleware = ingress["metadata"]["annotations"][MIDDLEWARES]
        name, _at, provider = middleware.partition("@")
        assert provider == "file" and len(name) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
        run = verify(
            served.sandbox.kubeconfig,
            (served.sandbox.websecure, served.sandbox.web),
            served.sandbox.ca_file,
            inventory=inventory,
        )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    cells = row(table_rows(output), LONG)
    assert cells[0] == "302" and cells[1].startswith(f"https://{TARGET}/") and cells[-1] == "ok", cells
