"""The certificate stand-in's pure parts: ingress-shim's Certificates, the issuer it reads,
when it issues, and the solver objects it creates."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
import trustme
from acme import challenges, errors, messages
from cryptography import x509

from sandbox.controlplane.cluster import SandboxError
from sandbox.controlplane.pebble import parse_lifetime
from sandbox.dataplane.certs import (
    CHALLENGE_PATH,
    SOLVER_LABEL,
    SOLVER_PORT,
    Issuer,
    acme_error,
    backoff,
    certificates_for,
    issue_reason,
    parse_duration,
    renewal_time,
    requested_issuer,
    solver_objects,
)

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def _ingress(
    name: str, annotations: dict[str, str], tls: list[dict[str, Any]], namespace: str = "ns"
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "annotations": annotations},
        "spec": {"tls": tls},
    }


@pytest.mark.parametrize(
    ("annotations", "issuer"),
    [
        ({"kubernetes.io/tls-acme": "true"}, "letsencrypt-prod"),
        ({"kubernetes.io/tls-acme": "false"}, None),
        ({"cert-manager.io/cluster-issuer": "letsencrypt-staging"}, "letsencrypt-staging"),
        # The explicit issuer wins over tls-acme, as in ingress-shim.
        ({"cert-manager.io/cluster-issuer": "staging", "kubernetes.io/tls-acme": "true"}, "staging"),
        ({"traefik.ingress.kubernetes.io/router.middlewares": "default@file"}, None),
        ({}, None),
    ],
)
def test_which_ingresses_ask_for_a_certificate(annotations: dict[str, str], issuer: str | None) -> None:
    assert requested_issuer(_ingress("x", annotations, []), "letsencrypt-prod") == issuer


def test_tls_acme_without_a_default_issuer_asks_for_nothing() -> None:
    """ingress-shim without --default-issuer-name has no issuer for tls-acme Ingresses."""
    assert requested_issuer(_ingress("x", {"kubernetes.io/tls-acme": "true"}, []), None) is None
    tls = [{"hosts": ["a.example.org"], "secretName": "tls-a"}]
    assert certificates_for({("ns", "x"): _ingress("x", {"kubernetes.io/tls-acme": "true"}, tls)}, None) == {}


def test_one_certificate_per_tls_entry_with_exactly_its_hosts() -> None:
    ingresses = {
        ("ns", "hub"): _ingress(
            "hub",
            {"kubernetes.io/tls-acme": "true"},
            [
                {"hosts": ["b.example.org", "a.example.org", "a.example.org"], "secretName": "tls-ab"},
                {"hosts": ["c.example.org"], "secretName": "tls-c"},
                {"hosts": [], "secretName": "tls-empty"},
                {"hosts": ["d.example.org"]},
            ],
        ),
        ("ns", "plain"): _ingress("plain", {}, [{"hosts": ["e.example.org"], "secretName": "tls-e"}]),
    }
    certificates = certificates_for(ingresses, "letsencrypt-prod")
    assert sorted(certificates) == [("ns", "tls-ab"), ("ns", "tls-c")]
    ab = certificates[("ns", "tls-ab")]
    assert ab["apiVersion"] == "cert-manager.io/v1"
    assert ab["kind"] == "Certificate"
    assert ab["spec"]["dnsNames"] == ["a.example.org", "b.example.org"]
    assert ab["spec"]["secretName"] == "tls-ab"
    assert ab["spec"]["issuerRef"] == {
        "name": "letsencrypt-prod",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }
    # Owned by the Ingress: the garbage collector removes it with the Ingress.
    (owner,) = ab["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Ingress",
        "hub",
        "uid-hub",
        True,
    )


def test_two_ingresses_naming_one_secret_get_one_certificate_the_first_ones() -> None:
    tls_a = [{"hosts": ["a.example.org"], "secretName": "shared"}]
    tls_b = [{"hosts": ["b.example.org"], "secretName": "shared"}]
    certificates = certificates_for(
        {
            ("ns", "a"): _ingress("a", {"kubernetes.io/tls-acme": "true"}, tls_a),
            ("ns", "b"): _ingress("b", {"kubernetes.io/tls-acme": "true"}, tls_b),
        },
        "le",
    )
    assert [c["spec"]["dnsNames"] for c in certificates.values()] == [["a.example.org"]]


def _issuer(**acme: Any) -> dict[str, Any]:
    return {"metadata": {"name": "le"}, "spec": {"acme": acme}}


def test_the_issuer_is_read_as_the_cert_manager_role_writes_it() -> None:
    bundle = trustme.CA().cert_pem.bytes()
    issuer = Issuer.of(
        _issuer(
            server="https://127.0.0.1:14000/dir",
            email="ops@example.org",
            privateKeySecretRef={"name": "le"},
            caBundle=base64.b64encode(bundle).decode(),
            solvers=[{"http01": {"ingress": {"ingressClassName": "traefik"}}}],
        )
    )
    assert issuer == Issuer("le", "https://127.0.0.1:14000/dir", "ops@example.org", "le", "traefik", bundle)
    assert issuer.ingress_metadata == {}


def test_the_issuers_ingress_template_labels_and_annotates_its_solver_ingresses() -> None:
    entrypoints = "traefik.ingress.kubernetes.io/router.entrypoints"
    template = {"annotations": {entrypoints: "web"}, "labels": {"team": "edge", SOLVER_LABEL: "no"}}
    issuer = Issuer.of(
        _issuer(
            server="https://127.0.0.1:14000/dir",
            solvers=[
                {
                    "http01": {
                        "ingress": {"ingressClassName": "traefik", "ingressTemplate": {"metadata": template}}
                    }
                }
            ],
        )
    )
    assert issuer.ingress_metadata == template
    service, ingress = solver_objects(
        "ns", "tls-a", "a.example.org", "TOKEN", "traefik", issuer.ingress_metadata
    )
    assert ingress["metadata"]["annotations"][entrypoints] == "web"
    # The template's labels are added; the solver's own win (its Service selects by them).
    assert ingress["metadata"]["labels"]["team"] == "edge"
    assert ingress["metadata"]["labels"][SOLVER_LABEL] == "true"
    # The template is the Ingress's only: the Service is as without it.
    assert service == solver_objects("ns", "tls-a", "a.example.org", "TOKEN", "traefik")[0]


@pytest.mark.parametrize(
    ("acme", "message"),
    [
        ({}, "not an ACME issuer"),
        ({"server": "https://x/dir", "solvers": [{"dns01": {}}]}, "no http01 solver"),
        ({"server": "https://x/dir", "solvers": [{"http01": {"gatewayHTTPRoute": {}}}]}, "no http01 solver"),
    ],
)
def test_issuers_the_stand_in_cannot_serve_are_refused(acme: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Issuer.of(_issuer(**acme))


def _certificate(names: list[str], issuer: str = "le") -> dict[str, Any]:
    return {"spec": {"secretName": "s", "dnsNames": names, "issuerRef": {"name": issuer}}}


def _secret(
    names: list[str], not_before: dt.datetime, lifetime: dt.timedelta, issuer: str = "le"
) -> dict[str, Any]:
    leaf = trustme.CA().issue_cert(*names, not_before=not_before, not_after=not_before + lifetime)
    pem = leaf.cert_chain_pems[0].bytes()
    return {
        "metadata": {"annotations": {"cert-manager.io/issuer-name": issuer}},
        "data": {"tls.crt": base64.b64encode(pem).decode()},
    }


def test_renewal_is_at_two_thirds_of_the_lifetime() -> None:
    secret = _secret(["a.example.org"], NOW, dt.timedelta(days=90))
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    assert renewal_time(cert) == NOW.replace(microsecond=0) + dt.timedelta(days=60)


@pytest.mark.parametrize(
    ("secret_names", "issuer", "age", "reason"),
    [
        (["a.example.org"], "le", dt.timedelta(days=1), None),
        (["a.example.org"], "le", dt.timedelta(days=59), None),
        (["a.example.org"], "le", dt.timedelta(days=61), "Renewing certificate"),
        (["a.example.org", "b.example.org"], "le", dt.timedelta(days=1), "different DNS names"),
        (["a.example.org"], "other", dt.timedelta(days=1), "different issuer"),
    ],
)
def test_when_a_certificate_is_issued_again(
    secret_names: list[str], issuer: str, age: dt.timedelta, reason: str | None
) -> None:
    secret = _secret(secret_names, NOW - age, dt.timedelta(days=90), issuer)
    found = issue_reason(_certificate(["a.example.org"]), secret, NOW)
    assert (found is None) if reason is None else (found is not None and reason in found)


def test_a_missing_or_unreadable_secret_is_issued() -> None:
    assert "does not exist" in str(issue_reason(_certificate(["a.example.org"]), None, NOW))
    broken = {"metadata": {}, "data": {"tls.crt": base64.b64encode(b"junk").decode()}}
    assert "invalid certificate" in str(issue_reason(_certificate(["a.example.org"]), broken, NOW))


def test_backoff_doubles_from_seconds_up_to_a_cap() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [5.0, 10.0, 20.0, 40.0]
    assert backoff(50) == 300.0


def test_solver_objects_are_shaped_like_cert_managers() -> None:
    service, ingress = solver_objects("ns", "tls-a", "a.example.org", "TOKEN", "traefik")
    name = service["metadata"]["name"]
    assert name.startswith("cm-acme-http-solver-")
    assert ingress["metadata"]["name"] == name
    for obj in (service, ingress):
        assert obj["metadata"]["namespace"] == "ns"
        assert obj["metadata"]["labels"][SOLVER_LABEL] == "true"
    assert service["spec"]["ports"][0]["port"] == SOLVER_PORT
    assert service["spec"]["selector"][SOLVER_LABEL] == "true"
    assert ingress["spec"]["ingressClassName"] == "traefik"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "a.example.org"
    (path,) = rule["http"]["paths"]
    assert path["path"] == CHALLENGE_PATH + "TOKEN"
    assert path["pathType"] == "ImplementationSpecific"
    assert path["backend"]["service"] == {"name": name, "port": {"number": SOLVER_PORT}}
    # A Certificate's name may be longer than a label value may be: its name is in an annotation.
    long_name = "tls-redirector-a-federation-member-with-a-rather-long-name-for-its-redirect-local-test"
    for obj in solver_objects("ns", long_name, "a.example.org", "TOKEN", "traefik"):
        assert all(len(value) <= 63 for value in obj["metadata"]["labels"].values())
        assert obj["metadata"]["annotations"]["sandbox.binder.ingress/certificate"] == f"ns/{long_name}"
    # Another token or domain gets other objects.
    assert solver_objects("ns", "tls-a", "a.example.org", "OTHER", "traefik")[0]["metadata"]["name"] != name


def test_an_acme_validation_error_is_reported_in_the_servers_words() -> None:
    problem = messages.Error(typ="urn:ietf:params:acme:error:connection", detail="connection refused")
    challb = messages.ChallengeBody(
        chall=challenges.HTTP01(token=b"t" * 16), status=messages.STATUS_INVALID, error=problem
    )
    authz = messages.AuthorizationResource(
        body=messages.Authorization(
            identifier=messages.Identifier(typ=messages.IDENTIFIER_FQDN, value="a.example.org"),
            challenges=[challb],
            status=messages.STATUS_INVALID,
        )
    )
    text = acme_error(errors.ValidationError([authz]))
    assert text.startswith("a.example.org: ")
    assert "urn:ietf:params:acme:error:connection" in text
    assert "connection refused" in text


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 90 * 86400), ("12h", 43200), ("30m", 1800), ("45", 45)]
)
def test_parse_lifetime(text: str, seconds: int) -> None:
    assert parse_lifetime(text) == seconds


@pytest.mark.parametrize("text", ["0", "-1d", "3w", "ten days", "1.5d"])
def test_parse_lifetime_rejects(text: str) -> None:
    with pytest.raises(SandboxError, match="SANDBOX_CERT_LIFETIME"):
        parse_lifetime(text)


@pytest.mark.parametrize(
    ("text", "seconds"), [("2160h", 2160 * 3600), ("1h30m", 5400), ("45s", 45), ("1m0.5s", 60.5)]
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "30", "1d", "h", "30s junk"])
def test_go_durations_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="Go duration"):
        parse_duration(text)


def test_ingress_shim_passes_the_duration_annotation_on() -> None:
    tls = [{"hosts": ["a.example.org"], "secretName": "tls-a"}]
    annotations = {"kubernetes.io/tls-acme": "true", "cert-manager.io/duration": "30s"}
    (certificate,) = certificates_for({("ns", "a"): _ingress("a", annotations, tls)}, "le").values()
    assert certificate["spec"]["duration"] == "30s"
