"""Each host of the local member gets its own stand-in certificate by SNI."""

from __future__ import annotations

import ssl

import pytest
from harness import Member, local_member

from sandbox.dataplane.probe import connect, peer_cert

COMPONENTS = local_member()["binder_ingresses_components"]


def _hosts() -> list[str]:
    hosts: list[str] = []
    for name, spec in COMPONENTS.items():
        if name == "gcs-proxy":
            hosts += [b["host"] for b in spec["buckets"]]
        elif name == "redirector":
            hosts += [r["from"] for r in spec["redirects"]]
        else:
            hosts += spec["hosts"]
    return sorted(hosts)


HOSTS = _hosts()


@pytest.mark.parametrize("host", HOSTS)
def test_each_host_gets_a_certificate_for_it(member: Member, host: str) -> None:
    # connect() verifies the chain against the sandbox CA and the name against `host`.
    with connect(host, member.websecure, member.sandbox.ca_file) as sock:
        cert = peer_cert(sock)
    assert cert is not None
    assert host in cert.sans
    # One Secret per Ingress, whose hosts are exactly its rule hosts: no other member host.
    assert not (set(cert.sans) - {host}) & set(HOSTS)
    assert cert.days_left > 80  # the stand-in's default 90-day lifetime, freshly issued


def test_an_unknown_host_does_not_get_a_members_certificate(member: Member) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        connect("unknown.local.test", member.websecure, member.sandbox.ca_file).close()
    with connect("unknown.local.test", member.websecure, None) as sock:
        cert = peer_cert(sock)
    assert cert is not None
    assert not set(cert.sans) & set(HOSTS)


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
