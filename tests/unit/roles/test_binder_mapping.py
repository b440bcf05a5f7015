"""The binder role is the one member -> roles mapping: its parts must agree with each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "binder"
ROLES = ("cluster_entrypoint", "traefik", "cert_manager", "binder_ingresses")


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _mapped(role: str) -> dict[str, Any]:
    """The variables tasks/<role>.yml hands to the role."""
    (task,) = _load(ROLE / "tasks" / f"{role}.yml")
    assert task["ansible.builtin.include_role"]["name"] == f"binder.ingress.{role}"
    return dict(task["vars"])


def test_the_conflict_check_knows_every_mapped_variable() -> None:
    mapped = sorted(name for role in ROLES for name in _mapped(role))
    assert sorted(_load(ROLE / "vars" / "main.yml")["_binder_mapped"]) == mapped


def test_each_role_gets_only_its_own_variables() -> None:
    for role in ROLES:
        assert [name for name in _mapped(role) if not name.startswith(f"{role}_")] == [], role


def test_variables_that_must_agree_come_from_one_member_variable() -> None:
    values = {name: value for role in ROLES for name, value in _mapped(role).items()}
    assert {values[n] for n in ("cluster_entrypoint_name", "traefik_entrypoint_service")} == {
        "{{ binder_entrypoint_name }}"
    }
    assert {
        values[n]
        for n in ("traefik_ingress_class", "cert_manager_ingress_class", "binder_ingresses_ingress_class")
    } == {"{{ binder_ingress_class }}"}
    assert {
        values[n] for n in ("cluster_entrypoint_namespace", "traefik_namespace", "binder_ingresses_namespace")
    } == {"{{ binder_namespace }}"}
    assert {values[n] for n in ("cluster_entrypoint_release", "traefik_release_name")} == {
        "{{ binder_traefik_release }}"
    }


def test_errors_name_the_member_variables() -> None:
    # Each mapped input's error names the member variable it came from.
    for role in ROLES:
        mapped = _mapped(role)
        keys = mapped[f"{role}_keys"]
        for field, user_name in keys.items():
            assert user_name.startswith("binder_"), (role, field, user_name)


def test_the_roles_run_in_both_orders() -> None:
    variables = _load(ROLE / "vars" / "main.yml")
    assert sorted(variables["_binder_roles"]) == sorted(variables["_binder_render_order"]) == sorted(ROLES)
    # traefik takes its redirect middlewares from the Ingress set.
    order = variables["_binder_render_order"]
    assert order.index("binder_ingresses") < order.index("traefik")
