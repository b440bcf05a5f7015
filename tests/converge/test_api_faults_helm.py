"""API faults during the Helm release: the fault proxy answers a request of the traefik upgrade.

One cluster and one member for the whole module (one first converge). Every cell changes the
member: the traefik release's log level flips between two values (the Deployment's pod template
changes, so the upgrade PATCHes the Deployment and waits for it), and the Ingress set drops one
component's Ingress while bringing back the other's. The fault fires on the upgrade's PATCH of the
traefik Deployment: helm has recorded the new revision as pending, and the change reaches the
cluster with that request.

Each cell's faulted run either succeeds (a new deployed revision with the new values, every Ingress
as wanted) or fails naming the member and the step, leaving the revision that served before serving
(its Deployment spec, ready) and the Ingress set untouched (prune never ran). Then the fault is
cleared: a clean run converges, and a run after it changes and writes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from harness import LOCAL_VARS, REPO, Run, Sandbox, member_inventory, started
from kubernetes import client
from test_helm import _failure

MEMBER = "alpha"
STEP = "binder.ingress.traefik : Install or upgrade the traefik release"
# The two states a cell flips between: traefik's log level, and the component left out.
STATES = ({"level": "DEBUG", "drops": "static"}, {"level": "WARN", "drops": "grafana"})
DEPLOYMENT_PATCH = "verb=patch,path=/deployments/traefik$"
# The roles' defaults (roles/traefik/defaults/main.yml), written out: what the tests hold them to.
RETRIES, RETRY_DELAY = 3, 10
# The member's Helm timeout, short: a revision left pending is forgotten only once it is older
# than that (a Helm could still be running it), and the module waits that long after the cell
# that leaves one.
HELM_TIMEOUT, HELM_TIMEOUT_SECONDS = "40s", 40


@dataclass
class Edge:
    """The module's cluster and member, and the state the member was last converged to."""

    box: Sandbox
    namespace: str
    tmp: Path
    current: int = 0
    runs: int = 0
    all_ingresses: set[str] = field(default_factory=set)

    def inventory(self, state: int) -> Path:
        components = dict(LOCAL_VARS["binder_ingresses_components"])
        del components[STATES[state]["drops"]]
        member = {
            "binder_kubeconfig": str(self.box.kubeconfig),
            "binder_namespace": self.namespace,
            "binder_ingresses_components": components,
            "traefik_values_overrides": {"log": {"level": STATES[state]["level"]}},
            "traefik_helm_timeout": HELM_TIMEOUT,
        }
        self.runs += 1
        inventory: Path = member_inventory(self.tmp / f"run-{self.runs}", {MEMBER: member})
        return inventory

    def converge(self, state: int) -> Run:
        return self.box.playbook(REPO / "site.yml", inventory=self.inventory(state))

    def ingresses(self) -> set[str]:
        items = client.NetworkingV1Api(self.box.api()).list_namespaced_ingress(self.namespace).items
        return {str(i.metadata.name) for i in items if i.metadata}

    def wanted_ingresses(self, state: int) -> set[str]:
        return self.all_ingresses - {STATES[state]["drops"]}

    def deployment(self) -> Any:
        return client.AppsV1Api(self.box.api()).read_namespaced_deployment("traefik", self.namespace)

    def serves(self, state: int) -> None:
        """traefik's Deployment has the state's spec, and is ready."""
        deployment = self.deployment()
        args = deployment.spec.template.spec.containers[0].args
        assert [a for a in args if a.startswith("--log.level=")] == [f"--log.level={STATES[state]['level']}"]
        assert deployment.status.observed_generation == deployment.metadata.generation
        assert deployment.status.ready_replicas == deployment.spec.replicas
        assert deployment.status.updated_replicas == deployment.spec.replicas

    def history(self) -> dict[int, str]:
        releases: dict[int, str] = self.box.releases(self.namespace, "traefik")
        return releases

    def pending_since(self) -> list[float]:
        """When each pending revision of the release was recorded."""
        secrets = client.CoreV1Api(self.box.api()).list_namespaced_secret(
            self.namespace, label_selector="owner=helm,name=traefik"
        )
        return [
            s.metadata.creation_timestamp.timestamp()
            for s in secrets.items
            if s.metadata.labels["status"].startswith("pending-")
        ]

    def fault(self, spec: str) -> None:
        self.box.add_fault(spec)

    def clear(self) -> None:
        self.box.clear_faults()

    def fired(self, since: int) -> list[dict[str, Any]]:
        """The requests the proxy's faults answered since ``since`` (a line count of faults.jsonl)."""
        return self.box.fault_log(since)

    def fired_count(self) -> int:
        return len(self.fired(0))


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    with started(tmp_path_factory.mktemp("helm-faults-sandbox")) as box:
        state = Edge(box, box.new_namespace("helmfault"), tmp_path_factory.mktemp("helm-faults"))
        first = state.converge(0)
        assert first.rc == 0, first.output[-4000:]
        state.all_ingresses = state.ingresses() | {STATES[0]["drops"]}
        assert STATES[1]["drops"] in state.all_ingresses
        yield state


def retried(run: Run) -> int:
    """How many times the member's release step was run again."""
    return len(
        re.findall(rf"FAILED - RETRYING: \[{MEMBER}\]: Install or upgrade the traefik release", run.output)
    )


def failed_step(run: Run) -> str:
    """The task the member failed in (the TASK header before its one `fatal:`)."""
    head, _, _ = run.output.partition(f"fatal: [{MEMBER}]")
    return str(re.findall(r"^TASK \[(.+?)\] \*+$", head, re.MULTILINE)[-1])


@dataclass(frozen=True)
class Cell:
    spec: str
    # Empty: the run succeeds; else phrases of the member's failure message.
    fails_with: tuple[str, ...]
    # Times the release step is run again by the role (client-go's own retries not counted).
    retries: int
    # Requests the proxy's fault answers in the run.
    fired: int
    # Revisions the faulted run adds, oldest first.
    revisions: tuple[str, ...]


CELLS = {
    # Not retried by client-go (no Retry-After): helm fails, --atomic rolls back, the role retries.
    "500": Cell(
        f"action=error,code=500,{DEPLOYMENT_PATCH},times=1,name=helm-500",
        (),
        1,
        1,
        ("failed", "superseded", "deployed"),
    ),
    # client-go waits Retry-After and sends it again (up to 10 times): helm never sees it.
    "429": Cell(
        f"action=throttle,retry_after=2,{DEPLOYMENT_PATCH},times=3,name=helm-429",
        (),
        0,
        3,
        ("deployed",),
    ),
    "409": Cell(
        f"action=conflict,{DEPLOYMENT_PATCH},times=1,name=helm-409",
        (),
        1,
        1,
        ("failed", "superseded", "deployed"),
    ),
    # client-go sends a dropped GET again, never a dropped PATCH.
    "drop": Cell(
        f"action=drop,{DEPLOYMENT_PATCH},times=1,name=helm-drop",
        (),
        1,
        1,
        ("failed", "superseded", "deployed"),
    ),
    # Helm sets no timeout on its writes: the PATCH is answered 10 s late, and the upgrade goes on.
    "stall": Cell(
        f"action=delay,seconds=10,{DEPLOYMENT_PATCH},times=1,name=helm-stall",
        (),
        0,
        1,
        ("deployed",),
    ),
    # The API goes away at the PATCH, for longer than client-go's retries of the rollback's reads:
    # helm can neither roll back nor record that the upgrade failed, and the revision stays
    # pending-upgrade. Not retried (the release may be pending); a run forgets it once it is older
    # than the Helm timeout.
    "down": Cell(
        f"action=down,seconds=25,{DEPLOYMENT_PATCH},times=1,name=helm-down",
        (
            "Error: UPGRADE FAILED: an error occurred while ",
            "original upgrade error: ",
            "Kubernetes cluster unreachable",
        ),
        0,
        0,  # counted apart: every request while the API is down is answered by the fault
        ("pending-upgrade",),
    ),
}


def converge_cleanly(edge: Edge, state: int) -> None:
    """With no fault: a run converges to the state, and a run after it changes and writes nothing."""
    edge.clear()
    started_at = time.monotonic()
    clean = edge.converge(state)
    print(f"clean run: rc={clean.rc} took {time.monotonic() - started_at:.1f} s")
    assert clean.rc == 0 and clean.recap[MEMBER]["failed"] == 0, clean.output[-4000:]
    history = edge.history()
    assert history[max(history)] == "deployed"
    assert [s for s in history.values() if s.startswith("pending")] == [], history
    assert list(history.values()).count("deployed") == 1, history
    edge.serves(state)
    assert edge.ingresses() == edge.wanted_ingresses(state)
    edge.current = state

    again = edge.converge(state)
    assert again.rc == 0 and again.recap[MEMBER]["changed"] == 0, again.output[-4000:]
    assert again.writes() == [], again.writes()
    assert edge.history() == history


@pytest.mark.parametrize("name", list(CELLS))
def test_a_fault_in_the_traefik_upgrade(edge: Edge, name: str) -> None:
    cell = CELLS[name]
    before, target = edge.current, 1 - edge.current
    history = edge.history()
    serving = max(r for r, s in history.items() if s == "deployed")
    fired_before = edge.fired_count()

    edge.fault(cell.spec)
    started_at = time.monotonic()
    run = edge.converge(target)
    took = time.monotonic() - started_at
    print(f"\n[{name}] faulted run: rc={run.rc} retried={retried(run)} took {took:.1f} s")
    edge.clear()

    fired = edge.fired(fired_before)
    assert fired, "the fault never fired"
    assert {(e["verb"], e["userAgent"].split("/")[0]) for e in fired[:1]} == {("patch", "Helm")}
    if cell.fired:
        assert len(fired) == cell.fired, fired
    assert retried(run) == cell.retries, run.output[-4000:]
    new = {r: s for r, s in edge.history().items() if r > serving}
    assert [new[r] for r in sorted(new)] == list(cell.revisions), edge.history()

    if not cell.fails_with:
        assert run.rc == 0 and run.recap[MEMBER]["failed"] == 0, run.output[-4000:]
        assert edge.history()[serving] == "superseded"
        edge.serves(target)
        assert edge.ingresses() == edge.wanted_ingresses(target)
        edge.current = target
    else:
        assert run.rc != 0 and run.recap[MEMBER]["failed"] == 1, run.output[-4000:]
        assert failed_step(run) == STEP
        failure = _failure(run.output, MEMBER)
        assert [p for p in cell.fails_with if p not in failure] == [], failure[:3000]
        # The revision that served before still does, and the Ingress set was not touched: the
        # Ingress the new inventory drops is still there, the one it brings back is not.
        assert edge.history()[serving] == "deployed"
        edge.serves(before)
        assert edge.ingresses() == edge.wanted_ingresses(before)

    # A pending revision is forgotten once it is older than the Helm timeout, no sooner.
    pending = edge.pending_since()
    assert len(pending) == list(cell.revisions).count("pending-upgrade")
    if pending:
        time.sleep(max(0.0, max(pending) + HELM_TIMEOUT_SECONDS + 1 - time.time()))
    converge_cleanly(edge, target)


def test_a_persistent_fault_exhausts_the_retries(edge: Edge) -> None:
    """A 500 on every create of a release record: each attempt fails at once, before anything
    changed; the role gives up after its retries, in bounded time, naming the member and the step."""
    before, target = edge.current, 1 - edge.current
    history = edge.history()
    fired_before = edge.fired_count()

    edge.fault("action=error,code=500,verb=create,path=/secrets$,name=helm-500-always")
    started_at = time.monotonic()
    run = edge.converge(target)
    took = time.monotonic() - started_at
    print(f"\n[500 persistent] faulted run: rc={run.rc} retried={retried(run)} took {took:.1f} s")
    edge.clear()

    assert run.rc != 0 and run.recap[MEMBER]["failed"] == 1, run.output[-4000:]
    assert retried(run) == RETRIES
    assert failed_step(run) == STEP
    failure = _failure(run.output, MEMBER)
    assert (
        "UPGRADE FAILED: create: failed to create: Internal error occurred: sandbox fault helm-500-always"
        in failure
    )
    # One refused create per attempt, 1 + RETRIES of them: client-go does not send a 500 again.
    # (The result's `attempts` says RETRIES: ansible-core reports the retries there once they ran out.)
    fired = edge.fired(fired_before)
    assert [(e["verb"], e["status"]) for e in fired] == [("create", 500)] * (RETRIES + 1)
    # Bounded: the delays, and a few seconds per attempt (the first converge steps take ~20 s).
    assert RETRIES * RETRY_DELAY <= took < RETRIES * RETRY_DELAY + 120
    # Nothing changed: no new revision, the old one serving, the Ingress set untouched. (Each
    # attempt trims the history to helm's --history-max, 10, before it creates the new record:
    # the oldest superseded records may go.)
    after = edge.history()
    assert max(after) == max(history) and after[max(after)] == "deployed", after
    assert after.items() <= history.items(), after
    edge.serves(before)
    assert edge.ingresses() == edge.wanted_ingresses(before)

    converge_cleanly(edge, target)
