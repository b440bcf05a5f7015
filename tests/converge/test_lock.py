"""The member's lock against the local cluster: one converge of a member at a time.

Two converges of one member started together (CI and an operator): one takes the lock, the other
waits for it and then finds nothing to do; the Helm history stays whole (no revision lost, none
left pending). A lock held by another controller fails a converge at once, naming the member, the
holder and since when, before anything is written; check mode only reads it and warns. One
cluster for the module, one fresh member namespace per test.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from harness import Run, Sandbox, started
from kubernetes import client
from test_bad_input_on_cluster import failures

pytestmark = pytest.mark.slow

MEMBER = "local"
LEASE = f"binder-ingress.{MEMBER}"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One cluster for the module's tests (control plane only: nothing is served)."""
    with started(tmp_path_factory.mktemp("lock-sandbox"), "--no-dataplane") as sandbox:
        yield sandbox


def leases(box: Sandbox) -> dict[str, Any]:
    items = client.CoordinationV1Api(box.api()).list_namespaced_lease("kube-system").items
    return {
        lease.metadata.name: lease for lease in items if lease.metadata.name.startswith("binder-ingress.")
    }


def test_two_converges_of_one_member_at_once_run_one_after_the_other(box: Sandbox) -> None:
    namespace = box.new_namespace("lock")
    runs: dict[str, Run] = {}
    offset = box.audit_size()

    def converge(name: str) -> None:
        runs[name] = box.converge(namespace, extra_vars={"binder_lock_wait": 300})

    threads = [threading.Thread(target=converge, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    both = box.audit_since(offset)

    # Both end well, and the releases' histories are whole: one deployed revision each, none
    # pending, none lost.
    for name, run in runs.items():
        assert run.rc == 0 and run.recap[MEMBER]["failed"] == 0, f"{name}:\n{run.output[-4000:]}"
    assert box.releases(namespace, "traefik") == {1: "deployed"}
    assert box.releases("cert-manager", "cert-manager") == {1: "deployed"}

    # One of them waited for the other's lock, then found the member converged.
    waited = {
        name: run
        for name, run in runs.items()
        if re.search(
            rf"waited \d+ s for its lock \(Lease kube-system/{LEASE}\), held by \S+@\S+ pid \d+,",
            re.sub(r"\s+", " ", run.output),
        )
    }
    assert len(waited) == 1, {name: run.output[-3000:] for name, run in runs.items()}
    ((_, waiter),) = waited.items()
    assert waiter.recap[MEMBER]["changed"] == 0, waiter.output[-4000:]

    # The lock was taken twice and given back twice, and is free now.
    lock_writes = [
        (e["verb"], e["status"])
        for e in both
        if e["path"].startswith("/apis/coordination.k8s.io/") and e["method"] != "GET" and not e["dryRun"]
    ]
    assert sorted(lock_writes) == [("create", 201), ("create", 201), ("delete", 200), ("delete", 200)], (
        lock_writes
    )
    assert leases(box) == {}


def hold(box: Sandbox, holder: str, since: datetime) -> None:
    """Another controller's converge holds the member's lock (a raw request: the generated client
    writes a MicroTime without its microseconds, which kube-apiserver refuses)."""
    stamp = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": "kube-system"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 3600,
            "acquireTime": stamp,
            "renewTime": stamp,
        },
    }
    created = box.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", body)
    assert created.status == 201, created.body


def test_a_held_lock_fails_the_converge_clearly_and_check_mode_only_warns(box: Sandbox) -> None:
    namespace = box.new_namespace("held")
    since = datetime.now(UTC).replace(microsecond=0)
    hold(box, "ci@runner-7 pid 4242", since)
    try:
        # Check mode: the whole member is shown, the lock is only read (a warning), nothing written.
        check = box.converge(namespace, "--check")
        assert check.rc == 0 and check.recap[MEMBER]["failed"] == 0, check.output[-4000:]
        warning = re.sub(r"\s+", " ", check.output)
        assert (
            f"member {MEMBER}: its lock (Lease kube-system/{LEASE}) is held by ci@runner-7 pid 4242"
            in warning
        )
        assert [e for e in check.audit if e["method"] != "GET" and not e["dryRun"]] == []

        # A real run with no wait fails at the lock, before the member's first write.
        started_at = time.monotonic()
        run = box.converge(namespace, extra_vars={"binder_lock_wait": 0})
        assert run.rc != 0 and run.recap[MEMBER]["failed"] == 1, run.output[-4000:]
        assert time.monotonic() - started_at < 120
        failure = failures(run.output)[MEMBER]
        assert (
            f"member {MEMBER}: its lock (Lease kube-system/{LEASE}) is held by ci@runner-7 pid 4242 "
            f"since {since:%Y-%m-%d %H:%M:%S} UTC"
        ) in failure, failure[:3000]
        assert "Nothing of the member was written" in failure
        assert [e for e in run.audit if e["method"] != "GET" and not e["dryRun"]] == []
        assert namespace not in {n.metadata.name for n in client.CoreV1Api(box.api()).list_namespace().items}
        # The other converge's lock is left as it was.
        assert leases(box)[LEASE].spec.holder_identity == "ci@runner-7 pid 4242"
    finally:
        client.CoordinationV1Api(box.api()).delete_namespaced_lease(LEASE, "kube-system")
