"""Discovery, OpenAPI, server-set defaults, generation, the status subresource, and the dynamic client."""

from __future__ import annotations

import json

import pytest
from harness import Cluster
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException

REQUIRED = {
    ("", "v1"): {"namespaces", "services", "endpoints", "secrets", "configmaps", "serviceaccounts", "events"},
    ("discovery.k8s.io", "v1"): {"endpointslices"},
    ("networking.k8s.io", "v1"): {"ingresses", "ingressclasses", "networkpolicies"},
    ("apps", "v1"): {"deployments", "daemonsets"},
    ("coordination.k8s.io", "v1"): {"leases"},
    ("apiextensions.k8s.io", "v1"): {"customresourcedefinitions"},
}


def test_version(cluster: Cluster) -> None:
    body = cluster.request("GET", "/version").body
    assert body["major"] == "1" and body["minor"].isdigit() and body["gitVersion"].startswith("v1.")


def test_api_and_apis(cluster: Cluster) -> None:
    assert cluster.request("GET", "/api").body["versions"] == ["v1"]
    groups = {g["name"]: g for g in cluster.request("GET", "/apis").body["groups"]}
    for group, version in REQUIRED:
        if group:
            assert f"{group}/{version}" in [v["groupVersion"] for v in groups[group]["versions"]]
            one = cluster.request("GET", f"/apis/{group}").body
            assert one["kind"] == "APIGroup" and one["name"] == group and one["preferredVersion"]["version"]


@pytest.mark.parametrize(("group", "version"), sorted(REQUIRED))
def test_resource_lists(cluster: Cluster, group: str, version: str) -> None:
    path = f"/apis/{group}/{version}" if group else f"/api/{version}"
    body = cluster.request("GET", path).body
    assert body["kind"] == "APIResourceList"
    names = {r["name"]: r for r in body["resources"]}
    assert REQUIRED[(group, version)] <= set(names)
    for name in REQUIRED[(group, version)]:
        assert {"get", "list", "watch", "create", "patch", "delete"} <= set(names[name]["verbs"])


def test_status_subresources_are_listed(cluster: Cluster) -> None:
    names = {r["name"] for r in cluster.request("GET", "/api/v1").body["resources"]}
    assert {"services/status", "namespaces/status"} <= names
    assert "configmaps/status" not in names


def test_openapi_v3_lists_field_validation_for_patch(cluster: Cluster) -> None:
    index = cluster.request("GET", "/openapi/v3").body["paths"]
    ref = index["apis/networking.k8s.io/v1"]["serverRelativeURL"]
    doc = cluster.request("GET", ref).body
    patch = doc["paths"]["/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/{name}"]["patch"]
    assert {"fieldValidation", "dryRun", "fieldManager"} <= {
        p["name"] for p in patch.get("parameters", [])
    } | {p.get("$ref", "").rsplit("/", 1)[-1].split("-")[0] for p in patch.get("parameters", [])}


def test_crd_appears_in_discovery_once_established(cluster: Cluster, widget_crd: str) -> None:
    crd = json.loads(cluster.kubectl("get", "crd", "widgets.example.org", "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    resources = {r["name"]: r for r in cluster.request("GET", "/apis/example.org/v1").body["resources"]}
    assert resources[widget_crd]["kind"] == "Widget" and resources[widget_crd]["namespaced"] is True
    assert "widgets/status" in resources
    listed = cluster.kubectl("api-resources", "--api-group=example.org", "-o", "name").stdout.split()
    assert "widgets.example.org" in listed


def test_service_defaults(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="d"),
            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)], selector={"app": "d"}),
        ),
    )
    spec = svc.spec
    assert spec.type == "ClusterIP" and spec.session_affinity == "None"
    assert spec.cluster_ip and spec.cluster_ips == [spec.cluster_ip]
    assert spec.ip_families == ["IPv4"] and spec.ip_family_policy == "SingleStack"
    assert spec.internal_traffic_policy == "Cluster"
    (port,) = spec.ports
    assert port.protocol == "TCP" and port.target_port == 80


def test_load_balancer_service_defaults(core: client.CoreV1Api, ns: str) -> None:
    svc = core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="lb"),
            spec=client.V1ServiceSpec(
                type="LoadBalancer", ports=[client.V1ServicePort(port=443, name="https")]
            ),
        ),
    )
    assert 30000 <= svc.spec.ports[0].node_port <= 32767
    assert svc.spec.external_traffic_policy == "Cluster"
    assert svc.spec.allocate_load_balancer_node_ports is True


def test_secret_string_data_and_type(core: client.CoreV1Api, ns: str) -> None:
    made = core.create_namespaced_secret(
        ns, client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"user": "me"})
    )
    assert made.type == "Opaque" and made.data == {"user": "bWU="} and made.string_data is None


def test_namespace_defaults(core: client.CoreV1Api, ns: str) -> None:
    got = core.read_namespace(ns)
    assert got.metadata.labels["kubernetes.io/metadata.name"] == ns
    assert got.status.phase == "Active" and got.spec.finalizers == ["kubernetes"]


def test_generation_and_status_subresource(cluster: Cluster, ns: str, widget_crd: str) -> None:
    base = f"/apis/example.org/v1/namespaces/{ns}/{widget_crd}"
    made = cluster.request(
        "POST",
        base,
        {
            "apiVersion": "example.org/v1",
            "kind": "Widget",
            "metadata": {"name": "g"},
            "spec": {"size": 1},
            "status": {"x": 1},
        },
    )
    assert made.status == 201 and made.body["metadata"]["generation"] == 1
    assert "status" not in made.body  # status is only written through /status
    merge = "application/merge-patch+json"
    labelled = cluster.request("PATCH", f"{base}/g", {"metadata": {"labels": {"a": "b"}}}, merge).body
    assert labelled["metadata"]["generation"] == 1
    resized = cluster.request(
        "PATCH", f"{base}/g", {"spec": {"size": 2}, "status": {"ignored": True}}, merge
    ).body
    assert resized["metadata"]["generation"] == 2 and "status" not in resized
    status = cluster.request(
        "PATCH", f"{base}/g/status", {"status": {"ready": True}, "spec": {"size": 9}}, merge
    )
    assert status.status == 200
    assert status.body["status"] == {"ready": True} and status.body["spec"]["size"] == 2
    assert status.body["metadata"]["generation"] == 2


def test_deployment_selector_is_immutable(dyn: dynamic.DynamicClient, ns: str) -> None:
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = {
        "metadata": {"name": "im"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {
                "metadata": {"labels": {"app": "a", "b": "c"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }
    made = deployments.create(namespace=ns, body=body)
    assert made.spec.replicas == 1 and made.spec.strategy.type == "RollingUpdate"
    body["spec"]["selector"] = {"matchLabels": {"app": "a", "b": "c"}}
    with pytest.raises(ApiException) as err:
        deployments.patch(
            namespace=ns, name="im", body={"spec": body["spec"]}, content_type="application/merge-patch+json"
        )
    assert err.value.status == 422


def test_dynamic_client_crud(dyn: dynamic.DynamicClient, ns: str) -> None:
    ingresses = dyn.resources.get(api_version="networking.k8s.io/v1", kind="Ingress")
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "dyn"},
        "spec": {
            "ingressClassName": "traefik",
            "rules": [
                {
                    "host": "dyn.example.org",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "s", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    made = ingresses.create(namespace=ns, body=body)
    assert made.metadata.generation == 1
    listed = ingresses.get(namespace=ns)
    assert [i.metadata.name for i in listed.items] == ["dyn"]
    applied = ingresses.server_side_apply(namespace=ns, body=body, field_manager="dyn-test")
    assert any(m["manager"] == "dyn-test" for m in applied.metadata.managedFields)
    ingresses.delete(namespace=ns, name="dyn")
    with pytest.raises(ApiException) as err:
        ingresses.get(namespace=ns, name="dyn")
    assert err.value.status == 404
