"""k3s_member hardening: the binary checked against a pin, https only, safe inventory values.

The binary runs as root: it must match the sha256 pinned for its version and architecture,
whatever checksum file its origin serves next to it. Every URL is https, the airgap directory is
absolute (what is checked is what is copied), the node's kubeconfig is owner-only, and the
tasks delegated to the controller run as the operator, never with the play's become.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from harness import BIN, REPO, ansible_env

from .conftest import ARCH, SUFFIX, ReleaseServer, release_files, run_playbook
from .test_k3s_member_chroot import VERSION, base_vars, free_port, write_inventory

ROLES = Path(__file__).resolve().parents[2] / "roles"
ROLE = ROLES / "k3s_member"


def load(relative: str) -> Any:
    return yaml.safe_load((ROLE / relative).read_text())


def trusted(value: Any) -> Any:
    """Role YAML as a play holds it: strings may be templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def invalid(**overrides: Any) -> list[str]:
    """The messages of preflight's "Check the inventory variables" for the defaults and overrides."""
    (task,) = [t for t in load("tasks/preflight.yml") if t["name"] == "Check the inventory variables"]
    variables: dict[str, Any] = {
        **load("defaults/main.yml"),
        **load("vars/main.yml"),
        "k3s_member_name": "hetzner-gesis",
        "k3s_member_public_address": "192.0.2.10",
        "k3s_member_installer_sha256": "a" * 64,
        "k3s_member_binary_sha256": {VERSION: {"amd64": "b" * 64}},
        "k3s_member_kubeconfig_dest": "/home/op/.kube/binder/hetzner-gesis.yaml",
        **overrides,
    }
    variables.update(task["vars"])
    templar = Templar(loader=DataLoader(), variables=trusted(variables))
    messages: list[str] = templar.template(trust_as_template("{{ __k3s_member_invalid }}"))
    return [" ".join(message.split()) for message in messages]


def test_the_defaults_with_a_member_are_valid() -> None:
    assert invalid() == []


@pytest.mark.parametrize("mode", ["0600", "0400", "0700", "600"])
def test_an_owner_only_kubeconfig_mode_is_accepted(mode: object) -> None:
    assert invalid(k3s_member_write_kubeconfig_mode=mode) == []


# An unquoted 0600 in YAML is the integer 384, which k3s would not read as intended either.
@pytest.mark.parametrize(
    "mode", ["0644", "0640", "0604", "0660", "0601", "0610", "644", "0o600", "rw", 420, 384]
)
def test_a_kubeconfig_mode_that_gives_the_group_or_others_anything_is_refused(mode: object) -> None:
    assert invalid(k3s_member_write_kubeconfig_mode=mode) == [
        "k3s_member_write_kubeconfig_mode must be an octal mode that gives the group and others nothing"
        f" (such as 0600), not '{mode}'"
    ]


@pytest.mark.parametrize(
    "key",
    [
        "k3s_member_release_url",
        "k3s_member_installer_url",
        "k3s_member_upgrade_controller_url",
    ],
)
@pytest.mark.parametrize(
    "url", ["http://mirror.example/k3s", "ftp://mirror.example/k3s", "https:///k3s", "mirror"]
)
def test_every_url_must_be_https(key: str, url: str) -> None:
    assert invalid(**{key: url}) == [f"{key} must be an https:// URL, not '{url}'"]


@pytest.mark.parametrize("directory", ["airgap", "./airgap", "~/airgap", ""])
def test_the_airgap_directory_must_be_absolute(directory: str) -> None:
    images = {VERSION: {"amd64": "c" * 64}}
    assert invalid(
        k3s_member_install_mode="airgap",
        k3s_member_airgap_dir=directory,
        k3s_member_airgap_images_sha256=images,
    ) == [
        f"k3s_member_airgap_dir must be an absolute directory on the controller in airgap mode, not '{directory}'"
    ]
    assert (
        invalid(
            k3s_member_install_mode="airgap",
            k3s_member_airgap_dir="/srv/k3s",
            k3s_member_airgap_images_sha256=images,
        )
        == []
    )


@pytest.mark.parametrize("key", ["write-kubeconfig-mode", "write-kubeconfig-group", "write-kubeconfig"])
def test_k3s_member_config_cannot_reopen_the_kubeconfig(key: str) -> None:
    assert invalid(k3s_member_config={key: "0644", "cluster-cidr": "10.42.0.0/16"}) == [
        f"k3s_member_config must not set {key}: the role writes the node's kubeconfig owner-only"
        " (k3s_member_write_kubeconfig_mode)"
    ]


def test_the_controller_kubeconfig_path_must_be_absolute() -> None:
    assert invalid(k3s_member_kubeconfig_dest="kube/member.yaml") == [
        "k3s_member_kubeconfig_dest must be an absolute path (or one under ~/) on the controller,"
        " not 'kube/member.yaml'"
    ]
    assert invalid(k3s_member_kubeconfig_dest="~/.kube/binder/m.yaml") == []
    assert invalid(k3s_member_kubeconfig_dest="kube/member.yaml", k3s_member_fetch_kubeconfig=False) == []


@pytest.mark.parametrize(
    ("pins", "wrong"),
    [
        ({VERSION: {"amd64": "A" * 64}}, VERSION),
        ({VERSION: {"amd64": "a" * 63}}, VERSION),
        ({VERSION: {"x86_64": "a" * 64}}, VERSION),
        ({VERSION: {"amd64": 12}}, VERSION),
        ({VERSION: "a" * 64, "v1.34.4+k3s1": {"arm64": "b" * 64}}, VERSION),
        ({"v1.34.4+k3s1": {"amd64": "a" * 64, "arm64": "bad"}, VERSION: {"amd64": "c" * 64}}, "v1.34.4+k3s1"),
    ],
)
def test_binary_pins_must_be_sha256_by_architecture(pins: dict[str, Any], wrong: str) -> None:
    assert invalid(k3s_member_binary_sha256=pins) == [
        "k3s_member_binary_sha256 must map each version to {amd64 or arm64: sha256 of 64 lowercase hex"
        f" digits}}; not so for {wrong}"
    ]
    assert invalid(k3s_member_binary_sha256={VERSION: {"amd64": "a" * 64, "arm64": "b" * 64}}) == []


SUMS = "https://github.com/k3s-io/k3s/releases/download/v1.34.3%2Bk3s1/sha256sum-<arch>.txt"


@pytest.mark.parametrize("pins", [{}, {"v1.34.2+k3s1": {"amd64": "a" * 64}}])
def test_the_binary_of_the_pinned_version_must_have_a_pin(pins: dict[str, Any]) -> None:
    """The role ships no pins: the inventory must give the binary's sha256 for k3s_member_version."""
    assert invalid(k3s_member_binary_sha256=pins) == [
        f"k3s_member_binary_sha256 has no pin for k3s_member_version {VERSION}: add"
        f' {{"{VERSION}": {{"amd64": "<sha256>"}}}} with the line of k3s (amd64) or k3s-arm64 (arm64) from {SUMS}'
    ]


AIRGAP = {"k3s_member_install_mode": "airgap", "k3s_member_airgap_dir": "/srv/k3s"}


@pytest.mark.parametrize("pins", [{}, {"v1.34.2+k3s1": {"amd64": "a" * 64}}])
def test_airgap_mode_needs_a_pin_of_the_images_archive(pins: dict[str, Any]) -> None:
    assert invalid(**AIRGAP, k3s_member_airgap_images_sha256=pins) == [
        f"k3s_member_airgap_images_sha256 has no pin for k3s_member_version {VERSION}, which airgap mode needs:"
        f' add {{"{VERSION}": {{"amd64": "<sha256>"}}}} with the line of k3s-airgap-images-<arch>.tar.zst'
        f" from {SUMS}"
    ]
    # Downloads take the images from the registry: no pin needed there.
    assert invalid(k3s_member_airgap_images_sha256=pins) == []


@pytest.mark.parametrize(
    "pins",
    [
        {VERSION: {"amd64": "A" * 64}},
        {VERSION: {"x86_64": "a" * 64}},
        {VERSION: "a" * 64},
        {VERSION: {"arm64": 1}},
    ],
)
def test_images_archive_pins_must_be_sha256_by_architecture(pins: dict[str, Any]) -> None:
    assert invalid(**AIRGAP, k3s_member_airgap_images_sha256=pins) == [
        "k3s_member_airgap_images_sha256 must map each version to {amd64 or arm64: sha256 of 64 lowercase hex"
        f" digits}}; not so for {VERSION}"
    ]
    assert (
        invalid(**AIRGAP, k3s_member_airgap_images_sha256={VERSION: {"amd64": "a" * 64, "arm64": "b" * 64}})
        == []
    )


PLAN = {
    "k3s_member_upgrade_plan": True,
    "k3s_member_upgrade_controller_crd_sha256": "c" * 64,
    "k3s_member_upgrade_controller_manifest_sha256": "d" * 64,
    "k3s_member_upgrade_image_digest": "sha256:" + "e" * 64,
}


def test_the_upgrade_plan_inputs_with_their_pins_are_valid() -> None:
    assert invalid(**PLAN) == []


@pytest.mark.parametrize(
    "digest", ["", "e" * 64, "sha256:" + "E" * 64, "sha256:" + "e" * 63, "sha512:" + "e" * 64, "v1.34.3-k3s1"]
)
def test_the_upgrade_image_must_be_pinned_by_digest(digest: str) -> None:
    assert invalid(**{**PLAN, "k3s_member_upgrade_image_digest": digest}) == [
        "k3s_member_upgrade_image_digest must be the digest (sha256:<64 lowercase hex digits>) of"
        f" rancher/k3s-upgrade:v1.34.3-k3s1, since k3s_member_upgrade_plan is on, not '{digest}'"
    ]
    # Without the plan, the digest is not used.
    assert (
        invalid(**{**PLAN, "k3s_member_upgrade_plan": False, "k3s_member_upgrade_image_digest": digest}) == []
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("k3s_member_upgrade_controller_crd_sha256", "the sha256 (64 lowercase hex digits) of crd.yaml"),
        (
            "k3s_member_upgrade_controller_manifest_sha256",
            "the sha256 (64 lowercase hex digits) of system-upgrade",
        ),
    ],
)
def test_the_upgrade_controller_must_be_pinned(key: str, message: str) -> None:
    (problem,) = invalid(**{**PLAN, key: "latest"})
    assert problem.startswith(f"{key} must be {message}")
    assert problem.endswith("since k3s_member_upgrade_plan is on")


def test_an_upgrade_channel_is_refused_now_that_the_plan_follows_the_pin() -> None:
    assert invalid(k3s_member_upgrade_channel="https://update.k3s.io/v1-release/channels/stable") == [
        "k3s_member_upgrade_channel is no longer used: the upgrade Plan installs k3s_member_version, from the"
        " image pinned by k3s_member_upgrade_image_digest; remove it"
    ]


# ---------------------------------------------------------------------------
# The inventory is checked on the controller before the node is contacted.


def unreachable_node(tmp_path: Path) -> Path:
    """An inventory whose node refuses SSH connections (nothing listens on its port)."""
    inventory = tmp_path / "unreachable.yml"
    node = {
        "ansible_host": "127.0.0.1",
        "ansible_port": free_port(),
        "ansible_user": "root",
        "ansible_connection": "ssh",
        "ansible_ssh_common_args": "-o ConnectTimeout=5 -o BatchMode=yes",
    }
    inventory.write_text(yaml.safe_dump({"k3s_nodes": {"hosts": {"hetzner-gesis-node": node}}}))
    return inventory


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            {"k3s_member_binary_sha256": {VERSION: {ARCH: "not-a-sha256"}}},
            "k3s_member_binary_sha256 must map each version to {amd64 or arm64: sha256 of 64 lowercase hex digits};"
            f" not so for {VERSION}",
        ),
        (
            {"k3s_member_binary_sha256": {}},
            f"k3s_member_binary_sha256 has no pin for k3s_member_version {VERSION}",
        ),
        (
            {"k3s_member_installer_sha256": "1234"},
            "k3s_member_installer_sha256 must be the installer's sha256",
        ),
        (
            {"k3s_member_release_url": "http://mirror.example/k3s"},
            "k3s_member_release_url must be an https:// URL, not 'http://mirror.example/k3s'",
        ),
        (
            {"k3s_member_install_mode": "airgap", "k3s_member_airgap_dir": "airgap"},
            "k3s_member_airgap_dir must be an absolute directory on the controller in airgap mode, not 'airgap'",
        ),
    ],
    ids=["binary-pin", "no-binary-pin", "installer-pin", "url", "path"],
)
def test_check_mode_against_an_unreachable_node_names_the_bad_key(
    tmp_path: Path, bad: dict[str, Any], message: str
) -> None:
    """`bootstrap_k3s.yml --check` reports the wrong inventory key, not that the node is unreachable."""
    role_vars = {**base_vars(tmp_path, ReleaseServer(base="https://127.0.0.1:9", files={})), **bad}
    run = run_playbook(unreachable_node(tmp_path), role_vars, "--check")
    assert run.rc != 0
    assert run.stats("hetzner-gesis-node")["unreachable"] == 0
    (failed,) = run.failed_tasks("hetzner-gesis-node")
    assert "Check the inventory variables: host hetzner-gesis-node (member hetzner-gesis): " in failed
    assert message in failed
    assert "UNREACHABLE" not in run.stdout + run.stderr


def test_a_valid_inventory_goes_on_to_contact_the_node(tmp_path: Path) -> None:
    """The control: with a valid inventory, the same node is then found unreachable."""
    role_vars = base_vars(tmp_path, ReleaseServer(base="https://127.0.0.1:9", files={}))
    run = run_playbook(unreachable_node(tmp_path), role_vars, "--check")
    assert run.rc != 0
    assert run.stats("hetzner-gesis-node")["unreachable"] == 1
    (failed,) = run.failed_tasks("hetzner-gesis-node")
    assert failed.startswith("binder.ingress.k3s_member : Gather the facts the checks below need: ")


def delegated_tasks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for task in tasks:
        found += delegated_tasks(task.get("block", []) + task.get("rescue", []) + task.get("always", []))
        if task.get("delegate_to") in ("localhost", "127.0.0.1"):
            found.append(task)
    return found


def test_every_task_delegated_to_the_controller_runs_without_become() -> None:
    """A play-level become would write the operator's kubeconfig as root, into their home."""
    tasks = [
        (path.relative_to(ROLES), task)
        for path in sorted(ROLES.glob("*/tasks/*.yml"))
        for task in delegated_tasks(yaml.safe_load(path.read_text()) or [])
    ]
    names = {str(path) for path, _ in tasks}
    assert {"k3s_member/tasks/kubeconfig.yml", "k3s_member/tasks/fetch_airgap.yml"} <= names
    assert [f"{path}: {task['name']}" for path, task in tasks if task.get("become") is not False] == []


# ---------------------------------------------------------------------------
# In the Debian root (tests/k3s/conftest.py)

pinned = quote(VERSION, safe="")


@pytest.mark.slow
def test_a_binary_its_origin_vouches_for_is_refused_when_it_does_not_match_the_pin(
    node_root: Path, release_server: ReleaseServer, tmp_path: Path
) -> None:
    release_server.add_release(VERSION)
    # Whoever serves the binary also serves the checksum file next to it, and the two agree.
    evil = b"#!/bin/sh\necho 'k3s version v1.34.3+k3s1 (not k3s)'\n"
    release_server.files[f"/k3s/{pinned}/k3s{SUFFIX}"] = evil
    release_server.files[f"/k3s/{pinned}/sha256sum-{ARCH}.txt"] = (
        f"{hashlib.sha256(evil).hexdigest()}  k3s{SUFFIX}\n".encode()
    )
    inventory = write_inventory(tmp_path, node_root)
    role_vars = base_vars(tmp_path, release_server)
    genuine = hashlib.sha256(release_files(VERSION)[f"k3s{SUFFIX}"]).hexdigest()
    assert role_vars["k3s_member_binary_sha256"] == {VERSION: {ARCH: genuine}}

    run = run_playbook(inventory, role_vars)
    assert run.rc != 0
    assert "Download the k3s binary and check its pinned checksum" in run.failures()
    assert not (node_root / "usr/local/bin/k3s").exists()
    assert not (node_root / "var/log/fake-k3s-install.log").exists()


@pytest.mark.slow
def test_a_version_without_a_pin_stops_in_preflight(
    node_root: Path, release_server: ReleaseServer, tmp_path: Path
) -> None:
    release_server.add_release(VERSION)
    inventory = write_inventory(tmp_path, node_root)
    # A pin for the other architecture only: the inventory is complete, the node's binary is not pinned.
    other = "arm64" if ARCH == "amd64" else "amd64"
    role_vars = {
        **base_vars(tmp_path, release_server),
        "k3s_member_binary_sha256": {VERSION: {other: "a" * 64}},
    }
    run = run_playbook(inventory, role_vars)
    assert run.rc != 0
    assert (
        f"member hetzner-gesis: no sha256 of the k3s binary is pinned for k3s {VERSION} on {ARCH};"
        " add it to k3s_member_binary_sha256"
    ) in " ".join(run.failures().split())
    assert release_server.requests == []
    assert not (node_root / "etc/rancher/k3s/config.yaml").exists()


@pytest.mark.slow
def test_preflight_names_the_member_and_every_unsafe_key(
    node_root: Path, release_server: ReleaseServer, tmp_path: Path
) -> None:
    inventory = write_inventory(tmp_path, node_root)
    bad = {
        "k3s_member_release_url": "http://mirror.example/k3s",
        "k3s_member_installer_url": "http://mirror.example/install.sh",
        "k3s_member_write_kubeconfig_mode": "0644",
        "k3s_member_config": {"write-kubeconfig-mode": "0644"},
        "k3s_member_install_mode": "airgap",
        "k3s_member_airgap_dir": "airgap",
    }
    run = run_playbook(inventory, {**base_vars(tmp_path, release_server), **bad})
    assert run.rc != 0
    failures = " ".join(run.failures().split())
    assert "host hetzner-gesis-node (member hetzner-gesis):" in failures
    for key in set(bad) - {"k3s_member_install_mode"}:
        assert f"{key} must" in failures, key
    assert release_server.requests == []
    assert not (node_root / "etc/rancher/k3s/config.yaml").exists()
    assert not Path(base_vars(tmp_path, release_server)["k3s_member_kubeconfig_dest"]).exists()


VERIFY_PLAY = """
- name: Check copied files as the airgap install does
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the copies
      ansible.builtin.include_role:
        name: binder.ingress.k3s_member
        tasks_from: verify_copies.yml
"""


def play(playbook: Path, extra: Path) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "ansible-playbook"), str(playbook), "-i", "localhost,", "-c", "local"]
    return subprocess.run(
        [*command, "-e", f"@{extra}"],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_copied_file_that_does_not_match_on_the_node_is_removed_and_stops_the_role(
    tmp_path: Path,
) -> None:
    """The second check of the airgap install, on the node after the copy (here: localhost)."""
    good, changed = tmp_path / "k3s", tmp_path / "images.tar.zst"
    good.write_bytes(b"the checked binary\n")
    changed.write_bytes(b"not what was checked\n")
    copies = [
        {"dest": str(good), "sha256": hashlib.sha256(b"the checked binary\n").hexdigest()},
        {"dest": str(changed), "sha256": hashlib.sha256(b"what was checked\n").hexdigest()},
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(VERIFY_PLAY)
    extra = tmp_path / "vars.json"
    extra.write_text(
        json.dumps(
            {
                "__k3s_member_copies": copies,
                "k3s_member_name": "hetzner-gesis",
                "ansible_python_interpreter": sys.executable,
            }
        )
    )
    result = play(playbook, extra)
    assert result.returncode != 0
    output = " ".join(result.stdout.split())
    assert (
        f"member hetzner-gesis: {changed} on localhost did not match the sha256 checked in"
        " k3s_member_airgap_dir before the copy, and was removed"
    ) in output
    assert good.exists() and not changed.exists()

    # Files that match pass, and stay.
    changed.write_bytes(b"what was checked\n")
    again = play(playbook, extra)
    assert again.returncode == 0, again.stdout[-3000:]
    assert good.exists() and changed.exists()
