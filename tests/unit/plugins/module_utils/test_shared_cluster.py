"""Members that share a cluster: traefik scoped to the member's namespace, its own IngressClass, RBAC
and ACME Issuers, and the inventory check that finds members sharing a cluster without saying so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from ansible_collections.binder.ingress.plugins.module_utils.chart_values import (
    cluster_issuers,
    traefik_values,
)
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    LABEL_MEMBER,
    LABEL_SET,
    SET_ISSUERS,
    SET_TRAEFIK_RBAC,
)
from ansible_collections.binder.ingress.plugins.module_utils.model import MemberError, build_member, kind
from ansible_collections.binder.ingress.plugins.module_utils.shared_cluster import (
    cluster_server,
    default_ingress_class,
    shared_cluster_problems,
)
from ansible_collections.binder.ingress.plugins.module_utils.traefik_rbac import (
    service_account_name,
    traefik_rbac,
)
from test_chart_values import TRAEFIK_KEYS as CHART_KEYS
from test_chart_values import _check_keys as check_keys

ROLES = Path(__file__).resolve().parents[4] / "roles"
COMPONENTS = {"binderhub": {"hosts": ["alpha.example.org"]}}


def _values(**extra: Any) -> dict[str, Any]:
    return traefik_values(member="alpha", namespace="alpha", **extra)


# --- traefik's values --------------------------------------------------------------------------


def test_a_member_alone_keeps_the_default_class_and_the_charts_rbac() -> None:
    values = _values()
    assert values["ingressClass"] == {"enabled": True, "isDefaultClass": True, "name": "traefik"}
    assert "namespaces" not in values["providers"]["kubernetesIngress"]
    assert "ingressClass" not in values["providers"]["kubernetesIngress"]
    assert "rbac" not in values


def test_a_shared_member_watches_only_its_namespace_with_its_own_non_default_class() -> None:
    values = _values(namespaced=True, ingress_class="traefik-alpha")
    assert values["ingressClass"] == {"enabled": True, "isDefaultClass": False, "name": "traefik-alpha"}
    assert values["providers"]["kubernetesIngress"]["namespaces"] == ["alpha"]
    # Only its class: traefik serves an Ingress without a class (nor the legacy annotation) otherwise.
    assert values["providers"]["kubernetesIngress"]["ingressClass"] == "traefik-alpha"
    # The chart makes no RBAC; and never its rbac.namespaced, which turns off traefik's IngressClass lookup.
    assert values["rbac"] == {"enabled": False}
    # Everything else is the member's edge as before.
    alone = _values(ingress_class="traefik-alpha")
    for key in set(alone) - {"ingressClass", "providers"}:
        assert values[key] == alone[key], key


def test_the_shared_values_use_keys_of_the_chart() -> None:
    # The chart 41.x keys written from its documented values (test_chart_values), plus the three set here.
    shared_keys = {
        **CHART_KEYS,
        "": CHART_KEYS[""] | {"rbac"},
        "rbac": {"enabled"},
        "providers.kubernetesIngress": CHART_KEYS["providers.kubernetesIngress"]
        | {"namespaces", "ingressClass"},
    }
    assert check_keys(_values(namespaced=True), shared_keys) == []


def test_namespaced_must_be_a_boolean() -> None:
    with pytest.raises(MemberError) as failure:
        _values(namespaced="yes", keys={"namespaced": "binder_shared_cluster"})
    assert [str(i) for i in failure.value.issues] == [
        "member alpha: binder_shared_cluster: must be a boolean, got " + kind("yes")
    ]


# --- traefik's RBAC ----------------------------------------------------------------------------


def test_a_member_alone_gets_no_rbac_of_its_own() -> None:
    assert traefik_rbac(member="alpha", namespace="alpha", values=_values()) == []


def test_a_shared_members_traefik_reads_secrets_only_in_its_namespace() -> None:
    objects = traefik_rbac(
        member="alpha", namespace="alpha", release="traefik", namespaced=True, values=_values(namespaced=True)
    )
    by_kind = {o["kind"]: o for o in objects}
    assert sorted(by_kind) == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.33", strict=True)
        assert obj["metadata"]["labels"][LABEL_MEMBER] == "alpha"
        assert obj["metadata"]["labels"][LABEL_SET] == SET_TRAEFIK_RBAC
    assert by_kind["Role"]["metadata"]["namespace"] == "alpha"
    role_resources = {r for rule in by_kind["Role"]["rules"] for r in rule["resources"]}
    assert {"secrets", "services", "ingresses", "ingresses/status", "endpointslices"} == role_resources
    # Cluster-wide: only what traefik's Ingress provider watches whatever its namespaces, none of it secret.
    cluster_rules = by_kind["ClusterRole"]["rules"]
    assert {r for rule in cluster_rules for r in rule["resources"]} == {"ingressclasses", "nodes"}
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for rule in cluster_rules)
    # Bound to the ServiceAccount the chart runs the pods as, in the member's namespace.
    for binding in (by_kind["RoleBinding"], by_kind["ClusterRoleBinding"]):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "traefik", "namespace": "alpha"}]
    # Cluster-scoped names carry the namespace: two members' releases named alike do not collide.
    beta = traefik_rbac(member="beta", namespace="beta", namespaced=True, values=_values(namespaced=True))
    names = {o["metadata"]["name"] for o in objects if o["kind"].startswith("Cluster")}
    assert names.isdisjoint({o["metadata"]["name"] for o in beta if o["kind"].startswith("Cluster")})


@pytest.mark.parametrize(
    ("release", "values", "expected"),
    [
        ("traefik", {}, "traefik"),
        ("edge-traefik", {}, "edge-traefik"),
        ("edge", {}, "edge-traefik"),
        ("edge", {"fullnameOverride": "front"}, "front"),
        ("edge", {"serviceAccount": {"name": "mine"}}, "mine"),
    ],
)
def test_the_service_account_is_the_charts(release: str, values: dict[str, Any], expected: str) -> None:
    assert service_account_name(release, values) == expected


def test_rbac_errors_name_the_variable() -> None:
    with pytest.raises(MemberError) as failure:
        traefik_rbac(
            member="alpha", namespace="Bad_NS", namespaced=True, keys={"namespace": "binder_namespace"}
        )
    assert any("binder_namespace" in str(i) and "Bad_NS" in str(i) for i in failure.value.issues)


# --- ACME issuers ------------------------------------------------------------------------------


def test_a_shared_member_gets_its_own_issuers_solving_through_its_own_class() -> None:
    issuers = cluster_issuers(
        member="alpha", email="ops@example.org", ingress_class="traefik-alpha", namespace="alpha"
    )
    assert sorted(i["metadata"]["name"] for i in issuers) == ["letsencrypt-prod", "letsencrypt-staging"]
    for issuer in issuers:
        assert issuer["kind"] == "Issuer"
        assert issuer["metadata"]["namespace"] == "alpha"
        assert issuer["metadata"]["labels"][LABEL_MEMBER] == "alpha"
        assert issuer["metadata"]["labels"][LABEL_SET] == SET_ISSUERS
        (solver,) = issuer["spec"]["acme"]["solvers"]
        assert solver["http01"]["ingress"]["ingressClassName"] == "traefik-alpha"


def test_a_member_alone_keeps_the_clusters_shared_cluster_issuers() -> None:
    issuers = cluster_issuers(member="alpha", email="ops@example.org")
    assert {i["kind"] for i in issuers} == {"ClusterIssuer"}
    assert all(LABEL_MEMBER not in i["metadata"]["labels"] for i in issuers)
    assert all("namespace" not in i["metadata"] for i in issuers)


def test_a_shared_members_ingresses_name_its_issuer() -> None:
    state = build_member(
        "alpha", COMPONENTS, namespace="alpha", ingress_class="traefik-alpha", issuer="letsencrypt-prod"
    )
    (ingress,) = state.ingresses
    assert ingress["metadata"]["annotations"]["cert-manager.io/issuer"] == "letsencrypt-prod"
    assert ingress["spec"]["ingressClassName"] == "traefik-alpha"
    alone = build_member("alpha", COMPONENTS, namespace="alpha")
    assert "cert-manager.io/issuer" not in alone.ingresses[0]["metadata"]["annotations"]


def test_a_shared_member_may_not_pick_another_issuer() -> None:
    components = {
        "binderhub": {"hosts": ["a.example.org"], "annotations": {"cert-manager.io/cluster-issuer": "x"}}
    }
    with pytest.raises(MemberError) as failure:
        build_member("alpha", components, namespace="alpha", issuer="letsencrypt-prod")
    assert any(
        "binder_ingresses_components.binderhub.annotations.cert-manager.io/cluster-issuer" in str(i)
        for i in failure.value.issues
    )


# --- which members share a cluster -------------------------------------------------------------


def _kubeconfig(path: Path, server: str, context: str = "ctx") -> str:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "secret-token-never-shown"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return str(path)


def _member(
    name: str, kubeconfig: str, shared: bool, namespace: str | None = None, **extra: Any
) -> dict[str, Any]:
    namespace = namespace or name
    return {
        "member": name,
        "kubeconfig": kubeconfig,
        "context": "ctx",
        "shared": shared,
        "namespace": namespace,
        "ingress_class": default_ingress_class(namespace, shared),
        **extra,
    }


def test_the_server_a_context_reaches(tmp_path: Path) -> None:
    assert cluster_server(_kubeconfig(tmp_path / "a", "https://API.example.org:6443/"), "ctx") == (
        "https://api.example.org:6443"
    )
    assert cluster_server(str(tmp_path / "missing"), "ctx") is None


def test_members_in_one_cluster_that_do_not_say_so_are_named_with_the_key(tmp_path: Path) -> None:
    one = _kubeconfig(tmp_path / "one", "https://api.example.org:6443")
    # Another file, another context name: the same cluster all the same.
    other = _kubeconfig(tmp_path / "other", "https://api.example.org:6443")
    members = [_member("alpha", one, False), _member("beta", other, True)]
    (problem,) = shared_cluster_problems("alpha", members)
    assert problem.startswith("binder_shared_cluster: members alpha and beta use the same cluster")
    assert "but alpha does not set binder_shared_cluster: true" in problem
    assert "secret-token" not in problem
    (from_beta,) = shared_cluster_problems("beta", members)
    assert "members beta and alpha" in from_beta and "but alpha does not" in from_beta


def test_members_that_say_so_pass_and_members_of_other_clusters_are_apart(tmp_path: Path) -> None:
    one = _kubeconfig(tmp_path / "one", "https://api.example.org:6443")
    elsewhere = _kubeconfig(tmp_path / "two", "https://api.other.org:6443")
    members = [_member("alpha", one, True), _member("beta", one, True), _member("gamma", elsewhere, False)]
    assert [shared_cluster_problems(m["member"], members) for m in members] == [[], [], []]


def test_members_of_one_cluster_need_a_namespace_and_a_class_each(tmp_path: Path) -> None:
    one = _kubeconfig(tmp_path / "one", "https://api.example.org:6443")
    members = [
        _member("alpha", one, True, namespace="binder"),
        _member("beta", one, True, namespace="binder"),
    ]
    problems = shared_cluster_problems("alpha", members)
    assert [p.split(":")[0] for p in problems] == ["binder_namespace", "binder_ingress_class"]
    assert "member beta" in problems[0] and "member beta" in problems[1]


def test_the_binder_roles_default_class_is_the_checks() -> None:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    template = yaml.safe_load((ROLES / "binder" / "defaults" / "main.yml").read_text())[
        "binder_ingress_class"
    ]
    for shared in (False, True):
        variables = {"binder_namespace": "alpha", "binder_shared_cluster": shared}
        rendered = Templar(loader=DataLoader(), variables=variables).template(trust_as_template(template))
        assert rendered == default_ingress_class("alpha", shared)
    assert default_ingress_class("alpha", False) == "traefik"
    assert default_ingress_class("alpha", True) == "traefik-alpha"


def test_the_binder_role_names_the_cert_manager_roles_default_issuer() -> None:
    # binder_ingresses renders before cert_manager, so the binder role repeats the cert_manager role's
    # default issuer as a fallback: the two must stay equal.
    cert_manager = yaml.safe_load((ROLES / "cert_manager" / "defaults" / "main.yml").read_text())
    (task,) = yaml.safe_load((ROLES / "binder" / "tasks" / "binder_ingresses.yml").read_text())
    assert (
        f"default('{cert_manager['cert_manager_default_issuer']}')" in task["vars"]["binder_ingresses_issuer"]
    )
