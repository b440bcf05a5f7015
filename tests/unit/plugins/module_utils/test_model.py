"""The model: defaults of every component, overrides, naming and ordering."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    LABEL_MEMBER,
    LABEL_SET,
    MANAGED_BY,
    MIDDLEWARE_DEFAULT,
    MIDDLEWARE_HARBOR,
    MIDDLEWARE_HUB,
    SET_INGRESSES,
)
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    Issue,
    MemberError,
    MemberState,
    Route,
    build_member,
    redirect_middleware_name,
    summary_markdown,
)

MEMBER = "gke"
# How Ingresses name the traefik role's middlewares.
HUB = f"{MIDDLEWARE_HUB}@file"
HARBOR = f"{MIDDLEWARE_HARBOR}@file"
DEFAULT = f"{MIDDLEWARE_DEFAULT}@file"
NS = "prod"


def build(components: dict[str, Any], **kwargs: Any) -> MemberState:
    return build_member(MEMBER, components, namespace=NS, **kwargs)


def redirect_middlewares(member: str, redirects: list[dict[str, Any]]) -> dict[str, Any]:
    """The member state's redirect middlewares of a catalogue holding only these redirects."""
    return build_member(member, {"redirector": {"redirects": redirects}}, namespace=NS).redirect_middlewares


def labels(component: str) -> dict[str, str]:
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_MEMBER: MEMBER,
        LABEL_SET: SET_INGRESSES,
        LABEL_COMPONENT: component,
    }


def rule(host: str, *paths: tuple[str, str, str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "host": host,
        "http": {
            "paths": [
                {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": port}}}
                for p, t, s, port in paths
            ]
        },
    }


def ingress(
    name: str, component: str, rules: list[dict[str, Any]], secret: str, middleware: str | None
) -> dict[str, Any]:
    annotations = {
        "kubernetes.io/tls-acme": "true",
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
    }
    if middleware:
        annotations["traefik.ingress.kubernetes.io/router.middlewares"] = middleware
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": NS, "labels": labels(component), "annotations": annotations},
        "spec": {
            "ingressClassName": "traefik",
            "tls": [{"hosts": [r["host"] for r in rules], "secretName": secret}],
            "rules": rules,
        },
    }


HTTP = {"name": "http"}
P80 = {"number": 80}

# Each built-in component with only its required keys: the whole default Ingress, field by field.
DEFAULTS = [
    pytest.param(
        "jupyterhub",
        {"hosts": ["hub.example.org", "hub2.example.org"]},
        ingress(
            "jupyterhub",
            "jupyterhub",
            [
                rule("hub.example.org", ("/", "Prefix", "proxy-public", HTTP)),
                rule("hub2.example.org", ("/", "Prefix", "proxy-public", HTTP)),
            ],
            "tls-jupyterhub",
            HUB,
        ),
        id="jupyterhub",
    ),
    pytest.param(
        "binderhub",
        {"hosts": ["example.org"]},
        ingress(
            "binderhub",
            "binderhub",
            [rule("example.org", ("/", "Prefix", "binder", P80))],
            "tls-binderhub",
            DEFAULT,
        ),
        id="binderhub",
    ),
    pytest.param(
        "federation-redirect",
        {"hosts": ["fed.example.org"]},
        ingress(
            "federation-redirect",
            "federation-redirect",
            [rule("fed.example.org", ("/", "Prefix", "federation-redirect", P80))],
            "tls-federation-redirect",
            DEFAULT,
        ),
        id="federation-redirect",
    ),
    pytest.param(
        "gcs-proxy",
        {
            "buckets": [
                {"name": "events", "host": "archive.example.org"},
                {"name": "x", "host": "a2.example.org"},
            ]
        },
        ingress(
            "gcs-proxy",
            "gcs-proxy",
            [
                rule("archive.example.org", ("/", "Prefix", "gcs-proxy", P80)),
                rule("a2.example.org", ("/", "Prefix", "gcs-proxy", P80)),
            ],
            "tls-gcs-proxy",
            DEFAULT,
        ),
        id="gcs-proxy",
    ),
    pytest.param(
        "harbor",
        {"hosts": ["harbor.example.org"]},
        ingress(
            "harbor",
            "harbor",
            [
                rule(
                    "harbor.example.org",
                    ("/", "Prefix", "prod-harbor-portal", P80),
                    ("/api/", "Prefix", "prod-harbor-core", P80),
                    ("/service/", "Prefix", "prod-harbor-core", P80),
                    ("/v2/", "Prefix", "prod-harbor-core", P80),
                    ("/c/", "Prefix", "prod-harbor-core", P80),
                )
            ],
            "tls-harbor",
            HARBOR,
        ),
        id="harbor",
    ),
    pytest.param(
        "static",
        {"hosts": ["static.example.org"]},
        ingress(
            "static",
            "static",
            [rule("static.example.org", ("/badge.svg", "Exact", "binder", P80))],
            "tls-static",
            DEFAULT,
        ),
        id="static",
    ),
    pytest.param(
        "prometheus",
        {"hosts": ["prometheus.example.org"]},
        ingress(
            "prometheus",
            "prometheus",
            [rule("prometheus.example.org", ("/", "Prefix", "prod-prometheus-server", P80))],
            "tls-prometheus",
            DEFAULT,
        ),
        id="prometheus",
    ),
    pytest.param(
        "grafana",
        {"hosts": ["grafana.example.org"]},
        ingress(
            "grafana",
            "grafana",
            [rule("grafana.example.org", ("/", "Prefix", "prod-grafana", P80))],
            "tls-grafana",
            DEFAULT,
        ),
        id="grafana",
    ),
]


@pytest.mark.parametrize(("component", "settings", "expected"), DEFAULTS)
def test_builtin_defaults(component: str, settings: dict[str, Any], expected: dict[str, Any]) -> None:
    state = build({component: settings})
    assert state.ingresses == [expected]
    assert state.services == []
    assert state.redirect_middlewares == {}
    kubernetes_validate.validate(state.ingresses[0], "1.33", strict=True)


@pytest.mark.parametrize(("component", "settings", "expected"), DEFAULTS)
def test_routes_match_the_manifest(
    component: str, settings: dict[str, Any], expected: dict[str, Any]
) -> None:
    state = build({component: settings})
    middleware = expected["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"]
    rows = [
        Route(
            component=component,
            ingress=expected["metadata"]["name"],
            host=r["host"],
            path=p["path"],
            path_type=p["pathType"],
            service=p["backend"]["service"]["name"],
            port=next(iter(p["backend"]["service"]["port"].values())),
            tls_secret=expected["spec"]["tls"][0]["secretName"],
            middlewares=(middleware,),
            expect=None,  # type: ignore[arg-type]  # test_model_expectations.py checks it
        )
        for r in expected["spec"]["rules"]
        for p in r["http"]["paths"]
    ]
    assert [dataclasses.replace(route, expect=None) for route in state.routes] == rows


REDIRECTS = [
    {"type": "host", "from": "beta.example.org", "to": "example.org"},
    {
        "type": "url",
        "from": "status.example.org",
        "to": "docs.example.org/en/latest/status.html",
        "code": 301,
    },
]


def test_redirector_defaults() -> None:
    state = build({"redirector": {"redirects": REDIRECTS}})
    beta = ingress(
        "redirector-beta-example-org",
        "redirector",
        [rule("beta.example.org", ("/", "Prefix", "redirector", P80))],
        "tls-redirector-beta-example-org",
        "redirect-beta-example-org@file",
    )
    status = ingress(
        "redirector-status-example-org",
        "redirector",
        [rule("status.example.org", ("/", "Prefix", "redirector", P80))],
        "tls-redirector-status-example-org",
        "redirect-status-example-org@file",
    )
    assert state.ingresses == [beta, status]
    assert state.services == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "redirector", "namespace": NS, "labels": labels("redirector")},
            "spec": {
                "type": "ClusterIP",
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}],
            },
        }
    ]
    assert "selector" not in state.services[0]["spec"]
    assert state.redirect_middlewares == {
        "redirect-beta-example-org": {
            "redirectRegex": {
                "regex": r"^https?://(?i:beta\.example\.org)(?::[0-9]+)?(/.*)?$",
                "replacement": "https://example.org${1}",
                "permanent": False,
            }
        },
        "redirect-status-example-org": {
            "redirectRegex": {
                "regex": r"^https?://(?i:status\.example\.org)(?::[0-9]+)?(/.*)?$",
                "replacement": "https://docs.example.org/en/latest/status.html",
                "permanent": True,
            }
        },
    }
    for obj in state.ingresses + state.services:
        kubernetes_validate.validate(obj, "1.33", strict=True)


def test_redirector_secret_base_and_per_redirect_secret() -> None:
    state = build(
        {
            "redirector": {
                "tls_secret": "kubelego-tls-redirector",
                "redirects": [REDIRECTS[0], {**REDIRECTS[1], "tls_secret": "status-cert"}],
            }
        }
    )
    assert [i["spec"]["tls"] for i in state.ingresses] == [
        [{"hosts": ["beta.example.org"], "secretName": "kubelego-tls-redirector-beta-example-org"}],
        [{"hosts": ["status.example.org"], "secretName": "status-cert"}],
    ]


def go_replace(regex: str, replacement: str, url: str) -> str | None:
    """What traefik does with a redirectRegex: Go regexp syntax used here is also Python's; ${1} and $$ are Go's."""
    if not re.match(regex, url):
        return None
    python_replacement = replacement.replace("\\", "\\\\").replace("${1}", r"\g<1>").replace("$$", "$")
    return re.sub(regex, python_replacement, url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://beta.example.org/v2/gh/org/repo/HEAD?urlpath=lab",
            "https://example.org/v2/gh/org/repo/HEAD?urlpath=lab",
        ),
        ("https://beta.example.org/", "https://example.org/"),
        ("https://beta.example.org", "https://example.org"),
        ("https://beta.example.org:443/a", "https://example.org/a"),
        ("http://beta.example.org/a", "https://example.org/a"),
        ("https://BETA.Example.org/a", "https://example.org/a"),
        ("https://beta.example.org.evil.test/a", None),
        ("https://xbeta.example.org/a", None),
        ("https://betaXexample.org/a", None),
    ],
)
def test_host_redirect_keeps_path_and_query(url: str, expected: str | None) -> None:
    middleware = redirect_middlewares(MEMBER, [REDIRECTS[0]])["redirect-beta-example-org"]["redirectRegex"]
    assert go_replace(middleware["regex"], middleware["replacement"], url) == expected


@pytest.mark.parametrize("url", ["https://status.example.org/", "https://status.example.org/x/y?z=1"])
def test_url_redirect_goes_to_fixed_url(url: str) -> None:
    middleware = redirect_middlewares(MEMBER, [REDIRECTS[1]])["redirect-status-example-org"]["redirectRegex"]
    assert (
        go_replace(middleware["regex"], middleware["replacement"], url)
        == "https://docs.example.org/en/latest/status.html"
    )


def test_url_redirect_escapes_dollar() -> None:
    redirect = {"type": "url", "from": "a.example.org", "to": "b.example.org/$1/x"}
    middleware = redirect_middlewares(MEMBER, [redirect])["redirect-a-example-org"]["redirectRegex"]
    assert middleware["replacement"] == "https://b.example.org/$$1/x"
    assert (
        go_replace(middleware["regex"], middleware["replacement"], "https://a.example.org/q")
        == "https://b.example.org/$1/x"
    )


@pytest.mark.parametrize(("code", "permanent"), [(301, True), (302, False)])
def test_redirect_codes(code: int, permanent: bool) -> None:
    found = redirect_middlewares(MEMBER, [{**REDIRECTS[0], "code": code}])
    assert found["redirect-beta-example-org"]["redirectRegex"]["permanent"] is permanent


def test_redirect_middleware_name() -> None:
    assert redirect_middleware_name("beta.mybinder.org") == "redirect-beta-mybinder-org"


def test_no_redirects_no_service() -> None:
    state = build(
        {"redirector": {"enabled": False, "redirects": REDIRECTS}, "binderhub": {"hosts": ["example.org"]}}
    )
    assert state.services == []
    assert state.redirect_middlewares == {}
    assert [i["metadata"]["name"] for i in state.ingresses] == ["binderhub"]


# --- overrides


def test_overrides() -> None:
    state = build(
        {
            "binderhub": {
                "hosts": ["example.org"],
                "name": "binder-main",
                "tls_secret": "kubelego-tls-binder",
                "service": {"name": "binder-api", "port": 8585},
                "paths": [
                    {"path": "/", "path_type": "Prefix"},
                    {
                        "path": "/metrics",
                        "path_type": "Exact",
                        "service": {"name": "metrics", "port": "metrics"},
                    },
                    {"path": "/impl", "path_type": "ImplementationSpecific"},
                ],
                "middlewares": [HUB, HARBOR],
                "annotations": {"example.org/team": "binder", "plain": "x"},
            }
        }
    )
    (manifest,) = state.ingresses
    assert manifest["metadata"]["name"] == "binder-main"
    assert manifest["metadata"]["annotations"] == {
        "kubernetes.io/tls-acme": "true",
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
        "traefik.ingress.kubernetes.io/router.middlewares": "hub@file,harbor@file",
        "example.org/team": "binder",
        "plain": "x",
    }
    assert manifest["spec"]["tls"] == [{"hosts": ["example.org"], "secretName": "kubelego-tls-binder"}]
    assert manifest["spec"]["rules"] == [
        rule(
            "example.org",
            ("/", "Prefix", "binder-api", {"number": 8585}),
            ("/metrics", "Exact", "metrics", {"name": "metrics"}),
            ("/impl", "ImplementationSpecific", "binder-api", {"number": 8585}),
        )
    ]
    kubernetes_validate.validate(manifest, "1.33", strict=True)


def test_release_override() -> None:
    state = build(
        {
            "harbor": {"hosts": ["harbor.example.org"], "release": "registry"},
            "prometheus": {"hosts": ["p.example.org"], "release": "support"},
            "grafana": {"hosts": ["g.example.org"], "release": "support"},
        }
    )
    services = {(r.component, r.path): r.service for r in state.routes}
    assert services == {
        ("grafana", "/"): "support-grafana",
        ("harbor", "/"): "registry-harbor-portal",
        ("harbor", "/api/"): "registry-harbor-core",
        ("harbor", "/service/"): "registry-harbor-core",
        ("harbor", "/v2/"): "registry-harbor-core",
        ("harbor", "/c/"): "registry-harbor-core",
        ("prometheus", "/"): "support-prometheus-server",
    }


def test_harbor_service_replaces_the_portal_only() -> None:
    state = build({"harbor": {"hosts": ["h.example.org"], "service": {"name": "portal", "port": 8080}}})
    assert [(r.path, r.service, r.port) for r in state.routes] == [
        ("/", "portal", 8080),
        ("/api/", "prod-harbor-core", 80),
        ("/service/", "prod-harbor-core", 80),
        ("/v2/", "prod-harbor-core", 80),
        ("/c/", "prod-harbor-core", 80),
    ]


def test_static_listed_paths() -> None:
    state = build(
        {
            "static": {
                "hosts": ["s.example.org"],
                "paths": [{"path": "/badge.svg"}, {"path": "/badge_logo.svg"}],
            }
        }
    )
    assert [(r.path, r.path_type) for r in state.routes] == [
        ("/badge.svg", "Exact"),
        ("/badge_logo.svg", "Exact"),
    ]


def test_empty_middlewares_drop_the_annotation() -> None:
    state = build({"binderhub": {"hosts": ["example.org"], "middlewares": []}})
    assert (
        "traefik.ingress.kubernetes.io/router.middlewares"
        not in state.ingresses[0]["metadata"]["annotations"]
    )
    assert state.routes[0].middlewares == ()


def test_no_tls_acme_and_other_class() -> None:
    state = build(
        {"binderhub": {"hosts": ["example.org"], "middlewares": []}}, tls_acme=False, ingress_class="nginx"
    )
    manifest = state.ingresses[0]
    assert manifest["metadata"]["annotations"] == {
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure"
    }
    assert manifest["spec"]["ingressClassName"] == "nginx"
    kubernetes_validate.validate(manifest, "1.33", strict=True)


def test_generic_component() -> None:
    state = build(
        {
            "my-app": {
                "hosts": ["app.example.org", "*.apps.example.org"],
                "service": {"name": "app", "port": 8080},
            }
        }
    )
    assert state.ingresses == [
        ingress(
            "my-app",
            "my-app",
            [
                rule("app.example.org", ("/", "Prefix", "app", {"number": 8080})),
                rule("*.apps.example.org", ("/", "Prefix", "app", {"number": 8080})),
            ],
            "tls-my-app",
            DEFAULT,
        )
    ]


def test_gcs_proxy_bucket_secrets_group_tls() -> None:
    state = build(
        {
            "gcs-proxy": {
                "buckets": [
                    {"name": "a", "host": "a.example.org"},
                    {"name": "b", "host": "b.example.org", "tls_secret": "tls-b"},
                    {"name": "c", "host": "c.example.org"},
                ]
            }
        }
    )
    assert state.ingresses[0]["spec"]["tls"] == [
        {"hosts": ["a.example.org", "c.example.org"], "secretName": "tls-gcs-proxy"},
        {"hosts": ["b.example.org"], "secretName": "tls-b"},
    ]
    assert sorted(h for t in state.ingresses[0]["spec"]["tls"] for h in t["hosts"]) == sorted(
        r["host"] for r in state.ingresses[0]["spec"]["rules"]
    )


def test_disabled_component_is_left_out() -> None:
    state = build(
        {"binderhub": {"hosts": ["example.org"]}, "grafana": {"enabled": False, "hosts": ["g.example.org"]}}
    )
    assert [r.component for r in state.routes] == ["binderhub"]


# --- order, determinism, output form

CATALOGUE: dict[str, Any] = {
    "static": {"hosts": ["static.example.org"]},
    "my-app": {"hosts": ["app.example.org"], "service": {"name": "app", "port": 80}},
    "binderhub": {"hosts": ["example.org", "gke.example.org"]},
    "redirector": {"redirects": REDIRECTS},
    "jupyterhub": {"hosts": ["hub.example.org"]},
}


def test_order_is_by_component_then_as_given() -> None:
    state = build(CATALOGUE)
    assert [i["metadata"]["name"] for i in state.ingresses] == [
        "binderhub",
        "jupyterhub",
        "my-app",
        "redirector-beta-example-org",
        "redirector-status-example-org",
        "static",
    ]
    assert [r["host"] for r in state.ingresses[0]["spec"]["rules"]] == ["example.org", "gke.example.org"]
    shuffled = dict(reversed(list(CATALOGUE.items())))
    assert build(shuffled).as_dict() == state.as_dict()


def test_manifests_do_not_share_structure() -> None:
    state = build({"binderhub": {"hosts": ["a.example.org", "b.example.org"]}})
    rules = state.ingresses[0]["spec"]["rules"]
    rules[0]["http"]["paths"][0]["backend"]["service"]["port"]["number"] = 1
    assert rules[1]["http"]["paths"][0]["backend"]["service"]["port"] == {"number": 80}


def test_as_dict_is_json() -> None:
    data = build(CATALOGUE).as_dict()
    assert json.loads(json.dumps(data)) == data
    # The set the objects are applied as is the one their labels name.
    assert {o["metadata"]["labels"]["binder.ingress/set"] for o in data["ingresses"] + data["services"]} == {
        data["set"]
    }
    assert set(data) == {
        "member",
        "namespace",
        "set",
        "ingresses",
        "services",
        "redirect_middlewares",
        "routes",
        "summary",
    }
    assert data["routes"][0] == {
        "component": "binderhub",
        "ingress": "binderhub",
        "host": "example.org",
        "path": "/",
        "path_type": "Prefix",
        "service": "binder",
        "port": 80,
        "tls_secret": "tls-binderhub",
        "middlewares": [DEFAULT],
        "expect": {
            "request": "/",
            "status": ["2xx", "3xx"],
            "location": "",
            "backend": True,
            "hsts": True,
            "hsts_max_age": 31536000,
            "tls_min_version": "1.2",
        },
    }


def test_summary_markdown() -> None:
    state = build(
        {
            "binderhub": {"hosts": ["b.example.org", "a.example.org"]},
            "jupyterhub": {"hosts": ["hub.example.org"]},
        }
    )
    assert summary_markdown(state) == (
        "# gke (namespace prod)\n"
        "\n"
        "| host | path | pathType | backend service:port | TLS secret | middlewares |\n"
        "|---|---|---|---|---|---|\n"
        "| a.example.org | / | Prefix | binder:80 | tls-binderhub | default@file |\n"
        "| b.example.org | / | Prefix | binder:80 | tls-binderhub | default@file |\n"
        "| hub.example.org | / | Prefix | proxy-public:http | tls-jupyterhub | hub@file |\n"
    )
    assert state.as_dict()["summary"] == summary_markdown(state)


def test_empty_catalogue() -> None:
    state = build({})
    assert (state.ingresses, state.services, state.routes) == ([], [], [])
    assert summary_markdown(state).endswith("| - | - | - | - | - | - |\n")


def test_issue_and_error_text() -> None:
    issue = Issue("gke", "binder_ingresses_components.static.hosts[0]", "bad")
    assert str(issue) == "member gke: binder_ingresses_components.static.hosts[0]: bad"
    error = MemberError([issue, Issue("gke", "k", "m")])
    assert str(error) == "member gke: binder_ingresses_components.static.hosts[0]: bad\nmember gke: k: m"
    assert isinstance(error, ValueError)


def test_custom_key_prefix() -> None:
    with pytest.raises(MemberError) as caught:
        build_member(
            "m",
            {"binderhub": {"hosts": ["Bad"]}},
            namespace="ns",
            keys={"components": "members.m.components"},
        )
    assert [i.key for i in caught.value.issues] == ["members.m.components.binderhub.hosts[0]"]


def test_bench_script_runs() -> None:
    """`python -m bench.model_bench` keeps working (its figures are for the report, not asserted here)."""
    root = Path(__file__).resolve().parents[4]
    done = subprocess.run(
        [sys.executable, "-m", "bench.model_bench", "--hosts", "200", "--runs", "1"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("member: 200 hosts, ")
    assert "build_member (build + validate): best " in done.stdout


def test_generic_component_with_a_service_on_every_path() -> None:
    state = build(
        {
            "api": {
                "hosts": ["api.example.org"],
                "paths": [
                    {"path": "/v1/", "service": {"name": "api-v1", "port": 80}},
                    {"path": "/v2/", "service": {"name": "api-v2", "port": "http"}},
                ],
            }
        }
    )
    assert [(r.path, r.service, r.port) for r in state.routes] == [
        ("/v1/", "api-v1", 80),
        ("/v2/", "api-v2", "http"),
    ]


def test_every_ingress_is_pinned_to_websecure_so_plain_http_reaches_no_backend() -> None:
    # Every component, redirects included: with allowACMEByPass, a router on `web` would answer
    # http://<host>/.well-known/acme-challenge/... with the member's own backend.
    state = build(
        {
            "binderhub": {"hosts": ["b.example.org"]},
            "static": {"hosts": ["s.example.org"]},
            "redirector": {"redirects": [{"type": "host", "from": "old.example.org", "to": "b.example.org"}]},
        }
    )
    assert len(state.ingresses) == 3
    for manifest in state.ingresses:
        assert (
            manifest["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.entrypoints"]
            == "websecure"
        )


def test_the_entrypoints_are_configurable() -> None:
    state = build({"binderhub": {"hosts": ["b.example.org"]}}, entrypoints=["websecure", "web"])
    annotations = state.ingresses[0]["metadata"]["annotations"]
    assert annotations["traefik.ingress.kubernetes.io/router.entrypoints"] == "websecure,web"


@pytest.mark.parametrize(
    ("entrypoints", "key"),
    [
        ([], "binder_ingresses_entrypoints"),
        ("websecure", "binder_ingresses_entrypoints"),
        (["Web Secure"], "binder_ingresses_entrypoints[0]"),
        ([443], "binder_ingresses_entrypoints[0]"),
    ],
)
def test_bad_entrypoints_are_refused_naming_member_and_key(entrypoints: Any, key: str) -> None:
    with pytest.raises(MemberError) as caught:
        build({"binderhub": {"hosts": ["b.example.org"]}}, entrypoints=entrypoints)
    assert [i.key for i in caught.value.issues] == [key]


def test_the_entrypoints_annotation_is_the_roles_to_set() -> None:
    with pytest.raises(MemberError) as caught:
        build(
            {
                "binderhub": {
                    "hosts": ["b.example.org"],
                    "annotations": {"traefik.ingress.kubernetes.io/router.entrypoints": "web"},
                }
            }
        )
    assert "binder_ingresses_entrypoints" in str(caught.value)
