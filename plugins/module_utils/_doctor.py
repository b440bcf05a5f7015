# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Doctor: why a member's HTTPS is (or will be) broken, from what its cluster and DNS hold.

Private helper of the doctor module. Each ``check_*`` function takes objects as the Kubernetes
API returns them (plain JSON) and returns findings; none of them calls anything, so they are
tested on their own. Reading the cluster is the module's job; ``resolve`` asks DNS (a given
server through dnspython, or the system resolver).

A finding says what was checked, on what, how bad it is (``ok``, ``warning``, ``error``), what
was seen, and one line of what to do about it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import socket
import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    LABEL_MANAGED_BY,
    LABEL_MEMBER,
    LABEL_SET,
    MANAGED_BY,
    SET_INGRESSES,
)

__all__ = [
    "DUPLICATE_LIMIT",
    "HELM_RELEASE_TYPE",
    "PER_DOMAIN_LIMIT",
    "RELEASE_RECORD_LIMIT",
    "SEVERITIES",
    "TRAEFIK_CONTROLLER",
    "WINDOW",
    "BudgetRow",
    "Finding",
    "HelmRelease",
    "Issued",
    "ReleaseRecordError",
    "budget",
    "check_budget",
    "check_certificates",
    "check_deployments",
    "check_dns",
    "check_drift",
    "check_entrypoint",
    "check_issuers",
    "check_redirect",
    "check_release",
    "decode_release_record",
    "fails",
    "load_balancer_address",
    "markdown",
    "parse_resolver",
    "port_holders",
    "read_release",
    "resolve",
    "table",
    "wanted_certificates",
]

JSON = dict[str, Any]
SEVERITIES = ("ok", "warning", "error")
# Let's Encrypt's limits (letsencrypt.org/docs/rate-limits): new certificates per registered domain
# and certificates for the exact same set of names, each per sliding 7 days.
PER_DOMAIN_LIMIT = 50
DUPLICATE_LIMIT = 5
WINDOW = dt.timedelta(days=7)
# A registered domain this close to its limit is a warning.
BUDGET_WARN_SHARE = 0.8
# The IngressClass controller of traefik.
TRAEFIK_CONTROLLER = "traefik.io/ingress-controller"
# What helm writes on every object of a release.
HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name"


@dataclass(frozen=True)
class Finding:
    """One result of one check: ``check`` on ``subject`` is ``severity``; ``fix`` says what to do."""

    check: str
    subject: str
    severity: str
    detail: str
    fix: str = ""

    def as_dict(self) -> JSON:
        return {
            "check": self.check,
            "subject": self.subject,
            "severity": self.severity,
            "detail": self.detail,
            "fix": self.fix,
        }


def fails(findings: Iterable[Finding], fail_on: str) -> list[Finding]:
    """The findings at or above ``fail_on`` (``error``, ``warning``; ``never`` fails none)."""
    if fail_on == "never":
        return []
    floor = SEVERITIES.index(fail_on)
    return [f for f in findings if SEVERITIES.index(f.severity) >= floor]


def _conditions(obj: Mapping[str, Any]) -> dict[str, JSON]:
    return {str(c.get("type")): c for c in ((obj.get("status") or {}).get("conditions") or [])}


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta.get("name"))


# ---------------------------------------------------------------------------
# Entrypoint


def load_balancer_address(service: Mapping[str, Any] | None) -> str:
    """The first load-balancer address (ip, else hostname) of a Service; "" when it has none."""
    ingress = (((service or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    first = ingress[0] if ingress else {}
    return str(first.get("ip") or first.get("hostname") or "")


def port_holders(
    services: Iterable[Mapping[str, Any]], own: str, ports: Sequence[int] = (80, 443)
) -> list[str]:
    """Every LoadBalancer Service but ``own`` (``namespace/name``) that holds one of ``ports``, as
    ``namespace/name (port 80, 443)``: on k3s, ServiceLB gives each node port to one of them only."""
    held_by: list[str] = []
    for svc in services:
        if (svc.get("spec") or {}).get("type") != "LoadBalancer" or _name(svc) == own:
            continue
        held = [p.get("port") for p in (svc.get("spec") or {}).get("ports") or [] if p.get("port") in ports]
        if held:
            held_by.append(f"{_name(svc)} (port {', '.join(str(p) for p in held)})")
    return held_by


def check_entrypoint(
    service: Mapping[str, Any] | None, own: str, services: Iterable[Mapping[str, Any]] | None
) -> list[Finding]:
    """The entrypoint Service exists and has an address; with ``services`` (a k3s member: every
    Service of the cluster), no other LoadBalancer holds 80 or 443."""
    found: list[Finding] = []
    if service is None:
        found.append(
            Finding(
                "entrypoint",
                own,
                "error",
                "the Service does not exist",
                "converge: ansible-playbook site.yml",
            )
        )
    elif not load_balancer_address(service):
        found.append(
            Finding(
                "entrypoint",
                own,
                "error",
                "no load-balancer address (status.loadBalancer.ingress is empty)",
                "check the cloud's load balancer (kubectl describe service) and its quota",
            )
        )
    else:
        found.append(
            Finding("entrypoint", own, "ok", f"load-balancer address {load_balancer_address(service)}")
        )
    if services is not None:
        blockers = port_holders(services, own)
        if blockers:
            found.append(
                Finding(
                    "entrypoint",
                    own,
                    "error",
                    f"k3s ServiceLB: port 80/443 already held by {'; '.join(blockers)}",
                    "delete those Services (bundled traefik: start k3s with `disable: [traefik]`)",
                )
            )
        else:
            found.append(
                Finding("entrypoint", own, "ok", "no other LoadBalancer Service holds port 80 or 443")
            )
    return found


# ---------------------------------------------------------------------------
# DNS


def parse_resolver(text: str) -> tuple[str, int] | None:
    """``""`` or ``system``: the system resolver (None); else a DNS server as ``address``,
    ``address:port`` or ``[v6 address]:port`` (port 53 by default). ValueError when malformed."""
    text = text.strip()
    if text in ("", "system"):
        return None
    if text.startswith("["):
        address, _bracket, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53"
    elif text.count(":") == 1:
        address, port = text.split(":")
    else:
        address, port = text, "53"
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
        number = int(port)
    except (OSError, ValueError):
        number = 0
    if not 0 < number < 65536:
        raise ValueError(f"{text!r} is not 'system' nor a DNS server as address[:port] (an IP address)")
    return address, number


def _system_lookup(host: str, timeout: float) -> tuple[list[str], str]:
    """getaddrinfo, which takes no timeout (the system resolver's own can add up to minutes, and an NSS
    module may never return), bounded by ``timeout``: it runs in a daemon thread that is left behind
    if it does not answer in time, and cannot keep the process from exiting."""
    answer: list[tuple[list[str], str]] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            answer.append(([], str(exc)))
        else:
            answer.append((sorted({str(info[4][0]) for info in infos}), ""))

    asking = threading.Thread(target=lookup, name=f"doctor: resolve {host}", daemon=True)
    asking.start()
    asking.join(timeout)
    return answer[0] if answer else ([], f"no answer within {timeout:g} s (dns_timeout)")


def resolve(host: str, server: tuple[str, int] | None, timeout: float = 5.0) -> tuple[list[str], str]:
    """The addresses ``host`` resolves to (A and AAAA, CNAMEs followed), and the error that
    stopped the lookup ("" if none). ``server`` None asks the system resolver. Each question
    (the system resolver's one, or A and AAAA from a server) takes ``timeout`` seconds at most."""
    if server is None:
        return _system_lookup(host, timeout)
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    addresses: set[str] = set()
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        query = dns.message.make_query(host, rdtype)
        try:
            answer = dns.query.udp(query, server[0], port=server[1], timeout=timeout)
        except (dns.exception.DNSException, OSError) as exc:
            return [], f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if answer.rcode() == dns.rcode.NXDOMAIN:
            return [], "NXDOMAIN (no such name)"
        if answer.rcode() != dns.rcode.NOERROR:
            return [], dns.rcode.to_text(answer.rcode())
        for rrset in answer.answer:
            if rrset.rdtype == rdtype:
                addresses.update(str(item.address) for item in rrset)
    return sorted(addresses), ""


def check_dns(
    hosts: Iterable[str],
    expected: Sequence[str],
    resolved: Mapping[str, tuple[Sequence[str], str]],
    resolver: str,
) -> list[Finding]:
    """Every host resolves to the entrypoint's addresses (``expected``), and only to them.

    ``resolved`` maps each host to (its addresses, the error that stopped the lookup or "").
    """
    found: list[Finding] = []
    want = ", ".join(expected) or "(the entrypoint has no address)"
    for host in sorted(set(hosts)):
        addresses, error = resolved.get(host, ((), "not looked up"))
        if error or not addresses:
            found.append(
                Finding(
                    "dns",
                    host,
                    "error",
                    f"does not resolve via {resolver}: {error or 'no address'}",
                    f"create an A (or AAAA) record {host} -> {want}",
                )
            )
        elif not expected:
            found.append(
                Finding(
                    "dns",
                    host,
                    "warning",
                    f"resolves to {', '.join(addresses)}; the entrypoint has none to compare",
                )
            )
        elif set(addresses) - set(expected):
            found.append(
                Finding(
                    "dns",
                    host,
                    "error",
                    f"resolves to {', '.join(addresses)}, not the entrypoint's {want}",
                    f"point the A (or AAAA) record of {host} at {want}",
                )
            )
        else:
            found.append(Finding("dns", host, "ok", f"resolves to {', '.join(addresses)}"))
    return found


# ---------------------------------------------------------------------------
# Helm releases and their Deployments


# What Helm's Secret storage driver writes: the type, and the labels it selects a release's records by.
HELM_RELEASE_TYPE = "helm.sh/release.v1"
_GZIP_MAGIC = b"\x1f\x8b\x08"
# A revision number as Helm writes it in the record's `version` label (an int32, from 1).
_REVISION_RE = re.compile(r"[1-9][0-9]{0,9}\Z")
_REVISION_MAX = 2**31 - 1
# The most one release record may decompress to. A Secret holds at most 1 MiB, so a record is at most
# 768 KiB of gzip (Helm base64-encodes it); JSON and YAML as big as Kubernetes' own OpenAPI document
# compress about 14 to 1, so a real record that fits a Secret decompresses to 11 MiB at most. 32 MiB is
# well above that and far below the ~0.8 GB such a Secret holds as a gzip bomb.
RELEASE_RECORD_LIMIT = 32 * 1024 * 1024
_GUNZIP_STEP = 1024 * 1024


class ReleaseRecordError(ValueError):
    """A Helm release record that cannot be read within the bounds; the message says why."""


def _gunzip(blob: bytes, limit: int) -> bytes:
    """The decompressed bytes of gzip members (Helm's reader takes concatenated ones), at most limit.

    Decompressed a MiB at a time, so what is held never exceeds the limit by more than that, whatever
    the ratio (zlib's own buffer for one call would double it).
    """
    parts: list[bytes] = []
    size = 0
    rest = blob
    while rest:
        stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = rest
        while True:
            try:
                part = stream.decompress(data, min(_GUNZIP_STEP, limit + 1 - size))
            except zlib.error as exc:
                raise ReleaseRecordError(f"its gzip data is corrupt ({exc})") from exc
            size += len(part)
            if size > limit:
                raise ReleaseRecordError(f"it decompresses to more than {limit / 2**20:g} MiB")
            parts.append(part)
            if stream.eof:
                break
            data = stream.unconsumed_tail
            if not part and not data:
                raise ReleaseRecordError("its gzip data is cut short")
        rest = stream.unused_data
    return b"".join(parts)


def decode_release_record(data: str, limit: int = RELEASE_RECORD_LIMIT) -> JSON:
    """A release record (JSON) from a Helm release Secret's ``data.release`` as the API returns it:
    base64 (the Secret's), base64 (Helm's), gzip unless it is plain JSON, decompressed to at most limit."""
    try:
        blob = base64.b64decode(base64.b64decode(data, validate=True), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReleaseRecordError(f"it is not base64 ({exc})") from exc
    if blob[:3] == _GZIP_MAGIC:
        blob = _gunzip(blob, limit)
    try:
        record = json.loads(blob)
    except ValueError as exc:
        raise ReleaseRecordError(f"it is not a Helm release record (JSON: {exc})") from exc
    if not isinstance(record, dict):
        raise ReleaseRecordError(f"it is not a Helm release record (a JSON {type(record).__name__})")
    return record


@dataclass(frozen=True)
class HelmRelease:
    """What the doctor knows of a Helm release from its latest record.

    ``revision`` 0 and ``secret`` "" when there is no record; ``problem`` says why the record that should
    be the latest cannot be trusted (then ``status`` is unknown and ``values`` None).
    """

    name: str
    namespace: str
    secret: str = ""
    revision: int = 0
    status: str = ""
    values: JSON | None = None
    problem: str = ""
    # The chart the revision was made from: name, version and appVersion ("" when it has none).
    chart: tuple[str, str, str] | None = None

    @property
    def subject(self) -> str:
        return f"{self.namespace}/{self.name}"


def _revision(label: Any) -> int | None:
    if isinstance(label, str) and _REVISION_RE.match(label) and int(label) <= _REVISION_MAX:
        return int(label)
    return None


def read_release(
    release: str, namespace: str, secrets: Iterable[Mapping[str, Any]], limit: int = RELEASE_RECORD_LIMIT
) -> HelmRelease:
    """The release's latest revision, from the Secrets Helm keeps its records in.

    Only Secrets of type ``helm.sh/release.v1`` labelled ``owner=helm`` and ``name=<release>`` count,
    whatever the API was asked. The latest is the one with the highest ``version`` label, which must be a
    revision number; its record, and only that one, is decoded within ``limit`` and must name the same
    release, namespace and revision as its labels.
    """
    numbered: list[tuple[int, str, Mapping[str, Any]]] = []
    for secret in secrets:
        meta = secret.get("metadata") or {}
        labels = meta.get("labels") or {}
        if (
            secret.get("type") != HELM_RELEASE_TYPE
            or labels.get("owner") != "helm"
            or labels.get("name") != release
        ):
            continue
        where = f"{meta.get('namespace') or namespace}/{meta.get('name', '')}"
        revision = _revision(labels.get("version"))
        if revision is None:
            # Which record is the latest cannot be told: say so rather than guess.
            label = str(labels.get("version"))
            return HelmRelease(
                release,
                namespace,
                secret=where,
                problem=f"Secret {where}: its version label {label[:20]!r} is not a Helm revision number",
            )
        numbered.append((revision, where, secret))
    if not numbered:
        return HelmRelease(release, namespace)
    revision, where, secret = max(numbered, key=lambda n: (n[0], n[1]))
    latest = HelmRelease(release, namespace, secret=where, revision=revision)
    try:
        record = decode_release_record(str((secret.get("data") or {}).get("release") or ""), limit)
    except ReleaseRecordError as exc:
        return replace(
            latest, problem=f"Secret {where}: the record of revision {revision} cannot be read: {exc}"
        )
    said = (record.get("name"), record.get("namespace"), record.get("version"))
    if said != (release, namespace, revision) or isinstance(said[2], bool):
        return replace(
            latest,
            problem=(
                f"Secret {where}: the record is revision {said[2]!r} of release {said[0]!r} in {said[1]!r}, "
                f"its labels and namespace say revision {revision} of {release!r} in {namespace!r}"
            ),
        )
    info = record.get("info")
    status = info.get("status") if isinstance(info, dict) else None
    config = record.get("config")
    chart = record.get("chart")
    meta = chart.get("metadata") if isinstance(chart, dict) else None
    return replace(
        latest,
        status=status if isinstance(status, str) and status else "unknown",
        values=config if isinstance(config, dict) else {},
        chart=(
            (str(meta.get("name") or ""), str(meta.get("version") or ""), str(meta.get("appVersion") or ""))
            if isinstance(meta, dict)
            else None
        ),
    )


def check_release(release: HelmRelease) -> list[Finding]:
    """The release's latest revision (read_release) is deployed, and its record could be read."""
    if release.problem:
        return [
            Finding(
                "release",
                release.subject,
                "error",
                release.problem,
                f"look at `helm history {release.name} -n {release.namespace}`; remove or repair that Secret",
            )
        ]
    if not release.secret:
        return [
            Finding(
                "release",
                release.subject,
                "error",
                "not installed (no Helm release record)",
                "converge: ansible-playbook site.yml",
            )
        ]
    if release.status != "deployed":
        return [
            Finding(
                "release",
                release.subject,
                "error",
                f"revision {release.revision} is {release.status}",
                f"converge again; `helm history {release.name} -n {release.namespace}` shows what happened",
            )
        ]
    return [Finding("release", release.subject, "ok", f"revision {release.revision} deployed")]


def check_deployments(
    release: str, namespace: str, deployments: Iterable[Mapping[str, Any]]
) -> list[Finding]:
    """Every Deployment of the release has all its replicas available."""
    own = [
        d
        for d in deployments
        if ((d.get("metadata") or {}).get("annotations") or {}).get(HELM_RELEASE_ANNOTATION) == release
    ]
    if not own:
        return [
            Finding(
                "deployment",
                f"{namespace}/{release}",
                "error",
                "the release has no Deployment",
                "converge: ansible-playbook site.yml",
            )
        ]
    found = []
    for deployment in sorted(own, key=_name):
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        want = int(spec.get("replicas", 1))
        ready = int(status.get("availableReplicas") or 0)
        if ready >= want:
            found.append(Finding("deployment", _name(deployment), "ok", f"{ready}/{want} replicas available"))
            continue
        available = _conditions(deployment).get("Available") or {}
        why = f": {available['message']}" if available.get("message") else ""
        found.append(
            Finding(
                "deployment",
                _name(deployment),
                "error",
                f"{ready}/{want} replicas available{why}",
                f"kubectl -n {namespace} describe deployment {deployment['metadata']['name']} (and its pods' events)",
            )
        )
    return found


def check_redirect(values: Mapping[str, Any] | None, release: str) -> list[Finding]:
    """An HTTP->HTTPS redirect on the web entry point must let http01 challenges through."""
    if values is None:
        return []
    web = ((values.get("ports") or {}).get("web")) or {}
    redirect = (((web.get("http") or {}).get("redirections") or {}).get("entryPoint")) or {}
    if not redirect:
        return [Finding("redirect", release, "ok", "no HTTP->HTTPS redirect on the web entry point")]
    if web.get("allowACMEByPass") is True:
        return [
            Finding(
                "redirect", release, "ok", "HTTP->HTTPS redirect lets /.well-known/acme-challenge/ through"
            )
        ]
    return [
        Finding(
            "redirect",
            release,
            "error",
            "the web entry point redirects to HTTPS without allowACMEByPass: http01 challenges are redirected and fail",
            "remove the override of ports.web.allowACMEByPass (traefik_values_overrides) and converge",
        )
    ]


# ---------------------------------------------------------------------------
# cert-manager: ClusterIssuers and Certificates


def _solver_classes(issuer: Mapping[str, Any]) -> list[str]:
    classes = []
    for solver in (((issuer.get("spec") or {}).get("acme") or {}).get("solvers")) or []:
        ingress = ((solver or {}).get("http01") or {}).get("ingress") or {}
        name = ingress.get("ingressClassName") or ingress.get("class")
        if name:
            classes.append(str(name))
    return classes


def check_issuers(
    wanted: Sequence[str],
    issuers: Sequence[Mapping[str, Any]] | None,
    ingress_classes: Sequence[Mapping[str, Any]],
    ingress_class: str,
    kind: str = "ClusterIssuer",
) -> list[Finding]:
    """The member's issuers exist, are Ready, and solve http01 through traefik's IngressClass.

    ``kind`` is ClusterIssuer (the issuers a cluster's members share), or Issuer (a member that shares
    its cluster has its own, in its namespace). ``issuers`` None: the cluster does not serve the kind
    (cert-manager's CRDs are missing).
    """
    if issuers is None:
        return [
            Finding(
                "issuer",
                kind,
                "error",
                f"the cluster does not serve cert-manager.io/v1 {kind} (cert-manager's CRDs are missing)",
                "converge with cert_manager_helm_enabled: true, or install cert-manager with crds.enabled",
            )
        ]
    found: list[Finding] = []
    classes = {str((c.get("metadata") or {}).get("name")): c for c in ingress_classes}
    ours = classes.get(ingress_class)
    if ours is None:
        found.append(
            Finding(
                "ingress-class",
                ingress_class,
                "error",
                "the IngressClass does not exist: no Ingress of the member is served",
                "converge (the traefik chart creates it with ingressClass.name)",
            )
        )
    elif (ours.get("spec") or {}).get("controller") != TRAEFIK_CONTROLLER:
        found.append(
            Finding(
                "ingress-class",
                ingress_class,
                "error",
                f"belongs to controller {(ours.get('spec') or {}).get('controller')!r}, not traefik's",
                "give binder_ingress_class the name of traefik's IngressClass",
            )
        )
    by_name = {str((i.get("metadata") or {}).get("name")): i for i in issuers}
    for name in wanted:
        issuer = by_name.get(name)
        if issuer is None:
            found.append(
                Finding(
                    "issuer",
                    name,
                    "error",
                    f"the {kind} does not exist",
                    "converge: ansible-playbook site.yml",
                )
            )
            continue
        for solver_class in _solver_classes(issuer):
            if solver_class not in classes:
                found.append(
                    Finding(
                        "issuer",
                        name,
                        "error",
                        f"its http01 solver uses IngressClass {solver_class!r}, which does not exist: challenges are never served",
                        f"set cert_manager_ingress_class (binder_ingress_class) to {ingress_class!r} and converge",
                    )
                )
            elif solver_class != ingress_class:
                found.append(
                    Finding(
                        "issuer",
                        name,
                        "error",
                        f"its http01 solver uses IngressClass {solver_class!r}, not traefik's {ingress_class!r}:"
                        " the member's entrypoint never serves its challenges",
                        f"set cert_manager_ingress_class (binder_ingress_class) to {ingress_class!r} and converge",
                    )
                )
        ready = _conditions(issuer).get("Ready")
        if ready is None:
            found.append(
                Finding(
                    "issuer",
                    name,
                    "warning",
                    "no Ready condition yet: cert-manager has not looked at it",
                    "check that cert-manager's controller runs (kubectl -n cert-manager get pods)",
                )
            )
        elif ready.get("status") != "True":
            found.append(
                Finding(
                    "issuer",
                    name,
                    "error",
                    f"not Ready: {ready.get('reason', '?')}: {ready.get('message', '')}".rstrip(": "),
                    "fix the ACME server URL or e-mail (cert_manager_cluster_issuers, cert_manager_acme_email) and converge",
                )
            )
        else:
            found.append(
                Finding("issuer", name, "ok", f"Ready ({ready.get('reason', '')})".replace(" ()", ""))
            )
    return found


@dataclass(frozen=True)
class Issued:
    """One certificate the cluster holds: its names and validity, and where it is."""

    where: str  # namespace/secret
    names: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    issuer: str = ""


def wanted_certificates(ingresses: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """``namespace/secret`` -> the hosts, for every ``spec.tls`` entry of the desired Ingresses."""
    out: dict[str, tuple[str, ...]] = {}
    for ingress in ingresses:
        namespace = (ingress.get("metadata") or {}).get("namespace", "")
        for tls in (ingress.get("spec") or {}).get("tls") or []:
            if tls.get("secretName"):
                key = f"{namespace}/{tls['secretName']}"
                out[key] = tuple(sorted(set(out.get(key, ())) | set(tls.get("hosts") or ())))
    return out


def _covers(names: Iterable[str], host: str) -> bool:
    for name in names:
        if name == host or (
            name.startswith("*.") and host.count(".") == name.count(".") and host.endswith(name[1:])
        ):
            return True
    return False


def check_certificates(
    wanted: Mapping[str, tuple[str, ...]],
    held: Mapping[str, Issued],
    certificates: Sequence[Mapping[str, Any]] | None,
    now: dt.datetime,
    blocked_by_redirect: bool = False,
    unresolved: Iterable[str] = (),
) -> list[Finding]:
    """Every wanted TLS Secret holds a current certificate for its hosts; every Certificate of the
    member's namespace is Ready. A failing one is listed with the Certificate's reason and message,
    and with the likely cause when the redirect blocks http01 or a host's DNS is ``unresolved``
    (does not lead to the entrypoint)."""
    found: list[Finding] = []
    by_secret: dict[str, Mapping[str, Any]] = {}
    for resource in certificates or []:
        namespace = (resource.get("metadata") or {}).get("namespace", "")
        by_secret[f"{namespace}/{(resource.get('spec') or {}).get('secretName', '')}"] = resource
    hint = (
        " (the HTTP->HTTPS redirect blocks http01: see the redirect finding)" if blocked_by_redirect else ""
    )
    for secret, hosts in sorted(wanted.items()):
        cert = held.get(secret)
        problem = ""
        if cert is None:
            problem = "no certificate in the Secret"
        elif cert.not_after <= now:
            problem = f"the certificate expired {cert.not_after:%Y-%m-%d %H:%M} UTC"
        else:
            missing = [h for h in hosts if not _covers(cert.names, h)]
            if missing:
                problem = f"the certificate does not cover {', '.join(missing)}"
        if not problem:
            found.append(
                Finding(
                    "certificate",
                    secret,
                    "ok",
                    f"covers {', '.join(hosts)} until {cert.not_after:%Y-%m-%d}" if cert else "",
                )
            )
            continue
        owner = by_secret.get(secret)
        if owner is None:
            why = "no Certificate: cert-manager's ingress-shim made none"
            fix = 'check that cert-manager runs and the Ingress has kubernetes.io/tls-acme: "true"'
        else:
            ready = _conditions(owner).get("Ready") or {}
            why = f"Certificate {_name(owner)}: {ready.get('reason', 'no Ready condition')}: {ready.get('message', '')}".rstrip(
                ": "
            )
            fix = f"kubectl -n {secret.split('/')[0]} describe certificate {owner['metadata']['name']} (its Order and Challenges)"
        # http01 reaches the entrypoint only through DNS: a host that does not lead there never validates.
        astray = [h for h in hosts if h in set(unresolved)]
        dns_hint = (
            f" ({', '.join(astray)}: DNS does not lead to the entrypoint, see the dns findings)"
            if astray
            else ""
        )
        found.append(Finding("certificate", secret, "error", f"{problem}; {why}{hint}{dns_hint}", fix))
    # Certificates that no wanted Secret names (or whose Secret is fine) still must be Ready.
    for resource in certificates or []:
        key = f"{(resource.get('metadata') or {}).get('namespace', '')}/{(resource.get('spec') or {}).get('secretName', '')}"
        if key in wanted and any(f.subject == key and f.severity == "error" for f in found):
            continue  # already reported with its reason
        condition = _conditions(resource).get("Ready")
        if condition is not None and condition.get("status") == "True":
            continue
        reason = (
            f"{condition.get('reason', '?')}: {condition.get('message', '')}".rstrip(": ")
            if condition
            else "no Ready condition yet"
        )
        found.append(
            Finding(
                "certificate",
                f"Certificate {_name(resource)}",
                "error" if condition is not None else "warning",
                f"not Ready: {reason}{hint}",
                f"kubectl -n {resource['metadata'].get('namespace', '')} describe certificate {resource['metadata']['name']}",
            )
        )
    return found


# ---------------------------------------------------------------------------
# Let's Encrypt budget


@dataclass
class BudgetRow:
    """One registered domain: certificates issued in the window, and what the next converge asks for."""

    domain: str
    issued: int = 0
    requested: int = 0
    new_names: list[str] = field(default_factory=list)

    @property
    def projected(self) -> int:
        return self.issued + self.requested

    def as_dict(self) -> JSON:
        return {
            "domain": self.domain,
            "issued_7d": self.issued,
            "next_converge": self.requested,
            "projected": self.projected,
            "limit": PER_DOMAIN_LIMIT,
            "new_names": sorted(self.new_names),
        }


def budget(
    held: Iterable[Issued],
    wanted: Mapping[str, tuple[str, ...]],
    registered_domain: Any,
    now: dt.datetime,
) -> tuple[list[BudgetRow], dict[tuple[str, ...], list[Issued]]]:
    """Per registered domain: certificates issued in the last 7 days, and the certificates the next
    converge would request (a wanted Secret whose current certificate does not cover its hosts);
    and the certificates of the window grouped by their exact set of names.

    ``registered_domain`` maps a name to its registered domain (public suffix + 1 label).
    """
    rows: dict[str, BudgetRow] = {}
    held_list = list(held)
    by_secret = {c.where: c for c in held_list}
    duplicates: dict[tuple[str, ...], list[Issued]] = {}
    for cert in held_list:
        if now - cert.not_before > WINDOW:
            continue
        duplicates.setdefault(tuple(sorted(set(cert.names))), []).append(cert)
        for domain in sorted({registered_domain(n) for n in cert.names}):
            rows.setdefault(domain, BudgetRow(domain)).issued += 1
    current = [c for c in held_list if c.not_after > now]
    for secret, hosts in sorted(wanted.items()):
        have = by_secret.get(secret)
        if have is not None and have.not_after > now and all(_covers(have.names, h) for h in hosts):
            continue
        for domain in sorted({registered_domain(h) for h in hosts}):
            row = rows.setdefault(domain, BudgetRow(domain))
            row.requested += 1
            row.new_names += [
                h
                for h in hosts
                if registered_domain(h) == domain and not any(_covers(c.names, h) for c in current)
            ]
    return sorted(rows.values(), key=lambda r: r.domain), duplicates


def check_budget(
    rows: Sequence[BudgetRow],
    duplicates: Mapping[tuple[str, ...], Sequence[Issued]],
    wanted: Mapping[str, tuple[str, ...]],
) -> list[Finding]:
    """Each registered domain against 50 certificates per 7 days, each set of names against 5."""
    found: list[Finding] = []
    for row in rows:
        numbers = f"{row.issued} issued in 7 days + {row.requested} the next converge requests = {row.projected} of {PER_DOMAIN_LIMIT}"
        if row.projected > PER_DOMAIN_LIMIT:
            found.append(
                Finding(
                    "budget",
                    row.domain,
                    "error",
                    numbers + ": Let's Encrypt will refuse some",
                    "add the new hosts in batches a week apart, or share certificates between hosts (tls_secret)",
                )
            )
        elif row.projected > PER_DOMAIN_LIMIT * BUDGET_WARN_SHARE:
            found.append(
                Finding(
                    "budget",
                    row.domain,
                    "warning",
                    numbers,
                    "hold back new hosts of this domain for a few days",
                )
            )
        else:
            found.append(Finding("budget", row.domain, "ok", numbers))
    requested = {tuple(sorted(set(hosts))) for hosts in wanted.values()}
    for names, certs in sorted(duplicates.items()):
        if len(certs) < DUPLICATE_LIMIT - 1:
            continue
        oldest = min(c.not_before for c in certs) + WINDOW
        severity = "error" if len(certs) >= DUPLICATE_LIMIT and names in requested else "warning"
        found.append(
            Finding(
                "budget",
                ", ".join(names),
                severity,
                f"{len(certs)} of {DUPLICATE_LIMIT} duplicate certificates (this exact set of names) in 7 days;"
                f" the oldest leaves the window {oldest:%Y-%m-%d %H:%M} UTC",
                "stop deleting the TLS Secret (each deletion orders a new certificate); wait for the window",
            )
        )
    return found


# ---------------------------------------------------------------------------
# Drift: the member's Ingresses in the cluster against the model


def check_drift(
    member: str, desired: Sequence[Mapping[str, Any]], live: Sequence[Mapping[str, Any]]
) -> list[Finding]:
    """Missing, extra and changed Ingresses of the member (``live``: every Ingress of its namespace)."""
    found: list[Finding] = []
    ours = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_MEMBER: member,
        LABEL_SET: SET_INGRESSES,
    }
    live_by_name = {str(o["metadata"]["name"]): o for o in live}
    wanted_names = set()
    converge = "converge: ansible-playbook site.yml"
    for want in desired:
        name = str(want["metadata"]["name"])
        wanted_names.add(name)
        subject = f"{want['metadata'].get('namespace', '')}/{name}"
        have = live_by_name.get(name)
        if have is None:
            found.append(Finding("drift", subject, "error", "missing from the cluster", converge))
            continue
        changes = []
        if have.get("spec") != want.get("spec"):
            fields = sorted(
                k
                for k in set(want.get("spec") or {}) | set(have.get("spec") or {})
                if (want.get("spec") or {}).get(k) != (have.get("spec") or {}).get(k)
            )
            changes.append("spec." + "/".join(fields))
        for part in ("annotations", "labels"):
            theirs = have["metadata"].get(part) or {}
            for key, value in sorted((want["metadata"].get(part) or {}).items()):
                if theirs.get(key) != value:
                    changes.append(f"{part[:-1]} {key}={theirs.get(key)!r}, expected {value!r}")
        if changes:
            found.append(
                Finding("drift", subject, "error", "changed in the cluster: " + "; ".join(changes), converge)
            )
        else:
            found.append(Finding("drift", subject, "ok", "as the model builds it"))
    for name, have in sorted(live_by_name.items()):
        labels = have["metadata"].get("labels") or {}
        if name in wanted_names or any(labels.get(k) != v for k, v in ours.items()):
            continue
        found.append(
            Finding(
                "drift",
                _name(have),
                "warning",
                "labelled as the member's but not in the model: the next converge prunes it",
                "add it to binder_ingresses_components if it should stay, else converge",
            )
        )
    return found


# ---------------------------------------------------------------------------
# Reports


def _cells(f: Finding) -> list[str]:
    return [f.severity.upper() if f.severity != "ok" else "ok", f.check, f.subject, f.detail, f.fix or "-"]


def table(findings: Sequence[Finding], rows: Sequence[BudgetRow]) -> str:
    """The findings as an aligned text table (errors first), then the budget table."""
    order = sorted(findings, key=lambda f: (-SEVERITIES.index(f.severity), f.check, f.subject))
    header = ["severity", "check", "subject", "finding", "fix"]
    lines = [header, *(_cells(f) for f in order)]
    widths = [max(len(r[i]) for r in lines) for i in range(len(header) - 1)]
    out = ["  ".join([*(r[i].ljust(w) for i, w in enumerate(widths)), r[-1]]).rstrip() for r in lines]
    out.insert(1, "  ".join("-" * w for w in widths) + "  ---")
    if rows:
        budget_lines = [["registered domain", "issued 7d", "next converge", f"of {PER_DOMAIN_LIMIT}"]]
        budget_lines += [[r.domain, str(r.issued), str(r.requested), str(r.projected)] for r in rows]
        bw = [max(len(r[i]) for r in budget_lines) for i in range(4)]
        out += ["", *("  ".join(r[i].ljust(bw[i]) for i in range(4)).rstrip() for r in budget_lines)]
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(member: str, findings: Sequence[Finding], rows: Sequence[BudgetRow], summary: str) -> str:
    order = sorted(findings, key=lambda f: (-SEVERITIES.index(f.severity), f.check, f.subject))
    lines = [
        f"# doctor: member {member}",
        "",
        summary,
        "",
        "| severity | check | subject | finding | fix |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(_md(c) for c in _cells(f)) + " |" for f in order]
    if rows:
        lines += [
            "",
            "## Let's Encrypt budget (7 days)",
            "",
            f"| registered domain | issued 7d | next converge | projected (limit {PER_DOMAIN_LIMIT}) | new names |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.domain} | {r.issued} | {r.requested} | {r.projected} | {_md(', '.join(sorted(r.new_names)) or '-')} |"
            for r in rows
        ]
    return "\n".join(lines) + "\n"
