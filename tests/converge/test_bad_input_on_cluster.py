"""Every invalid inventory of tests/bad_inventories.py, and the ones only a cluster run can meet
(kubeconfig, context), through site.yml against the local cluster: each member fails naming the
key the user wrote, and the run writes nothing (kube-apiserver's audit log is the witness).

One inventory holds one broken member per case and one ansible-playbook run converges them all,
as an operator's run over a federation would: each member fails on its own.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from bad_inventories import CASES, UNSET
from harness import CHARTS, LOCAL_VARS, REPO, Run, Sandbox, member_inventory, started

pytestmark = pytest.mark.slow


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cluster_cases(tmp_path: Path, kubeconfig: Path) -> dict[str, tuple[dict[str, Any], str]]:
    """Cases whose problem is in the member's way to its cluster, or in what only site.yml reads."""
    # The local cluster's kubeconfig, pointing at a port nothing listens on: a k3s member whose API
    # does not answer is named, with its context, by its first cluster step (the lock).
    dead = tmp_path / "kubeconfig-of-a-dead-api"
    dead.write_text(
        re.sub(
            r"server: https://[^\s]+", f"server: https://127.0.0.1:{_closed_port()}", kubeconfig.read_text()
        )
    )
    unreadable = tmp_path / "kubeconfig-is-a-directory"
    unreadable.mkdir()
    not_a_kubeconfig = tmp_path / "not-a-kubeconfig"
    not_a_kubeconfig.write_text("just: text\n")
    missing = tmp_path / "no-such-kubeconfig"
    return {
        "kubeconfig-missing": (
            {"binder_kubeconfig": str(missing)},
            f"member kubeconfig-missing: binder_kubeconfig: {missing} does not exist",
        ),
        "kubeconfig-unreadable": (
            {"binder_kubeconfig": str(unreadable)},
            f"member kubeconfig-unreadable: binder_kubeconfig: {unreadable} cannot be read",
        ),
        "kubeconfig-not-a-kubeconfig": (
            {"binder_kubeconfig": str(not_a_kubeconfig)},
            f"binder_kubeconfig: {not_a_kubeconfig} is not a kubeconfig",
        ),
        "context-missing": (
            {"binder_context": "no-such-context"},
            "member context-missing: binder_context: 'no-such-context' is not a context of",
        ),
        "acme-server-not-https": (
            {"cert_manager_cluster_issuers": {"letsencrypt-prod": "http://acme.example.org/directory"}},
            "cert_manager_cluster_issuers.letsencrypt-prod: the ACME directory must be an https:// URL",
        ),
        "k3s-api-unreachable": (
            {"binder_kubeconfig": str(dead), "binder_k3s": True},
            "lock of member k3s-api-unreachable: connecting to the API server of context sandbox: no answer",
        ),
        "entrypoint-unknown-target": (
            {"cluster_entrypoint_target": "haproxy"},
            "cluster_entrypoint_target",
        ),
    }


def host_vars(sandbox: Sandbox, index: int, changes: dict[str, Any]) -> dict[str, Any]:
    """The local member's variables on the local cluster, in a namespace of its own, with ``changes``
    over them. A case about a chart starts from that chart's role defaults, as the render cases do."""
    merged: dict[str, Any] = dict(
        LOCAL_VARS,
        binder_kubeconfig=str(sandbox.kubeconfig),
        binder_namespace=f"bad-{index}",
        traefik_chart_path=str(CHARTS / "traefik"),
        cert_manager_chart_path=str(CHARTS / "cert-manager"),
    )
    for chart in ("traefik_chart_", "cert_manager_chart_"):
        if any(key.startswith(chart) for key in changes):
            merged.pop(f"{chart}source", None)
            merged.pop(f"{chart}path", None)
    merged.update(changes)
    return {key: value for key, value in merged.items() if value is not UNSET}


def failures(output: str) -> dict[str, str]:
    """Each failed member's failure text, whitespace normalised (the callback wraps long lines)."""
    found: dict[str, str] = {}
    blocks = re.split(
        r"^(?=fatal: \[|ok: \[|changed: \[|skipping: \[|included: |TASK \[|PLAY RECAP)", output, flags=re.M
    )
    for block in blocks:
        match = re.match(r"fatal: \[([^\]]+)\]", block)
        if match:
            found[match.group(1)] = re.sub(r"\s+", " ", block).replace("''", "'")
    return found


@pytest.fixture(scope="module")
def module_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One cluster for the whole run (control plane only: nothing is meant to be served)."""
    with started(tmp_path_factory.mktemp("bad-input-sandbox"), "--no-dataplane") as box:
        yield box


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, module_sandbox: Sandbox
) -> tuple[Run, dict[str, str], Path]:
    tmp_path = tmp_path_factory.mktemp("bad-input")
    cases = {**CASES, **cluster_cases(tmp_path, module_sandbox.kubeconfig)}
    inventory = member_inventory(tmp_path, {member: {} for member in cases})
    for index, (member, (changes, _)) in enumerate(cases.items()):
        variables = host_vars(module_sandbox, index, changes)
        (inventory / "host_vars" / f"{member}.yml").write_text(yaml.safe_dump(variables))
    result = module_sandbox.playbook(REPO / "site.yml", inventory=inventory, timeout=1800)
    return result, {name: key for name, (_, key) in cases.items()}, inventory


def test_there_are_at_least_40_cases(run: tuple[Run, dict[str, str], Path]) -> None:
    assert len(run[1]) >= 40


def test_the_run_fails_every_member_and_writes_nothing(run: tuple[Run, dict[str, str], Path]) -> None:
    result, keys, _ = run
    assert result.rc != 0
    assert {member for member, counts in result.recap.items() if counts["failed"]} == set(keys), (
        result.output[-4000:]
    )
    assert result.writes() == [], result.writes()


def test_each_member_fails_naming_the_key_it_wrote(run: tuple[Run, dict[str, str], Path]) -> None:
    result, keys, inventory = run
    found = failures(result.output)
    wrong = {
        member: found.get(member, "(no failure printed)")[:600]
        for member, key in keys.items()
        if key.format(inventory=inventory) not in found.get(member, "")
    }
    assert not wrong, "\n\n".join(f"{m}: expected {keys[m]!r}\n{text}" for m, text in wrong.items())


class Trap:
    """Another 'cluster': a TCP port that only counts who connects to it."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


@pytest.mark.parametrize("playbook", ["site.yml", "playbooks/doctor.yml", "playbooks/verify.yml"])
def test_a_leftover_k8s_auth_variable_is_refused_before_any_cluster_call(
    module_sandbox: Sandbox, tmp_path: Path, playbook: str
) -> None:
    """K8S_AUTH_* in the operator's shell would take over the member's kubeconfig in every
    kubernetes.core call: its requests, credentials and prune would go to K8S_AUTH_HOST, with TLS
    verification off. Every playbook that calls a cluster refuses to run, naming the variables."""
    trap = Trap()
    try:
        member = "leftover-env"
        inventory = member_inventory(tmp_path, {member: {}})
        (inventory / "host_vars" / f"{member}.yml").write_text(
            yaml.safe_dump(host_vars(module_sandbox, 99, {}))
        )
        env = {"K8S_AUTH_HOST": f"https://127.0.0.1:{trap.port}", "K8S_AUTH_VERIFY_SSL": "false"}
        result = module_sandbox.playbook(REPO / playbook, inventory=inventory, env=env, timeout=300)
    finally:
        trap.close()
    assert trap.connections == 0, f"{playbook} sent the member's requests to K8S_AUTH_HOST"
    assert result.rc != 0 and result.recap[member]["failed"] == 1, result.output[-4000:]
    failure = failures(result.output)[member]
    assert (
        f"member {member}: the controller's environment sets K8S_AUTH_HOST, K8S_AUTH_VERIFY_SSL" in failure
    ), failure[:3000]
    assert "unset K8S_AUTH_HOST K8S_AUTH_VERIFY_SSL" in failure
    assert f"127.0.0.1:{trap.port}" not in result.output  # names, never values
    assert result.audit == [], result.audit
