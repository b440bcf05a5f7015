"""The Helm half of the converge, with real helm against the local cluster's kube-apiserver.

inventories/local installs the fixture charts of tests/charts through kubernetes.core.helm
(wait, atomic, timeout), as a member installs the real ones: first install, an upgrade with
changed values, a no-op re-run, and an upgrade that fails and is rolled back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import LOCAL_VARS, REPO, Sandbox, member_inventory
from kubernetes import client
from test_site import ok


def _deployment(sandbox: Sandbox, namespace: str, name: str) -> Any:
    return client.AppsV1Api(sandbox.api()).read_namespaced_deployment(name, namespace)


def test_install_upgrade_and_no_op(sandbox: Sandbox) -> None:
    namespace = sandbox.new_namespace("helm")
    first = sandbox.converge(namespace)
    assert ok(first)["changed"] > 0
    assert sandbox.releases(namespace, "traefik") == {1: "deployed"}
    assert sandbox.releases("cert-manager", "cert-manager") == {1: "deployed"}
    # What the collection relies on from the charts is in the cluster, and ready (helm --wait).
    traefik = _deployment(sandbox, namespace, "traefik")
    assert traefik.spec.replicas == LOCAL_VARS.get("traefik_replicas", 2)
    assert traefik.status.ready_replicas == traefik.spec.replicas
    labels = traefik.spec.template.metadata.labels
    assert labels["app.kubernetes.io/instance"] == f"traefik-{namespace}"
    classes = client.NetworkingV1Api(sandbox.api()).list_ingress_class().items
    assert [c.metadata.name for c in classes] == ["traefik"]
    crds = client.ApiextensionsV1Api(sandbox.api()).list_custom_resource_definition().items
    assert "clusterissuers.cert-manager.io" in {c.metadata.name for c in crds}
    issuers = client.CustomObjectsApi(sandbox.api()).list_cluster_custom_object(
        "cert-manager.io", "v1", "clusterissuers"
    )
    assert {i["metadata"]["name"] for i in issuers["items"]} == {"letsencrypt-prod", "letsencrypt-staging"}

    # Nothing to do: no change reported, no new revision, no write, and Helm not even started
    # (each release's record says it is current).
    again = sandbox.converge(namespace)
    assert ok(again)["changed"] == 0
    assert again.writes() == [], again.writes()
    assert sandbox.releases(namespace, "traefik") == {1: "deployed"}
    assert sandbox.releases("cert-manager", "cert-manager") == {1: "deployed"}
    assert task_status(again.output, TRAEFIK_RELEASE) == "skipping"
    assert task_status(again.output, CERT_MANAGER_RELEASE) == "skipping"

    # Changed values: one upgrade of that release only, visible in the cluster.
    upgraded = sandbox.converge(namespace, extra_vars={"traefik_replicas": 3})
    assert ok(upgraded)["changed"] > 0
    assert sandbox.releases(namespace, "traefik") == {1: "superseded", 2: "deployed"}
    assert sandbox.releases("cert-manager", "cert-manager") == {1: "deployed"}
    assert task_status(upgraded.output, TRAEFIK_RELEASE) == "changed"
    assert task_status(upgraded.output, CERT_MANAGER_RELEASE) == "skipping"
    traefik = _deployment(sandbox, namespace, "traefik")
    assert traefik.spec.replicas == 3 and traefik.status.ready_replicas == 3


TRAEFIK_RELEASE = "binder.ingress.traefik : Install or upgrade the traefik release"
CERT_MANAGER_RELEASE = "binder.ingress.cert_manager : Install or upgrade the cert-manager release"


def task_status(output: str, task: str, member: str = "local") -> str:
    """How the one run of ``task`` ended for ``member``: ok, changed, skipping or fatal."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(f"TASK [{task}]")]
    assert len(starts) == 1, (task, output[-3000:])
    for line in lines[starts[0] + 1 :]:
        assert not line.startswith("TASK ["), (task, "no status line", output[-3000:])
        for status in ("ok", "changed", "skipping", "fatal"):
            if line.startswith(f"{status}: [{member}]"):
                return status
    raise AssertionError((task, "no status line", output[-3000:]))


def _failure(output: str, member: str) -> str:
    """The one failed task's report of `member`, joined into one line (the callback wraps it)."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(f"fatal: [{member}]")]
    assert len(starts) == 1, output[-4000:]
    block = []
    for line in lines[starts[0] :]:
        if block and (line.startswith(("TASK [", "PLAY RECAP", "fatal: [", "ok: [", "changed: ["))):
            break
        block.append(line.strip())
    return " ".join(block)


def test_a_failed_upgrade_rolls_back_and_the_other_member_converges(
    sandbox: Sandbox, second_sandbox: Sandbox, tmp_path: Path
) -> None:
    clusters = {"alpha": sandbox, "beta": second_sandbox}
    namespaces = {member: box.new_namespace(member) for member, box in clusters.items()}
    members = {
        member: {"binder_kubeconfig": str(box.kubeconfig), "binder_namespace": namespaces[member]}
        for member, box in clusters.items()
    }
    alone = member_inventory(tmp_path / "one", {"alpha": members["alpha"]})
    ok(sandbox.playbook(REPO / "site.yml", inventory=alone), "alpha")
    assert sandbox.releases(namespaces["alpha"], "traefik") == {1: "deployed"}

    # alpha's upgrade asks for a node no pod can run on: its pods never become ready, helm --wait
    # times out and --atomic rolls the release back. beta converges from scratch meanwhile.
    members["alpha"].update(
        traefik_values_overrides={"nodeSelector": {"binder.ingress/no-such-node": "true"}},
        traefik_helm_timeout="20s",
    )
    run = sandbox.playbook(REPO / "site.yml", inventory=member_inventory(tmp_path / "two", members))

    assert run.rc != 0
    assert run.recap["alpha"]["failed"] == 1, run.output[-4000:]
    failure = _failure(run.output, "alpha")
    # helm's own words, passed on by kubernetes.core.helm: the release is named.
    assert "release traefik failed, and has been rolled back" in failure, failure[:3000]
    assert run.recap["beta"]["failed"] == 0 and run.recap["beta"]["changed"] > 0, run.output[-4000:]
    # The failed revision is kept as failed; a new revision restores the one that served traffic.
    history = sandbox.releases(namespaces["alpha"], "traefik")
    assert history == {1: "superseded", 2: "failed", 3: "deployed"}, history
    alpha = _deployment(sandbox, namespaces["alpha"], "traefik")
    assert not (alpha.spec.template.spec.node_selector or {})
    assert alpha.status.ready_replicas == alpha.spec.replicas
    assert second_sandbox.releases(namespaces["beta"], "traefik") == {1: "deployed"}
