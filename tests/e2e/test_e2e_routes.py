"""Every host and path of the local member, through real traefik, lands on the right backend."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.module_utils import _probe
from harness import Member, local_member, probe

MEMBER = local_member()
NAMESPACE = MEMBER["binder_namespace"]
COMPONENTS: dict[str, Any] = MEMBER["binder_ingresses_components"]

# The catalogue's default backends (docs/inventory.md): path → Service name.
HARBOR_CORE_PATHS = ("/api/", "/service/", "/v2/", "/c/")


def _catalogue(name: str, spec: dict[str, Any]) -> dict[str, str]:
    release = spec.get("release", NAMESPACE)
    defaults: dict[str, dict[str, str]] = {
        "jupyterhub": {"/": "proxy-public"},
        "binderhub": {"/": "binder"},
        "federation-redirect": {"/": "federation-redirect"},
        "gcs-proxy": {"/": "gcs-proxy"},
        "harbor": {
            "/": f"{release}-harbor-portal",
            **dict.fromkeys(HARBOR_CORE_PATHS, f"{release}-harbor-core"),
        },
        "static": {"/badge.svg": "binder"},
        "prometheus": {"/": f"{release}-prometheus-server"},
        "grafana": {"/": f"{release}-grafana"},
    }
    if name in defaults:
        return defaults[name]
    return {p["path"]: (p.get("service") or spec["service"])["name"] for p in spec["paths"]}


def expected_routes() -> list[tuple[str, str, str, str]]:
    """(component, host, path, service) for every route the inventory asks for."""
    out = []
    for name, spec in COMPONENTS.items():
        if name == "redirector" or not spec.get("enabled", True):
            continue
        hosts = [b["host"] for b in spec["buckets"]] if name == "gcs-proxy" else spec["hosts"]
        for host in hosts:
            for path, service in _catalogue(name, spec).items():
                out.append((name, host, path, service))
    return out


EXPECTED = expected_routes()
REDIRECTS = COMPONENTS["redirector"]["redirects"]


def _probe_path(path: str, exact: bool) -> str:
    # Below a Prefix path, to show the prefix matches more than itself.
    return path if exact else path + "e2e-probe/x"


def test_the_converged_routes_are_exactly_the_inventorys(member: Member) -> None:
    converged = {(r.host, r.path, r.service) for r in member.routes if r.service != "redirector"}
    assert converged == {(host, path, service) for _, host, path, service in EXPECTED}


@pytest.mark.parametrize(
    ("component", "host", "path", "service"), EXPECTED, ids=[f"{h}{p}" for _, h, p, _ in EXPECTED]
)
def test_each_route_reaches_its_backend(
    member: Member, component: str, host: str, path: str, service: str
) -> None:
    exact = component == "static"
    target = _probe_path(path, exact)
    result = probe(host, target, member.websecure, member.sandbox.ca_file)
    assert result.error == ""
    assert result.status == 200, result.body[:200]
    body = result.json()
    assert body is not None
    assert (body["service"], body["namespace"]) == (service, NAMESPACE)
    assert (body["host"].split(":")[0], body["path"]) == (host, target)
    assert not _probe.is_traefik_not_found(result)


@pytest.mark.parametrize("path", ["/", "/index.html", "/badge.svg/", "/badge.svgz", "/v2/", "/api/badge.svg"])
def test_the_static_host_serves_nothing_but_its_paths(member: Member, path: str) -> None:
    host = COMPONENTS["static"]["hosts"][0]
    result = probe(host, path, member.websecure, member.sandbox.ca_file)
    assert result.status == 404
    assert result.json() is None  # no backend reached
    # What verify.yml tells from a backend's 404: real traefik's own answer has its signature.
    assert _probe.is_traefik_not_found(result), (result.headers, result.body)


@pytest.mark.parametrize("redirect", REDIRECTS, ids=[r["from"] for r in REDIRECTS])
@pytest.mark.parametrize("path", ["/", "/v2/gh/org/repo/HEAD", "/a/b.html"])
def test_redirects(member: Member, redirect: dict[str, Any], path: str) -> None:
    result = probe(redirect["from"], path, member.websecure, member.sandbox.ca_file)
    assert result.error == ""
    assert result.status == redirect.get("code", 302)
    if redirect["type"] == "host":
        assert result.location == f"https://{redirect['to']}{path}"
    else:
        assert result.location == f"https://{redirect['to']}"


def test_plain_http_is_redirected_to_https_keeping_host_and_path(member: Member) -> None:
    host = COMPONENTS["binderhub"]["hosts"][0]
    result = _probe.request(member.entrypoint.address, member.web, host, "/v2/gh/a/b", None)
    assert result.status in (301, 308)
    # The local cluster redirects to its local websecure port where the member would use 443.
    assert result.location == f"https://{host}:{member.websecure}/v2/gh/a/b"


def test_a_backend_failure_is_passed_through(member: Member) -> None:
    host = COMPONENTS["binderhub"]["hosts"][0]
    result = probe(host, "/", member.websecure, member.sandbox.ca_file, headers={"X-Sandbox-Fail": "503"})
    assert result.status == 503
    body = result.json()
    assert body is not None
    assert body["service"] == "binder"
