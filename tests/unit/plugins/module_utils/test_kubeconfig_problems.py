"""kubeconfig_problems (check_inputs runs it): each way a member's kubeconfig cannot reach its cluster, named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.binder.ingress.plugins.module_utils.kubeconfig import kubeconfig_problems as problems

TOKEN = "s3cr3t-token-that-must-never-be-printed"


def config(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "member", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "member",
    }
    base.update(over)
    return base


def write(tmp_path: Path, content: Any) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return str(path)


def test_a_usable_kubeconfig_has_no_problem(tmp_path: Path) -> None:
    path = write(tmp_path, config())
    assert problems(path, "member") == []
    assert problems(path, "") == []  # the current-context


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path, config())
    assert problems("~/kubeconfig", "member") == []


@pytest.mark.parametrize(
    ("content", "context", "expected"),
    [
        (None, "member", "binder_kubeconfig: {path} does not exist"),
        ("directory", "member", "binder_kubeconfig: {path} cannot be read: Is a directory"),
        (
            f"token: {TOKEN}\n  bad: [",
            "member",
            "binder_kubeconfig: {path} is not a kubeconfig (no list of contexts)",
        ),
        ({"users": [{"name": "u", "user": {"token": TOKEN}}]}, "member", "is not a kubeconfig"),
        (config(), "other", "binder_context: 'other' is not a context of {path} (it has: member)"),
        (config(**{"current-context": ""}), "", "binder_context: is empty and {path} has no current-context"),
        (
            config(contexts=[{"name": "member", "context": {"cluster": "gone", "user": "u"}}]),
            "member",
            "binder_context: context 'member' names the cluster 'gone', which {path} does not define",
        ),
        (
            config(users=[]),
            "member",
            "binder_context: context 'member' names the user 'u', which {path} does not define",
        ),
    ],
    ids=[
        "missing",
        "directory",
        "not-yaml",
        "no-contexts",
        "unknown-context",
        "no-current",
        "no-cluster",
        "no-user",
    ],
)
def test_each_problem_names_the_variable_and_never_the_content(
    tmp_path: Path, content: Any, context: str, expected: str
) -> None:
    path = str(tmp_path / "kubeconfig")
    if content == "directory":
        (tmp_path / "kubeconfig").mkdir()
    elif content is not None:
        path = write(tmp_path, content)
    found = problems(path, context)
    assert len(found) == 1 and expected.format(path=path) in found[0], found
    assert TOKEN not in found[0]


def test_keys_name_the_variables_the_user_wrote(tmp_path: Path) -> None:
    path = write(tmp_path, config())
    keys = {"kubeconfig": "k3s_member_kubeconfig", "context": "k3s_member_context"}
    assert problems(path, "nope", keys=keys)[0].startswith("k3s_member_context: 'nope'")
    assert problems(str(tmp_path / "none"), "x", keys=keys)[0].startswith("k3s_member_kubeconfig: ")


@pytest.mark.parametrize("path", [None, "", 3])
def test_a_path_that_is_not_a_string_is_named(path: Any) -> None:
    assert problems(path, "member")[0].startswith("binder_kubeconfig: must be the path of a kubeconfig file")
