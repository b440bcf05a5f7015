"""The certificate stand-in: which Secrets it wants, and what it issues."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.x509.oid import NameOID

from sandbox.dataplane.certs import (
    DEFAULT_ISSUER,
    SandboxCA,
    parse_lifetime,
    wanted_secrets,
    wants_certificate,
)


def _ingress(
    name: str, annotations: dict[str, str], tls: list[dict[str, Any]], namespace: str = "ns"
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {"tls": tls},
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90d", 90 * 86400), ("12h", 43200), ("30m", 1800), ("45s", 45), ("3600", 3600), ("1.5d", 129600)],
)
def test_parse_lifetime(text: str, seconds: float) -> None:
    assert parse_lifetime(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "0", "-1d", "3w", "ten days"])
def test_parse_lifetime_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        parse_lifetime(text)


@pytest.mark.parametrize(
    ("annotations", "issuer"),
    [
        ({"kubernetes.io/tls-acme": "true"}, DEFAULT_ISSUER),
        ({"kubernetes.io/tls-acme": "false"}, None),
        ({"cert-manager.io/cluster-issuer": "letsencrypt-staging"}, "letsencrypt-staging"),
        ({"traefik.ingress.kubernetes.io/router.middlewares": "default@file"}, None),
        ({}, None),
    ],
)
def test_which_ingresses_ask_for_a_certificate(annotations: dict[str, str], issuer: str | None) -> None:
    assert wants_certificate(_ingress("x", annotations, [])) == issuer


def test_wanted_secrets_follow_the_tls_entries() -> None:
    acme = {"kubernetes.io/tls-acme": "true"}
    ingresses = {
        ("ns", "a"): _ingress("a", acme, [{"secretName": "tls-a", "hosts": ["b.test", "a.test", "a.test"]}]),
        ("ns", "plain"): _ingress("plain", {}, [{"secretName": "tls-plain", "hosts": ["p.test"]}]),
        ("ns", "nohosts"): _ingress("nohosts", acme, [{"secretName": "tls-n"}]),
        ("other", "c"): _ingress(
            "c", acme, [{"secretName": "tls-a", "hosts": ["c.test"]}], namespace="other"
        ),
    }
    wanted = wanted_secrets(ingresses)
    assert set(wanted) == {("ns", "tls-a"), ("other", "tls-a")}
    assert wanted["ns", "tls-a"].hosts == ("a.test", "b.test")
    assert wanted["other", "tls-a"].hosts == ("c.test",)


def test_two_ingresses_sharing_a_secret_keep_the_first() -> None:
    acme = {"kubernetes.io/tls-acme": "true"}
    ingresses = {
        ("ns", "a"): _ingress("a", acme, [{"secretName": "shared", "hosts": ["a.test"]}]),
        ("ns", "b"): _ingress("b", acme, [{"secretName": "shared", "hosts": ["b.test"]}]),
    }
    assert wanted_secrets(ingresses)["ns", "shared"].ingress == "a"


def test_issued_certificate_names_exactly_the_hosts(tmp_path: Path) -> None:
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    authority.private_key_pem.write_to_path(str(tmp_path / "ca.key"))
    ca = SandboxCA.load(tmp_path / "ca.crt", tmp_path / "ca.key")
    chain, _ = ca.issue(["hub.local.test", "www.local.test"], dt.timedelta(days=2))
    leaf = x509.load_pem_x509_certificates(chain)[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )
    assert sans == ["hub.local.test", "www.local.test"]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "hub.local.test"
    assert leaf.issuer == ca.cert.subject
    left = leaf.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=1, hours=23) < left <= dt.timedelta(days=2)
    leaf.verify_directly_issued_by(ca.cert)  # raises unless the sandbox CA signed it
