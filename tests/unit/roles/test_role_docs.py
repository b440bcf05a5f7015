"""Every role README's tables are what meta/argument_specs.yml gives (tools/role_docs.py writes them)."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import pytest

from tools import role_docs

ROLE_DIRS = role_docs.roles()


def test_every_role_is_covered() -> None:
    assert {"cluster_entrypoint", "traefik", "cert_manager", "binder_ingresses", "k3s_member"} <= {
        role.name for role in ROLE_DIRS
    }


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda path: path.name)
def test_readme_tables_match_argument_specs(role: Path) -> None:
    readme = role / "README.md"
    text = readme.read_text(encoding="utf-8")
    expected = role_docs.render(text, role_docs.role_specs(role), readme.name)
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True), expected.splitlines(keepends=True), "README.md", "generated"
        )
    )
    assert not diff, f"roles/{role.name}/README.md is stale; run `python -m tools.role_docs`:\n{diff}"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda path: path.name)
def test_every_option_is_in_the_readme(role: Path) -> None:
    text = (role / "README.md").read_text(encoding="utf-8")
    for spec in role_docs.role_specs(role).values():
        for name in spec.get("options") or {}:
            assert f"| `{name}` |" in text, f"roles/{role.name}/README.md: no row for {name}"


def _traefik() -> tuple[str, dict[str, Any]]:
    role = role_docs.ROLES / "traefik"
    return (role / "README.md").read_text(encoding="utf-8"), role_docs.role_specs(role)


def test_an_argument_specs_edit_makes_the_readme_stale() -> None:
    text, specs = _traefik()
    edited = copy.deepcopy(specs)
    edited["main"]["options"]["traefik_replicas"]["default"] = 3
    edited["main"]["options"]["traefik_new_knob"] = {"type": "bool", "default": False, "description": "New."}
    rendered = role_docs.render(text, edited)
    assert rendered != text
    assert "| `traefik_replicas` | int | `3` |" in rendered
    assert "| `traefik_new_knob` | bool | `false` | New." in rendered


def test_prose_outside_the_markers_is_kept() -> None:
    text = f"# role\n\nBefore.\n\n{role_docs.BEGIN}\nold table\n{role_docs.END}\n\nAfter.\n"
    specs = {"main": {"short_description": "Do it", "options": {"r_x": {"type": "str", "default": ""}}}}
    rendered = role_docs.render(text, specs)
    assert rendered.startswith("# role\n\nBefore.\n\n")
    assert rendered.endswith(f"{role_docs.END}\n\nAfter.\n")
    assert "old table" not in rendered
    assert "| `main` | Do it |" in rendered


def test_a_readme_without_markers_is_an_error() -> None:
    with pytest.raises(role_docs.RoleDocsError, match=r"README\.md: needs the lines"):
        role_docs.render("# role\n\n| variable | default |\n", {"main": {}})


@pytest.mark.parametrize(
    ("option", "cell"),
    [
        ({"type": "str", "default": ""}, '`""`'),
        ({"type": "str", "default": "{{ inventory_hostname }}"}, "`{{ inventory_hostname }}`"),
        ({"type": "int", "default": 0}, "`0`"),
        ({"type": "bool", "default": True}, "`true`"),
        ({"type": "list", "default": [80, 443]}, "`[80, 443]`"),
        ({"type": "dict", "default": {"limits": {"cpu": "2"}}}, "`{limits: {cpu: '2'}}`"),
        ({"type": "str", "required": True}, "**required**"),
        ({"type": "str"}, "—"),
    ],
)
def test_default_cell(option: dict[str, Any], cell: str) -> None:
    assert role_docs.default_cell(option) == cell


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("O(traefik_chart_source=path) and V(false)", "`traefik_chart_source=path` and `false`"),
        ("C(a|b)", "`a\\|b`"),
        (
            "L(the docs, https://example.org) or U(https://example.org)",
            "[the docs](https://example.org) or <https://example.org>",
        ),
        ("two\n  lines", "two lines"),
    ],
)
def test_markdown(text: str, markdown: str) -> None:
    assert role_docs.markdown(text) == markdown


def test_type_cell_with_choices_and_elements() -> None:
    assert role_docs.type_cell({"type": "str", "choices": ["a", "b"]}) == "str: `a`, `b`"
    assert role_docs.type_cell({"type": "list", "elements": "dict"}) == "list of dict"
