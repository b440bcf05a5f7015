"""Each host of the local member gets its own stand-in certificate by SNI."""

from __future__ import annotations

import ssl

import pytest
from ansible_collections.binder.ingress.plugins.module_utils import _probe
from cryptography import x509
from harness import Member, local_hosts

from sandbox.demo import LB_ADDRESS

HOSTS = local_hosts()


@pytest.mark.parametrize("host", HOSTS)
def test_each_host_gets_a_certificate_for_it(member: Member, host: str) -> None:
    # connect() verifies the chain against the sandbox CA and the name against `host`.
    trust = _probe.Trust(str(member.sandbox.ca_file))
    with _probe.connect(LB_ADDRESS, member.websecure, host, trust) as sock:
        cert = _probe.certificate(sock)
    assert cert is not None
    assert host in cert.sans
    # One Secret per Ingress, whose hosts are exactly its rule hosts: no other member host.
    assert not (set(cert.sans) - {host}) & set(HOSTS)
    assert cert.days_left > 80  # the stand-in's default 90-day lifetime, freshly issued


def test_an_unknown_host_does_not_get_a_members_certificate(member: Member) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _probe.connect(
            LB_ADDRESS, member.websecure, "unknown.local.test", _probe.Trust(str(member.sandbox.ca_file))
        ).close()
    # Unverified, the prober hands the certificate over as sent.
    answer = _probe.request(
        LB_ADDRESS, member.websecure, "unknown.local.test", "/", _probe.Trust(verify=False)
    )
    assert answer.der
    cert = x509.load_der_x509_certificate(answer.der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = set(sans.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = set()
    assert not names & set(HOSTS)


def test_the_stand_in_secrets_are_tls_secrets_named_by_the_ingresses(member: Member) -> None:
    wanted = {
        (o["metadata"]["namespace"], tls["secretName"])
        for o in member.objects
        if o["kind"] == "Ingress"
        for tls in o["spec"].get("tls") or []
    }
    listed = member.sandbox.kubectl(
        "get",
        "secrets",
        "-A",
        "--field-selector",
        "type=kubernetes.io/tls",
        "-o",
        'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}',
    )
    assert wanted <= {tuple(line.split("/", 1)) for line in listed.split()}
