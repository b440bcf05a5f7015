"""Unit tests of the k3s_member role's templates, variable names and prod inventory (no chroot).

That defaults/main.yml and meta/argument_specs.yml agree is checked for every role by
tests/unit/test_inputs.py (both are written from plugins/module_utils/inputs.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLE = Path(__file__).resolve().parents[2] / "roles" / "k3s_member"


def load(relative: str) -> Any:
    return yaml.safe_load((ROLE / relative).read_text())


def render(template: str, **overrides: Any) -> str:
    """Render a role template with the role's defaults and constants, as a play would."""
    variables: dict[str, Any] = {**load("defaults/main.yml"), **load("vars/main.yml")}
    variables.update(
        ansible_managed="Ansible managed",
        k3s_member_name="hetzner-gesis",
        k3s_member_public_address="192.0.2.10",
        __k3s_member_max_pods=42,
    )
    variables.update(overrides)
    templar = Templar(loader=DataLoader(), variables=variables)
    text = (ROLE / "templates" / template).read_text()
    result: str = templar.template(trust_as_template(text))
    return result


def test_variable_prefixes() -> None:
    assert all(name.startswith("k3s_member_") for name in load("defaults/main.yml"))
    assert all(name.startswith("_k3s_member_") for name in load("vars/main.yml"))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {},
            {"disable": ["traefik"], "tls-san": ["192.0.2.10"], "write-kubeconfig-mode": "0600"},
        ),
        (
            {
                "k3s_member_public_name": "gesis.example.org",
                "k3s_member_node_labels": {"b": "2", "a": "1"},
                "k3s_member_write_kubeconfig_mode": "0640",
            },
            {
                "disable": ["traefik"],
                "node-label": ["a=1", "b=2"],
                "tls-san": ["gesis.example.org", "192.0.2.10"],
                "write-kubeconfig-mode": "0640",
            },
        ),
        (
            # The name and the address may be the same; a SAN is listed once.
            {"k3s_member_public_name": "192.0.2.10", "k3s_member_config": {"cluster-cidr": "10.42.0.0/16"}},
            {
                "cluster-cidr": "10.42.0.0/16",
                "disable": ["traefik"],
                "tls-san": ["192.0.2.10"],
                "write-kubeconfig-mode": "0600",
            },
        ),
        (
            # Extra settings win over the role's own.
            {"k3s_member_config": {"disable": ["traefik", "servicelb"]}},
            {"disable": ["traefik", "servicelb"], "tls-san": ["192.0.2.10"], "write-kubeconfig-mode": "0600"},
        ),
    ],
)
def test_k3s_config(overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    text = render("config.yaml.j2", **overrides)
    assert text.startswith("# Ansible managed")
    assert yaml.safe_load(text) == expected


@pytest.mark.parametrize(("max_pods", "high", "low"), [(42, 40, 20), (300, 85, 80)])
def test_kubelet_dropin(max_pods: int, high: int, low: int) -> None:
    text = render(
        "kubelet.conf.j2",
        __k3s_member_max_pods=max_pods,
        k3s_member_image_gc_high_threshold=high,
        k3s_member_image_gc_low_threshold=low,
    )
    assert yaml.safe_load(text) == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "maxPods": max_pods,
        "imageGCHighThresholdPercent": high,
        "imageGCLowThresholdPercent": low,
    }


def test_sysctl_file() -> None:
    lines = [line for line in render("sysctl.conf.j2").splitlines() if line and not line.startswith("#")]
    assert lines == ["fs.inotify.max_user_instances = 8192", "fs.inotify.max_user_watches = 524288"]


DIGEST = "sha256:" + "5" * 64


@pytest.mark.parametrize("version", ["v1.34.3+k3s1", "v1.35.1+k3s2"])
def test_upgrade_plan(version: str) -> None:
    """The Plan installs exactly the pinned version, from an image named by digest: no channel, no tag."""
    text = render("upgrade-plan.yaml.j2", k3s_member_version=version, k3s_member_upgrade_image_digest=DIGEST)
    assert text.startswith("# Ansible managed")
    plan = yaml.safe_load(text)
    assert plan["apiVersion"] == "upgrade.cattle.io/v1"
    assert plan["kind"] == "Plan"
    assert plan["metadata"] == {"name": "k3s-server", "namespace": "system-upgrade"}
    spec = plan["spec"]
    assert spec["version"] == version
    assert "channel" not in spec
    assert spec["window"] == {"days": ["sunday"], "startTime": "00:00", "endTime": "02:00", "timeZone": "UTC"}
    assert spec["upgrade"] == {"image": f"rancher/k3s-upgrade@{DIGEST}"}
    assert set(spec) == {
        "concurrency",
        "cordon",
        "serviceAccountName",
        "nodeSelector",
        "upgrade",
        "version",
        "window",
    }
    assert spec["serviceAccountName"] == "system-upgrade"
    assert spec["concurrency"] == 1
    assert spec["nodeSelector"]["matchExpressions"] == [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "In", "values": ["true"]}
    ]


def test_max_pods_default_formula() -> None:
    """The preflight's expression: floor(1.75 x memory in GiB), at least 1, unless overridden."""
    (derived,) = [task for task in load("tasks/preflight.yml") if task["name"] == "Set the derived settings"]
    expression = derived["ansible.builtin.set_fact"]["__k3s_member_max_pods"]
    for memtotal_mb, override, expected in [
        (16384, 0, 28),
        (96000, 0, 164),
        (3900, 0, 6),
        (300, 0, 1),
        (8192, 110, 110),
    ]:
        templar = Templar(
            loader=DataLoader(),
            variables={"ansible_facts": {"memtotal_mb": memtotal_mb}, "k3s_member_max_pods": override},
        )
        assert int(templar.template(trust_as_template(expression))) == expected, (memtotal_mb, override)


def test_prod_inventory_has_a_node_per_k3s_member() -> None:
    """Every member marked binder_k3s in inventories/prod has exactly one node host in k3s_nodes."""
    prod = ROLE.parents[1] / "inventories" / "prod"
    nodes = yaml.safe_load((prod / "k3s.yml").read_text())["k3s_nodes"]["hosts"]
    k3s_members = sorted(
        path.stem
        for path in (prod / "host_vars").glob("*.yml")
        if (yaml.safe_load(path.read_text()) or {}).get("binder_k3s") is True
    )
    assert k3s_members, "no k3s member in inventories/prod"
    assert sorted(node["k3s_member_name"] for node in nodes.values()) == k3s_members
    for host, node in nodes.items():
        assert host == f"{node['k3s_member_name']}-node"
        assert node["k3s_member_public_address"], host
