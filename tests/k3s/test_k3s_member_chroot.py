"""The k3s_member role against a throwaway Debian root, through the chroot connection.

Without a VM there is no systemd and no kernel of the node's own, so the
service and the sysctl application are off (k3s_member_manage_service and
k3s_member_sysctl_apply); everything else runs as on a real node: preflight,
the files written, the checksum-verified install from a (fake) release site,
the kubeconfig fetch, idempotence and the in-place upgrade.
"""

from __future__ import annotations

import copy
import hashlib
import os
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme
import yaml

from .conftest import (
    ARCH,
    SUFFIX,
    UPGRADE_IMAGE_DIGEST,
    DebianRoot,
    PlaybookRun,
    ReleaseServer,
    images_pin,
    mounted_root,
    release_files,
    run_playbook,
    serving,
)

pytestmark = pytest.mark.slow

HOST = "hetzner-gesis-node"
VERSION = "v1.34.3+k3s1"
NEXT_VERSION = "v1.34.4+k3s1"
# A stand-in client key: it must never appear in any output of a run.
SECRET_KEY = "RkFLRS1DTElFTlQtS0VZLURPLU5PVC1QUklOVA=="
K3S_YAML: dict[str, Any] = {
    "apiVersion": "v1",
    "clusters": [
        {
            "cluster": {"certificate-authority-data": "Q0E=", "server": "https://127.0.0.1:6443"},
            "name": "default",
        }
    ],
    "contexts": [{"context": {"cluster": "default", "user": "default"}, "name": "default"}],
    "current-context": "default",
    "kind": "Config",
    "preferences": {},
    "users": [
        {"name": "default", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": SECRET_KEY}}
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def chroot_host(root: Path, **host_vars: Any) -> dict[str, Any]:
    return {
        "ansible_connection": "community.general.chroot",
        "ansible_host": str(root),
        "ansible_python_interpreter": "/usr/bin/python3",
        **host_vars,
    }


def write_inventory(tmp_path: Path, root: Path) -> Path:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"k3s_nodes": {"hosts": {HOST: chroot_host(root)}}}))
    return inventory


def base_vars(tmp_path: Path, server: ReleaseServer, version: str = VERSION) -> dict[str, Any]:
    return {
        "k3s_member_name": "hetzner-gesis",
        "k3s_member_public_address": "192.0.2.10",
        "k3s_member_public_name": "gesis.example.org",
        "k3s_member_namespace": "gesis",
        "k3s_member_node_labels": {"mybinder.org/member": "hetzner-gesis"},
        "k3s_member_kubeconfig_dest": str(tmp_path / "kube" / "hetzner-gesis.yaml"),
        # No systemd and a borrowed kernel in a chroot (see the role README).
        "k3s_member_manage_service": False,
        "k3s_member_sysctl_apply": False,
        # The probe runs in the host's network namespace: probe a port known to be free.
        "k3s_member_required_free_ports": [free_port()],
        "k3s_member_min_memory_mb": 256,
        "k3s_member_min_disk_gb": 1,
        **server.role_vars(version),
    }


def seed_node_kubeconfig(root: Path, config: dict[str, Any] = K3S_YAML) -> None:
    """What k3s writes on its first start (the service does not run here)."""
    path = root / "etc/rancher/k3s/k3s.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def expected_max_pods() -> int:
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    memtotal_mb = int(meminfo["MemTotal"].split()[0]) // 1024
    return int(memtotal_mb / 1024 * 1.75)


def assert_ok(run: Any, what: str) -> None:
    assert run.rc == 0, f"{what} failed (rc {run.rc}):\n{run.failures()}"
    assert SECRET_KEY not in run.stdout + run.stderr, f"{what}: the kubeconfig's client key was printed"


def test_bootstrap_check_install_idempotent_upgrade(
    node_root: Path, release_server: ReleaseServer, tmp_path: Path
) -> None:
    release_server.add_release(VERSION)
    release_server.add_release(NEXT_VERSION)
    seed_node_kubeconfig(node_root)
    inventory = write_inventory(tmp_path, node_root)
    role_vars = base_vars(tmp_path, release_server)
    pinned = quote(VERSION, safe="")

    # 1. check mode on the fresh node: reports changes, writes nothing, downloads no binary.
    check = run_playbook(inventory, role_vars, "--check", "--diff")
    assert_ok(check, "check run on a fresh node")
    assert check.stats(HOST)["changed"] > 0
    assert not (node_root / "etc/rancher/k3s/config.yaml").exists()
    assert not (node_root / "usr/local/bin/k3s").exists()
    assert f"/k3s/{pinned}/k3s{SUFFIX}" not in release_server.requests

    # 2. the real run.
    release_server.requests.clear()
    first = run_playbook(inventory, role_vars, "--diff")
    assert_ok(first, "first run")
    assert first.stats(HOST)["changed"] > 0
    # Exactly the pinned release, nothing else, each file once.
    # The binary is checked against its pin: no checksum file is fetched from where it comes from.
    assert sorted(release_server.requests) == sorted(
        [f"/install/{pinned}/install.sh", f"/k3s/{pinned}/k3s{SUFFIX}"]
    )
    binary = node_root / "usr/local/bin/k3s"
    assert binary.read_bytes() == release_files(VERSION)[f"k3s{SUFFIX}"]
    assert mode(binary) == 0o755
    installer = node_root / "usr/local/lib/binder-ingress/k3s-install.sh"
    assert hashlib.sha256(installer.read_bytes()).hexdigest() == role_vars["k3s_member_installer_sha256"]
    log = (node_root / "var/log/fake-k3s-install.log").read_text().splitlines()
    assert log == [f"version={VERSION} skip_start=true exec=server binary=k3s version {VERSION} (fake)"]

    sysctl = node_root / "etc/sysctl.d/90-binder-k3s.conf"
    assert mode(sysctl) == 0o644
    settings = [line for line in sysctl.read_text().splitlines() if line and not line.startswith("#")]
    assert settings == ["fs.inotify.max_user_instances = 8192", "fs.inotify.max_user_watches = 524288"]

    config_path = node_root / "etc/rancher/k3s/config.yaml"
    assert mode(config_path) == 0o600
    assert yaml.safe_load(config_path.read_text()) == {
        "disable": ["traefik"],
        "node-label": ["mybinder.org/member=hetzner-gesis"],
        "tls-san": ["gesis.example.org", "192.0.2.10"],
        "write-kubeconfig-mode": "0600",
    }
    dropin = node_root / "var/lib/rancher/k3s/agent/etc/kubelet.conf.d/90-binder-ingress.conf"
    assert mode(dropin) == 0o644
    assert yaml.safe_load(dropin.read_text()) == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "maxPods": expected_max_pods(),
        "imageGCHighThresholdPercent": 40,
        "imageGCLowThresholdPercent": 20,
    }

    kubeconfig = Path(role_vars["k3s_member_kubeconfig_dest"])
    assert mode(kubeconfig) == 0o600
    assert mode(kubeconfig.parent) == 0o700
    fetched = yaml.safe_load(kubeconfig.read_text())
    assert fetched["clusters"] == [
        {
            "name": "hetzner-gesis",
            "cluster": {"certificate-authority-data": "Q0E=", "server": "https://192.0.2.10:6443"},
        }
    ]
    assert fetched["contexts"] == [
        {
            "name": "hetzner-gesis",
            "context": {"cluster": "hetzner-gesis", "user": "hetzner-gesis", "namespace": "gesis"},
        }
    ]
    assert fetched["current-context"] == "hetzner-gesis"
    assert fetched["users"][0] == {"name": "hetzner-gesis", "user": K3S_YAML["users"][0]["user"]}

    # 3. check mode again, 4. real again: nothing to change, nothing fetched, no reinstall.
    release_server.requests.clear()
    for args in (("--check", "--diff"), ("--diff",)):
        again = run_playbook(inventory, role_vars, *args)
        assert_ok(again, f"repeat run {args}")
        assert again.stats(HOST)["changed"] == 0, again.changed_tasks(HOST)
    assert release_server.requests == []
    assert len((node_root / "var/log/fake-k3s-install.log").read_text().splitlines()) == 1

    # A new pinned version upgrades in place: the new binary, the installer once more.
    upgrade_vars = {**role_vars, **release_server.role_vars(NEXT_VERSION)}
    # Verbose, with diffs and the default callback: the key must not show there either.
    upgrade = run_playbook(inventory, upgrade_vars, "--diff", "-vvv", json_output=False)
    assert_ok(upgrade, "upgrade run")
    assert "changed=" in upgrade.stdout
    assert binary.read_bytes() == release_files(NEXT_VERSION)[f"k3s{SUFFIX}"]
    log = (node_root / "var/log/fake-k3s-install.log").read_text().splitlines()
    assert log[1:] == [
        f"version={NEXT_VERSION} skip_start=true exec=server binary=k3s version {NEXT_VERSION} (fake)"
    ]
    assert not any(VERSION in path or pinned in path for path in release_server.requests)


def test_airgap_install_and_upgrade_plan(
    node_root: Path, release_server: ReleaseServer, tmp_path: Path
) -> None:
    seed_node_kubeconfig(node_root)
    airgap = tmp_path / "airgap"
    airgap.mkdir()
    for name, data in release_files(VERSION).items():
        (airgap / name).write_bytes(data)
    inventory = write_inventory(tmp_path, node_root)
    role_vars = {
        **base_vars(tmp_path, release_server),
        **release_server.add_upgrade_controller("v0.17.0"),
        "k3s_member_install_mode": "airgap",
        "k3s_member_airgap_dir": str(airgap),
        "k3s_member_airgap_images_sha256": images_pin(VERSION),
        # k3s must not be downloaded: point its URLs at a port nobody listens on.
        "k3s_member_release_url": f"https://127.0.0.1:{free_port()}/k3s",
        "k3s_member_installer_url": f"https://127.0.0.1:{free_port()}/install.sh",
    }

    first = run_playbook(inventory, role_vars)
    assert_ok(first, "airgap run")
    assert (node_root / "usr/local/bin/k3s").read_bytes() == release_files(VERSION)[f"k3s{SUFFIX}"]
    images = node_root / f"var/lib/rancher/k3s/agent/images/k3s-airgap-images-{ARCH}.tar.zst"
    assert images.read_bytes() == release_files(VERSION)[f"k3s-airgap-images-{ARCH}.tar.zst"]
    manifests = node_root / "var/lib/rancher/k3s/server/manifests"
    assert sorted(path.name for path in manifests.iterdir()) == [
        "binder-k3s-upgrade-plan.yaml",
        "binder-system-upgrade-controller-crd.yaml",
        "binder-system-upgrade-controller.yaml",
    ]
    assert all(mode(path) == 0o600 for path in manifests.iterdir())
    plan = yaml.safe_load((manifests / "binder-k3s-upgrade-plan.yaml").read_text())
    # The Plan installs the pinned version, from the image pinned by digest: no channel.
    assert plan["spec"]["version"] == VERSION
    assert plan["spec"]["upgrade"] == {"image": f"rancher/k3s-upgrade@{UPGRADE_IMAGE_DIGEST}"}
    assert "channel" not in plan["spec"]
    assert plan["spec"]["window"] == {
        "days": ["sunday"],
        "startTime": "00:00",
        "endTime": "02:00",
        "timeZone": "UTC",
    }
    assert sorted(release_server.requests) == [
        "/suc/v0.17.0/crd.yaml",
        "/suc/v0.17.0/system-upgrade-controller.yaml",
    ]

    again = run_playbook(inventory, role_vars)
    assert_ok(again, "second airgap run")
    assert again.stats(HOST)["changed"] == 0, again.changed_tasks(HOST)

    # A node newer than the pin is not downgraded, by the role or by the Plan (which would install
    # the pin too): the run stops in preflight, before anything is written.
    plan_text = (manifests / "binder-k3s-upgrade-plan.yaml").read_bytes()
    older_version = "v1.34.2+k3s1"
    older = run_playbook(
        inventory,
        {
            **role_vars,
            **release_server.role_vars(older_version),
            "k3s_member_airgap_images_sha256": images_pin(older_version),
        },
    )
    assert older.rc != 0
    assert (
        f"member hetzner-gesis: {HOST} runs k3s {VERSION}, newer than k3s_member_version {older_version},"
        " and k3s is not downgraded"
    ) in " ".join(older.failures().split())
    assert older.stats(HOST)["changed"] == 0, older.changed_tasks(HOST)
    assert (manifests / "binder-k3s-upgrade-plan.yaml").read_bytes() == plan_text

    pins = {
        **release_server.role_vars(NEXT_VERSION),
        "k3s_member_airgap_images_sha256": images_pin(NEXT_VERSION),
    }
    upgrade_vars = {
        **role_vars,
        **{key: pins[key] for key in pins if "sha256" in key},
        "k3s_member_version": NEXT_VERSION,
    }
    for name, data in release_files(NEXT_VERSION).items():
        (airgap / name).write_bytes(data)

    # A tampered images archive is refused before anything is copied or installed, even with a
    # checksum file next to it that vouches for it: only the inventory's pin counts.
    archive = f"k3s-airgap-images-{ARCH}.tar.zst"
    evil = b"tampered images\n"
    (airgap / archive).write_bytes(evil)
    (airgap / f"sha256sum-{ARCH}.txt").write_text(f"{hashlib.sha256(evil).hexdigest()}  {archive}\n")
    tampered_images = run_playbook(inventory, upgrade_vars)
    assert tampered_images.rc != 0
    assert (
        f"{archive} does not match the sha256 pinned for k3s {NEXT_VERSION} on {ARCH}"
        " (k3s_member_airgap_images_sha256)"
    ) in " ".join(tampered_images.failures().split())
    assert images.read_bytes() == release_files(VERSION)[archive]
    assert (node_root / "usr/local/bin/k3s").read_bytes() == release_files(VERSION)[f"k3s{SUFFIX}"]

    # A tampered binary is refused before anything is copied or installed.
    (airgap / archive).write_bytes(release_files(NEXT_VERSION)[archive])
    (airgap / f"k3s{SUFFIX}").write_bytes(b"#!/bin/sh\necho tampered\n")
    tampered = run_playbook(inventory, upgrade_vars)
    assert tampered.rc != 0
    assert f"k3s{SUFFIX} does not match the sha256 pinned for k3s {NEXT_VERSION}" in tampered.failures()
    assert (node_root / "usr/local/bin/k3s").read_bytes() == release_files(VERSION)[f"k3s{SUFFIX}"]


def test_preflight_names_every_bad_key(
    node_root: Path, release_server: ReleaseServer, tmp_path: Path
) -> None:
    inventory = write_inventory(tmp_path, node_root)
    bad = {
        "k3s_member_public_address": "https://192.0.2.10",
        "k3s_member_installer_sha256": "",
        "k3s_member_name": "Hetzner_Gesis",
    }
    # The namespace is given, so only the three keys above are wrong.
    run = run_playbook(inventory, {**base_vars(tmp_path, release_server), **bad})
    assert run.rc != 0
    failures = run.failures()
    assert "member Hetzner_Gesis" in failures
    assert "k3s_member_name must be a DNS-1123 label, not 'Hetzner_Gesis'" in failures
    assert (
        "k3s_member_public_address must be the node's public IP address, not 'https://192.0.2.10'" in failures
    )
    assert "k3s_member_installer_sha256 must be the installer's sha256" in failures
    assert "k3s_member_namespace" not in failures
    assert "k3s_member_version" not in failures
    assert not (node_root / "etc/rancher/k3s/config.yaml").exists()


def test_preflight_refuses_busy_port(node_root: Path, release_server: ReleaseServer, tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path, node_root)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        run = run_playbook(
            inventory, {**base_vars(tmp_path, release_server), "k3s_member_required_free_ports": [busy]}
        )
    assert run.rc != 0
    assert f"port(s) {busy} are in use" in run.failures()
    assert not (node_root / "etc/rancher/k3s/config.yaml").exists()
    assert os.path.exists(node_root / "usr/bin/python3")


# ---------------------------------------------------------------------------
# A node is not trusted: its kubeconfig must not carry anything to the controller but the CA and
# the client credentials. The node below has written every key issue 18 names, and the file paths,
# into its k3s.yaml; the bootstrap (check mode, then real) must stop naming each of them, the
# member and the node, before anything is written on the controller. That each key alone is
# refused is tested on the rewrite itself (tests/unit/plugins/module_utils/test_kubeconfig.py):
# one node here keeps this to two playbook runs.

HOSTILE_HOST = "hostile-node"
HOSTILE_MEMBER = "hostile"
# What the run must never print: the values a hostile node put in its file.
HOSTILE_MARKER = "HOSTILE-MARKER"
HOSTILE_KEYS: dict[str, tuple[tuple[Any, ...], Any]] = {
    # Code run on the controller, TLS checks dropped, traffic diverted.
    "exec": (
        ("users", 0, "user", "exec"),
        {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "sh",
            "args": ["-c", f"touch /tmp/{HOSTILE_MARKER}"],
        },
    ),
    "auth-provider": (
        ("users", 0, "user", "auth-provider"),
        {"name": "gcp", "config": {"cmd-path": HOSTILE_MARKER}},
    ),
    "insecure-skip-tls-verify": (("clusters", 0, "cluster", "insecure-skip-tls-verify"), True),
    "proxy-url": (("clusters", 0, "cluster", "proxy-url"), f"http://198.51.100.7:3128/{HOSTILE_MARKER}"),
    "tls-server-name": (("clusters", 0, "cluster", "tls-server-name"), f"{HOSTILE_MARKER}.example"),
    # Paths: read on the controller, from the controller's disk.
    "certificate-authority": (("clusters", 0, "cluster", "certificate-authority"), f"/etc/{HOSTILE_MARKER}"),
    "client-certificate": (("users", 0, "user", "client-certificate"), f"/root/{HOSTILE_MARKER}.crt"),
    "client-key": (("users", 0, "user", "client-key"), f"/root/.ssh/{HOSTILE_MARKER}"),
    "tokenFile": (("users", 0, "user", "tokenFile"), f"/root/{HOSTILE_MARKER}-token"),
}


def dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
    return text


@dataclass
class HostileBootstrap:
    check: PlaybookRun
    real: PlaybookRun
    kube: Path  # the controller directory the member's kubeconfig would go to


@pytest.fixture(scope="module")
def hostile_bootstrap(
    debian_root_cache: DebianRoot, release_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileBootstrap]:
    tmp = tmp_path_factory.mktemp("hostile")
    config = copy.deepcopy(K3S_YAML)
    for path, value in HOSTILE_KEYS.values():
        node: Any = config
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
    with serving(release_ca) as server, mounted_root(debian_root_cache, tmp / "node", release_ca) as root:
        server.add_release(VERSION)
        seed_node_kubeconfig(root, config)
        inventory = tmp / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"k3s_nodes": {"hosts": {HOSTILE_HOST: chroot_host(root)}}}))
        role_vars = {
            **base_vars(tmp, server),
            "k3s_member_name": HOSTILE_MEMBER,
            "k3s_member_namespace": HOSTILE_MEMBER,
            "k3s_member_kubeconfig_dest": str(tmp / "kube" / "hostile.yaml"),
        }
        check = run_playbook(inventory, role_vars, "--check", "--diff")
        real = run_playbook(inventory, role_vars, "--diff")
        yield HostileBootstrap(check, real, tmp / "kube")


@pytest.mark.parametrize("key", sorted(HOSTILE_KEYS))
@pytest.mark.parametrize("mode", ["check", "real"])
def test_a_node_kubeconfig_key_outside_the_allowlist_stops_the_bootstrap_before_the_controller_is_written(
    hostile_bootstrap: HostileBootstrap, mode: str, key: str
) -> None:
    run = getattr(hostile_bootstrap, mode)
    assert run.rc != 0
    assert run.stats(HOSTILE_HOST)["unreachable"] == 0
    (failed,) = run.failed_tasks(HOSTILE_HOST)
    assert "Check that the node's kubeconfig holds only what the controller may take: " in failed
    assert f"member {HOSTILE_MEMBER}, node {HOSTILE_HOST}: " in failed
    assert f"{dotted(HOSTILE_KEYS[key][0])} is not allowed" in failed
    assert HOSTILE_MARKER not in run.stdout + run.stderr
    assert SECRET_KEY not in run.stdout + run.stderr
    # Nothing of the member on the controller: neither its kubeconfig nor its directory.
    assert not hostile_bootstrap.kube.exists()
