"""API faults during a converge: six faults at three points, one test per cell (issue 11).

Faults come from the local cluster's fault proxy (docs/sandbox.md, "Fault injection"), which
stands between site.yml and kube-apiserver. The points are the first object a converge sends (the
cluster entrypoint Service), an Ingress applied in the middle of the member's set, and the prune
of an Ingress that left the inventory. The fourth point, the Helm release, is in
test_api_faults_helm.py.

Every cell starts from a converged member and asks for a change that touches all three points:
the inventory alternates between two variants, each dropping one component (so one Ingress is
created and another pruned), moving the echo component to another host (an update) and
annotating the entrypoint Service differently. The faulted run either succeeds (the fault was
transient: bounded retries with backoff got over it) or fails naming the member and the step,
with nothing pruned. Then the fault is cleared and a clean run must reach exactly the variant's
state; after a faulted run that succeeded, that clean run must write nothing.

One cluster and one member serve every cell of this module: a cluster per cell would triple the
module's time, and each cell begins by bringing the member to the state it needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.module_utils.constants import SET_INGRESSES
from ansible_collections.binder.ingress.plugins.module_utils.model import labels
from harness import LOCAL_VARS, REPO, Run, Sandbox, local_hosts, member_inventory, started
from kubernetes import client

MEMBER = "alpha"
ENTRYPOINT = "cluster-entrypoint"
ANNOTATION = "binder.ingress.test/variant"
# What each variant leaves out, and where it moves the echo component.
VARIANTS = {
    "a": {"drop": "grafana", "echo": "echo-a.local.test"},
    "b": {"drop": "static", "echo": "echo-b.local.test"},
}
# The faults, as the proxy takes them. A transient fault fires once or twice and then lets the
# request through; the API that goes down stays down until the test clears it.
FAULTS = {
    "500": "action=error,code=500,times=2",
    "429": "action=throttle,retry_after=2,times=2",
    "409": "action=conflict,times=1",
    "drop": "action=drop,times=1",
    "stall": "action=delay,seconds=10,times=1",
    "down": "action=down",
}
# binder's read-only check of every set of the member, the member's first requests.
OWNERSHIP = "Fail the member if it does not own them"
STEPS = {
    "first": "Apply the cluster entrypoint Service if it differs",
    "middle": "Apply the member's Ingresses and redirector Service",
    "prune": "Apply the member's Ingresses and redirector Service",
}


def variant_vars(name: str) -> dict[str, Any]:
    variant = VARIANTS[name]
    components = {
        key: value
        for key, value in LOCAL_VARS["binder_ingresses_components"].items()
        if key != variant["drop"]
    }
    components["echo"] = dict(components["echo"], hosts=[variant["echo"]])
    return {
        "binder_ingresses_components": components,
        "cluster_entrypoint_annotations": {ANNOTATION: name},
    }


def expected_hosts(name: str) -> set[str]:
    """The hosts the variant serves, written from inventories/local, not from the model."""
    variant = VARIANTS[name]
    dropped = {f"{variant['drop']}.local.test", "echo.local.test"}
    return (set(local_hosts()) - dropped) | {variant["echo"]}


@dataclass
class Member:
    box: Sandbox
    namespace: str
    inventories: dict[str, Path]
    current: str = ""
    runs: list[str] = field(default_factory=list)

    def converge(self, variant: str) -> Run:
        run = self.box.playbook(REPO / "site.yml", inventory=self.inventories[variant])
        self.runs.append(variant)
        return run

    def ingresses(self) -> dict[str, Any]:
        selector = ",".join(f"{k}={v}" for k, v in labels(MEMBER, SET_INGRESSES).items())
        items = client.NetworkingV1Api(self.box.api()).list_namespaced_ingress(
            self.namespace, label_selector=selector
        )
        return {i.metadata.name: i for i in items.items}

    def ingress_of(self, host: str) -> str:
        found = [n for n, i in self.ingresses().items() if any(r.host == host for r in i.spec.rules)]
        assert len(found) == 1, (host, found)
        return found[0]

    def hosts(self) -> set[str]:
        return {r.host for i in self.ingresses().values() for r in i.spec.rules}

    def entrypoint_variant(self) -> str | None:
        service = client.CoreV1Api(self.box.api()).read_namespaced_service(ENTRYPOINT, self.namespace)
        return (service.metadata.annotations or {}).get(ANNOTATION)

    def fault(self, spec: str) -> None:
        self.box.add_fault(spec)

    def clear(self) -> None:
        self.box.clear_faults()

    def fired(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.box.fault_log() if e.get("fault") == name]


def ok(run: Run) -> None:
    assert run.rc == 0 and run.recap[MEMBER]["failed"] == 0, run.output[-5000:]


def failure(output: str) -> tuple[str, str]:
    """The task that failed for the member, and its message joined into one line."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(f"fatal: [{MEMBER}]")]
    assert len(starts) == 1, output[-5000:]
    task = next(line for line in reversed(lines[: starts[0]]) if line.startswith("TASK ["))
    block = [lines[starts[0]]]
    for line in lines[starts[0] + 1 :]:
        if line.startswith(("TASK [", "PLAY RECAP", "fatal: [", "ok: [", "changed: [")):
            break
        block.append(line.strip())
    return task, " ".join(block)


@pytest.fixture(scope="module")
def member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Member]:
    with started(tmp_path_factory.mktemp("faults-sandbox")) as box:
        namespace = box.new_namespace("faults")
        base = tmp_path_factory.mktemp("faults-inventories")
        inventories = {
            name: member_inventory(
                base / name,
                {
                    MEMBER: dict(
                        variant_vars(name), binder_kubeconfig=str(box.kubeconfig), binder_namespace=namespace
                    )
                },
            )
            for name in VARIANTS
        }
        found = Member(box, namespace, inventories)
        ok(found.converge("a"))
        found.current = "a"
        yield found


def target(member: Member, point: str, fault: str, going_to: str) -> str:
    """Where the fault fires: the first object's first write, the changed Ingress's apply (after its
    dry run), the dropped Ingress's deletion. The API that is down at the first object is down from
    the converge's first request on."""
    if point == "first":
        return (
            ""
            if fault == "down"
            else f",verb=patch,path=/namespaces/{member.namespace}/services/{ENTRYPOINT}$"
        )
    if point == "middle":
        name = member.ingress_of(VARIANTS[member.current]["echo"])
        return f",verb=patch,after=1,path=/namespaces/{member.namespace}/ingresses/{name}$"
    name = member.ingress_of(f"{VARIANTS[going_to]['drop']}.local.test")
    return f",verb=delete,path=/namespaces/{member.namespace}/ingresses/{name}$"


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("point", list(STEPS))
def test_fault_at_point(member: Member, point: str, fault: str) -> None:
    member.clear()
    if member.current not in VARIANTS or member.hosts() != expected_hosts(member.current):
        # An earlier cell failed half-way: start from a converged member all the same.
        ok(member.converge("a"))
        member.current = "a"
    going_to = "b" if member.current == "a" else "a"
    leaving = f"{VARIANTS[going_to]['drop']}.local.test"
    name = f"{point}-{fault}"
    member.fault(f"{FAULTS[fault]},name={name}{target(member, point, fault, going_to)}")

    started_at = time.monotonic()
    run = member.converge(going_to)
    took = time.monotonic() - started_at
    fired = member.fired(name)
    assert fired, f"the fault {name} never fired:\n{run.output[-3000:]}"
    member.clear()  # the test's own requests go through the proxy too
    # For the outcome table (pytest -s shows it).
    print(
        f"\nCELL {name}: rc={run.rc} {took:.1f}s fired={len(fired)} {failure(run.output) if run.rc else ''}"
    )

    if fault == "down":
        # Nothing can cure an API that stays down: the member fails at the step, naming itself,
        # once the bounded retries are spent (0.5 + 1 + 2 + 4 + 8 s and a quarter of jitter).
        assert run.rc != 0 and run.recap[MEMBER]["failed"] == 1, run.output[-5000:]
        task, message = failure(run.output)
        # Down from the first request on: the first is the check of what the member owns.
        assert (OWNERSHIP if point == "first" else STEPS[point]) in task, task
        assert f"of member {MEMBER}: " in message, message
        assert "no answer from the API server" in message and "(tried 6 times in " in message, message
        assert took < 120, took
        # Prune never ran: the Ingress that left the inventory is still there.
        assert leaving in member.hosts()
        if point == "first":
            assert run.writes() == [], run.writes()
    else:
        # A transient fault: the retries got over it, and the run did the whole change.
        ok(run)
        assert member.hosts() == expected_hosts(going_to)
        assert member.entrypoint_variant() == going_to

    clean = member.converge(going_to)
    ok(clean)
    member.current = going_to
    assert member.hosts() == expected_hosts(going_to)
    assert member.entrypoint_variant() == going_to
    if fault != "down":
        # The faulted run had left exactly the desired state: the clean run has nothing to write.
        assert clean.writes() == [], [(e["method"], e["path"]) for e in clean.writes()]


def test_a_short_outage_is_ridden_out(member: Member) -> None:
    """The API goes down in the middle of the Ingress set and is back 4 s later: the retries
    (0.5, 1, 2 s and more) outlast it, and the run converges without failing."""
    member.clear()
    if member.current not in VARIANTS or member.hosts() != expected_hosts(member.current):
        ok(member.converge("a"))
        member.current = "a"
    going_to = "b" if member.current == "a" else "a"
    member.fault(f"action=down,seconds=4,times=1,name=outage{target(member, 'middle', 'down', going_to)}")
    run = member.converge(going_to)
    assert member.fired("outage")
    member.clear()
    ok(run)
    member.current = going_to
    assert member.hosts() == expected_hosts(going_to)
    assert member.box.playbook(REPO / "site.yml", inventory=member.inventories[going_to]).writes() == []
