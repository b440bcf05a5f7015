"""Certificates over real ACME: the local Pebble validates http01 through real traefik.

The session's member (conftest.py) was converged with ``inventories/local``, whose
ClusterIssuers point at the sandbox's Pebble; the certificate stand-in ordered every
certificate from it. These tests read what a user would see: the certificate traefik
serves, the Certificates' conditions and Events, and traefik's own access log.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.module_utils import _probe
from cryptography import x509
from harness import Member, local_hosts, wait_for

from sandbox.demo import INVENTORY, LB_ADDRESS, DemoError

HOSTS = local_hosts()
VA_AGENT = "LetsEncrypt-Pebble-VA"


def acme(member: Member) -> dict[str, Any]:
    data: dict[str, Any] = member.sandbox.state()["acme"]
    return data


def served(member: Member, host: str, ca_file: str) -> x509.Certificate:
    """The certificate traefik serves for ``host`` (SNI) on the entrypoint, verified against ``ca_file``."""
    with _probe.connect(LB_ADDRESS, member.websecure, host, _probe.Trust(ca_file)) as sock:
        der = sock.getpeercert(binary_form=True)
    assert der
    return x509.load_der_x509_certificate(der)


def sans(cert: x509.Certificate) -> set[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName))


def get_json(member: Member, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(member.sandbox.kubectl(*args, "-o", "json"))
    return data


def ready(certificate: dict[str, Any]) -> dict[str, Any]:
    found = [c for c in (certificate.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"]
    return found[0] if found else {}


def events(member: Member, namespace: str, name: str) -> list[dict[str, Any]]:
    listing = get_json(
        member,
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        f"involvedObject.kind=Certificate,involvedObject.name={name}",
    )
    return list(listing["items"])


def va_requests(member: Member, token_hint: str = "") -> list[str]:
    """traefik's access-log lines of Pebble's validation requests (the router name is one field)."""
    log = Path(member.sandbox.dataplane()["traefik"]["access_log"])
    return [line for line in log.read_text().splitlines() if VA_AGENT in line and token_hint in line]


@contextlib.contextmanager
def scratch(member: Member, name: str, host: str, annotations: dict[str, str]) -> Iterator[str]:
    """A namespace with one Service (a data-plane backend) and one Ingress asking for a certificate."""
    namespace = f"e2e-{name}"
    manifest = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {"selector": {"app": "none"}, "ports": [{"port": 8080}]},
            },
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
                "spec": {
                    "ingressClassName": "traefik",
                    "tls": [{"hosts": [host], "secretName": f"tls-{name}"}],
                    "rules": [
                        {
                            "host": host,
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": "web", "port": {"number": 8080}}},
                                    }
                                ]
                            },
                        }
                    ],
                },
            },
        ],
    }
    member.sandbox.kubectl("apply", "-f", "-", input_text=json.dumps(manifest))
    try:
        yield namespace
    finally:
        member.sandbox.kubectl("delete", "namespace", namespace, "--wait=false")


# --- a converged member ---------------------------------------------------------------------


@pytest.mark.parametrize("host", HOSTS)
def test_each_host_is_served_a_certificate_from_the_local_acme_server(member: Member, host: str) -> None:
    # Verified against Pebble's root alone: the sandbox CA signs nothing traefik serves.
    cert = served(member, host, acme(member)["roots_file"])
    intermediate = x509.load_pem_x509_certificate(Path(acme(member)["intermediate_file"]).read_bytes())
    assert cert.issuer == intermediate.subject
    assert "Pebble Intermediate CA" in cert.issuer.rfc4514_string()
    # Exactly the hosts of the Ingress's TLS entry that names this host: no other member host.
    (entry_hosts,) = [
        set(tls["hosts"])
        for o in member.objects
        if o["kind"] == "Ingress"
        for tls in o["spec"].get("tls") or []
        if host in tls["hosts"]
    ]
    assert sans(cert) == entry_hosts
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.total_seconds() == pytest.approx(acme(member)["cert_lifetime_seconds"], abs=2)


def test_every_certificate_is_ready_issued_and_its_solvers_are_gone(member: Member) -> None:
    wanted = {
        (o["metadata"]["namespace"], tls["secretName"]): sorted(tls["hosts"])
        for o in member.objects
        if o["kind"] == "Ingress"
        for tls in o["spec"].get("tls") or []
    }
    certificates = {
        (c["metadata"]["namespace"], c["metadata"]["name"]): c
        for c in get_json(member, "get", "certificates.cert-manager.io", "-A")["items"]
    }
    assert set(wanted) <= set(certificates)
    for key, hosts in wanted.items():
        certificate = certificates[key]
        assert certificate["spec"]["dnsNames"] == hosts
        assert certificate["spec"]["issuerRef"]["kind"] == "ClusterIssuer"
        assert (ready(certificate).get("status"), ready(certificate).get("reason")) == ("True", "Ready"), key
        secret = get_json(member, "get", "secret", "-n", key[0], certificate["spec"]["secretName"])
        assert secret["type"] == "kubernetes.io/tls"
        reasons = [e["reason"] for e in events(member, *key)]
        assert "Issuing" in reasons and "Issued" in reasons, (key, reasons)
    # cert-manager deletes the solver Service and Ingress once the challenge is done.
    for kind in ("services", "ingresses"):
        left = member.sandbox.kubectl(
            "get", kind, "-A", "-l", "acme.cert-manager.io/http01-solver=true", "-o", "name"
        )
        assert left.strip() == "", left


def test_every_cluster_issuer_is_ready_with_its_account_registered(member: Member) -> None:
    issuers = get_json(member, "get", "clusterissuers.cert-manager.io")["items"]
    assert issuers
    for issuer in issuers:
        name = issuer["metadata"]["name"]
        cond = ready(issuer)
        assert (cond.get("status"), cond.get("reason")) == ("True", "ACMEAccountRegistered"), (name, cond)
        assert cond.get("observedGeneration") == issuer["metadata"]["generation"], (name, cond)
        # The account is Pebble's: its URL is under the directory the issuer names.
        server = issuer["spec"]["acme"]["server"]
        assert issuer["status"]["acme"]["uri"].startswith(server.rsplit("/", 1)[0]), (name, issuer["status"])


def test_pebble_validated_through_traefiks_web_entrypoint(member: Member) -> None:
    """Port-80 semantics with the redirect on: Pebble's requests were answered 200 by the solver
    routers on the web entry point (allowACMEByPass lets them past the redirect), not redirected."""
    hosts = {h for o in member.objects for t in o["spec"].get("tls") or [] for h in t["hosts"]}
    for host in hosts:
        # Pebble validates each challenge from three perspectives; the router is named after the host.
        assert len(va_requests(member, host.replace(".", "-"))) >= 3, host
    for line in [line for host in hosts for line in va_requests(member, host.replace(".", "-"))]:
        assert '" 200 ' in line, line
        assert "-cm-acme-http-solver-" in line, line
        # traefik names a router's copy on a TLS entry point after it; the web one has no prefix.
        assert '"websecure-' not in line, line


def test_an_unknown_host_does_not_get_a_members_certificate(member: Member) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _probe.connect(
            LB_ADDRESS, member.websecure, "unknown.local.test", _probe.Trust(acme(member)["trust_file"])
        ).close()
    answer = _probe.request(
        LB_ADDRESS, member.websecure, "unknown.local.test", "/", _probe.Trust(verify=False)
    )
    assert answer.der
    cert = x509.load_der_x509_certificate(answer.der)
    try:
        names = sans(cert)
    except x509.ExtensionNotFound:
        names = set()
    assert not names & set(HOSTS)


# --- failures, renewal ----------------------------------------------------------------------


def test_a_host_whose_dns_points_elsewhere_fails_with_the_acme_error_and_is_retried(member: Member) -> None:
    host = "elsewhere.local.test"
    management = acme(member)["dns_management_url"]

    def dns(path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(f"{management}{path}", data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    # Nothing listens there: Pebble's connection is refused (the self check goes to traefik).
    dns("/add-a", {"host": host + ".", "addresses": ["127.0.0.2"]})
    try:
        with scratch(member, "elsewhere", host, {"kubernetes.io/tls-acme": "true"}) as namespace:

            def failed() -> dict[str, Any] | None:
                certificates = get_json(member, "get", "certificates.cert-manager.io", "-n", namespace)[
                    "items"
                ]
                cond = ready(certificates[0]) if certificates else {}
                return cond if cond.get("status") == "False" else None

            cond = wait_for("Ready=False", failed, timeout=45, interval=0.3)
            assert cond["reason"] == "Failed"
            assert "urn:ietf:params:acme:error:connection" in cond["message"], cond
            assert host in cond["message"] and "will be retried" in cond["message"]
            # Retried after the backoff: a second failure Event, and still no Secret.
            wait_for(
                "a retry",
                lambda: sum(e["reason"] == "Failed" for e in events(member, namespace, "tls-elsewhere")) >= 2,
                timeout=45,
                interval=0.3,
            )
            warnings = [e for e in events(member, namespace, "tls-elsewhere") if e["reason"] == "Failed"]
            assert all(e["type"] == "Warning" and "acme:error:connection" in e["message"] for e in warnings)
            assert (
                member.sandbox.kubectl(
                    "get",
                    "secrets",
                    "-n",
                    namespace,
                    "--field-selector",
                    "type=kubernetes.io/tls",
                    "-o",
                    "name",
                ).strip()
                == ""
            )
    finally:
        dns("/clear-a", {"host": host + "."})


def test_a_certificate_close_to_expiry_is_renewed_and_served_without_a_restart(member: Member) -> None:
    """An issuer with cert-manager's ``enableDurationFeature`` and an Ingress asking for a 30-second
    certificate (``cert-manager.io/duration``; the order's notAfter, which Pebble honours): renewed
    at 2/3 of its lifetime, and traefik serves the new one from the updated Secret, same process."""
    prod = get_json(member, "get", "clusterissuer", "letsencrypt-prod")
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "e2e-short"},
        "spec": {
            "acme": {
                **prod["spec"]["acme"],
                "enableDurationFeature": True,
                "privateKeySecretRef": {"name": "e2e-short"},
            }
        },
    }
    member.sandbox.kubectl("apply", "-f", "-", input_text=json.dumps(issuer))
    host = "renew.local.test"
    roots = acme(member)["roots_file"]
    try:
        annotations = {"cert-manager.io/cluster-issuer": "e2e-short", "cert-manager.io/duration": "30s"}
        with scratch(member, "renew", host, annotations) as namespace:

            def serving() -> x509.Certificate | None:
                with contextlib.suppress(OSError, ssl.SSLError):
                    return served(member, host, roots)
                return None

            first = wait_for("the first certificate served", serving, timeout=45, interval=0.3)
            pid = member.sandbox.dataplane()["traefik"]["pid"]
            lifetime = (first.not_valid_after_utc - first.not_valid_before_utc).total_seconds()
            # notAfter is 30 s after the order; notBefore is when Pebble issued, after the challenge.
            assert 10 < lifetime <= 30
            second = wait_for(
                "a renewed certificate served",
                lambda: (c := serving()) is not None and c.serial_number != first.serial_number and c,
                timeout=40,
                interval=0.3,
            )
            assert sans(second) == {host}
            assert second.not_valid_before_utc > first.not_valid_before_utc
            assert member.sandbox.dataplane()["traefik"]["pid"] == pid
            messages = [e["message"] for e in events(member, namespace, "tls-renew")]
            assert any(m.startswith("Renewing certificate as renewal was scheduled") for m in messages), (
                messages
            )
    finally:
        member.sandbox.kubectl("delete", "clusterissuer", "e2e-short")


def test_without_allow_acme_bypass_issuance_fails_and_doctor_names_the_redirect(
    member: Member, tmp_path: Path
) -> None:
    """The ClusterIssuers pin their solver Ingresses to the web entry point (ingressTemplate). With
    allowACMEByPass off, traefik answers the http01 request there with its HTTPS redirect, which
    leads to websecure, where no solver answers: the member's certificate is not issued, and
    doctor names the redirect as the cause."""
    values = member.traefik_values.replace("allowACMEByPass: true", "allowACMEByPass: false")
    assert values != member.traefik_values
    namespace, name = member.namespace, "tls-static"
    certificate_path = ("get", "certificate.cert-manager.io", "-n", namespace, name)
    member.set_traefik_values(values)
    try:
        # A certificate to issue now: its Secret is gone, as when a host is added.
        member.sandbox.kubectl("delete", "secret", "-n", namespace, name)

        def failed() -> dict[str, Any] | None:
            cond = ready(get_json(member, *certificate_path))
            return cond if cond.get("status") == "False" else None

        # The self check (cert-manager's, before it asks the ACME server) is redirected to
        # websecure, where no solver answers; it gives the attempt up after 30 s.
        cond = wait_for("Ready=False", failed, timeout=180, interval=0.3)
        assert cond["reason"] == "Failed"
        assert "Waiting for HTTP-01 challenge propagation for static.local.test" in cond["message"], cond
        assert "wrong status code '404', expected '200'" in cond["message"], cond

        state = member.sandbox.state()["acme"]
        extra = {"doctor_resolver": state["dns"], "doctor_report_dir": str(tmp_path)}
        with pytest.raises(DemoError):  # doctor fails the member: it found errors
            member.sandbox.playbook("playbooks/doctor.yml", INVENTORY, "--extra-vars", json.dumps(extra))
        report = json.loads((tmp_path / "local.json").read_text())
        errors = {(f["check"], f["subject"]): f for f in report["findings"] if f["severity"] == "error"}
        assert ("redirect", f"{namespace}/traefik") in errors, report["findings"]
        assert ("certificate", f"{namespace}/{name}") in errors, report["findings"]
        redirect = errors[("redirect", f"{namespace}/traefik")]
        assert "without allowACMEByPass" in redirect["detail"], redirect
        certificate = errors[("certificate", f"{namespace}/{name}")]
        assert "the HTTP->HTTPS redirect blocks http01" in certificate["detail"], certificate
        # Nothing else is wrong with the member.
        assert set(errors) == {
            ("redirect", f"{namespace}/traefik"),
            ("certificate", f"{namespace}/{name}"),
        }, errors
    finally:
        member.set_traefik_values(member.traefik_values)
    # With the bypass back, the certificate is issued again (after the stand-in's backoff).
    wait_for(
        "the certificate issued again",
        lambda: ready(get_json(member, *certificate_path)).get("status") == "True",
        timeout=90,
        interval=0.3,
    )
