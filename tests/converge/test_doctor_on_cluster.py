"""playbooks/doctor.yml (and verify.yml's certificate days) against the local member served by
the local cluster's real traefik.

One module-wide cluster with the data plane, its stand-in issuing certificates of 10 days
(SANDBOX_CERT_LIFETIME), converged with site.yml as `make demo` does. The hosts *.local.test
resolve nowhere by the system, so the doctor asks a real DNS server started here (tests/dns_zone.py)
that answers each of them with the entrypoint's load-balancer address. Every doctor run must send
no write to kube-apiserver (its audit log).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import secret_search
import yaml
from harness import INVENTORY, LOCAL_VARS, REPO, Run, Sandbox, local_hosts, member_inventory

from sandbox.demo import LB_ADDRESS, ServedMember, served_member

# The plugin tests' DNS server (tests/unit/plugins/dns_zone.py), shipped with them.
sys.path.insert(0, str(REPO / "tests" / "unit" / "plugins"))
from dns_zone import ZoneServer

DOCTOR = REPO / "playbooks" / "doctor.yml"
VERIFY = REPO / "playbooks" / "verify.yml"
NAMESPACE = "binder-local"
LIFETIME_DAYS = 10
ELSEWHERE = "192.0.2.7"  # TEST-NET-1: a DNS answer only, never connected to


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedMember]:
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as env:
            # Read by the data plane when it starts: only this module's cluster gets short certificates.
            env.setenv("SANDBOX_CERT_LIFETIME", f"{LIFETIME_DAYS}d")
            member = stack.enter_context(served_member(INVENTORY, tmp_path_factory.mktemp("doctor")))
        yield member


@pytest.fixture(scope="module")
def box(served: ServedMember) -> Sandbox:
    """The same cluster through the harness, whose runs carry the audit log's requests."""
    return Sandbox(served.sandbox.dir)


@pytest.fixture
def zone() -> Iterator[ZoneServer]:
    with ZoneServer(dict.fromkeys(local_hosts(), LB_ADDRESS)) as server:
        yield server


def doctor(
    box: Sandbox, zone: ZoneServer, reports: Path, *args: str, inventory: Path = INVENTORY
) -> tuple[Run, dict[str, Any]]:
    run = box.playbook(
        DOCTOR,
        *args,
        inventory=inventory,
        extra_vars={"doctor_resolver": zone.address, "doctor_report_dir": str(reports)},
    )
    assert run.audit, "the audit log shows no request of the doctor: the zero-write check would mean nothing"
    assert run.writes() == [], [(e["verb"], e["path"], e["userAgent"]) for e in run.writes()]
    report = json.loads((reports / "local.json").read_text())
    return run, report


def findings(report: dict[str, Any], severity: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f["check"], f["subject"]): f for f in report["findings"] if f["severity"] == severity}


def test_doctor_finds_the_healthy_member_clean_and_writes_nothing(
    box: Sandbox, zone: ZoneServer, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    run, report = doctor(box, zone, reports, "--check")
    assert run.rc == 0, run.output[-6000:]
    # The reports are the operator's only: the directory the doctor made, and both files.
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in [reports, *reports.iterdir()]} == {
        "reports": "0o700",
        "local.json": "0o600",
        "local.md": "0o600",
    }
    assert findings(report, "error") == {}, report
    # The stand-in registers each ClusterIssuer's account and marks it Ready, as cert-manager does.
    assert findings(report, "warning") == {}, report
    passed = findings(report, "ok")
    # Each host was asked of the DNS server, and each leads to the entrypoint.
    for host in local_hosts():
        assert passed[("dns", host)]["detail"] == f"resolves to {LB_ADDRESS}", report
        assert f"{host} A" in zone.questions
    for check, subject in [
        ("entrypoint", f"{NAMESPACE}/cluster-entrypoint"),
        ("release", f"{NAMESPACE}/traefik"),
        ("release", "cert-manager/cert-manager"),
        ("redirect", f"{NAMESPACE}/traefik"),
        ("budget", "local.test"),
        ("issuer", "letsencrypt-prod"),
        ("issuer", "letsencrypt-staging"),
    ]:
        assert (check, subject) in passed, (check, subject, report)
    assert sum(1 for check, _ in passed if check == "drift") == len(served_ingresses(box))
    secrets = {f"{NAMESPACE}/{tls['secretName']}" for i in served_ingresses(box) for tls in i["spec"]["tls"]}
    assert {subject for check, subject in passed if check == "certificate"} == secrets
    (budget,) = report["budget"]
    # Every certificate was issued at the converge, none is missing: nothing more to request.
    assert (budget["domain"], budget["issued_7d"], budget["next_converge"]) == (
        "local.test",
        budget["issued_7d"],
        0,
    )
    assert budget["issued_7d"] == len(secrets)
    # The table is printed, and the Markdown report holds the same rows.
    assert re.search(r"^\s*severity\s+check\s+subject\s+finding\s+fix", run.output, re.MULTILINE), run.output
    markdown = (reports / "local.md").read_text()
    assert f"| ok | dns | hub.local.test | resolves to {LB_ADDRESS} | - |" in markdown


def served_ingresses(box: Sandbox) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(
        box.kubectl(
            "get",
            "ingress",
            "-n",
            NAMESPACE,
            "-l",
            "app.kubernetes.io/managed-by=binder.ingress",
            "-o",
            "json",
        ).stdout
    )["items"]
    return items


def test_doctor_reports_dns_elsewhere_a_wrong_solver_class_and_a_failing_certificate(
    box: Sandbox, zone: ZoneServer, tmp_path: Path
) -> None:
    zone.zone["hub.local.test"] = ELSEWHERE
    del zone.zone["grafana.local.test"]
    issuer = json.loads(box.kubectl("get", "clusterissuer", "letsencrypt-prod", "-o", "json").stdout)
    solver = issuer["spec"]["acme"]["solvers"][0]["http01"]["ingress"]
    assert solver.get("ingressClassName") == "traefik", solver
    class_path = "/spec/acme/solvers/0/http01/ingress/ingressClassName"
    box.kubectl(
        "patch",
        "clusterissuer",
        "letsencrypt-prod",
        "--type=json",
        "-p",
        json.dumps([{"op": "replace", "path": class_path, "value": "nginx"}]),
    )
    # A Certificate cert-manager failed on, with its Ready condition as cert-manager writes it. Its
    # issuer does not exist, so whatever plays cert-manager in the cluster cannot make it Ready; the
    # finding is compared with the condition the Certificate has when the doctor has run.
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "doctor-broken", "namespace": NAMESPACE},
        "spec": {
            "secretName": "doctor-broken",
            "dnsNames": ["broken.local.test"],
            "issuerRef": {"name": "doctor-no-such-issuer", "kind": "ClusterIssuer"},
        },
    }
    base = f"/apis/cert-manager.io/v1/namespaces/{NAMESPACE}/certificates"
    created = box.request("POST", base, certificate)
    assert created.status == 201, created.body
    condition = {
        "type": "Ready",
        "status": "False",
        "reason": "Failed",
        "message": "Failed to wait for order resource to become ready: order is in errored state",
        "lastTransitionTime": "2026-12-02T00:00:00Z",
    }
    status = box.request(
        "PATCH",
        f"{base}/doctor-broken/status",
        {"status": {"conditions": [condition]}},
        content_type="application/merge-patch+json",
    )
    assert status.status == 200, status.body
    # A Secret labelled like traefik's Helm records, with a higher version, that Helm did not write
    # (its type is not helm.sh/release.v1): not the release's latest revision.
    look_alike = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "doctor-look-alike",
            "namespace": NAMESPACE,
            "labels": {"owner": "helm", "name": "traefik", "version": "99", "status": "failed"},
        },
        "type": "Opaque",
        "data": {"release": base64.b64encode(b"not a Helm record").decode()},
    }
    secrets = f"/api/v1/namespaces/{NAMESPACE}/secrets"
    made = box.request("POST", secrets, look_alike)
    assert made.status == 201, made.body
    # Whatever plays cert-manager retries the Certificate with a growing backoff and rewrites its
    # condition each time, also while the doctor runs: every Ready condition it has during the run is
    # recorded, and the doctor must report one of them, word for word.
    seen: list[dict[str, Any]] = []
    stop = threading.Event()

    def watch() -> None:
        while True:
            live = box.request("GET", f"{base}/doctor-broken").body
            for found in (live.get("status") or {}).get("conditions") or []:
                if found["type"] == "Ready" and found not in seen:
                    seen.append(found)
            if stop.wait(0.1):
                return

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        try:
            run, report = doctor(box, zone, tmp_path)
        finally:
            stop.set()
            watcher.join(timeout=30)
        assert seen, "the Certificate never had a Ready condition"
    finally:
        box.kubectl(
            "patch",
            "clusterissuer",
            "letsencrypt-prod",
            "--type=json",
            "-p",
            json.dumps([{"op": "replace", "path": class_path, "value": "traefik"}]),
        )
        box.request("DELETE", f"{base}/doctor-broken")
        box.request("DELETE", f"{secrets}/doctor-look-alike")
    assert run.rc != 0, run.output[-6000:]
    assert re.search(r"^local\s+: .*failed=1", run.output, re.MULTILINE), run.output[-3000:]
    errors = findings(report, "error")
    hub = errors[("dns", "hub.local.test")]
    assert (
        ELSEWHERE in hub["detail"]
        and hub["fix"] == f"point the A (or AAAA) record of hub.local.test at {LB_ADDRESS}"
    )
    assert "NXDOMAIN" in errors[("dns", "grafana.local.test")]["detail"]
    wrong = errors[("issuer", "letsencrypt-prod")]
    assert "'nginx', which does not exist" in wrong["detail"] and "binder_ingress_class" in wrong["fix"]
    broken = errors[("certificate", f"Certificate {NAMESPACE}/doctor-broken")]
    assert all(c["status"] == "False" for c in seen), seen
    assert broken["detail"] in {f"not Ready: {c['reason']}: {c['message']}" for c in seen}, (broken, seen)
    # Nothing else is wrong, and the other hosts still resolve.
    assert set(errors) == {
        ("dns", "hub.local.test"),
        ("dns", "grafana.local.test"),
        ("issuer", "letsencrypt-prod"),
        ("certificate", f"Certificate {NAMESPACE}/doctor-broken"),
    }, errors
    assert "4 findings at or above error" in run.output
    helm_records = box.kubectl(
        "get",
        "secrets",
        "-n",
        NAMESPACE,
        "-l",
        "owner=helm,name=traefik",
        "--field-selector",
        "type=helm.sh/release.v1",
        "-o",
        "jsonpath={.items[*].metadata.labels.version}",
    ).stdout.split()
    release = findings(report, "ok")[("release", f"{NAMESPACE}/traefik")]
    assert release["detail"] == f"revision {max(map(int, helm_records))} deployed", (release, helm_records)


def test_doctor_counts_the_budget_of_hosts_the_next_converge_would_add(
    box: Sandbox, zone: ZoneServer, tmp_path: Path
) -> None:
    """Before a converge: 45 new hosts under local.test in the inventory, each redirected and so each
    with its own certificate, on top of the 11 the cluster holds: 56 of 50, and each new Ingress is
    missing from the cluster (drift)."""
    components = json.loads(json.dumps(LOCAL_VARS["binder_ingresses_components"]))
    new = [f"n{i:02d}.local.test" for i in range(45)]
    components["redirector"]["redirects"] += [
        {"type": "host", "from": h, "to": "mybinder.local.test"} for h in new
    ]
    inventory = member_inventory(tmp_path, {"local": {"binder_ingresses_components": components}})
    zone.zone.update(dict.fromkeys(new, LB_ADDRESS))
    run, report = doctor(box, zone, tmp_path / "reports", inventory=inventory)
    assert run.rc != 0, run.output[-6000:]
    (budget,) = report["budget"]
    assert (budget["domain"], budget["issued_7d"], budget["next_converge"], budget["projected"]) == (
        "local.test",
        11,
        45,
        56,
    ), budget
    assert sorted(budget["new_names"]) == new
    errors = findings(report, "error")
    assert (
        "11 issued in 7 days + 45 the next converge requests = 56 of 50"
        in errors[("budget", "local.test")]["detail"]
    )
    missing = {
        subject
        for (check, subject), f in errors.items()
        if check == "drift" and f["detail"] == "missing from the cluster"
    }
    assert len(missing) == 45, errors
    # The new hosts resolve to the entrypoint, and their Secrets have no certificate yet.
    assert all(f["severity"] == "ok" for f in report["findings"] if f["check"] == "dns"), report
    assert sum(1 for check, _ in errors if check == "certificate") == 45


def test_doctor_prints_no_token_or_key_at_vvv(box: Sandbox, zone: ZoneServer, tmp_path: Path) -> None:
    """The doctor reads the member's TLS Secrets (their certificates) and Helm release records:
    neither their keys nor the kubeconfig's token may reach the output or the reports."""
    token = yaml.safe_load(box.kubeconfig.read_text())["users"][0]["user"]["token"]
    assert len(token) >= 16
    key = base64.b64decode(
        box.kubectl(
            "get", "secret", "-n", NAMESPACE, "tls-jupyterhub", "-o", r"jsonpath={.data.tls\.key}"
        ).stdout
    ).decode()
    assert "PRIVATE KEY" in key
    run, _ = doctor(box, zone, tmp_path, "-vvv")
    assert run.rc == 0, run.output[-6000:]
    assert "task path: " in run.output and "module_args" in run.output, "the doctor did not run verbosely"
    for text in (run.output, (tmp_path / "local.json").read_text(), (tmp_path / "local.md").read_text()):
        assert secret_search.leaks(text, {"token": token, "TLS key": key}) == []


def verify(box: Sandbox, served: ServedMember, **extra: Any) -> Run:
    ports = {"verify_https_port": served.sandbox.websecure, "verify_http_port": served.sandbox.web}
    return box.playbook(VERIFY, extra_vars={**ports, "verify_ca_file": str(served.sandbox.ca_file), **extra})


def test_verify_reads_each_certificate_and_warns_below_21_days(box: Sandbox, served: ServedMember) -> None:
    run = verify(box, served)
    assert run.rc == 0, run.output[-6000:]
    assert f"all {len(served.routes)} routes passed, {len(served.routes)} with a warning" in run.output, (
        run.output[-3000:]
    )
    rows = [line for line in run.output.splitlines() if re.match(r"^\s+hub\.local\.test\s+/", line)]
    assert len(rows) == 1, run.output
    cells = rows[0].split()
    days = float(cells[4])
    assert LIFETIME_DAYS - 1 < days <= LIFETIME_DAYS, cells
    # The issuer (the local ACME server's intermediate) and the names the certificate covers.
    assert "Pebble Intermediate CA" in rows[0], cells
    assert any("hub.local.test" in cell.split(",") for cell in cells[5:]), cells
    assert f"WARN: certificate expires in {days:.1f} days (fewer than 21): renewal is overdue" in rows[0]
    assert "[WARNING]: hub.local.test/: certificate expires in" in run.output


def test_verify_fails_a_certificate_below_its_minimum_days(box: Sandbox, served: ServedMember) -> None:
    run = verify(box, served, verify_min_days_left=LIFETIME_DAYS + 1)
    assert run.rc != 0, run.output[-6000:]
    assert f"{len(served.routes)} of {len(served.routes)} routes failed" in run.output
    assert re.search(
        rf"FAIL: certificate expires in (9\.\d|10\.0) days \(fewer than {LIFETIME_DAYS + 1}\)",
        run.output,
    )
