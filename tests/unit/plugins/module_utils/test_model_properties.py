"""Properties of the model over generated catalogues (hypothesis).

(a) Any valid catalogue renders manifests that the official schema accepts
    strictly, and that the model accepts again when fed back as a catalogue.
(b) Any (host, path) served twice, injected into a valid catalogue, is caught.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from ansible_collections.binder.ingress.plugins.module_utils.constants import LABEL_COMPONENT, REDIRECTOR
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    BUILTINS,
    TRAEFIK_MIDDLEWARES,
    MemberError,
    MemberState,
    build_member,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MEMBER = "member-1"
NS = "binder"
KUBERNETES = "1.33"
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

label = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
host_names = st.builds(
    lambda parts, tld: ".".join([*parts, tld]),
    st.lists(label, min_size=1, max_size=3),
    st.sampled_from(["org", "test", "io"]),
)
segment = st.from_regex(r"[a-zA-Z0-9_.~-]{1,8}", fullmatch=True).filter(lambda s: s not in (".", ".."))
paths = st.builds(
    lambda segs, slash: "/" + "/".join(segs) + ("/" if slash and segs else ""),
    st.lists(segment, max_size=3),
    st.booleans(),
)
port_names = st.from_regex(r"[a-z]([a-z0-9]{0,6})", fullmatch=True)
ports = st.one_of(st.integers(1, 65535), port_names)
service_names = st.from_regex(r"[a-z]([a-z0-9-]{0,12}[a-z0-9])?", fullmatch=True)
services = st.fixed_dictionaries({"name": service_names, "port": ports})
annotation_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
SIMPLE = [c for c in BUILTINS if c not in ("gcs-proxy", REDIRECTOR, "static")]


@st.composite
def catalogues(draw: st.DrawFn) -> dict[str, Any]:
    """A valid catalogue: unique hosts across the member, every component type possible."""
    pool = iter(draw(st.lists(host_names, min_size=40, max_size=40, unique=True)))
    catalogue: dict[str, Any] = {}
    for component in draw(st.lists(st.sampled_from(SIMPLE), unique=True, max_size=len(SIMPLE))):
        settings_: dict[str, Any] = {"hosts": [next(pool) for _i in range(draw(st.integers(1, 3)))]}
        if draw(st.booleans()):
            settings_["tls_secret"] = f"cert-{component}"
        if draw(st.booleans()):
            settings_["middlewares"] = draw(
                st.lists(
                    st.sampled_from([f"{name}@file" for name in TRAEFIK_MIDDLEWARES]),
                    unique=True,
                    max_size=2,
                )
            )
        if draw(st.booleans()):
            settings_["annotations"] = {"example.org/note": draw(annotation_values)}
        if component != "harbor" and draw(st.booleans()):
            settings_["paths"] = [
                {"path": p, "path_type": draw(st.sampled_from(["Prefix", "Exact", "ImplementationSpecific"]))}
                for p in draw(st.lists(paths, min_size=1, max_size=3, unique=True))
            ]
        catalogue[component] = settings_
    if draw(st.booleans()):
        catalogue["static"] = {
            "hosts": [next(pool) for _i in range(draw(st.integers(1, 2)))],
            "paths": [
                {"path": p}
                for p in draw(st.lists(paths.filter(lambda p: p != "/"), min_size=1, max_size=2, unique=True))
            ],
        }
    if draw(st.booleans()):
        catalogue["gcs-proxy"] = {
            "buckets": [
                {
                    "name": f"bucket-{i}",
                    "host": next(pool),
                    **({"tls_secret": f"bucket-cert-{i}"} if draw(st.booleans()) else {}),
                }
                for i in range(draw(st.integers(1, 3)))
            ]
        }
    if draw(st.booleans()):
        # Targets live outside the member's hosts (".target"), so redirects never chain into a loop.
        catalogue[REDIRECTOR] = {
            "redirects": [
                {
                    "type": kind,
                    "from": next(pool),
                    "to": draw(host_names) + ".target" + (draw(paths) if kind == "url" else ""),
                    "code": draw(st.sampled_from([301, 302])),
                }
                for kind in draw(st.lists(st.sampled_from(["host", "url"]), min_size=1, max_size=3))
            ]
        }
    for i in range(draw(st.integers(0, 3))):
        catalogue[f"app-{i}"] = {
            "hosts": [next(pool) for _i in range(draw(st.integers(1, 3)))],
            "service": draw(services),
            "paths": [
                {
                    "path": p,
                    "path_type": draw(st.sampled_from(["Prefix", "Exact"])),
                    **({"service": draw(services)} if draw(st.booleans()) else {}),
                }
                for p in draw(st.lists(paths, min_size=1, max_size=3, unique=True))
            ],
        }
    return catalogue


def as_catalogue(state: MemberState) -> dict[str, Any]:
    """The rendered Ingresses as generic components: one per TLS entry of each Ingress.

    Not the redirects': their middlewares exist only with their redirector (an Ingress naming a
    middleware traefik lacks is refused)."""
    catalogue: dict[str, Any] = {}
    for n, manifest in enumerate(state.ingresses):
        if manifest["metadata"]["labels"][LABEL_COMPONENT] == REDIRECTOR:
            continue
        annotations = dict(manifest["metadata"].get("annotations", {}))
        annotations.pop("kubernetes.io/tls-acme", None)
        annotations.pop("traefik.ingress.kubernetes.io/router.entrypoints", None)
        middlewares = annotations.pop("traefik.ingress.kubernetes.io/router.middlewares", "")
        rules = {r["host"]: r["http"]["paths"] for r in manifest["spec"]["rules"]}
        for t, tls in enumerate(manifest["spec"]["tls"]):
            first = rules[tls["hosts"][0]]
            catalogue[f"c{n}-{t}"] = {
                "name": manifest["metadata"]["name"] + ("" if len(manifest["spec"]["tls"]) == 1 else f"-{t}"),
                "hosts": tls["hosts"],
                "tls_secret": tls["secretName"],
                "middlewares": middlewares.split(",") if middlewares else [],
                "annotations": annotations,
                "service": {"name": "unused", "port": 1},
                "paths": [
                    {
                        "path": p["path"],
                        "path_type": p["pathType"],
                        "service": {
                            "name": p["backend"]["service"]["name"],
                            "port": next(iter(p["backend"]["service"]["port"].values())),
                        },
                    }
                    for p in first
                ],
            }
    return catalogue


def route_set(state: MemberState) -> set[tuple[Any, ...]]:
    return {
        (r.host, r.path, r.path_type, r.service, r.port, r.tls_secret, r.middlewares)
        for r in state.routes
        if r.component != REDIRECTOR
    }


@PROPERTY_SETTINGS
@given(catalogues())
def test_valid_catalogue_renders_valid_manifests(catalogue: dict[str, Any]) -> None:
    state = build_member(MEMBER, catalogue, namespace=NS)
    for manifest in state.ingresses + state.services:
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)
    for manifest in state.ingresses:
        rule_hosts = [r["host"] for r in manifest["spec"]["rules"]]
        tls_hosts = [h for t in manifest["spec"]["tls"] for h in t["hosts"]]
        assert sorted(tls_hosts) == sorted(rule_hosts)
        assert "kubernetes.io/ingress.class" not in manifest["metadata"].get("annotations", {})
    assert bool(state.services) == bool(state.redirect_middlewares)
    again = build_member(MEMBER, as_catalogue(state), namespace=NS)
    assert route_set(again) == route_set(state)


@st.composite
def catalogues_with_a_duplicate(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    catalogue = draw(catalogues().filter(lambda c: any(k != REDIRECTOR for k in c)))
    state = build_member(MEMBER, catalogue, namespace=NS)
    route = draw(st.sampled_from(state.routes))
    how = draw(st.sampled_from(["new-component", "same-component"]))
    if how == "same-component" and route.component not in (REDIRECTOR, "gcs-proxy"):
        # The host listed once more in its own component: every path of it is served twice.
        catalogue[route.component]["hosts"].append(route.host)
    else:
        catalogue["zz-dup"] = {
            "hosts": [route.host],
            "service": {"name": "dup", "port": 80},
            "paths": [{"path": route.path, "path_type": route.path_type}],
        }
    return catalogue, route.host, route.path


@PROPERTY_SETTINGS
@given(catalogues_with_a_duplicate())
def test_duplicate_host_path_is_always_caught(case: tuple[dict[str, Any], str, str]) -> None:
    catalogue, host, _path = case
    with pytest.raises(MemberError) as caught:
        build_member(MEMBER, catalogue, namespace=NS)
    assert any(repr(host) in issue.message for issue in caught.value.issues), [
        str(i) for i in caught.value.issues
    ]
    assert all(
        str(issue).startswith(f"member {MEMBER}: binder_ingresses_components.")
        for issue in caught.value.issues
    )
