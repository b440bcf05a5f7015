"""JSON, merge and strategic merge patches, and server-side apply with field ownership."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from harness import Cluster
from kubernetes import client
from kubernetes.client.rest import ApiException

APPLY = "application/apply-patch+yaml"


def _service(ns: str, name: str = "web", **spec: object) -> dict[str, object]:
    body: dict[str, object] = {
        "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        "selector": {"app": name},
    }
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": body}


def _ports(cluster: Cluster, ns: str, name: str = "web") -> list[dict[str, object]]:
    out = cluster.kubectl("-n", ns, "get", "service", name, "-o", "jsonpath={.spec.ports}").stdout
    ports: list[dict[str, object]] = json.loads(out)
    return ports


def test_kubectl_patch_json(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(_service(ns)))
    cluster.kubectl(
        "-n",
        ns,
        "patch",
        "service",
        "web",
        "--type",
        "json",
        "-p",
        '[{"op": "replace", "path": "/spec/ports/0/targetPort", "value": 9090}]',
    )
    assert _ports(cluster, ns)[0]["targetPort"] == 9090
    failed = cluster.kubectl(
        "-n",
        ns,
        "patch",
        "service",
        "web",
        "--type",
        "json",
        "-p",
        '[{"op": "test", "path": "/spec/type", "value": "NodePort"}]',
        check=False,
    )
    assert failed.returncode == 1


def test_kubectl_patch_merge_replaces_lists(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(_service(ns)))
    cluster.kubectl(
        "-n",
        ns,
        "patch",
        "service",
        "web",
        "--type",
        "merge",
        "-p",
        '{"metadata": {"labels": {"a": "b"}}, "spec": {"ports": [{"name": "x", "port": 81}]}}',
    )
    ports = _ports(cluster, ns)
    assert [p["port"] for p in ports] == [81]
    labels = cluster.kubectl("-n", ns, "get", "service", "web", "-o", "jsonpath={.metadata.labels.a}").stdout
    assert labels == "b"


def test_kubectl_patch_strategic_merges_by_key(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(_service(ns)))
    cluster.kubectl(
        "-n",
        ns,
        "patch",
        "service",
        "web",
        "--type",
        "strategic",
        "-p",
        '{"spec": {"ports": [{"name": "metrics", "port": 9100}, {"port": 80, "targetPort": 7070}]}}',
    )
    ports = {p["port"]: p for p in _ports(cluster, ns)}
    assert set(ports) == {80, 9100}
    assert ports[80]["targetPort"] == 7070 and ports[80]["name"] == "http"
    assert ports[9100]["protocol"] == "TCP"  # defaulted
    cluster.kubectl(
        "-n",
        ns,
        "patch",
        "service",
        "web",
        "--type",
        "strategic",
        "-p",
        '{"spec": {"ports": [{"port": 9100, "$patch": "delete"}]}}',
    )
    assert [p["port"] for p in _ports(cluster, ns)] == [80]


def test_strategic_merge_on_containers_and_env(cluster: Cluster, ns: str) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {
                    "containers": [
                        {"name": "main", "image": "busybox:1", "env": [{"name": "A", "value": "1"}]}
                    ]
                },
            },
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(deploy))
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "main", "env": [{"name": "B", "value": "2"}]}]}}
        }
    }
    cluster.kubectl("-n", ns, "patch", "deployment", "d", "--type", "strategic", "-p", json.dumps(patch))
    got = json.loads(cluster.kubectl("-n", ns, "get", "deployment", "d", "-o", "json").stdout)
    (container,) = got["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "busybox:1"
    # kube-apiserver puts the patch's new list items first.
    assert [e["name"] for e in container["env"]] == ["B", "A"]


def test_strategic_merge_is_415_for_custom_resources(cluster: Cluster, ns: str, widget_crd: str) -> None:
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        stdin=json.dumps(
            {
                "apiVersion": "example.org/v1",
                "kind": "Widget",
                "metadata": {"name": "w", "namespace": ns},
                "spec": {"size": 1},
            }
        ),
    )
    resp = cluster.request(
        "PATCH",
        f"/apis/example.org/v1/namespaces/{ns}/{widget_crd}/w",
        {"spec": {"size": 2}},
        "application/strategic-merge-patch+json",
    )
    assert resp.status == 415 and resp.body["reason"] == "UnsupportedMediaType"


def _apply(
    cluster: Cluster,
    ns: str,
    manager: str,
    obj: dict[str, object],
    force: bool = False,
    plural: str = "configmaps",
) -> tuple[int, object]:
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    query = {"fieldManager": manager}
    if force:
        query["force"] = "true"
    resp = cluster.request(
        "PATCH", f"/api/v1/namespaces/{ns}/{plural}/{meta['name']}", yaml.safe_dump(obj), APPLY, query
    )
    return resp.status, resp.body


def _cm(ns: str, **data: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ssa", "namespace": ns},
        "data": data,
    }


def test_apply_creates_and_records_managed_fields(cluster: Cluster, ns: str) -> None:
    status, body = _apply(cluster, ns, "alice", _cm(ns, a="1"))
    assert status == 201
    assert isinstance(body, dict)
    (entry,) = body["metadata"]["managedFields"]
    assert entry["manager"] == "alice" and entry["operation"] == "Apply"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_apply_requires_field_manager(cluster: Cluster, ns: str) -> None:
    resp = cluster.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/x", yaml.safe_dump(_cm(ns)), APPLY)
    assert resp.status in (400, 422)
    assert resp.body["kind"] == "Status"


def test_apply_conflict_between_managers_is_409_unless_forced(cluster: Cluster, ns: str) -> None:
    assert _apply(cluster, ns, "alice", _cm(ns, a="1", b="1"))[0] == 201
    # Same value: shared ownership, no conflict.
    assert _apply(cluster, ns, "bob", _cm(ns, a="1"))[0] == 200
    status, body = _apply(cluster, ns, "bob", _cm(ns, a="1", b="2"))
    assert status == 409
    assert isinstance(body, dict)
    assert body["reason"] == "Conflict"
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".data.b"}
    ]
    status, body = _apply(cluster, ns, "bob", _cm(ns, a="1", b="2"), force=True)
    assert status == 200
    assert isinstance(body, dict)
    managers = {e["manager"]: e["fieldsV1"] for e in body["metadata"]["managedFields"]}
    assert managers["bob"] == {"f:data": {"f:a": {}, "f:b": {}}}
    assert managers["alice"] == {"f:data": {"f:a": {}}}


def test_apply_removes_fields_the_manager_dropped(cluster: Cluster, ns: str) -> None:
    _apply(cluster, ns, "alice", _cm(ns, a="1", b="2", c="3"))
    _apply(cluster, ns, "bob", _cm(ns, c="3"))
    status, body = _apply(cluster, ns, "alice", _cm(ns, a="1"))
    assert status == 200
    assert isinstance(body, dict)
    # b was alice's alone: removed. c is still bob's: kept.
    assert body["data"] == {"a": "1", "c": "3"}


def test_apply_drops_list_items_by_key(cluster: Cluster, ns: str) -> None:
    svc = _service(ns)
    svc["spec"] = {"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}
    assert _apply(cluster, ns, "alice", svc, plural="services")[0] == 201
    svc["spec"] = {"ports": [{"name": "https", "port": 443}]}
    status, body = _apply(cluster, ns, "alice", svc, plural="services")
    assert status == 200
    assert isinstance(body, dict)
    assert [p["port"] for p in body["spec"]["ports"]] == [443]
    assert body["spec"]["clusterIP"]  # defaulted fields are nobody's and stay


def test_kubectl_apply_server_side_conflict_and_force(cluster: Cluster, ns: str) -> None:
    manifest = json.dumps(_service(ns))
    first = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    assert "serverside-applied" in first.stdout
    changed = json.dumps(_service(ns, ports=[{"name": "http", "port": 80, "targetPort": 9999}]))
    clash = cluster.kubectl(
        "apply", "--server-side", "--field-manager", "other", "-f", "-", stdin=changed, check=False
    )
    assert clash.returncode == 1 and "conflict" in clash.stderr.lower()
    cluster.kubectl(
        "apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", "-", stdin=changed
    )
    assert _ports(cluster, ns)[0]["targetPort"] == 9999


def test_kubectl_client_side_apply_is_idempotent(cluster: Cluster, ns: str) -> None:
    manifest = json.dumps(_service(ns))
    assert "created" in cluster.kubectl("apply", "-f", "-", stdin=manifest).stdout
    before = cluster.kubectl(
        "-n", ns, "get", "service", "web", "-o", "jsonpath={.metadata.resourceVersion}"
    ).stdout
    assert "unchanged" in cluster.kubectl("apply", "-f", "-", stdin=manifest).stdout
    after = cluster.kubectl(
        "-n", ns, "get", "service", "web", "-o", "jsonpath={.metadata.resourceVersion}"
    ).stdout
    assert before == after


def test_kubectl_diff(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(_service(ns)))
    same = cluster.kubectl("diff", "-f", "-", stdin=json.dumps(_service(ns)), check=False)
    assert same.returncode == 0, same.stderr
    changed = json.dumps(_service(ns, ports=[{"name": "http", "port": 80, "targetPort": 1234}]))
    diff = cluster.kubectl("diff", "-f", "-", stdin=changed, check=False)
    assert diff.returncode == 1, diff.stderr
    assert "+    targetPort: 1234" in diff.stdout
    assert _ports(cluster, ns)[0]["targetPort"] == 8080  # diff stored nothing


def test_python_client_patch_kinds(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="p"), data={"a": "1"})
    )
    core.patch_namespaced_config_map("p", ns, {"data": {"b": "2"}})  # strategic merge by default
    assert core.read_namespaced_config_map("p", ns).data == {"a": "1", "b": "2"}
    core.patch_namespaced_config_map("p", ns, [{"op": "remove", "path": "/data/a"}])
    assert core.read_namespaced_config_map("p", ns).data == {"b": "2"}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("missing", ns, {"data": {"b": "2"}})
    assert err.value.status == 404


def test_kubectl_apply_switches_deployment_strategy(cluster: Cluster, ns: str) -> None:
    # kubectl sends `$retainKeys` for the strategy: the defaulted rollingUpdate must go with the type.
    deploy: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "strat", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "s"}},
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"app": "s"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(deploy))
    got = json.loads(cluster.kubectl("-n", ns, "get", "deployment", "strat", "-o", "json").stdout)
    assert got["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    deploy["spec"]["strategy"] = {"type": "Recreate"}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(deploy))
    got = json.loads(cluster.kubectl("-n", ns, "get", "deployment", "strat", "-o", "json").stdout)
    assert got["spec"]["strategy"] == {"type": "Recreate"}
