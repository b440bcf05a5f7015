"""The traefik controller follows the traefik Helm release; which Ingresses traefik serves."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from helm_secrets import make_helm_secret

from sandbox.dataplane.kube import ApiAccess
from sandbox.dataplane.traefik_config import TraefikSetup
from sandbox.dataplane.traefik_controller import STANDARD_ENTRYPOINTS, TraefikController
from sandbox.dataplane.traefik_process import (
    PortReservations,
    SpoolDir,
    TraefikError,
    serves_ingress,
    traefik_classes,
)

DEFAULTS: dict[str, Any] = {
    "ports": {
        "web": {"port": 8000, "exposedPort": 80},
        "websecure": {"port": 8443, "exposedPort": 443, "http": {"tls": {"enabled": True}}},
        "metrics": {"port": 9100},
    },
    "providers": {"kubernetesIngress": {"enabled": True}, "kubernetesCRD": {"enabled": True}},
    "metrics": {"prometheus": {"entryPoint": "metrics"}},
    "deployment": {"replicas": 1},
    "ingressClass": {"enabled": True, "name": ""},
}
CONFIG: dict[str, Any] = {
    "providers": {"kubernetesCRD": {"enabled": False}},
    "ingressClass": {"name": "traefik"},
    "ports": {"web": {"port": 80}, "websecure": {"port": 443}},
}


class FakeTraefik:
    """Stands for the traefik process: records starts instead of running the binary."""

    def __init__(self, state_dir: Path) -> None:
        self.log_file = state_dir / "traefik.log"
        self.static_file = state_dir / "traefik-static.yaml"
        self.spool = SpoolDir(state_dir / "traefik-tmp")
        self.running = False
        self.pid: int | None = None
        self.started: list[TraefikSetup] = []
        self.expected: list[tuple[str, str]] = []
        self.fail = False

    async def start(self, setup: TraefikSetup) -> None:
        if self.fail:
            raise TraefikError("traefik exited during start")
        self.started.append(setup)
        self.running, self.pid = True, 1000 + len(self.started)

    async def stop(self) -> None:
        self.running, self.pid = False, None

    async def wait_ready(self, expected: Callable[[], Iterable[tuple[str, str]]]) -> None:
        self.expected = list(expected())


def _secrets(*revisions: tuple[int, str, dict[str, Any]]) -> dict[tuple[str, str], Any]:
    out = {}
    for revision, status, config in revisions:
        # Helm updates the status of a revision in place: the API gives it a new resourceVersion.
        secret = make_helm_secret(
            "traefik", "binder", revision, status, defaults=DEFAULTS, config=config, resource_version=status
        )
        out[("binder", secret["metadata"]["name"])] = secret
    return out


INGRESS = {
    "metadata": {"namespace": "binder", "name": "hub"},
    "spec": {
        "ingressClassName": "traefik",
        "rules": [{"host": "hub.test", "http": {"paths": [{"path": "/"}]}}],
    },
}
CLASS = {"metadata": {"name": "traefik"}, "spec": {"controller": "traefik.io/ingress-controller"}}


async def _scenario(tmp_path: Path) -> list[str]:
    """Walk one release through install, upgrades, a bad value, a crash and uninstall."""
    changes: list[str] = []
    access = ApiAccess(url="https://127.0.0.1:6443", token="t", ca_file=tmp_path / "ca.crt")
    controller = TraefikController(tmp_path, access, lambda: changes.append("changed"))
    fake = FakeTraefik(tmp_path)
    controller.traefik = fake  # type: ignore[assignment]
    steps: list[str] = []

    async def step(secrets: dict[tuple[str, str], Any]) -> dict[str, Any]:
        await controller.on_secrets(secrets)
        await controller.reconcile()
        return controller.describe()

    try:
        await controller.on_ingresses({("binder", "hub"): INGRESS})
        await controller.on_classes({("", "traefik"): CLASS})
        ports = dict(controller.reservations.ports)
        assert set(STANDARD_ENTRYPOINTS) <= set(ports)

        state = await step({})
        assert controller.decided.is_set()
        assert (state["release"], state["started"], fake.started) == (None, False, [])
        assert (state["web"], state["websecure"]) == (ports["web"], ports["websecure"])

        state = await step(_secrets((1, "deployed", CONFIG)))
        assert (state["revision"], state["started"], len(fake.started), state["restarts"]) == (1, True, 1, 0)
        assert fake.started[0].entrypoints == {name: ports[name] for name in fake.started[0].entrypoints}
        assert fake.expected == [("binder", "hub")]
        steps.append("installed")

        pods_only = {**CONFIG, "deployment": {"replicas": 3}}
        state = await step(_secrets((1, "superseded", CONFIG), (2, "deployed", pods_only)))
        assert (state["revision"], len(fake.started), state["restarts"]) == (2, 1, 0)
        steps.append("same configuration: not restarted")

        timeouts = {
            **CONFIG,
            "ports": {**CONFIG["ports"], "websecure": {"transport": {"lifeCycle": {"graceTimeOut": 3}}}},
        }
        history = [(1, "superseded", CONFIG), (2, "superseded", pods_only)]
        state = await step(_secrets(*history, (3, "deployed", timeouts)))
        assert (state["revision"], len(fake.started), state["restarts"]) == (3, 2, 1)
        assert fake.started[1].entrypoints["websecure"] == ports["websecure"], "restarted on another port"
        steps.append("restarted")

        history.append((3, "superseded", timeouts))
        state = await step(_secrets(*history, (4, "deployed", {**CONFIG, "hostNetwork": True})))
        assert (state["revision"], state["error_revision"], len(fake.started)) == (3, 4, 2)
        assert "hostNetwork" in state["error"] and state["started"]
        state = await step(_secrets(*history, (4, "deployed", {**CONFIG, "hostNetwork": True})))
        assert len(fake.started) == 2, "a rejected revision is not tried again"
        steps.append("bad value reported, old revision kept")

        history.append((4, "superseded", {**CONFIG, "hostNetwork": True}))
        state = await step(_secrets(*history, (5, "pending-rollback", CONFIG)))
        assert (state["revision"], state["started"], len(fake.started)) == (3, True, 2)
        steps.append("rollback in flight: kept")

        state = await step(_secrets(*history, (5, "deployed", CONFIG)))
        assert (state["revision"], state["error"], len(fake.started)) == (5, None, 3)
        steps.append("rolled back")

        fake.running = False  # traefik crashed
        state = await step(_secrets(*history, (5, "deployed", CONFIG)))
        assert (state["revision"], state["started"], len(fake.started)) == (5, True, 4)
        steps.append("crash: started again")

        fake.fail = True
        fake.running = False
        state = await step(_secrets(*history, (5, "deployed", CONFIG)))
        assert (state["started"], len(fake.started)) == (False, 4)
        assert "exited during start" in state["error"]
        state = await step(_secrets(*history, (5, "deployed", CONFIG)))
        assert len(fake.started) == 4, "no second attempt within the back-off"
        fake.fail = False
        steps.append("failed start: backing off")

        state = await step({})
        assert (state["release"], state["revision"], state["started"], state["error"]) == (
            None,
            None,
            False,
            None,
        )
        with socket.socket() as probe, pytest.raises(OSError):
            probe.bind(("127.0.0.1", ports["websecure"]))  # held again while no traefik runs
        steps.append("uninstalled: stopped")
        assert changes, "dataplane.json was never asked to be rewritten"
    finally:
        await controller.close()
    return steps


def test_the_controller_follows_the_release(tmp_path: Path) -> None:
    assert asyncio.run(_scenario(tmp_path)) == [
        "installed",
        "same configuration: not restarted",
        "restarted",
        "bad value reported, old revision kept",
        "rollback in flight: kept",
        "rolled back",
        "crash: started again",
        "failed start: backing off",
        "uninstalled: stopped",
    ]


def _ingress(
    class_name: str | None = None, annotation: str | None = None, paths: bool = True
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "rules": [{"host": "a.test", "http": {"paths": [{"path": "/"}]} if paths else {}}]
    }
    if class_name:
        spec["ingressClassName"] = class_name
    annotations = {"kubernetes.io/ingress.class": annotation} if annotation is not None else {}
    return {"metadata": {"namespace": "ns", "name": "i", "annotations": annotations}, "spec": spec}


CLASSES = {
    ("", "traefik"): CLASS,
    ("", "edge"): {"metadata": {"name": "edge"}, "spec": {"controller": "traefik.io/ingress-controller"}},
    ("", "nginx"): {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
}


@pytest.mark.parametrize(
    ("class_filter", "classes"),
    [(None, {"traefik", "edge"}), ("edge", {"edge"}), ("nginx", set())],
)
def test_traefik_serves_the_classes_of_its_controller(class_filter: str | None, classes: set[str]) -> None:
    assert traefik_classes(CLASSES, class_filter) == classes


@pytest.mark.parametrize(
    ("ingress", "class_filter", "served"),
    [
        pytest.param(_ingress("traefik"), None, True, id="its class"),
        pytest.param(_ingress("nginx"), None, False, id="another controller's class"),
        pytest.param(_ingress("gone"), None, False, id="a class that does not exist"),
        pytest.param(_ingress("traefik"), "edge", False, id="not the filtered class"),
        pytest.param(_ingress("edge"), "edge", True, id="the filtered class"),
        pytest.param(_ingress(), None, True, id="no class, no annotation"),
        pytest.param(_ingress(annotation="traefik"), None, True, id="the legacy annotation traefik"),
        pytest.param(_ingress(annotation="nginx"), None, False, id="another legacy annotation"),
        pytest.param(_ingress(annotation="edge"), "edge", True, id="the legacy annotation of the filter"),
        pytest.param(_ingress(), "edge", False, id="no class with a filter"),
        pytest.param(_ingress("traefik", paths=False), None, False, id="no paths: no router"),
    ],
)
def test_which_ingresses_traefik_serves(
    ingress: dict[str, Any], class_filter: str | None, served: bool
) -> None:
    assert serves_ingress(ingress, traefik_classes(CLASSES, class_filter), class_filter) is served


def test_port_reservations_hold_the_ports_while_traefik_is_down() -> None:
    reservations = PortReservations()
    try:
        ports = reservations.ensure(["web", "websecure"])
        assert reservations.ensure(["web"]) == ports, "a name keeps its port"
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", ports["web"]))
        reservations.unhold()
        with socket.socket() as traefik:
            traefik.bind(("127.0.0.1", ports["web"]))  # free for traefik now
            traefik.listen()
        reservations.hold()
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", ports["websecure"]))
    finally:
        reservations.unhold()


async def _rejected_install_then_uninstall(tmp_path: Path) -> list[tuple[Any, ...]]:
    access = ApiAccess(url="https://127.0.0.1:6443", token="t", ca_file=tmp_path / "ca.crt")
    controller = TraefikController(tmp_path, access, lambda: None)
    fake = FakeTraefik(tmp_path)
    controller.traefik = fake  # type: ignore[assignment]
    seen: list[tuple[Any, ...]] = []
    try:
        await controller.on_ingresses({})
        await controller.on_classes({})
        for secrets in (_secrets((1, "deployed", {**CONFIG, "ports": ["web"]})), {}):
            await controller.on_secrets(secrets)
            await controller.reconcile()
            state = controller.describe()
            seen.append((state["revision"], state["error_revision"], bool(state["error"]), len(fake.started)))
    finally:
        await controller.close()
    return seen


def test_a_rejected_install_is_reported_until_the_release_is_gone(tmp_path: Path) -> None:
    assert asyncio.run(_rejected_install_then_uninstall(tmp_path)) == [
        (None, 1, True, 0),
        (None, None, False, 0),
    ]


# --- members sharing a cluster: one traefik per scoped release --------------------------------


def _release(namespace: str, config: dict[str, Any], revision: int = 1) -> dict[tuple[str, str], Any]:
    secret = make_helm_secret("traefik", namespace, revision, "deployed", defaults=DEFAULTS, config=config)
    return {(namespace, secret["metadata"]["name"]): secret}


def _scoped(namespace: str) -> dict[str, Any]:
    return {
        **CONFIG,
        "ingressClass": {"name": f"traefik-{namespace}", "isDefaultClass": False},
        "providers": {
            "kubernetesCRD": {"enabled": False},
            "kubernetesIngress": {"namespaces": [namespace], "ingressClass": f"traefik-{namespace}"},
        },
        "rbac": {"enabled": False},
    }


def _member_ingress(namespace: str, class_name: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": [{"host": f"{namespace}.test", "http": {"paths": [{"path": "/"}]}}]}
    if class_name:
        spec["ingressClassName"] = class_name
    return {"metadata": {"namespace": namespace, "name": "hub"}, "spec": spec}


async def _shared_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr("sandbox.dataplane.traefik_controller.Traefik", FakeTraefik)
    access = ApiAccess(url="https://127.0.0.1:6443", token="t", ca_file=tmp_path / "ca.crt")
    controller = TraefikController(tmp_path, access, lambda: None)
    seen: dict[str, Any] = {}
    try:
        await controller.on_classes(
            {
                ("", f"traefik-{ns}"): {
                    "metadata": {"name": f"traefik-{ns}"},
                    "spec": {"controller": "traefik.io/ingress-controller"},
                }
                for ns in ("alpha", "beta")
            }
        )
        await controller.on_ingresses(
            {
                ("alpha", "hub"): _member_ingress("alpha", "traefik-alpha"),
                ("beta", "hub"): _member_ingress("beta", "traefik-beta"),
                ("other", "classless"): _member_ingress("other", None),
                ("alpha", "classless"): _member_ingress("alpha", None),
            }
        )
        secrets = {**_release("alpha", _scoped("alpha")), **_release("beta", _scoped("beta"))}
        await controller.on_secrets(secrets)
        await controller.reconcile()
        state = controller.describe()
        seen["primary"] = (state["release"], state["started"])
        seen["scoped"] = {
            key: (s["namespace"], s["started"], s["websecure"]) for key, s in state["scoped"].items()
        }
        seen["served"] = {key: c.served_ingresses() for key, c in controller.children.items()}
        seen["files"] = sorted(str(c.state_dir.relative_to(tmp_path)) for c in controller.controllers())
        # beta's release goes: its traefik stops and its child is gone; alpha's keeps running.
        alpha_child = controller.children[("alpha", "traefik")]
        await controller.on_secrets(_release("alpha", _scoped("alpha")))
        await controller.reconcile()
        seen["after"] = (sorted(controller.children), alpha_child.traefik.running)
    finally:
        await controller.close()
    return seen


def test_each_scoped_release_runs_a_traefik_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = asyncio.run(_shared_cluster(tmp_path, monkeypatch))
    assert seen["primary"] == (None, False)  # no cluster-wide release: no cluster-wide traefik
    scoped = seen["scoped"]
    assert sorted(scoped) == ["alpha/traefik", "beta/traefik"]
    assert all(started for _, started, _ in scoped.values())
    assert scoped["alpha/traefik"][2] != scoped["beta/traefik"][2], "two traefiks on one port"
    # Each reads its own namespace only; the class-less Ingress is neither's.
    assert seen["served"] == {
        ("alpha", "traefik"): [("alpha", "hub")],
        ("beta", "traefik"): [("beta", "hub")],
    }
    assert seen["files"] == [".", "traefik-alpha-traefik", "traefik-beta-traefik"]
    assert seen["after"] == ([("alpha", "traefik")], True)


def test_namespaced_rbac_turns_off_the_ingressclass_lookup(tmp_path: Path) -> None:
    access = ApiAccess(url="https://127.0.0.1:6443", token="t", ca_file=tmp_path / "ca.crt")
    controller = TraefikController(tmp_path, access, lambda: None)
    controller.traefik = FakeTraefik(tmp_path)  # type: ignore[assignment]

    async def run() -> list[tuple[str, str]]:
        await controller.on_classes(
            {
                ("", "traefik-alpha"): {
                    "metadata": {"name": "traefik-alpha"},
                    "spec": {"controller": "traefik.io/ingress-controller"},
                }
            }
        )
        await controller.on_ingresses({("alpha", "hub"): _member_ingress("alpha", "traefik-alpha")})
        config = {**_scoped("alpha"), "rbac": {"enabled": True, "namespaced": True}}
        await controller.on_secrets(_release("alpha", config))
        await controller.reconcile()
        served = controller.children[("alpha", "traefik")].served_ingresses()
        await controller.close()
        return served

    # As traefik itself: with disableClusterScopeResources an Ingress naming a class has no router.
    assert asyncio.run(run()) == []
