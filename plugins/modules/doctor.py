#!/usr/bin/python

# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: doctor
short_description: Explain why a member's HTTPS is broken, or is about to be, reading its cluster and DNS
version_added: 0.1.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - Reads the member's cluster (never writes to it) and DNS, and returns one finding per check, each with
    a severity (V(ok), V(warning), V(error)) and, for a problem, a one-line fix.
  - C(dns) every host of the member resolves to the entrypoint's load-balancer address (a load-balancer
    host name is resolved too), through O(resolver).
  - C(entrypoint) the entrypoint Service exists and has a load-balancer address; with O(k3s), no other
    LoadBalancer Service holds port 80 or 443 (k3s ServiceLB gives each port to one only).
  - C(release), C(deployment) the traefik and cert-manager Helm releases' latest revisions are deployed
    and every Deployment of each release has all its replicas available. Only Secrets of type
    C(helm.sh/release.v1) labelled C(owner=helm) and with the release's name are read; the latest (highest
    C(version) label, a revision number) is decoded, to at most 32 MiB, and must name the same release,
    namespace and revision as its labels, else that is an error of the release.
  - C(redirect) an HTTP to HTTPS redirect in the traefik release's values lets http01 challenges through
    (C(ports.web.allowACMEByPass)).
  - C(issuer), C(ingress-class) the ClusterIssuers O(cluster_issuers) exist and are Ready (else their
    reason and message), their http01 solvers name an IngressClass that exists and is O(ingress_class), and
    that IngressClass belongs to traefik.
  - C(certificate) every TLS Secret the member's Ingresses name holds a current certificate covering their
    hosts (else the reason and message of its cert-manager Certificate, and the likely cause when one of its
    hosts has a C(dns) error or the C(redirect) blocks http01), and every Certificate in O(namespace) is Ready.
  - C(budget) Let's Encrypt's limits, per registered domain (public suffix plus one label), certificates
    issued in the last 7 days (the notBefore of the certificates in O(namespace)'s TLS Secrets and of
    Certificates elsewhere in the cluster) plus those the next converge would request (a TLS Secret of
    O(ingresses) whose certificate does not cover its hosts), against 50; and certificates for the exact
    same names in 7 days against 5. Only what this cluster still holds is counted; certificates issued
    and replaced since, or issued for the same domain elsewhere, are not.
  - C(drift) the member's Ingresses in O(namespace) against O(ingresses), finding those missing, changed (spec, and the
    annotations and labels the model sets) and extra ones labelled as the member's (the next converge
    prunes them).
  - Writes the findings as C(<member>.json) and C(<member>.md) into O(report_dir), in check mode too
    (reports, not changes to the cluster), as M(binder.ingress.write_files) writes files, readable by their
    owner only.
requirements:
  - dnspython (when O(resolver) names a DNS server)
  - publicsuffixlist (bundles the public suffix list; no download)
  - cryptography
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  member:
    description:
      - The member (inventory host); names the reports and the member label of its Ingresses.
      - A DNS-1123 label (lowercase letters, digits and V(-)), as for a k3s member's kubeconfig; anything else
        fails the task before the cluster is read or a report written.
    type: str
    required: true
  namespace:
    description: The member's namespace (its entrypoint, traefik release, Ingresses and TLS Secrets).
    type: str
    required: true
  entrypoint_name:
    description: The member's LoadBalancer Service.
    type: str
    default: cluster-entrypoint
  ingress_class:
    description: traefik's IngressClass, which the http01 solvers must use.
    type: str
    default: traefik
  k3s:
    description: A k3s member; check that no other LoadBalancer Service holds port 80 or 443.
    type: bool
    default: false
  traefik_release:
    description: The traefik Helm release, in O(namespace).
    type: str
    default: traefik
  cert_manager_release:
    description: The cert-manager Helm release.
    type: str
    default: cert-manager
  cert_manager_namespace:
    description: The namespace of the cert-manager release.
    type: str
    default: cert-manager
  cert_manager_helm_enabled:
    description: Whether cert-manager is installed by this collection's Helm release; false skips its release checks.
    type: bool
    default: true
  cluster_issuers:
    description: The names of the member's issuers (ClusterIssuers, or Issuers with O(issuer_namespace)).
    type: list
    elements: str
    default: []
  issuer_namespace:
    description:
      - The namespace of the member's own Issuers, for a member that shares its cluster (C(binder_shared_cluster)).
      - Empty (the default) for a member alone in its cluster, whose issuers are the cluster's ClusterIssuers.
    type: str
    default: ""
  ingresses:
    description:
      - The member's Ingresses as the model builds them (C(ingresses) of the P(binder.ingress.member_state#filter)
        result). Their hosts are resolved, their TLS Secrets checked, and the cluster's compared with them.
    type: list
    elements: dict
    required: true
  resolver:
    description:
      - Where host names are resolved. V(system) (or empty) is the system resolver of the controller; else a DNS
        server as C(address), C(address:port) or C([v6 address]:port), asked for A and AAAA records.
    type: str
    default: system
  dns_timeout:
    description: Seconds one DNS question may take, to the system resolver as to a DNS server.
    type: float
    default: 5
  report_dir:
    description:
      - Directory the JSON and Markdown reports are written to; none when not given. It is created with mode
        V(0700) (less the umask) if missing; the reports get mode V(0600).
      - Each report is written to a temporary file in O(report_dir) and renamed over its name. A symbolic link
        or special file where a report is to go is replaced, never written through; O(report_dir) itself may
        be a link.
    type: path
  fail_on:
    description: The least severity that fails the task; V(never) only reports.
    type: str
    choices: [error, warning, never]
    default: error
attributes:
  check_mode:
    support: full
    description: Only reads the cluster; in check mode it reads the same and writes the same reports.
  diff_mode:
    support: none
    description: Nothing changes in the cluster.
notes:
  - Secrets are read only in O(namespace) and only of type C(kubernetes.io/tls); only their C(tls.crt) is parsed,
    and no Secret value is returned. Helm release records (type C(helm.sh/release.v1)) are read in the releases'
    namespaces; only the latest one's values are used.
seealso:
  - module: binder.ingress.probe_routes
"""

EXAMPLES = r"""
- name: Explain what is wrong with the member's HTTPS
  binder.ingress.doctor:
    member: "{{ inventory_hostname }}"
    namespace: binder-prod
    cluster_issuers: [letsencrypt-staging, letsencrypt-prod]
    ingresses: "{{ binder_ingresses_state.ingresses }}"
    resolver: 1.1.1.1:53
    report_dir: "{{ playbook_dir }}/reports/doctor"
"""

RETURN = r"""
findings:
  description: Every finding, errors first.
  returned: always
  type: list
  elements: dict
  sample:
    - {check: dns, subject: hub.example.org, severity: error, detail: "resolves to 192.0.2.7, not the entrypoint's 203.0.113.10",
       fix: "point the A (or AAAA) record of hub.example.org at 203.0.113.10"}
budget:
  description: One row per registered domain, Let's Encrypt's 7-day budget.
  returned: always
  type: list
  elements: dict
  sample:
    - {domain: example.org, issued_7d: 3, next_converge: 1, projected: 4, limit: 50, new_names: [new.example.org]}
counts:
  description: How many findings of each severity.
  returned: always
  type: dict
  sample: {ok: 30, warning: 1, error: 2}
report:
  description: The findings and the budget as an aligned text table, one line per finding.
  returned: always
  type: str
reports:
  description: The files written into O(report_dir).
  returned: when O(report_dir) is given
  type: list
  elements: str
"""

import base64
import copy
import datetime as dt
import json
import traceback
from pathlib import Path
from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils import _doctor, _names
from ansible_collections.binder.ingress.plugins.module_utils._apply_set import api_message
from ansible_collections.binder.ingress.plugins.module_utils._files import (
    WriteFilesError,
    apply,
    check_files,
    plan,
)
from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule

try:
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
except ImportError:  # reported by get_api_client, which needs the library anyway
    NotFoundError = ResourceNotFoundError = Exception  # type: ignore[assignment,misc]


# The reports name the member's hosts, Secrets and what is wrong with them: for the operator only.
REPORT_MODE = 0o600
REPORT_DIR_MODE = 0o700


def argspec() -> dict[str, Any]:
    args: dict[str, Any] = copy.deepcopy(AUTH_ARG_SPEC)
    args.update(
        member=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        entrypoint_name=dict(type="str", default="cluster-entrypoint"),
        ingress_class=dict(type="str", default="traefik"),
        k3s=dict(type="bool", default=False),
        traefik_release=dict(type="str", default="traefik"),
        cert_manager_release=dict(type="str", default="cert-manager"),
        cert_manager_namespace=dict(type="str", default="cert-manager"),
        cert_manager_helm_enabled=dict(type="bool", default=True),
        cluster_issuers=dict(type="list", elements="str", default=[]),
        issuer_namespace=dict(type="str", default=""),
        ingresses=dict(type="list", elements="dict", required=True),
        resolver=dict(type="str", default="system"),
        dns_timeout=dict(type="float", default=5.0),
        report_dir=dict(type="path"),
        fail_on=dict(type="str", choices=["error", "warning", "never"], default="error"),
    )
    return args


class Reader:
    """Read-only access to the member's cluster: lists and gets as plain JSON."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def list(
        self, kind: str, api_version: str, namespace: str | None = None, **selectors: str
    ) -> list[dict[str, Any]] | None:
        """The objects of a kind; None when the cluster does not serve the kind."""
        try:
            resource = self.client.resource(kind, api_version)
        except ResourceNotFoundError:
            return None
        response = self.client.get(resource, namespace=namespace, serialize=False, **selectors)
        return list(json.loads(response.data).get("items") or [])

    def get(self, kind: str, api_version: str, name: str, namespace: str) -> dict[str, Any] | None:
        resource = self.client.resource(kind, api_version)
        try:
            response = self.client.get(resource, name=name, namespace=namespace, serialize=False)
        except NotFoundError:
            return None
        found: dict[str, Any] = json.loads(response.data)
        return found


def held_certificate(secret: dict[str, Any]) -> _doctor.Issued | None:
    """The leaf certificate of a TLS Secret (its tls.crt only)."""
    from cryptography import x509

    meta = secret.get("metadata") or {}
    try:
        pem = base64.b64decode((secret.get("data") or {})["tls.crt"])
        cert = x509.load_pem_x509_certificate(pem)
    except (KeyError, ValueError):
        return None
    try:
        names = tuple(
            cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
                x509.DNSName
            )
        )
    except x509.ExtensionNotFound:
        names = ()
    issuer = cert.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return _doctor.Issued(
        where=f"{meta.get('namespace', '')}/{meta.get('name', '')}",
        names=names,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        issuer=str(issuer[0].value) if issuer else cert.issuer.rfc4514_string(),
    )


def _time(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def certificate_issued(cert: dict[str, Any]) -> _doctor.Issued | None:
    """A cert-manager Certificate's current certificate, from its status (notBefore, notAfter)."""
    status, spec = cert.get("status") or {}, cert.get("spec") or {}
    not_before, not_after = _time(status.get("notBefore")), _time(status.get("notAfter"))
    if not_before is None or not_after is None:
        return None
    namespace = (cert.get("metadata") or {}).get("namespace", "")
    return _doctor.Issued(
        f"{namespace}/{spec.get('secretName', '')}", tuple(spec.get("dnsNames") or ()), not_before, not_after
    )


def registered_domain_of() -> Any:
    from publicsuffixlist import PublicSuffixList

    psl = PublicSuffixList()

    def registered(name: str) -> str:
        name = name.removeprefix("*.").rstrip(".").lower()
        return str(psl.privatesuffix(name) or name)

    return registered


def examine(module: Any, reader: Reader) -> tuple[list[_doctor.Finding], list[_doctor.BudgetRow]]:
    params = module.params
    member, namespace = params["member"], params["namespace"]
    now = dt.datetime.now(dt.UTC)
    findings: list[_doctor.Finding] = []

    own = f"{namespace}/{params['entrypoint_name']}"
    service = reader.get("Service", "v1", params["entrypoint_name"], namespace)
    services = reader.list("Service", "v1") if params["k3s"] else None
    findings += _doctor.check_entrypoint(service, own, services)

    server = _doctor.parse_resolver(params["resolver"])
    resolver = "the system resolver" if server is None else f"{params['resolver']}"
    address = _doctor.load_balancer_address(service)
    expected: list[str] = []
    if address:
        try:
            import ipaddress

            ipaddress.ip_address(address)
            expected = [address]
        except ValueError:  # a load balancer known by a name: its addresses
            expected = _doctor.resolve(address, server, params["dns_timeout"])[0]
    wanted = _doctor.wanted_certificates(params["ingresses"])
    hosts = sorted(
        {
            rule["host"]
            for i in params["ingresses"]
            for rule in (i.get("spec") or {}).get("rules") or []
            if rule.get("host")
        }
    )
    resolved = {host: _doctor.resolve(host, server, params["dns_timeout"]) for host in hosts}
    findings += _doctor.check_dns(hosts, expected, resolved, resolver)

    releases = [(params["traefik_release"], namespace)]
    if params["cert_manager_helm_enabled"]:
        releases.append((params["cert_manager_release"], params["cert_manager_namespace"]))
    traefik_values = None
    for release, release_namespace in releases:
        records = reader.list(
            "Secret",
            "v1",
            release_namespace,
            label_selector=f"owner=helm,name={release}",
            field_selector=f"type={_doctor.HELM_RELEASE_TYPE}",
        )
        latest = _doctor.read_release(release, release_namespace, records or [])
        findings += _doctor.check_release(latest)
        if latest.secret:
            findings += _doctor.check_deployments(
                release, release_namespace, reader.list("Deployment", "apps/v1", release_namespace) or []
            )
        if release == params["traefik_release"] and release_namespace == namespace:
            traefik_values = latest.values
    redirect = _doctor.check_redirect(traefik_values, f"{namespace}/{params['traefik_release']}")
    findings += redirect

    # A member that shares its cluster has Issuers of its own in its namespace; the others share the
    # cluster's ClusterIssuers.
    issuer_namespace = params.get("issuer_namespace") or None
    issuer_kind = "Issuer" if issuer_namespace else "ClusterIssuer"
    issuers = reader.list(issuer_kind, "cert-manager.io/v1", issuer_namespace)
    classes = reader.list("IngressClass", "networking.k8s.io/v1") or []
    findings += _doctor.check_issuers(
        params["cluster_issuers"], issuers, classes, params["ingress_class"], issuer_kind
    )

    certificates = reader.list("Certificate", "cert-manager.io/v1")
    secrets = reader.list("Secret", "v1", namespace, field_selector="type=kubernetes.io/tls") or []
    held = {c.where: c for c in (held_certificate(s) for s in secrets) if c is not None}
    member_certificates = [c for c in certificates or [] if c["metadata"].get("namespace") == namespace]
    blocked = any(f.check == "redirect" and f.severity == "error" for f in redirect)
    astray = [f.subject for f in findings if f.check == "dns" and f.severity == "error"]
    findings += _doctor.check_certificates(wanted, held, member_certificates, now, blocked, astray)

    # Certificates elsewhere in the cluster count towards the same domains' budget.
    elsewhere = [
        c
        for c in (certificate_issued(x) for x in certificates or [])
        if c is not None and c.where not in held
    ]
    rows, duplicates = _doctor.budget([*held.values(), *elsewhere], wanted, registered_domain_of(), now)
    findings += _doctor.check_budget(rows, duplicates, wanted)

    live = reader.list("Ingress", "networking.k8s.io/v1", namespace) or []
    findings += _doctor.check_drift(member, params["ingresses"], live)
    return findings, rows


def member_problem(member: str) -> str | None:
    """Why ``member`` cannot name the reports (and a kubeconfig entry), or None: it must be a DNS-1123 label."""
    reason = _names.dns1123_label(member)
    if reason is None:
        return None
    return f"{member!r} is not a valid member name (a DNS-1123 label; it names the report files): {reason}"


def write_reports(directory: str, member: str, payload: dict[str, Any], text: str) -> list[str]:
    """<member>.json and <member>.md in directory, written as write_files writes (no link followed)."""
    dest = Path(directory).absolute()
    files = check_files(
        {
            f"{member}.json": json.dumps(payload, indent=2, sort_keys=True) + "\n",
            f"{member}.md": text,
        }
    )
    apply(dest, files, REPORT_MODE, plan(dest, files, REPORT_MODE, exclusive=False), dir_mode=REPORT_DIR_MODE)
    return [str(dest / name) for name in files]


def main() -> None:
    module = AnsibleK8SModule(module_class=AnsibleModule, argument_spec=argspec(), supports_check_mode=True)
    params = module.params
    member = params["member"]
    bad_member = member_problem(member)
    if bad_member:
        module.fail_json(msg=f"doctor: member {member!r}: member (the inventory host name): {bad_member}")
    try:
        _doctor.parse_resolver(params["resolver"])
    except ValueError as exc:
        module.fail_json(msg=f"doctor: member {member}: resolver: {exc}")
    if not params["dns_timeout"] > 0:
        module.fail_json(
            msg=f"doctor: member {member}: dns_timeout: must be more than 0, got {params['dns_timeout']}"
        )
    try:
        findings, rows = examine(module, Reader(get_api_client(module)))
    except ImportError as exc:
        module.fail_json(msg=f"doctor: member {member}: {exc} (see the module's requirements)")
    except Exception as exc:  # the kubeconfig, the connection, the API: one place turns them into a failure
        module.fail_json(msg=f"doctor: member {member}: {api_message(exc)}", exception=traceback.format_exc())
    counts = {s: sum(f.severity == s for f in findings) for s in _doctor.SEVERITIES}
    report = _doctor.table(findings, rows)
    summary = f"{counts['error']} errors, {counts['warning']} warnings, {counts['ok']} checks passed"
    ordered = sorted(findings, key=lambda f: (-_doctor.SEVERITIES.index(f.severity), f.check, f.subject))
    result: dict[str, Any] = {
        "changed": False,
        "findings": [f.as_dict() for f in ordered],
        "budget": [r.as_dict() for r in rows],
        "counts": counts,
        "report": f"member {member}: {summary}\n{report}",
    }
    if params["report_dir"]:
        payload = {
            "member": member,
            "namespace": params["namespace"],
            "counts": counts,
            **{k: result[k] for k in ("findings", "budget")},
        }
        try:
            result["reports"] = write_reports(
                params["report_dir"], member, payload, _doctor.markdown(member, findings, rows, summary)
            )
        except WriteFilesError as exc:
            module.fail_json(msg=f"doctor: member {member}: report_dir: {exc.reason}", **result)
        except OSError as exc:
            module.fail_json(msg=f"doctor: member {member}: report_dir: {exc}", **result)
    failing = _doctor.fails(findings, params["fail_on"])
    if failing:
        named = "; ".join(f"{f.check} {f.subject}: {f.detail}" for f in failing[:3])
        more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
        module.fail_json(
            msg=f"doctor: member {member}: {len(failing)} findings at or above {params['fail_on']}: {named}{more} (see report)",
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
