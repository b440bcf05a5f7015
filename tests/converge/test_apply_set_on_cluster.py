"""binder.ingress.apply_set through ansible-playbook against the local cluster's kube-apiserver.

Like the anchors' integration targets: check, real, check, real, each asserting `changed` and,
from kube-apiserver's audit log, exactly what was written. The cluster starts as a new member's
does: the namespace does not exist.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import Run, Sandbox
from kubernetes import client

from sandbox import audit

SET_LABELS = {
    "app.kubernetes.io/managed-by": "binder.ingress",
    "binder.ingress/member": "alpha",
    "binder.ingress/set": "ingresses",
}


def ingress(name: str, host: str, service: str = "redirector") -> dict[str, Any]:
    backend = {"service": {"name": service, "port": {"number": 80}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {
            "ingressClassName": "traefik",
            "rules": [
                {"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
            ],
        },
    }


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "redirector"},
    "spec": {"ports": [{"name": "http", "port": 80}]},
}


def apply_set(
    sandbox: Sandbox,
    tmp_path: Path,
    namespace: str,
    objects: list[dict[str, Any]],
    *args: str,
    **options: Any,
) -> tuple[Run, dict[str, Any]]:
    """One apply_set task in a playbook, as a role runs it; returns the run and the task's result."""
    task = {
        "set": "ingresses",
        "member": "alpha",
        "namespace": namespace,
        "objects": objects,
        "prune_kinds": [{"kind": "Ingress", "api_version": "networking.k8s.io/v1"}, {"kind": "Service"}],
        "kubeconfig": str(sandbox.kubeconfig),
        "context": "sandbox",
    }
    task.update(options)
    result = tmp_path / f"result-{uuid.uuid4().hex[:6]}.json"
    playbook = tmp_path / "apply_set.yml"
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Apply the set",
                "binder.ingress.apply_set": task,
                "register": "applied",
                "ignore_errors": True,
            },
            {
                "name": "Keep the result",
                "ansible.builtin.copy": {"content": "{{ applied | to_json }}", "dest": str(result)},
                "diff": False,
                "check_mode": False,
            },
        ],
    }
    playbook.write_text(yaml.safe_dump([play]))
    interpreter = f"ansible_python_interpreter={sys.executable}"
    run = sandbox.playbook(playbook, "-c", "local", "-e", interpreter, *args, inventory=Path("localhost,"))
    assert result.exists(), run.output[-3000:]
    return run, json.loads(result.read_text())


def written(run: Run) -> list[tuple[str, str]]:
    """(method, path) of every request of the run that stored something."""
    return sorted((e["method"], e["path"]) for e in run.writes())


def names(result: dict[str, Any], verdict: str) -> list[str]:
    return [f"{o['kind']}/{o['name']}" for o in result[verdict]]


def namespaces(sandbox: Sandbox) -> set[str]:
    return {n.metadata.name for n in client.CoreV1Api(sandbox.api()).list_namespace().items}


def test_check_real_check_real_from_a_fresh_cluster(sandbox: Sandbox, tmp_path: Path) -> None:
    namespace = f"fresh-{uuid.uuid4().hex[:6]}"
    objects = [SERVICE, ingress("hub", "hub.example.test"), ingress("binder", "binder.example.test")]
    paths = {
        "Namespace/" + namespace: f"/api/v1/namespaces/{namespace}",
        "Service/redirector": f"/api/v1/namespaces/{namespace}/services/redirector",
        "Ingress/hub": f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/hub",
        "Ingress/binder": f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/binder",
    }

    # No namespace yet: check mode reports it and every object in it, and writes nothing.
    check, result = apply_set(
        sandbox, tmp_path, namespace, objects, "--check", "--diff", create_namespace=True
    )
    assert result["changed"] is True, result
    assert names(result, "created") == list(paths)
    assert check.writes() == []
    assert namespace not in namespaces(sandbox)
    # The namespace went through the server's dry run; the objects inside cannot (yet), and say so.
    assert [e["path"] for e in check.dry_run_writes()] == ["/api/v1/namespaces/" + namespace]
    assert f"after: Namespace {namespace}\n" in check.output
    assert f"after: Ingress {namespace}/hub (not validated by the server)" in check.output
    assert "+  - host: binder.example.test" in check.output

    real, result = apply_set(sandbox, tmp_path, namespace, objects, create_namespace=True)
    assert result["changed"] is True and not result.get("failed"), result
    assert names(result, "created") == list(paths)
    # One write per object (server-side apply), the namespace first.
    assert written(real) == sorted(("PATCH", p) for p in paths.values())
    assert real.writes()[0]["path"] == paths["Namespace/" + namespace]
    live = client.NetworkingV1Api(sandbox.api()).read_namespaced_ingress("hub", namespace)
    assert live.metadata.labels == SET_LABELS
    assert [m.manager for m in live.metadata.managed_fields] == ["binder.ingress"]

    again, result = apply_set(
        sandbox, tmp_path, namespace, objects, "--check", "--diff", create_namespace=True
    )
    assert result["changed"] is False, result
    assert names(result, "unchanged") == list(paths)[1:]
    assert again.writes() == []
    assert "--- before" not in again.output

    last, result = apply_set(sandbox, tmp_path, namespace, objects, create_namespace=True)
    assert result["changed"] is False, result
    assert last.writes() == [] and last.dry_run_writes()

    # Drift: one object changes, one leaves the set. Check shows exactly that; real writes exactly that.
    drifted = [SERVICE, ingress("hub", "hub2.example.test")]
    check, result = apply_set(sandbox, tmp_path, namespace, drifted, "--check", "--diff")
    assert (names(result, "updated"), names(result, "deleted")) == (["Ingress/hub"], ["Ingress/binder"])
    assert check.writes() == []
    assert f"--- before: Ingress {namespace}/hub\n" in check.output
    assert "-  - host: hub.example.test\n+  - host: hub2.example.test" in check.output
    real, result = apply_set(sandbox, tmp_path, namespace, drifted)
    assert result["changed"] is True
    assert written(real) == [("DELETE", paths["Ingress/binder"]), ("PATCH", paths["Ingress/hub"])]
    # The delete was bound to the object it listed.
    delete = next(e for e in real.audit if e["method"] == "DELETE" and not e["dryRun"])
    assert delete["status"] == 200
    for args in (("--check",), ()):
        run, result = apply_set(sandbox, tmp_path, namespace, drifted, *args)
        assert result["changed"] is False and run.writes() == [], (args, result)


def test_prune_waits_until_every_object_was_applied(sandbox: Sandbox, tmp_path: Path) -> None:
    namespace = f"prune-{uuid.uuid4().hex[:6]}"
    first = [SERVICE, ingress("hub", "hub.example.test"), ingress("old", "old.example.test")]
    ok_run, result = apply_set(sandbox, tmp_path, namespace, first, create_namespace=True)
    assert result["changed"] is True and not result.get("failed"), ok_run.output[-3000:]

    # The next run changes hub and drops old. hub's real apply fails (its dry run passes): the
    # proxy lets the first patch of hub (the dry run) through and answers every later one with a
    # 500, so the retries run out too.
    sandbox.add_fault("action=error,code=500,verb=patch,path=/ingresses/hub$,after=1,name=hub")
    wanted = [SERVICE, ingress("hub", "hub2.example.test")]
    failed, result = apply_set(sandbox, tmp_path, namespace, wanted, retries=2)

    assert result["failed"] is True
    assert result["msg"].startswith(
        f"apply_set: set ingresses of member alpha: Ingress {namespace}/hub: apply: Internal error occurred: "
        "sandbox fault hub (tried 3 times in "
    ), result["msg"]
    assert result["msg"].endswith("no object was written; nothing was pruned"), result["msg"]
    assert failed.writes() == [], "a write other than the refused apply happened"
    assert not [e for e in failed.audit if e["method"] == "DELETE"]
    net = client.NetworkingV1Api(sandbox.api())
    assert {i.metadata.name for i in net.list_namespaced_ingress(namespace).items} == {"hub", "old"}

    # The API answers again: the next run applies hub, then prunes old.
    sandbox.clear_faults()
    again, result = apply_set(sandbox, tmp_path, namespace, wanted)
    assert (names(result, "updated"), names(result, "deleted")) == (["Ingress/hub"], ["Ingress/old"])
    assert [m for m, _ in written(again)] == ["DELETE", "PATCH"]
    assert again.writes()[-1]["method"] == "DELETE", "prune ran before the apply"


@pytest.mark.parametrize(
    ("objects", "fragment"),
    [
        # kube-apiserver refuses it in the dry run: a host with an upper-case letter.
        ([SERVICE, ingress("bad", "Bad.example.test")], "Ingress {ns}/bad: "),
        # The module refuses it before asking: another member's label.
        (
            [dict(SERVICE, metadata={"name": "x", "labels": {"binder.ingress/member": "beta"}})],
            "label binder.ingress/member is 'beta', but the set's is 'alpha'",
        ),
    ],
    ids=["refused-by-the-server", "foreign-label"],
)
def test_a_refused_object_fails_the_set_before_any_write(
    sandbox: Sandbox, tmp_path: Path, objects: list[dict[str, Any]], fragment: str
) -> None:
    namespace = f"refused-{uuid.uuid4().hex[:6]}"
    stale = [ingress("stale", "stale.example.test")]
    apply_set(sandbox, tmp_path, namespace, stale, create_namespace=True)
    run, result = apply_set(sandbox, tmp_path, namespace, objects)
    assert result["failed"] is True
    assert fragment.format(ns=namespace) in result["msg"], result["msg"]
    assert run.writes() == []
    assert not [e for e in run.audit if e["method"] in audit.WRITE_METHODS and not e["dryRun"]]
    assert "stale" in {
        i.metadata.name
        for i in client.NetworkingV1Api(sandbox.api()).list_namespaced_ingress(namespace).items
    }
