"""Watch: events from a resourceVersion, bookmarks, 410 Gone, WatchList, and `kubectl get -w`."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import urllib3
from conformance import ROOT_CA
from harness import KUBECTL, Cluster
from kubernetes import client, watch


def _stream(cluster: Cluster, ns: str, **params: Any) -> list[dict[str, Any]]:
    """Raw watch events of configmaps in `ns` (the stream ends after timeoutSeconds)."""
    query = {"watch": "true", **{k: str(v) for k, v in params.items()}}
    url = f"{cluster.api().configuration.host}/api/v1/namespaces/{ns}/configmaps"
    headers = {"Accept": "application/json"}
    cluster.api().update_params_for_auth(headers, [], ["BearerToken"], "", "GET", None)
    resp = cluster.api().rest_client.pool_manager.request(
        "GET", url, fields=query, headers=headers, preload_content=True, timeout=30
    )
    assert resp.status == 200, resp.data
    return [json.loads(line) for line in resp.data.decode().splitlines() if line.strip()]


def _cm(core: client.CoreV1Api, ns: str, name: str) -> client.V1ConfigMap:
    return core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))


def test_watch_from_resource_version_sees_added_modified_deleted(
    cluster: Cluster, core: client.CoreV1Api, ns: str
) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    made = _cm(core, ns, "w")
    made.data = {"a": "1"}
    core.replace_namespaced_config_map("w", ns, made)
    core.delete_namespaced_config_map("w", ns)
    events = _stream(cluster, ns, resourceVersion=start, timeoutSeconds=1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w"),
        ("MODIFIED", "w"),
        ("DELETED", "w"),
    ]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3


def test_watch_without_resource_version_starts_with_current_state(
    cluster: Cluster, core: client.CoreV1Api, ns: str
) -> None:
    _cm(core, ns, "present")
    events = _stream(cluster, ns, timeoutSeconds=1)
    seen = [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert sorted(seen) == [("ADDED", ROOT_CA), ("ADDED", "present")]


def _compact_etcd(cluster: Cluster) -> None:
    """Compact etcd's history up to its current revision, through etcd's own JSON gateway."""
    assert cluster.sandbox_dir is not None
    state = json.loads((cluster.sandbox_dir / "state.json").read_text())
    base = f"http://127.0.0.1:{state['ports']['etcd']}/v3/kv"
    pool = urllib3.PoolManager()
    head = json.loads(pool.request("POST", f"{base}/range", body=json.dumps({"key": "AA=="})).data)
    revision = int(head["header"]["revision"])
    done = pool.request(
        "POST", f"{base}/compaction", body=json.dumps({"revision": revision, "physical": True})
    )
    assert done.status == 200, done.data


def test_watch_too_old_resource_version_is_410_gone(cluster: Cluster, ns: str) -> None:
    # Events bypass kube-apiserver's watch cache, so a watch from RV 1 reaches etcd, whose history
    # is compacted here: on a young cluster RV 1 may otherwise still be inside a cache's window.
    _compact_etcd(cluster)
    url = f"{cluster.api().configuration.host}/api/v1/namespaces/{ns}/events"
    headers = {"Accept": "application/json"}
    cluster.api().update_params_for_auth(headers, [], ["BearerToken"], "", "GET", None)
    resp = cluster.api().rest_client.pool_manager.request(
        "GET",
        url,
        fields={"watch": "true", "resourceVersion": "1", "timeoutSeconds": "1"},
        headers=headers,
        preload_content=True,
        timeout=30,
    )
    assert resp.status == 200, resp.data
    events = [json.loads(line) for line in resp.data.decode().splitlines() if line.strip()]
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] in ("Expired", "Gone")


def test_watch_list_sends_initial_events_then_a_bookmark(
    cluster: Cluster, core: client.CoreV1Api, ns: str
) -> None:
    _cm(core, ns, "one")
    _cm(core, ns, "two")
    events = _stream(
        cluster,
        ns,
        sendInitialEvents="true",
        resourceVersionMatch="NotOlderThan",
        allowWatchBookmarks="true",
        timeoutSeconds=1,
    )
    assert sorted((e["type"], e["object"]["metadata"].get("name")) for e in events[:3]) == [
        ("ADDED", ROOT_CA),
        ("ADDED", "one"),
        ("ADDED", "two"),
    ]
    bookmark = events[3]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["object"]["metadata"]["resourceVersion"]) > 0


def test_watch_with_label_selector(cluster: Cluster, core: client.CoreV1Api, ns: str) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a", labels={"k": "v"}))
    )
    _cm(core, ns, "b")
    events = _stream(cluster, ns, resourceVersion=start, labelSelector="k=v", timeoutSeconds=1)
    assert [e["object"]["metadata"]["name"] for e in events] == ["a"]


def test_python_watch_stream(core: client.CoreV1Api, ns: str) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    _cm(core, ns, "py")
    seen = [
        (ev["type"], ev["object"].metadata.name)
        for ev in watch.Watch().stream(
            core.list_namespaced_config_map, ns, resource_version=start, timeout_seconds=1
        )
    ]
    assert seen == [("ADDED", "py")]


def test_kubectl_get_watch(cluster: Cluster, core: client.CoreV1Api, ns: str) -> None:
    proc = subprocess.Popen(
        [
            KUBECTL,
            "-n",
            ns,
            "get",
            "configmaps",
            "-w",
            "--output-watch-events",
            "--request-timeout=3s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cluster.env(),
    )
    try:
        time.sleep(1.0)
        _cm(core, ns, "seen-by-kubectl")
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rows = [line.split() for line in out.splitlines()]
    assert rows[0][:2] == ["EVENT", "NAME"], (out, err)
    assert ["ADDED", "seen-by-kubectl"] in [r[:2] for r in rows], (out, err)
