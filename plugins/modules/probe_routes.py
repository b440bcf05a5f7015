#!/usr/bin/python

# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: probe_routes
short_description: Probe a member's routes over HTTPS through its entrypoint address
version_added: 0.1.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - Sends one HTTPS C(GET) per route to O(address) on O(https_port), with the route's host as the TLS
    server name (SNI) and as the C(Host) header, and the route's path as the request path. For a
    V(Prefix) path the path itself is requested.
  - The server certificate is verified against O(ca_file) (or the system trust store) and the route's
    host name. Its subject, DNS names and days left are reported; a certificate that expires in fewer
    than O(min_days_left) days fails the route.
  - Redirects are reported, never followed. Only C(GET) is sent, never a request body, and only the
    first 64 KiB of a response body are read.
  - A route whose C(service) is V(redirector) must answer 301 or 302 with a C(Location). Any other route
    passes with a status below 500; a backend's own 404 (for example at V(/)) still shows that the route
    reaches it. 502, 503 and 504 mean the route is broken (no backend, or the backend is down).
  - With O(check_http_redirect), a plain HTTP C(GET) of the same host and path on O(http_port) must be
    redirected (301, 302, 307 or 308) to an C(https) URL of the same host.
  - Any failed route fails the task with a message naming each failed host and path; RV(routes) and
    RV(report) are returned either way.
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
      - Each element needs C(host); C(path) defaults to V(/), C(path_type) to V(Prefix), C(service) to
        an empty string. Other keys (C(component), C(ingress), C(port), ...) are copied into the result.
    type: list
    elements: dict
    required: true
  ca_file:
    description:
      - PEM file of the certificate authorities to trust. Only these are trusted when it is given.
      - Default is the system trust store.
    type: path
  timeout:
    description: Seconds to wait for each connection and response.
    type: float
    default: 10
  min_days_left:
    description: A certificate that expires in fewer days than this fails its route.
    type: int
    default: 14
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
seealso:
  - plugin: binder.ingress.member_state
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Probe the member's routes through its load balancer
  binder.ingress.probe_routes:
    address: 203.0.113.10
    routes: "{{ __binder_ingresses_state.routes }}"

- name: Probe a local test entrypoint with its own CA, without the plain HTTP check
  binder.ingress.probe_routes:
    address: 127.0.0.1
    https_port: 8443
    ca_file: /tmp/sandbox/ca.crt
    check_http_redirect: false
    routes:
      - {host: hub.local.test, path: /, path_type: Prefix, service: proxy-public}
      - {host: beta.local.test, path: /, path_type: Prefix, service: redirector}
"""

RETURN = r"""
routes:
  description: One result per probed route, in the order of O(routes).
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The route's host name.
      type: str
      sample: hub.local.test
    path:
      description: The route's path, as requested.
      type: str
      sample: /
    status:
      description: HTTPS status code, 0 when no response arrived.
      type: int
      sample: 200
    location:
      description: The C(Location) header of the HTTPS response, if any.
      type: str
    cert:
      description: The verified server certificate; empty when verification failed.
      type: dict
      sample: {subject: hub.local.test, sans: [hub.local.test], not_after: "Feb 24 11:00:00 2027 GMT", days_left: 89.9}
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
      sample: "certificate verify failed: unable to get local issuer certificate"
    problems:
      description: Why the route failed; empty when it passed.
      type: list
      elements: str
    ok:
      description: Whether the route passed.
      type: bool
  sample:
    - {host: hub.local.test, path: /, status: 200, ok: true, problems: []}
failed_routes:
  description: Number of routes that failed.
  returned: always
  type: int
  sample: 0
report:
  description: A table of the results, one line per route after a header, for display.
  returned: always
  type: list
  elements: str
"""

import http.client
import socket
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    REDIRECTOR_SERVICE as REDIRECT_SERVICE,
)

REDIRECTOR_CODES = (301, 302)
HTTP_REDIRECT_CODES = (301, 302, 307, 308)
BODY_LIMIT = 65536


def request_path(route: dict[str, Any]) -> str:
    """The path to request for a route: the path itself (also for Prefix), always absolute."""
    path = str(route.get("path") or "/")
    return path if path.startswith("/") else "/" + path


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    # With a cafile only that file is trusted; without one, the system store.
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def cert_summary(peer: dict[str, Any], now: float) -> dict[str, Any]:
    """Subject CN, DNS names and days left of a verified peer certificate (ssl.getpeercert form)."""
    subject = ", ".join(
        f"{key}={value}" for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"
    )
    sans = [value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS"]
    not_after = str(peer.get("notAfter", ""))
    days_left = (ssl.cert_time_to_seconds(not_after) - now) / 86400 if not_after else 0.0
    return {"subject": subject, "sans": sans, "not_after": not_after, "days_left": round(days_left, 1)}


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    return f"{type(exc).__name__}: {exc}"


def _get(connection: http.client.HTTPConnection, host: str, path: str) -> tuple[int, str]:
    try:
        connection.request("GET", path, headers={"Host": host, "User-Agent": "binder.ingress-probe_routes"})
        response = connection.getresponse()
        # A bounded read: the status and headers are what matter, a large body is not.
        response.read(BODY_LIMIT)
        return response.status, response.getheader("Location") or ""
    finally:
        connection.close()


def probe_https(
    address: str, port: int, host: str, path: str, context: ssl.SSLContext, timeout: float
) -> dict[str, Any]:
    """One HTTPS GET with SNI and Host set to the route's host; errors are returned, not raised."""
    result: dict[str, Any] = {"status": 0, "location": "", "cert": {}, "error": ""}
    try:
        raw = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        result["error"] = describe_error(exc)
        return result
    try:
        sock = context.wrap_socket(raw, server_hostname=host)
    except (OSError, ssl.SSLError) as exc:
        raw.close()
        result["error"] = describe_error(exc)
        return result
    result["cert"] = cert_summary(sock.getpeercert() or {}, time.time())
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    connection.sock = sock
    try:
        result["status"], result["location"] = _get(connection, host, path)
    except (OSError, http.client.HTTPException) as exc:
        result["error"] = describe_error(exc)
    return result


def probe_http(address: str, port: int, host: str, path: str, timeout: float) -> dict[str, Any]:
    """One plain HTTP GET; returns status, Location and error."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        status, location = _get(connection, host, path)
    except (OSError, http.client.HTTPException) as exc:
        return {"http_status": 0, "http_location": "", "http_error": describe_error(exc)}
    return {"http_status": status, "http_location": location, "http_error": ""}


def problems(
    route: dict[str, Any], result: dict[str, Any], min_days_left: int, check_http: bool
) -> list[str]:
    """Why a probed route fails, empty when it passes."""
    out: list[str] = []
    host = str(route.get("host", ""))
    if result["error"]:
        out.append(result["error"])
    else:
        status = result["status"]
        if route.get("service") == REDIRECT_SERVICE:
            if status not in REDIRECTOR_CODES or not result["location"]:
                out.append(f"redirector answered {status}, expected 301 or 302 with a Location")
        elif status >= 500:
            out.append(f"status {status}: the route does not reach a working backend")
        cert = result["cert"]
        if cert and cert["days_left"] < min_days_left:
            out.append(f"certificate expires in {cert['days_left']} days (fewer than {min_days_left})")
    if check_http:
        if result.get("http_error"):
            out.append(f"plain HTTP: {result['http_error']}")
        else:
            target = urlsplit(result.get("http_location", ""))
            if result.get("http_status") not in HTTP_REDIRECT_CODES or target.scheme != "https":
                out.append(f"plain HTTP answered {result.get('http_status')}, expected a redirect to https")
            elif target.hostname != host:
                out.append(f"plain HTTP redirects to {result['http_location']}, another host")
    return out


def report_lines(results: list[dict[str, Any]]) -> list[str]:
    """Aligned table: host, path, status, Location, certificate days left, plain HTTP, result."""
    header = ["host", "path", "status", "location", "cert days", "http", "result"]
    rows = [header]
    for r in results:
        cert = r["cert"]
        rows.append(
            [
                r["host"],
                r["path"],
                str(r["status"]) if not r["error"] else "-",
                r["location"] or "-",
                str(cert["days_left"]) if cert else "-",
                str(r.get("http_status") or "-"),
                "ok" if r["ok"] else "FAIL: " + "; ".join(r["problems"]),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return ["  ".join([*(row[i].ljust(w) for i, w in enumerate(widths)), row[-1]]).rstrip() for row in rows]


def probe_route(route: dict[str, Any], params: dict[str, Any], context: ssl.SSLContext) -> dict[str, Any]:
    host = str(route["host"])
    path = request_path(route)
    result: dict[str, Any] = dict(route)
    result.update(
        host=host, path=path, path_type=route.get("path_type", "Prefix"), service=route.get("service", "")
    )
    result.update(
        probe_https(params["address"], params["https_port"], host, path, context, params["timeout"])
    )
    if params["check_http_redirect"]:
        result.update(probe_http(params["address"], params["http_port"], host, path, params["timeout"]))
    else:
        result.update(http_status=0, http_location="", http_error="")
    result["problems"] = problems(route, result, params["min_days_left"], params["check_http_redirect"])
    result["ok"] = not result["problems"]
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "address": {"type": "str", "required": True},
            "https_port": {"type": "int", "default": 443},
            "http_port": {"type": "int", "default": 80},
            "routes": {"type": "list", "elements": "dict", "required": True},
            "ca_file": {"type": "path"},
            "timeout": {"type": "float", "default": 10},
            "min_days_left": {"type": "int", "default": 14},
            "check_http_redirect": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    bad = [f"routes[{i}]" for i, r in enumerate(params["routes"]) if not str(r.get("host") or "")]
    if bad:
        module.fail_json(msg=f"routes: every route needs a host; missing in {', '.join(bad)}")
    try:
        context = tls_context(params["ca_file"])
    except (OSError, ssl.SSLError) as exc:
        module.fail_json(msg=f"ca_file: cannot load {params['ca_file']}: {exc}")
    results = [probe_route(route, params, context) for route in params["routes"]]
    failed = [r for r in results if not r["ok"]]
    outcome = {
        "changed": False,
        "routes": results,
        "failed_routes": len(failed),
        "report": report_lines(results),
    }
    if failed:
        names = "; ".join(f"{r['host']}{r['path']}: {', '.join(r['problems'])}" for r in failed)
        module.fail_json(
            msg=f"{len(failed)} of {len(results)} routes failed via {params['address']}: {names}", **outcome
        )
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
