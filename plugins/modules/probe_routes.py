#!/usr/bin/python

# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: probe_routes
short_description: Probe a member's routes through its entrypoint and check each answer against its expectation
version_added: 0.1.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - Sends one HTTPS C(GET) per route to O(address) on O(https_port), with the route's host as the TLS
    server name (SNI) and as the C(Host) header, and compares the answer with the route's C(expect).
  - The routes of the P(binder.ingress.member_state#filter) result carry their expectation, built by
    the collection's model from the inventory. A route to a backend must be answered by the backend
    with a status of the expected classes (a built-in backend at its default path with 2xx or 3xx;
    elsewhere also 4xx); traefik's own 404 (C(404 page not found), C(text/plain)), which it sends when
    it has no router for the request, for example one it dropped because of a wrong middleware, fails
    the route whatever the status classes. A redirect must answer its exact code and C(Location), with
    the host and path kept or replaced as the redirect's type says.
  - The server certificate is verified against O(ca_file) (or the system trust store) and the route's
    host name. A certificate that does not cover the host fails the route and is reported with the
    names it has. A certificate that expires in fewer than O(min_days_left) days fails the route; one
    that expires in fewer than O(warn_days_left) days passes with a warning.
  - Every route's row shows the certificate the server sends as it is, verified or not (read again
    without verification when verification failed), with its issuer, its DNS names and its days left.
  - Redirects are reported, never followed. Only C(GET) is sent, never a request body, and only the
    first 64 KiB of a response body are read.
  - With O(check_http_redirect), a plain HTTP C(GET) of the same host and path on O(http_port) must be
    redirected (301, 302, 307 or 308) to an C(https) URL of the same host.
  - Any failed route fails the task with a message naming the failed routes; RV(report), the table of
    every route with the problems of each failed one, is returned with the failure too, so the failed
    task itself shows it, once, without a separate task to print it.
  - The module runs where the task runs. A federation member's host uses C(ansible_connection=local), so
    the probes start from the controller.
options:
  address:
    description:
      - IP address or host name to connect to, the load-balancer address of the member's entrypoint.
    type: str
    required: true
  https_port:
    description: TCP port of the HTTPS entrypoint.
    type: int
    default: 443
  http_port:
    description: TCP port of the plain HTTP entrypoint, used by O(check_http_redirect).
    type: int
    default: 80
  routes:
    description:
      - The routes to probe, as in the C(routes) key of the P(binder.ingress.member_state#filter) result.
      - Each element needs C(host); C(path) defaults to V(/). Other keys (C(component), C(ingress),
        C(service), ...) are copied into the result.
      - C(expect) says what the answer must be, with the keys below; the member_state filter fills it
        in. Without it, a route of component V(redirector) must answer 301 or 302 with some
        C(Location), and any other route must be answered by its backend with 2xx, 3xx or 4xx.
      - C(expect.request) is the path and query to request (default C(path)).
      - C(expect.status) lists the accepted statuses, each a code (V(302)) or a class (V(2xx)).
      - C(expect.location) is the exact C(Location) the answer must carry; empty for none.
      - C(expect.backend) (default true unless the route is a redirect) means traefik's own 404 fails.
      - C(expect.hsts) means the answer must carry C(Strict-Transport-Security), with a C(max-age) of at least
        C(expect.hsts_max_age) seconds when that is given.
      - C(expect.tls_min_version) (V(1.2) or V(1.3)) is the oldest TLS version the host must accept; the HTTPS
        answer must have used it or a newer one, and a handshake offering only older versions must fail (tried once
        per host, with every older version the local OpenSSL can offer).
      - C(expect.json) maps top-level keys to the values the answer's JSON body must have, for
        backends that describe themselves (a health endpoint, or the local cluster's stand-ins).
    type: list
    elements: dict
    required: true
  ca_file:
    description:
      - PEM file of the certificate authorities to trust. Only these are trusted when it is given.
      - Default is the system trust store.
    type: path
  timeout:
    description:
      - Seconds one probe may take in all, a positive number. Connecting, the TLS handshake, sending the
        request and reading the whole answer end within it together, so a server that answers one byte
        at a time cannot hold the probe longer. A probe that runs out of time fails its route.
      - The HTTPS request of a route and its plain HTTP request (O(check_http_redirect)) are two
        probes, each with this much time. Resolving O(address), if it is a name, is left to the
        system resolver's own timeouts.
    type: float
    default: 10
  min_days_left:
    description: A certificate that expires in fewer days than this fails its route.
    type: int
    default: 7
  warn_days_left:
    description:
      - A certificate that expires in fewer days than this (but not fewer than O(min_days_left)) passes its
        route with a warning. cert-manager renews at a third of the lifetime left (30 days for Let's Encrypt's
        90), so a certificate this close to its end was not renewed.
    type: int
    default: 21
  check_http_redirect:
    description: Also check that plain HTTP on O(http_port) redirects to HTTPS.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Only reads; in check mode the module sends the same probes.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
notes:
  - The module changes nothing; the task's C(changed) is always false.
  - A backend written in Go that answers its default 404 at the probed path looks like traefik's own
    404; the built-in components are probed at paths their backends serve.
seealso:
  - plugin: binder.ingress.member_state
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Probe the member's routes through its load balancer
  binder.ingress.probe_routes:
    address: 203.0.113.10
    routes: "{{ binder_ingresses_state.routes }}"

- name: Probe a local test entrypoint with its own CA and hand-written expectations
  binder.ingress.probe_routes:
    address: 127.0.0.1
    https_port: 8443
    ca_file: /tmp/sandbox/ca.crt
    check_http_redirect: false
    routes:
      - host: hub.local.test
        path: /hub/api
        expect: {status: ["200"], json: {service: proxy-public}}
      - host: beta.local.test
        path: /v2/gh/org/repo
        expect: {status: ["302"], location: https://mybinder.local.test/v2/gh/org/repo}
"""

RETURN = r"""
routes:
  description: One result per probed route, in the order of O(routes).
  returned: success
  type: list
  elements: dict
  contains:
    host:
      description: The route's host name.
      type: str
      sample: hub.local.test
    path:
      description: The route's path.
      type: str
      sample: /
    request:
      description: The path and query requested (C(expect.request), or the route's path).
      type: str
      sample: /
    status:
      description: HTTPS status code, 0 when no response arrived.
      type: int
      sample: 200
    location:
      description: The C(Location) header of the HTTPS response, if any.
      type: str
    tls_version:
      description: The TLS version of the HTTPS request; empty when no handshake completed.
      type: str
      sample: TLSv1.3
    cert:
      description:
        - The server certificate as it was sent, C(verified) or not; empty when no handshake completed.
      type: dict
      sample: {subject: hub.local.test, issuer: R11, sans: [hub.local.test], not_after: "2027-02-24T11:00:00Z", days_left: 89.9,
               verified: true}
    warnings:
      description: Why a route that passed deserves a look (a certificate close to its end).
      type: list
      elements: str
    http_status:
      description: Status of the plain HTTP request; 0 when not sent or no response arrived.
      type: int
      sample: 308
    http_location:
      description: The C(Location) header of the plain HTTP response, if any.
      type: str
      sample: https://hub.local.test/
    error:
      description: Connection, TLS or HTTP error of the HTTPS request, if any.
      type: str
      sample: "certificate does not cover hub.local.test: it names binder.local.test"
    problems:
      description: Why the route failed; empty when it passed.
      type: list
      elements: str
    ok:
      description: Whether the route passed.
      type: bool
  sample:
    - {host: hub.local.test, path: /, request: /, status: 302, ok: true, problems: []}
failed_routes:
  description: Number of routes that failed.
  returned: always
  type: int
  sample: 0
report:
  description:
    - A table of the results for display, one line per route after a header, as one string.
    - Empty when the options were refused before any probe.
  returned: always
  type: str
"""

import ssl
from typing import Any
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.binder.ingress.plugins.module_utils import _probe
from ansible_collections.binder.ingress.plugins.module_utils.constants import REDIRECTOR

HTTP_REDIRECT_CODES = (301, 302, 307, 308)
HSTS_HEADER = "strict-transport-security"
# How many failed routes the failure message names; the report has them all.
FAILED_NAMED = 5


def expectation(route: dict[str, Any]) -> dict[str, Any]:
    """The route's `expect`, with defaults by component for a route written without one."""
    path = str(route.get("path") or "/")
    redirect = route.get("component") == REDIRECTOR
    given = dict(route.get("expect") or {})
    request = str(given.get("request") or path)
    status = given.get("status") or (["301", "302"] if redirect else ["2xx", "3xx", "4xx"])
    return {
        "request": request if request.startswith("/") else "/" + request,
        # One code or class may be written without a list.
        "status": [str(s) for s in (status if isinstance(status, list) else [status])],
        "location": str(given.get("location") or ""),
        "backend": bool(given.get("backend", not redirect)),
        "hsts": bool(given.get("hsts", False)),
        "hsts_max_age": int(given.get("hsts_max_age") or 0),
        "tls_min_version": str(given.get("tls_min_version") or ""),
        "json": dict(given.get("json") or {}),
        "redirect": redirect,
    }


def status_matches(status: int, accepted: list[str]) -> bool:
    return any(a == str(status) or (a.endswith("xx") and a[0] == str(status)[0]) for a in accepted)


def hsts_problem(header: str, min_max_age: int) -> str:
    """Why a Strict-Transport-Security header falls short, "" when it does not."""
    if not header:
        return "no Strict-Transport-Security header"
    directives = dict(part.strip().partition("=")[::2] for part in header.split(";") if part.strip())
    max_age = {k.lower(): v.strip('"') for k, v in directives.items()}.get("max-age", "")
    if not max_age.isdigit():
        return f"Strict-Transport-Security without a max-age: {header!r}"
    if int(max_age) < min_max_age:
        return f"Strict-Transport-Security max-age {max_age}, expected at least {min_max_age}"
    return ""


def tls_problem(answer: _probe.Answer, min_version: str, older_accepted: str) -> str:
    """Why the host's TLS versions break the expectation, "" when they do not."""
    if answer.tls_version and answer.tls_version < f"TLSv{min_version}":
        return f"answered over {answer.tls_version}, expected TLS {min_version} or newer"
    if older_accepted:
        return f"accepts {older_accepted}, older than TLS {min_version}"
    return ""


def problems(
    expect: dict[str, Any],
    answer: _probe.Answer,
    plain: _probe.Answer | None,
    host: str,
    min_days_left: int,
    older_accepted: str = "",
) -> list[str]:
    """Why a probed route fails, empty when it passes."""
    out: list[str] = []
    if answer.error:
        out.append(answer.error)
    else:
        own_404 = _probe.is_traefik_not_found(answer)
        if expect["backend"] and own_404:
            out.append("traefik's own 404: it has no router for this host and path (dropped, or never built)")
        elif not status_matches(answer.status, expect["status"]):
            out.append(f"status {answer.status}, expected {' or '.join(expect['status'])}")
        if expect["location"] and answer.location != expect["location"]:
            out.append(f"Location {answer.location or '(none)'}, expected {expect['location']}")
        elif expect["redirect"] and not expect["location"] and not answer.location:
            out.append("a redirect without a Location")
        if expect["hsts"]:
            hsts = hsts_problem(answer.headers.get(HSTS_HEADER, ""), expect["hsts_max_age"])
            if hsts:
                out.append(hsts)
        if expect["tls_min_version"]:
            tls = tls_problem(answer, expect["tls_min_version"], older_accepted)
            if tls:
                out.append(tls)
        if expect["json"]:
            body = answer.json() or {}
            wrong = {k: body.get(k) for k, v in expect["json"].items() if body.get(k) != v}
            if wrong:
                out.append(f"body has {wrong}, expected {expect['json']}")
        if answer.cert and answer.cert.days_left < min_days_left:
            out.append(
                f"certificate expires in {answer.cert.days_left:.1f} days (fewer than {min_days_left})"
            )
    if plain is not None:
        target = urlsplit(plain.location)
        if plain.error:
            out.append(f"plain HTTP: {plain.error}")
        elif plain.status not in HTTP_REDIRECT_CODES or target.scheme != "https":
            out.append(f"plain HTTP answered {plain.status}, expected a redirect to https")
        elif target.hostname != host:
            out.append(f"plain HTTP redirects to {plain.location}, another host")
    return out


def served_certificate(answer: _probe.Answer) -> dict[str, Any]:
    """The certificate the answer came with, as it is: the verified one, else the one sent (parsed from
    its DER, unverified); empty when there is none."""
    if answer.cert is not None:
        return {**answer.cert.as_dict(), "verified": True}
    if not answer.der:
        return {}
    try:
        from cryptography import x509

        cert = x509.load_der_x509_certificate(answer.der)
    except (ImportError, ValueError):
        return {}

    def common_name(name: Any) -> str:
        names = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(names[0].value) if names else name.rfc4514_string()

    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = [str(n) for n in sans.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        dns_names = []
    served = _probe.Certificate(
        subject=common_name(cert.subject),
        issuer=common_name(cert.issuer),
        sans=tuple(dns_names),
        not_after=cert.not_valid_after_utc.timestamp(),
    )
    return {**served.as_dict(), "verified": False}


def expiry_warning(cert: dict[str, Any], warn_days_left: int, min_days_left: int) -> str:
    """A warning for a certificate that expires soon but not yet too soon; "" otherwise."""
    if not cert or not cert.get("verified"):
        return ""
    days = float(cert["days_left"])
    if min_days_left <= days < warn_days_left:
        return f"certificate expires in {days:.1f} days (fewer than {warn_days_left}): renewal is overdue"
    return ""


def probe_route(
    route: dict[str, Any], params: dict[str, Any], trust: _probe.Trust, older_tls: dict[tuple[str, str], str]
) -> dict[str, Any]:
    """Probe one route; ``older_tls`` caches each host's answer to older TLS versions (one try per host)."""
    host = str(route["host"])
    expect = expectation(route)
    older_accepted = ""
    if expect["tls_min_version"]:
        key = (host, expect["tls_min_version"])
        if key not in older_tls:
            older_tls[key] = _probe.older_tls_accepted(
                params["address"], params["https_port"], host, expect["tls_min_version"], params["timeout"]
            )
        older_accepted = older_tls[key]
    request = expect["request"]
    answer = _probe.request(
        params["address"], params["https_port"], host, request, trust, timeout=params["timeout"]
    )
    plain = None
    if params["check_http_redirect"]:
        plain = _probe.request(
            params["address"], params["http_port"], host, request, None, timeout=params["timeout"]
        )
    found = problems(expect, answer, plain, host, params["min_days_left"], older_accepted)
    cert = served_certificate(answer)
    warning = expiry_warning(cert, params["warn_days_left"], params["min_days_left"])
    result: dict[str, Any] = dict(route)
    result.update(
        host=host,
        path=str(route.get("path") or "/"),
        request=request,
        status=answer.status,
        location=answer.location,
        tls_version=answer.tls_version,
        cert=cert,
        error=answer.error,
        http_status=plain.status if plain else 0,
        http_location=plain.location if plain else "",
        problems=found,
        warnings=[warning] if warning and not found else [],
        ok=not found,
    )
    return result


def report_lines(results: list[dict[str, Any]]) -> list[str]:
    """Aligned table: host, request, status, Location, the certificate served (days left, issuer, DNS names;
    `!` after the days of one that did not verify), TLS version, plain HTTP, result."""
    header = [
        "host",
        "request",
        "status",
        "location",
        "cert days",
        "issuer",
        "names",
        "tls",
        "http",
        "result",
    ]
    rows = [header]
    for r in results:
        cert = r["cert"]
        rows.append(
            [
                r["host"],
                r["request"],
                str(r["status"]) if not r["error"] else "-",
                r["location"] or "-",
                (str(cert["days_left"]) + ("" if cert.get("verified", True) else "!")) if cert else "-",
                str(cert.get("issuer") or "-") if cert else "-",
                (",".join(cert.get("sans") or []) or "-") if cert else "-",
                str(r.get("tls_version") or "-"),
                str(r.get("http_status") or "-"),
                ("WARN: " + "; ".join(r["warnings"]) if r.get("warnings") else "ok")
                if r["ok"]
                else "FAIL: " + "; ".join(r["problems"]),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return ["  ".join([*(row[i].ljust(w) for i, w in enumerate(widths)), row[-1]]).rstrip() for row in rows]


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "address": {"type": "str", "required": True},
            "https_port": {"type": "int", "default": 443},
            "http_port": {"type": "int", "default": 80},
            "routes": {"type": "list", "elements": "dict", "required": True},
            "ca_file": {"type": "path"},
            "timeout": {"type": "float", "default": 10},
            "min_days_left": {"type": "int", "default": 7},
            "warn_days_left": {"type": "int", "default": 21},
            "check_http_redirect": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        _probe.check_timeout(params["timeout"])
    except ValueError as exc:
        module.fail_json(msg=str(exc), failed_routes=0, report="")
    bad = [f"routes[{i}]" for i, r in enumerate(params["routes"]) if not str(r.get("host") or "")]
    if bad:
        module.fail_json(
            msg=f"routes: every route needs a host; missing in {', '.join(bad)}", failed_routes=0
        )
    try:
        trust = _probe.Trust(params["ca_file"])
    except (OSError, ssl.SSLError) as exc:
        module.fail_json(msg=f"ca_file: cannot load {params['ca_file']}: {exc}", failed_routes=0, report="")
    older_tls: dict[tuple[str, str], str] = {}
    results = [probe_route(route, params, trust, older_tls) for route in params["routes"]]
    report = "\n".join(report_lines(results))
    for r in results:
        for warning in r.get("warnings") or []:
            module.warn(f"{r['host']}{r['request']}: {warning}")
    failed = [f"{r['host']}{r['request']}" for r in results if not r["ok"]]
    if failed:
        # Ansible prints a failure's msg twice (error line and result): the table goes in
        # `report` only, which the result format prints once, as a block.
        named = ", ".join(failed[:FAILED_NAMED]) + (
            f" and {len(failed) - FAILED_NAMED} more" if len(failed) > FAILED_NAMED else ""
        )
        module.fail_json(
            msg=f"{len(failed)} of {len(results)} routes failed via {params['address']}: {named} (see report)",
            changed=False,
            failed_routes=len(failed),
            report=report,
        )
    module.exit_json(changed=False, routes=results, failed_routes=0, report=report)


if __name__ == "__main__":
    main()
