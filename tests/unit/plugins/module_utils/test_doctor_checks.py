"""The doctor's checks (plugins/module_utils/_doctor.py) on objects shaped as the API returns them."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import socket
import threading
import time
import tracemalloc
from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.module_utils import _doctor
from ansible_collections.binder.ingress.plugins.module_utils.model import build_member
from ansible_collections.binder.ingress.plugins.modules.doctor import registered_domain_of
from dns_zone import ZoneServer
from helm_records import helm_data, release_secret, secret_sized_bomb, wrap

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
DOMAIN = registered_domain_of()


def severities(findings: list[_doctor.Finding]) -> dict[str, str]:
    return {f.subject: f.severity for f in findings}


def issued(where: str, names: list[str], days_ago: float, lifetime: float = 90) -> _doctor.Issued:
    before = NOW - dt.timedelta(days=days_ago)
    return _doctor.Issued(where, tuple(names), before, before + dt.timedelta(days=lifetime))


# ---------------------------------------------------------------------------
# Let's Encrypt budget


def generated_member(count: int) -> list[dict[str, Any]]:
    """A member with ``count`` hosts under example.org, each redirected and so each with its own
    TLS Secret (the model's naming), as an old domain's many short names would be."""
    redirects = [
        {"type": "host", "from": f"h{i:03d}.example.org", "to": "www.example.org"} for i in range(count)
    ]
    state = build_member("big", {"redirector": {"redirects": redirects}}, namespace="big")
    return state.ingresses


def test_the_registered_domain_is_the_public_suffix_plus_one_label() -> None:
    assert DOMAIN("hub.mybinder.org") == "mybinder.org"
    assert DOMAIN("a.b.example.co.uk") == "example.co.uk"
    assert DOMAIN("hub.local.test") == "local.test"
    # A private suffix of the list: each user's site is its own registered domain.
    assert DOMAIN("binder.someone.github.io") == "someone.github.io"


def test_the_budget_counts_a_generated_member_of_60_hosts_under_one_domain() -> None:
    ingresses = generated_member(60)
    wanted = _doctor.wanted_certificates(ingresses)
    assert len(wanted) == 60  # one certificate per host: one order each
    secrets = sorted(wanted)
    held = [
        # 12 issued within 7 days, 8 before: only the 12 count, and none of the 20 is asked again.
        *(issued(s, list(wanted[s]), days_ago=1 + i / 4) for i, s in enumerate(secrets[:12])),
        *(issued(s, list(wanted[s]), days_ago=8 + i) for i, s in enumerate(secrets[12:20])),
        # Another domain, also in the window.
        issued("other/www", ["www.example.net"], days_ago=2),
    ]
    rows, duplicates = _doctor.budget(held, wanted, DOMAIN, NOW)
    by_domain = {r.domain: r for r in rows}
    assert by_domain["example.org"].issued == 12
    assert by_domain["example.org"].requested == 40
    assert by_domain["example.org"].projected == 52
    assert sorted(by_domain["example.org"].new_names) == sorted(h for s in secrets[20:] for h in wanted[s])
    assert (by_domain["example.net"].issued, by_domain["example.net"].requested) == (1, 0)
    findings = _doctor.check_budget(rows, duplicates, wanted)
    assert severities(findings) == {"example.org": "error", "example.net": "ok"}
    error = next(f for f in findings if f.subject == "example.org")
    assert "12 issued in 7 days + 40 the next converge requests = 52 of 50" in error.detail and error.fix


@pytest.mark.parametrize(
    ("issued_count", "requested", "severity"),
    [(10, 30, "ok"), (10, 31, "warning"), (50, 0, "warning"), (50, 1, "error")],
)
def test_the_budget_warns_past_80_percent_and_fails_past_the_limit(
    issued_count: int, requested: int, severity: str
) -> None:
    row = _doctor.BudgetRow("example.org", issued_count, requested)
    assert severities(_doctor.check_budget([row], {}, {})) == {"example.org": severity}


def test_an_expired_or_wrong_certificate_is_requested_again() -> None:
    wanted = {
        "ns/a": ("a.example.org",),
        "ns/b": ("b.example.org", "c.example.org"),
        "ns/d": ("d.example.org",),
    }
    held = [
        issued("ns/a", ["a.example.org"], days_ago=100),  # expired 10 days ago
        issued("ns/b", ["b.example.org"], days_ago=20),  # does not cover c
        issued("ns/d", ["d.example.org"], days_ago=3),  # fine
    ]
    rows = _doctor.budget(held, wanted, DOMAIN, NOW)[0]
    assert [(r.domain, r.issued, r.requested, sorted(r.new_names)) for r in rows] == [
        ("example.org", 1, 2, ["a.example.org", "c.example.org"])
    ]


def test_duplicate_certificates_of_one_set_of_names_are_counted() -> None:
    names = ["hub.example.org", "binder.example.org"]
    wanted = {"ns/hub": tuple(sorted(names))}
    five = [issued(f"ns/copy{i}", names, days_ago=i + 0.5) for i in range(5)]
    duplicates = _doctor.budget(five, wanted, DOMAIN, NOW)[1]
    found = [f for f in _doctor.check_budget([], duplicates, wanted) if f.check == "budget"]
    assert [(f.subject, f.severity) for f in found] == [("binder.example.org, hub.example.org", "error")]
    assert "5 of 5 duplicate certificates" in found[0].detail
    four = _doctor.budget(five[:4], wanted, DOMAIN, NOW)[1]
    assert [f.severity for f in _doctor.check_budget([], four, wanted)] == ["warning"]
    three = _doctor.budget(five[:3], wanted, DOMAIN, NOW)[1]
    assert _doctor.check_budget([], three, wanted) == []


# ---------------------------------------------------------------------------
# ClusterIssuers and Certificates


def issuer(
    name: str,
    solver_class: str = "traefik",
    ready: dict[str, str] | None = None,
    key: str = "ingressClassName",
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {
            "acme": {
                "server": "https://acme.test/dir",
                "solvers": [{"http01": {"ingress": {key: solver_class}}}],
            }
        },
    }
    if ready is not None:
        obj["status"] = {"conditions": [{"type": "Ready", **ready}]}
    return obj


TRAEFIK_CLASS = {"metadata": {"name": "traefik"}, "spec": {"controller": _doctor.TRAEFIK_CONTROLLER}}
NGINX_CLASS = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}
READY = {"status": "True", "reason": "ACMEAccountRegistered", "message": "registered"}


def test_ready_issuers_solving_through_traefik_are_ok() -> None:
    found = _doctor.check_issuers(["prod"], [issuer("prod", ready=READY)], [TRAEFIK_CLASS], "traefik")
    assert [(f.subject, f.severity) for f in found] == [("prod", "ok")]


@pytest.mark.parametrize(
    ("solver_class", "key", "words"),
    [
        ("trafeik", "ingressClassName", "'trafeik', which does not exist"),
        ("nginx", "ingressClassName", "'nginx', not traefik's 'traefik'"),
        ("nginx", "class", "'nginx', not traefik's 'traefik'"),
    ],
)
def test_an_issuer_solving_through_another_ingress_class_is_an_error(
    solver_class: str, key: str, words: str
) -> None:
    found = _doctor.check_issuers(
        ["prod"], [issuer("prod", solver_class, READY, key)], [TRAEFIK_CLASS, NGINX_CLASS], "traefik"
    )
    errors = [f for f in found if f.severity == "error"]
    assert len(errors) == 1 and words in errors[0].detail and "binder_ingress_class" in errors[0].fix


def test_issuers_missing_not_ready_or_not_yet_seen() -> None:
    failed = {"status": "False", "reason": "ErrRegisterACMEAccount", "message": "connection refused"}
    found = _doctor.check_issuers(
        ["gone", "broken", "new"], [issuer("broken", ready=failed), issuer("new")], [TRAEFIK_CLASS], "traefik"
    )
    assert severities(found) == {"gone": "error", "broken": "error", "new": "warning"}
    broken = next(f for f in found if f.subject == "broken")
    assert broken.detail == "not Ready: ErrRegisterACMEAccount: connection refused"
    assert _doctor.check_issuers(["x"], None, [], "traefik")[0].severity == "error"  # no CRDs


def test_a_shared_members_issuers_are_named_by_their_kind() -> None:
    found = _doctor.check_issuers(["prod"], [], [TRAEFIK_CLASS], "traefik-alpha", "Issuer")
    assert [(f.check, f.subject, f.detail) for f in found if f.severity == "error"] == [
        (
            "ingress-class",
            "traefik-alpha",
            "the IngressClass does not exist: no Ingress of the member is served",
        ),
        ("issuer", "prod", "the Issuer does not exist"),
    ]
    missing = _doctor.check_issuers(["prod"], None, [], "traefik-alpha", "Issuer")[0]
    assert (
        missing.detail
        == "the cluster does not serve cert-manager.io/v1 Issuer (cert-manager's CRDs are missing)"
    )


def test_the_ingress_class_must_exist_and_be_traefiks() -> None:
    found = _doctor.check_issuers([], [], [NGINX_CLASS], "traefik")
    assert [(f.check, f.severity) for f in found] == [("ingress-class", "error")]
    found = _doctor.check_issuers([], [], [{**NGINX_CLASS, "metadata": {"name": "traefik"}}], "traefik")
    assert "not traefik's" in found[0].detail


def certificate(secret: str, ready: dict[str, str] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": secret, "namespace": "ns"}, "spec": {"secretName": secret}}
    if ready is not None:
        obj["status"] = {"conditions": [{"type": "Ready", **ready}]}
    return obj


def test_a_failing_certificate_is_listed_with_its_reason() -> None:
    wanted = {"ns/hub-tls": ("hub.example.org",), "ns/ok-tls": ("ok.example.org",)}
    held = {"ns/ok-tls": issued("ns/ok-tls", ["ok.example.org"], days_ago=3)}
    failing = {"status": "False", "reason": "Failed", "message": "challenge hub.example.org: 404"}
    found = _doctor.check_certificates(
        wanted, held, [certificate("hub-tls", failing), certificate("ok-tls", READY)], NOW
    )
    assert severities(found) == {"ns/hub-tls": "error", "ns/ok-tls": "ok"}
    hub = next(f for f in found if f.subject == "ns/hub-tls")
    assert (
        hub.detail
        == "no certificate in the Secret; Certificate ns/hub-tls: Failed: challenge hub.example.org: 404"
    )
    assert "describe certificate hub-tls" in hub.fix
    # With the redirect blocking http01, the failure names it.
    blocked = _doctor.check_certificates(
        wanted, held, [certificate("hub-tls", failing)], NOW, blocked_by_redirect=True
    )
    assert "redirect" in next(f for f in blocked if f.subject == "ns/hub-tls").detail


def test_a_failing_certificate_names_a_host_whose_dns_leads_elsewhere() -> None:
    wanted = {"ns/hub-tls": ("hub.example.org", "www.example.org")}
    found = _doctor.check_certificates(
        wanted, {}, [], NOW, unresolved=["hub.example.org", "other.example.org"]
    )
    assert "(hub.example.org: DNS does not lead to the entrypoint, see the dns findings)" in found[0].detail


def test_a_certificate_that_names_no_wanted_secret_must_be_ready_too() -> None:
    failing = {"status": "False", "reason": "Pending", "message": "waiting"}
    found = _doctor.check_certificates(
        {}, {}, [certificate("stray", failing), certificate("fresh", None)], NOW
    )
    assert severities(found) == {"Certificate ns/stray": "error", "Certificate ns/fresh": "warning"}


def test_a_secret_without_a_certificate_resource_says_ingress_shim_made_none() -> None:
    found = _doctor.check_certificates({"ns/a": ("a.example.org",)}, {}, [], NOW)
    assert found[0].severity == "error" and "ingress-shim made none" in found[0].detail


# ---------------------------------------------------------------------------
# Entrypoint, DNS, releases, redirect, drift


def service(name: str, ports: list[int], address: str = "", kind: str = "LoadBalancer") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"type": kind, "ports": [{"port": p} for p in ports]},
    }
    if address:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": address}]}}
    return obj


def test_the_entrypoint_needs_an_address_and_on_k3s_the_ports() -> None:
    own = service("cluster-entrypoint", [80, 443], "203.0.113.10")
    blocker = service("traefik", [80, 443, 9000])
    found = _doctor.check_entrypoint(
        own, "ns/cluster-entrypoint", [own, blocker, service("x", [80], kind="ClusterIP")]
    )
    assert [f.severity for f in found] == ["ok", "error"]
    assert "ns/traefik (port 80, 443)" in found[1].detail
    assert _doctor.check_entrypoint(service("e", [80]), "ns/e", None)[0].detail.startswith("no load-balancer")
    assert _doctor.check_entrypoint(None, "ns/e", None)[0].severity == "error"


def test_dns_must_lead_every_host_to_the_entrypoint() -> None:
    resolved = {
        "good.example.org": (["203.0.113.10"], ""),
        "elsewhere.example.org": (["192.0.2.7"], ""),
        "half.example.org": (["203.0.113.10", "192.0.2.7"], ""),
        "gone.example.org": ([], "NXDOMAIN (no such name)"),
    }
    found = _doctor.check_dns(resolved, ["203.0.113.10"], resolved, "1.1.1.1")
    assert severities(found) == {
        "good.example.org": "ok",
        "elsewhere.example.org": "error",
        "half.example.org": "error",
        "gone.example.org": "error",
    }
    elsewhere = next(f for f in found if f.subject == "elsewhere.example.org")
    assert elsewhere.fix == "point the A (or AAAA) record of elsewhere.example.org at 203.0.113.10"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", None),
        ("system", None),
        ("1.1.1.1", ("1.1.1.1", 53)),
        ("127.0.0.1:8053", ("127.0.0.1", 8053)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_the_resolver_is_the_system_or_a_server(text: str, parsed: tuple[str, int] | None) -> None:
    assert _doctor.parse_resolver(text) == parsed


@pytest.mark.parametrize("text", ["dns.example.org", "1.1.1.1:0", "1.1.1.1:99999", "1.1.1.1:x"])
def test_a_resolver_that_is_no_address_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not 'system' nor a DNS server"):
        _doctor.parse_resolver(text)


def test_resolve_asks_a_real_dns_server() -> None:
    with ZoneServer({"hub.local.test": "127.0.0.1", "far.local.test": "192.0.2.7"}) as server:
        at = _doctor.parse_resolver(server.address)
        assert _doctor.resolve("hub.local.test", at) == (["127.0.0.1"], "")
        assert _doctor.resolve("far.local.test", at) == (["192.0.2.7"], "")
        assert _doctor.resolve("none.local.test", at) == ([], "NXDOMAIN (no such name)")
    assert "hub.local.test A" in server.questions


def test_the_system_resolver_is_bounded_by_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # getaddrinfo takes no timeout: an NSS module or an unanswering nameserver can hold it for minutes.
    answered = threading.Event()

    def hanging(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        answered.wait(5)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 0))]

    monkeypatch.setattr(_doctor.socket, "getaddrinfo", hanging)
    started = time.monotonic()
    try:
        result = _doctor.resolve("hub.example.org", None, 0.3)
    finally:
        elapsed = time.monotonic() - started
        answered.set()
    assert elapsed < 1.5, elapsed
    assert result == ([], "no answer within 0.3 s (dns_timeout)")


def test_the_system_resolver_answers_within_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    infos = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::7", 0, 0, 0))]
    infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 0)))
    monkeypatch.setattr(_doctor.socket, "getaddrinfo", lambda host, *a, **k: infos)
    assert _doctor.resolve("hub.example.org", None, 1) == (["192.0.2.7", "2001:db8::7"], "")

    def fails(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(_doctor.socket, "getaddrinfo", fails)
    assert _doctor.resolve("none.example.org", None, 1) == ([], "[Errno -2] Name or service not known")


def release_findings(secrets: list[dict[str, Any]], **over: Any) -> list[_doctor.Finding]:
    return _doctor.check_release(_doctor.read_release("traefik", "ns", secrets, **over))


def test_the_latest_release_revision_must_be_deployed() -> None:
    (ok,) = release_findings([release_secret(1, "superseded"), release_secret(2, "deployed")])
    assert (ok.subject, ok.severity, ok.detail) == ("ns/traefik", "ok", "revision 2 deployed")
    (failed,) = release_findings([release_secret(2, "deployed"), release_secret(3, "failed")])
    assert failed.severity == "error" and failed.detail == "revision 3 is failed"
    (missing,) = release_findings([])
    assert missing.severity == "error" and missing.detail.startswith("not installed")


def test_the_record_is_read_plain_as_helm_reads_an_uncompressed_one() -> None:
    secret = release_secret(4, "deployed", {"a": 1})
    body = {
        "name": "traefik",
        "namespace": "ns",
        "version": 4,
        "info": {"status": "deployed"},
        "config": {"a": 1},
    }
    secret["data"]["release"] = helm_data(body, compress=False)
    assert _doctor.read_release("traefik", "ns", [secret]).values == {"a": 1}


def test_only_helm_release_secrets_of_the_release_count() -> None:
    # A higher version under another type, owner or release name is not the release's record.
    secrets = [
        release_secret(2, "deployed"),
        release_secret(9, "failed", kind="Opaque"),
        release_secret(8, "failed", release="other"),
        {**release_secret(7, "failed"), "type": None},
    ]
    not_helm = release_secret(6, "failed")
    not_helm["metadata"]["labels"]["owner"] = "someone"
    latest = _doctor.read_release("traefik", "ns", [*secrets, not_helm])
    assert (latest.revision, latest.secret, latest.status) == (
        2,
        "ns/sh.helm.release.v1.traefik.v2",
        "deployed",
    )


def test_a_gzip_bomb_is_an_error_of_the_release_read_within_the_limit() -> None:
    blob, size = secret_sized_bomb()
    assert len(base64.b64encode(blob)) <= 2**20 and size > 700 * 2**20  # about 0.75 GB from 1 MiB
    secret = release_secret(3, "deployed")
    secret["data"]["release"] = wrap(blob)
    tracemalloc.start()
    try:
        latest = _doctor.read_release("traefik", "ns", [release_secret(2, "superseded"), secret])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < _doctor.RELEASE_RECORD_LIMIT + 8 * 2**20, peak
    assert latest.values is None
    (finding,) = _doctor.check_release(latest)
    assert (finding.severity, finding.subject) == ("error", "ns/traefik")
    assert finding.detail == (
        "Secret ns/sh.helm.release.v1.traefik.v3: the record of revision 3 cannot be read: "
        "it decompresses to more than 32 MiB"
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            lambda: wrap(gzip.compress(b'{"name": "traefik"}')[:-12]),
            "its gzip data is cut short",
        ),
        (
            lambda: wrap(b"\x1f\x8b\x08" + bytes(20)),
            "its gzip data is corrupt",
        ),
        (lambda: "not base64!", "it is not base64"),
        (lambda: helm_data(b"[1, 2]"), "it is not a Helm release record (a JSON list)"),
        (lambda: helm_data(b"{"), "it is not a Helm release record (JSON: "),
    ],
)
def test_a_record_that_cannot_be_read_is_an_error_naming_the_secret(data: Any, reason: str) -> None:
    secret = release_secret(5, "deployed")
    secret["data"]["release"] = data()
    (finding,) = release_findings([secret])
    assert finding.severity == "error"
    assert finding.detail.startswith(
        f"Secret ns/sh.helm.release.v1.traefik.v5: the record of revision 5 cannot be read: {reason}"
    ), finding.detail


def test_gzip_members_are_read_one_after_the_other_within_one_limit() -> None:
    body = json.dumps({"name": "traefik", "namespace": "ns", "version": 1, "info": {"status": "deployed"}})
    blob = gzip.compress(body[:10].encode()) + gzip.compress(body[10:].encode())
    secret = release_secret(1, "deployed")
    secret["data"]["release"] = wrap(blob)
    assert _doctor.read_release("traefik", "ns", [secret]).status == "deployed"
    limited = _doctor.read_release("traefik", "ns", [secret], limit=len(body) - 1)
    assert limited.problem.endswith(f"it decompresses to more than {(len(body) - 1) / 2**20:g} MiB")


@pytest.mark.parametrize(
    ("record", "said"),
    [
        ({"version": 2}, "revision 2 of release 'traefik' in 'ns'"),
        ({"version": "5"}, "revision '5' of release 'traefik' in 'ns'"),
        ({"version": True}, "revision True of release 'traefik' in 'ns'"),
        ({"name": "other"}, "revision 5 of release 'other' in 'ns'"),
        ({"namespace": "elsewhere"}, "revision 5 of release 'traefik' in 'elsewhere'"),
    ],
)
def test_the_record_must_say_the_revision_and_release_its_labels_say(
    record: dict[str, Any], said: str
) -> None:
    (finding,) = release_findings(
        [release_secret(4, "superseded"), release_secret(5, "deployed", record=record)]
    )
    assert finding.severity == "error"
    assert finding.detail == (
        f"Secret ns/sh.helm.release.v1.traefik.v5: the record is {said}, "
        "its labels and namespace say revision 5 of 'traefik' in 'ns'"
    )


@pytest.mark.parametrize("label", ["x", "07", "-1", "0", "1e3", "99999999999", " 3"])
def test_a_version_label_that_is_no_revision_number_is_an_error(label: str) -> None:
    bad = release_secret(2, "deployed")
    bad["metadata"]["labels"]["version"] = label
    (finding,) = release_findings([release_secret(1, "superseded"), bad])
    assert finding.severity == "error"
    assert finding.detail == (
        f"Secret ns/sh.helm.release.v1.traefik.v2: its version label {label!r} is not a Helm revision number"
    )


REDIRECT = {"http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https"}}}}


@pytest.mark.parametrize(
    ("web", "severity"),
    [
        ({}, "ok"),
        ({**REDIRECT, "allowACMEByPass": True}, "ok"),
        (REDIRECT, "error"),
        ({**REDIRECT, "allowACMEByPass": False}, "error"),
    ],
)
def test_a_redirect_must_let_http01_through(web: dict[str, Any], severity: str) -> None:
    values = _doctor.read_release(
        "traefik", "ns", [release_secret(1, "deployed", {"ports": {"web": web}})]
    ).values
    assert [f.severity for f in _doctor.check_redirect(values, "ns/traefik")] == [severity]


def deployment(name: str, want: int, available: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "annotations": {"meta.helm.sh/release-name": "traefik"},
        },
        "spec": {"replicas": want},
        "status": {
            "availableReplicas": available,
            "conditions": [{"type": "Available", "message": "min not met"}],
        },
    }


def test_every_deployment_of_the_release_must_be_available() -> None:
    found = _doctor.check_deployments(
        "traefik", "ns", [deployment("traefik", 2, 2), deployment("other", 2, 1)]
    )
    assert severities(found) == {"ns/traefik": "ok", "ns/other": "error"}
    assert "1/2 replicas available: min not met" in found[0].detail + found[1].detail
    assert (
        _doctor.check_deployments("cert-manager", "ns", [deployment("traefik", 1, 1)])[0].severity == "error"
    )


def test_drift_finds_missing_changed_and_extra_ingresses() -> None:
    state = build_member(
        "m",
        {"binderhub": {"hosts": ["binder.example.org"]}, "jupyterhub": {"hosts": ["hub.example.org"]}},
        namespace="ns",
    )
    desired = state.ingresses
    changed = json.loads(json.dumps(desired[0]))
    changed["spec"]["rules"][0]["host"] = "typo.example.org"
    changed["metadata"]["annotations"]["kubernetes.io/tls-acme"] = "false"
    changed["metadata"]["annotations"]["someone.else/note"] = "kept"  # not the model's: no drift
    extra = json.loads(json.dumps(desired[1]))
    extra["metadata"]["name"] = "left-over"
    unlabelled = {"metadata": {"name": "not-ours", "namespace": "ns", "labels": {}}, "spec": {}}
    found = _doctor.check_drift("m", desired, [changed, extra, unlabelled])
    names = [i["metadata"]["name"] for i in desired]
    assert severities(found) == {
        f"ns/{names[0]}": "error",
        f"ns/{names[1]}": "error",
        "ns/left-over": "warning",
    }
    assert [f.detail for f in found if f.subject == f"ns/{names[1]}"] == ["missing from the cluster"]
    detail = next(f.detail for f in found if f.subject == f"ns/{names[0]}")
    assert "spec.rules" in detail and "annotation kubernetes.io/tls-acme='false', expected 'true'" in detail
    assert all(f.severity == "ok" for f in _doctor.check_drift("m", desired, desired))


def test_fail_on_picks_the_findings_that_fail() -> None:
    findings = [_doctor.Finding("a", "x", s, "d") for s in ("ok", "warning", "error")]
    assert [f.severity for f in _doctor.fails(findings, "error")] == ["error"]
    assert [f.severity for f in _doctor.fails(findings, "warning")] == ["warning", "error"]
    assert _doctor.fails(findings, "never") == []


def test_the_table_and_markdown_put_errors_first() -> None:
    findings = [
        _doctor.Finding("dns", "a.example.org", "ok", "resolves to 203.0.113.10"),
        _doctor.Finding("dns", "b.example.org", "error", "resolves to 192.0.2.7", "point it | there"),
    ]
    rows = [_doctor.BudgetRow("example.org", 3, 1, ["new.example.org"])]
    text = _doctor.table(findings, rows).splitlines()
    assert text[0].split() == ["severity", "check", "subject", "finding", "fix"]
    assert text[2].startswith("ERROR") and text[3].startswith("ok")
    assert text[-1].split() == ["example.org", "3", "1", "4"]
    md = _doctor.markdown("m", findings, rows, "1 errors")
    assert "| ERROR | dns | b.example.org | resolves to 192.0.2.7 | point it \\| there |" in md
    assert "| example.org | 3 | 1 | 4 | new.example.org |" in md
