"""Create, get, list, update and delete, with the status codes and Status bodies of kube-apiserver."""

from __future__ import annotations

import json

import pytest
from conformance import own, status_of, unique, wait_for
from harness import Cluster
from kubernetes import client
from kubernetes.client.rest import ApiException


def _cm(name: str, labels: dict[str, str] | None = None, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data or None)


def test_create_answers_201_with_server_metadata(cluster: Cluster, ns: str) -> None:
    resp = cluster.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
    )
    assert resp.status == 201
    meta = resp.body["metadata"]
    assert meta["namespace"] == ns
    assert meta["uid"] and meta["resourceVersion"].isdigit() and meta["creationTimestamp"].endswith("Z")
    (entry,) = meta["managedFields"]
    assert entry["operation"] == "Update" and entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:k": {}}}


def test_create_twice_is_409_already_exists(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, _cm("dup"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, _cm("dup"))
    assert err.value.status == 409
    body = status_of(err.value)
    assert body["kind"] == "Status" and body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "dup" already exists'
    assert body["details"] == {"name": "dup", "kind": "configmaps"}


def test_generate_name(core: client.CoreV1Api, ns: str) -> None:
    made = core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="gen-"))
    )
    assert made.metadata.name.startswith("gen-") and len(made.metadata.name) == len("gen-") + 5
    assert made.metadata.generate_name == "gen-"


def test_create_without_name_is_422(cluster: Cluster, ns: str) -> None:
    resp = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {}})
    assert resp.status == 422
    assert resp.body["reason"] == "Invalid"
    assert resp.body["details"]["causes"][0]["field"] == "metadata.name"


def test_get_missing_is_404_with_group(networking: client.NetworkingV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        networking.read_namespaced_ingress("nope", ns)
    body = status_of(err.value)
    assert err.value.status == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'ingresses.networking.k8s.io "nope" not found'
    assert body["details"] == {"name": "nope", "group": "networking.k8s.io", "kind": "ingresses"}


def test_create_in_missing_namespace_is_404(core: client.CoreV1Api) -> None:
    missing = unique("absent")
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(missing, _cm("x"))
    assert err.value.status == 404
    assert status_of(err.value)["message"] == f'namespaces "{missing}" not found'


def test_label_selectors(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, _cm("a", {"tier": "web", "env": "prod"}))
    core.create_namespaced_config_map(ns, _cm("b", {"tier": "db", "env": "prod"}))
    core.create_namespaced_config_map(ns, _cm("c", {"tier": "web"}))

    def names(selector: str) -> list[str]:
        listed = core.list_namespaced_config_map(ns, label_selector=selector).items
        return own(sorted(i.metadata.name for i in listed))

    assert names("tier=web") == ["a", "c"]
    assert names("tier==web,env=prod") == ["a"]
    assert names("tier!=web") == ["b"]
    assert names("env!=prod") == ["c"]  # `!=` matches objects without the label
    assert names("tier in (db,cache)") == ["b"]
    assert names("tier notin (db)") == ["a", "c"]
    assert names("env") == ["a", "b"]
    assert names("!env") == ["c"]


def test_bad_label_selector_is_400(cluster: Cluster, ns: str) -> None:
    resp = cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps", query={"labelSelector": "a in b"})
    assert resp.status == 400 and resp.body["reason"] == "BadRequest"


def test_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, _cm("one"))
    core.create_namespaced_config_map(ns, _cm("two"))
    found = core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={ns},metadata.name=two"
    )
    assert [i.metadata.name for i in found.items] == ["two"]
    other = core.list_namespaced_config_map(ns, field_selector="metadata.name!=two")
    assert own(i.metadata.name for i in other.items) == ["one"]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, field_selector="data.x=1")
    assert err.value.status == 400
    assert '"data.x" is not a known field selector' in status_of(err.value)["message"]


def test_limit_and_continue(core: client.CoreV1Api, ns: str) -> None:
    for i in range(5):
        core.create_namespaced_config_map(ns, _cm(f"page-{i}"))
    first = core.list_namespaced_config_map(ns, limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    # Six in all: the five made here and kube-root-ca.crt (the ns fixture waits for it).
    assert first.metadata.remaining_item_count == 4
    seen = [i.metadata.name for i in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(ns, limit=2, _continue=token)
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert own(sorted(seen)) == [f"page-{i}" for i in range(5)] and len(seen) == 6


def test_list_resource_version(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, _cm("rv"))
    listed = core.list_namespaced_config_map(ns, resource_version="0")
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
    assert own(i.metadata.name for i in listed.items) == ["rv"]


def test_update_with_stale_resource_version_is_409(core: client.CoreV1Api, ns: str) -> None:
    first = core.create_namespaced_config_map(ns, _cm("upd", k="1"))
    first.data = {"k": "2"}
    second = core.replace_namespaced_config_map("upd", ns, first)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    first.data = {"k": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("upd", ns, first)
    body = status_of(err.value)
    assert err.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"].startswith('Operation cannot be fulfilled on configmaps "upd"')
    assert core.read_namespaced_config_map("upd", ns).data == {"k": "2"}


def test_update_without_change_keeps_resource_version(core: client.CoreV1Api, ns: str) -> None:
    first = core.create_namespaced_config_map(ns, _cm("same", k="1"))
    again = core.replace_namespaced_config_map("same", ns, first)
    assert again.metadata.resource_version == first.metadata.resource_version


def test_name_in_body_must_match_url(cluster: Cluster, ns: str) -> None:
    cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "left"}})
    resp = cluster.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/left", {"metadata": {"name": "right"}})
    assert resp.status == 400 and resp.body["reason"] == "BadRequest"


def test_delete_then_get_is_404(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, _cm("gone"))
    core.delete_namespaced_config_map("gone", ns)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("gone", ns)
    assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("gone", ns)
    assert err.value.status == 404


def test_deleting_a_namespace_removes_its_objects(core: client.CoreV1Api) -> None:
    name = unique("doomed")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(name, _cm("inside"))
    core.create_namespaced_secret(
        name, client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"a": "b"})
    )
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, 60, f"namespace {name} to disappear")
    leftovers = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={name}").items
    assert leftovers == []


def test_delete_collection(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, _cm("k1", {"batch": "x"}))
    core.create_namespaced_config_map(ns, _cm("k2", {"batch": "x"}))
    core.create_namespaced_config_map(ns, _cm("keep", {"batch": "y"}))
    core.delete_collection_namespaced_config_map(ns, label_selector="batch=x")
    left = [i.metadata.name for i in core.list_namespaced_config_map(ns, label_selector="batch").items]
    assert left == ["keep"]


def test_kubectl_create_get_delete(cluster: Cluster, ns: str) -> None:
    cluster.kubectl(
        "-n",
        ns,
        "create",
        "-f",
        "-",
        stdin=json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kc"}, "data": {"a": "b"}}
        ),
    )
    again = cluster.kubectl(
        "-n",
        ns,
        "create",
        "-f",
        "-",
        check=False,
        stdin=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kc"}}),
    )
    assert again.returncode == 1 and "AlreadyExists" in again.stderr
    out = cluster.kubectl("-n", ns, "get", "configmap", "kc", "-o", "jsonpath={.data.a}").stdout
    assert out == "b"
    missing = cluster.kubectl("-n", ns, "get", "configmap", "nope", check=False)
    assert missing.returncode == 1 and 'configmaps "nope" not found' in missing.stderr
    cluster.kubectl("-n", ns, "delete", "configmap", "kc")
    assert cluster.kubectl("-n", ns, "get", "configmap", "kc", check=False).returncode == 1


def test_kubectl_create_generators(cluster: Cluster, ns: str) -> None:
    # These send protobuf bodies, not JSON.
    cluster.kubectl("-n", ns, "create", "configmap", "gen", "--from-literal=a=b", "--from-literal=c=d")
    cluster.kubectl("-n", ns, "create", "secret", "generic", "gen", "--from-literal=user=me")
    cluster.kubectl("-n", ns, "create", "serviceaccount", "gen")
    cm = json.loads(cluster.kubectl("-n", ns, "get", "configmap", "gen", "-o", "json").stdout)
    assert cm["data"] == {"a": "b", "c": "d"} and "generateName" not in cm["metadata"]
    secret = json.loads(cluster.kubectl("-n", ns, "get", "secret", "gen", "-o", "json").stdout)
    assert secret["data"] == {"user": "bWU="} and secret["type"] == "Opaque"
    again = cluster.kubectl("-n", ns, "create", "configmap", "gen", check=False)
    assert again.returncode == 1 and 'configmaps "gen" already exists' in again.stderr
    name = unique("genns")
    cluster.kubectl("create", "namespace", name)
    try:
        created = json.loads(cluster.kubectl("get", "namespace", name, "-o", "json").stdout)
        assert created["spec"]["finalizers"] == ["kubernetes"] and created["status"]["phase"] == "Active"
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false")


def test_finalizers_hold_deletion(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="held", finalizers=["example.org/hold"]))
    )
    core.delete_namespaced_config_map("held", ns)
    pending = core.read_namespaced_config_map("held", ns)
    assert pending.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", ns, [{"op": "remove", "path": "/metadata/finalizers"}])

    def gone() -> bool:
        try:
            core.read_namespaced_config_map("held", ns)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, 10, "the configmap to go once its finalizer is removed")


def test_no_new_objects_in_a_terminating_namespace(core: client.CoreV1Api) -> None:
    name = unique("ending")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # A finalizer of our own keeps the namespace Terminating long enough to look at it.
    core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="held", finalizers=["example.org/hold"]))
    )
    core.delete_namespace(name)
    try:
        assert core.read_namespace(name).status.phase == "Terminating"
        with pytest.raises(ApiException) as err:
            core.create_namespaced_config_map(name, _cm("late"))
        assert err.value.status == 403 and status_of(err.value)["reason"] == "Forbidden"
    finally:
        core.patch_namespaced_config_map("held", name, [{"op": "remove", "path": "/metadata/finalizers"}])
