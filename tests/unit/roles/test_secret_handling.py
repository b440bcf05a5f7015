"""Where the collection's tasks and playbooks let a secret pass, and what they write (issue 11, Secrets).

Read from the task files themselves: ``no_log`` is on exactly the tasks that carry a secret (the
k3s node's kubeconfig, with the cluster's admin client key), not on tasks whose failures an operator
must read; every task that writes a file sets its mode, and the files that hold a secret are
owner-only, in owner-only directories, and never diffed. The playbook-level tests prove the same
on real runs (tests/k3s/test_k3s_member_secrets.py, tests/converge/test_no_secret_in_output.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
KUBECONFIG_TASKS = "roles/k3s_member/tasks/kubeconfig.yml"
CONFIGURE_TASKS = "roles/k3s_member/tasks/configure.yml"
# The tasks that handle the node's kubeconfig in clear, and nothing else.
NO_LOG = {
    (KUBECONFIG_TASKS, "Read the node's kubeconfig"),
    (KUBECONFIG_TASKS, "Write the member's kubeconfig on the controller"),
}
# Modules that write a file or a directory, and the argument naming it.
WRITERS = {
    "ansible.builtin.copy": "dest",
    "ansible.builtin.template": "dest",
    "ansible.builtin.get_url": "dest",
    "ansible.builtin.file": "path",
    "binder.ingress.write_files": "dest",
}
# What each writing task writes: True where it holds a secret.
WRITES = {
    (CONFIGURE_TASKS, "Create the configuration directories"): False,
    (CONFIGURE_TASKS, "Persist the kernel settings"): False,
    # k3s_member_config may hold k3s's join token or an S3 key.
    (CONFIGURE_TASKS, "Write the k3s configuration"): True,
    (CONFIGURE_TASKS, "Write the kubelet drop-in"): False,
    ("roles/k3s_member/tasks/install.yml", "Create the installer directory"): False,
    (
        "roles/k3s_member/tasks/fetch_download.yml",
        "Download the installer and check its pinned checksum",
    ): False,
    (
        "roles/k3s_member/tasks/fetch_download.yml",
        "Download the k3s binary and check its pinned checksum",
    ): False,
    ("roles/k3s_member/tasks/fetch_airgap.yml", "Create the images directory"): False,
    ("roles/k3s_member/tasks/fetch_airgap.yml", "Copy the verified files to the node"): False,
    ("roles/k3s_member/tasks/verify_copies.yml", "Remove the copied files that do not match"): False,
    ("roles/k3s_member/tasks/upgrade_plan.yml", "Create the k3s manifests directory"): False,
    (
        "roles/k3s_member/tasks/upgrade_plan.yml",
        "Download system-upgrade-controller and check its pinned checksums",
    ): False,
    ("roles/k3s_member/tasks/upgrade_plan.yml", "Write the k3s upgrade Plan"): False,
    (KUBECONFIG_TASKS, "Create the kubeconfig directory on the controller"): False,
    # The cluster's admin client key.
    (KUBECONFIG_TASKS, "Write the member's kubeconfig on the controller"): True,
    # Objects, chart values and the routing summary: no Secret (tests/converge/test_no_secret_in_output.py).
    ("playbooks/render.yml", "Write the member's objects, chart values and routing summary"): False,
}


def task_files() -> list[Path]:
    files = sorted((REPO / "roles").glob("*/tasks/*.yml")) + sorted((REPO / "roles").glob("*/handlers/*.yml"))
    return files + sorted((REPO / "playbooks").glob("*.yml")) + [REPO / "site.yml"]


def walk(items: Any) -> Iterator[dict[str, Any]]:
    """Every task in a task list or a playbook, blocks and their rescue/always included."""
    for item in items or []:
        if not isinstance(item, dict):
            continue
        if "hosts" in item:  # a play
            for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                yield from walk(item.get(section))
            continue
        yield item
        for section in ("block", "rescue", "always"):
            yield from walk(item.get(section))


def tasks() -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    for path in task_files():
        for task in walk(yaml.safe_load(path.read_text())):
            yield (str(path.relative_to(REPO)), str(task.get("name"))), task


def writer(task: dict[str, Any]) -> str | None:
    module = next((name for name in WRITERS if name in task), None)
    if module == "ansible.builtin.file" and task[module].get("state") == "absent":
        return module  # removes a file: listed, but writes nothing
    return module


def test_no_log_is_on_exactly_the_tasks_that_carry_a_secret() -> None:
    assert {key for key, task in tasks() if "no_log" in task} == NO_LOG
    # Not a template that could turn it off.
    assert all(task["no_log"] is True for key, task in tasks() if key in NO_LOG)


def test_every_task_that_writes_a_file_is_reviewed() -> None:
    """A new file-writing task must be added to WRITES, with whether it holds a secret."""
    assert {key for key, task in tasks() if writer(task)} == set(WRITES)


@pytest.mark.parametrize("key", sorted(WRITES), ids=lambda key: f"{Path(key[0]).name}: {key[1]}")
def test_every_written_file_has_its_mode_set(key: tuple[str, str]) -> None:
    task = dict(tasks())[key]
    module = writer(task)
    assert module is not None
    arguments = task[module]
    if arguments.get("state") == "absent":
        return
    modes = (
        [arguments.get("mode")]
        if "mode" in arguments
        else [item.get("mode") for item in task.get("loop", [])]
    )
    assert modes and all(modes), f"{key}: no explicit mode (the umask would decide)"
    if WRITES[key]:
        assert modes == ["0600"], f"{key} writes a secret: it must be owner-only"


@pytest.mark.parametrize("key", sorted(k for k, secret in WRITES.items() if secret), ids=lambda key: key[1])
def test_a_file_holding_a_secret_is_not_diffed(key: tuple[str, str]) -> None:
    task = dict(tasks())[key]
    assert "diff" in task, f"{key}: --diff would print the secret"


def test_the_controller_kubeconfig_directory_is_owner_only() -> None:
    directory = dict(tasks())[(KUBECONFIG_TASKS, "Create the kubeconfig directory on the controller")]
    assert directory["ansible.builtin.file"]["mode"] == "0700"


def secret_words() -> re.Pattern[str]:
    constants = yaml.safe_load((REPO / "roles/k3s_member/vars/main.yml").read_text())
    return re.compile(constants["_k3s_member_config_secret_words"])


@pytest.mark.parametrize(
    "config",
    [
        {"token": "x"},
        {"agent-token": "x"},
        {"etcd-s3-access-key": "x", "etcd-s3-secret-key": "y"},
        {"datastore-endpoint": "postgres://user:pw@db/k3s"},
        {"vpn-auth": "name=tailscale,joinKey=x"},
        {"kube-apiserver-arg": ["oidc-client-secret=x"]},
    ],
)
def test_k3s_config_with_a_secret_hides_the_diff(config: dict[str, Any]) -> None:
    # What the task's `diff:` tests: the settings as JSON, searched with the role's pattern.
    assert secret_words().search(json.dumps(config))


@pytest.mark.parametrize(
    "config", [{}, {"node-name": "gesis-1"}, {"cluster-cidr": "10.42.0.0/16", "disable": ["servicelb"]}]
)
def test_k3s_config_without_a_secret_keeps_the_diff(config: dict[str, Any]) -> None:
    assert not secret_words().search(json.dumps(config))
