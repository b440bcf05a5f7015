"""Every role's meta/argument_specs.yml documents exactly its defaults/main.yml, with the same values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
ROLE_DIRS = sorted(path for path in ROLES.iterdir() if path.is_dir())


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _defaults(role: Path) -> dict[str, Any]:
    path = role / "defaults" / "main.yml"
    return (_load(path) or {}) if path.exists() else {}


def _specs(role: Path) -> dict[str, Any]:
    path = role / "meta" / "argument_specs.yml"
    assert path.exists(), f"{role.name}: meta/argument_specs.yml is missing"
    specs = _load(path)["argument_specs"]
    assert "main" in specs, f"{role.name}: argument_specs has no main entry point"
    return dict(specs)


def test_there_are_roles() -> None:
    assert {"cluster_entrypoint", "traefik", "cert_manager", "binder_ingresses"} <= {
        r.name for r in ROLE_DIRS
    }


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda path: path.name)
def test_main_options_are_the_defaults(role: Path) -> None:
    # An option without a default (a required input) has no place in defaults/main.yml.
    options = _specs(role)["main"].get("options") or {}
    defaulted = {name for name, option in options.items() if "default" in option}
    defaults = _defaults(role)
    assert sorted(defaulted) == sorted(defaults), (
        f"{role.name}: undocumented defaults {sorted(set(defaults) - defaulted)}, "
        f"documented but not defaulted {sorted(defaulted - set(defaults))}"
    )


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda path: path.name)
def test_required_options_have_no_default(role: Path) -> None:
    for entry_point, spec in _specs(role).items():
        for name, option in (spec.get("options") or {}).items():
            assert not (option.get("required") and "default" in option), f"{role.name} {entry_point}: {name}"
            assert not (option.get("required") and name in _defaults(role)), (
                f"{role.name}: {name} in defaults"
            )


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda path: path.name)
def test_entry_points_are_the_task_files_playbooks_use(role: Path) -> None:
    # Every entry point is a tasks file, and no entry point repeats main's options wholesale.
    specs = _specs(role)
    for entry_point in specs:
        assert (role / "tasks" / f"{entry_point}.yml").is_file(), f"{role.name}: entry point {entry_point}"
    main = set(specs["main"].get("options") or {})
    for entry_point, spec in specs.items():
        if entry_point != "main" and len(main) > 1:
            assert set(spec.get("options") or {}) != main, f"{role.name} {entry_point} repeats main"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda path: path.name)
def test_documented_defaults_equal_the_defaults(role: Path) -> None:
    options = _specs(role)["main"].get("options") or {}
    defaults = _defaults(role)
    mismatched = {
        name: (spec["default"], defaults.get(name))
        for name, spec in options.items()
        if "default" in spec and spec["default"] != defaults.get(name)
    }
    assert mismatched == {}, f"{role.name}: argument_specs default != defaults/main.yml value"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda path: path.name)
def test_every_option_has_a_type_and_description(role: Path) -> None:
    for entry_point, spec in _specs(role).items():
        for name, option in (spec.get("options") or {}).items():
            assert option.get("description"), f"{role.name} {entry_point}: {name} has no description"
            assert option.get("type"), f"{role.name} {entry_point}: {name} has no type"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda path: path.name)
def test_other_entry_points_only_use_defaulted_options(role: Path) -> None:
    defaults = _defaults(role)
    for entry_point, spec in _specs(role).items():
        options = spec.get("options") or {}
        # Entry points may take required inputs of their own, but never a variable with a hidden default.
        hidden = sorted(
            name for name, option in options.items() if "default" in option and name not in defaults
        )
        assert hidden == [], f"{role.name} {entry_point}: defaults not in defaults/main.yml: {hidden}"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda path: path.name)
def test_variables_are_prefixed_with_the_role_name(role: Path) -> None:
    unprefixed = sorted(name for name in _defaults(role) if not name.startswith(f"{role.name}_"))
    assert unprefixed == [], f"{role.name}: defaults without the role prefix: {unprefixed}"
