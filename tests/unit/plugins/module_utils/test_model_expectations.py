"""What each route of the model expects of a probe through the entrypoint (probe_routes checks it)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    REDIRECT_PROBE_PATH,
    Expectation,
    MemberError,
    build_member,
)

PAGE = ("2xx", "3xx")
ANY_ANSWER = ("2xx", "3xx", "4xx")


def expectations(components: dict[str, Any]) -> dict[tuple[str, str], Expectation]:
    state = build_member("m", components, namespace="ns")
    return {(route.host, route.path): route.expect for route in state.routes}


@pytest.mark.parametrize(
    ("component", "spec", "expected"),
    [
        ("jupyterhub", {"hosts": ["hub.x.org"]}, {"/": PAGE}),
        ("binderhub", {"hosts": ["hub.x.org"]}, {"/": PAGE}),
        ("federation-redirect", {"hosts": ["hub.x.org"]}, {"/": PAGE}),
        ("prometheus", {"hosts": ["hub.x.org"]}, {"/": PAGE}),
        ("grafana", {"hosts": ["hub.x.org"]}, {"/": PAGE}),
        ("static", {"hosts": ["hub.x.org"]}, {"/badge.svg": PAGE}),
        # A bucket's root is no object: the backend may refuse it.
        ("gcs-proxy", {"buckets": [{"name": "b", "host": "hub.x.org"}]}, {"/": ANY_ANSWER}),
        (
            "harbor",
            {"hosts": ["hub.x.org"]},
            {"/": PAGE, "/api/": ANY_ANSWER, "/service/": ANY_ANSWER, "/v2/": ANY_ANSWER, "/c/": ANY_ANSWER},
        ),
        # A generic component: nothing is known of its backend but that it must answer.
        (
            "echo",
            {"hosts": ["hub.x.org"], "service": {"name": "echo", "port": 80}, "paths": [{"path": "/a/"}]},
            {"/a/": ANY_ANSWER},
        ),
    ],
)
def test_a_route_to_a_backend_expects_the_backends_answer_at_its_path(
    component: str, spec: dict[str, Any], expected: dict[str, tuple[str, ...]]
) -> None:
    found = expectations({component: spec})
    assert {path: e.status for (_host, path), e in found.items()} == expected
    for (_host, path), expect in found.items():
        assert expect == Expectation(
            request=path,
            status=expected[path],
            location="",
            backend=True,
            hsts=True,
            hsts_max_age=31536000,
            tls_min_version="1.2",
        )


REDIRECTS = {
    "redirects": [
        {"type": "host", "from": "old.x.org", "to": "new.x.org"},
        {"type": "url", "from": "gone.x.org", "to": "new.x.org/status/page?from=gone", "code": 301},
        {"type": "url", "from": "bare.x.org", "to": "new.x.org"},
    ]
}


def test_a_redirect_expects_its_code_and_exact_location_below_its_root() -> None:
    found = expectations({"redirector": REDIRECTS})
    # Probed below the root with a query, so that a Location shows the path kept or replaced.
    assert REDIRECT_PROBE_PATH.startswith("/") and REDIRECT_PROBE_PATH != "/" and "?" in REDIRECT_PROBE_PATH
    https = {"hsts": True, "hsts_max_age": 31536000, "tls_min_version": "1.2"}
    assert found == {
        ("old.x.org", "/"): Expectation(
            REDIRECT_PROBE_PATH, ("302",), f"https://new.x.org{REDIRECT_PROBE_PATH}", backend=False, **https
        ),
        ("gone.x.org", "/"): Expectation(
            REDIRECT_PROBE_PATH, ("301",), "https://new.x.org/status/page?from=gone", backend=False, **https
        ),
        ("bare.x.org", "/"): Expectation(
            REDIRECT_PROBE_PATH, ("302",), "https://new.x.org", backend=False, **https
        ),
    }


def test_the_location_is_what_the_redirect_middleware_makes_of_the_probe() -> None:
    # The middleware traefik runs, applied as Go's regexp.ReplaceAllString would to the URL
    # traefik hands it (scheme://host/path?query), gives the expected Location.
    state = build_member("m", {"redirector": REDIRECTS}, namespace="ns")
    for route in state.routes:
        middleware = state.redirect_middlewares[route.middlewares[0].removesuffix("@file")]["redirectRegex"]
        python_replacement = re.sub(r"\$\{(\d+)\}", r"\\g<\1>", middleware["replacement"]).replace("$$", "$")
        made = re.sub(middleware["regex"], python_replacement, f"https://{route.host}{route.expect.request}")
        assert made == route.expect.location, route


def test_every_route_expects_the_edges_https_policy() -> None:
    # Redirects too: they are answered over HTTPS by the same entry point.
    found = expectations({"redirector": REDIRECTS, "binderhub": {"hosts": ["b.x.org"]}})
    assert {(e.hsts, e.hsts_max_age, e.tls_min_version) for e in found.values()} == {(True, 31536000, "1.2")}


def test_the_https_policy_follows_the_members_settings() -> None:
    state = build_member(
        "m", {"binderhub": {"hosts": ["b.x.org"]}}, namespace="ns", tls_min_version="1.3", hsts_max_age=0
    )
    (route,) = state.routes
    assert (route.expect.hsts, route.expect.hsts_max_age, route.expect.tls_min_version) == (False, 0, "1.3")


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"tls_min_version": "1.1"}, "binder_ingresses_tls_min_version"),
        ({"tls_min_version": 1.2}, "binder_ingresses_tls_min_version"),
        ({"hsts_max_age": 3600}, "binder_ingresses_hsts_max_age"),
        ({"hsts_max_age": True}, "binder_ingresses_hsts_max_age"),
    ],
)
def test_a_bad_https_policy_is_refused_naming_member_and_key(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(MemberError) as caught:
        build_member("m", {"binderhub": {"hosts": ["b.x.org"]}}, namespace="ns", **settings)
    assert [(i.member, i.key) for i in caught.value.issues] == [("m", key)]


def test_the_routes_handed_to_ansible_carry_their_expectation() -> None:
    state = build_member("m", {"redirector": REDIRECTS, "binderhub": {"hosts": ["b.x.org"]}}, namespace="ns")
    routes = json.loads(json.dumps(state.as_dict()["routes"]))
    by_host = {r["host"]: r["expect"] for r in routes}
    assert by_host["b.x.org"] == {
        "request": "/",
        "status": ["2xx", "3xx"],
        "location": "",
        "backend": True,
        "hsts": True,
        "hsts_max_age": 31536000,
        "tls_min_version": "1.2",
    }
    assert by_host["gone.x.org"] == {
        "request": REDIRECT_PROBE_PATH,
        "status": ["301"],
        "location": "https://new.x.org/status/page?from=gone",
        "backend": False,
        "hsts": True,
        "hsts_max_age": 31536000,
        "tls_min_version": "1.2",
    }
