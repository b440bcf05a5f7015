"""The one input table (plugins/module_utils/inputs.py): the files written from it, and its check."""

from __future__ import annotations

import copy
import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.binder.ingress.plugins.module_utils import inputs
from ansible_collections.binder.ingress.plugins.module_utils.inputs import INPUTS, ROLES, UNSET, problems

from tools import inputs as written

ROOT = Path(__file__).resolve().parents[2]
MAPPED = yaml.safe_load((ROOT / "roles" / "binder" / "vars" / "main.yml").read_text(encoding="utf-8"))[
    "_binder_mapped"
]
HOST_VARS = "inv/host_vars/m.yml"


@pytest.mark.parametrize("path", sorted(written.files()), ids=lambda path: str(path.relative_to(ROOT)))
def test_each_written_file_is_what_the_table_gives(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == written.files()[path], (
        f"{path.relative_to(ROOT)} differs from plugins/module_utils/inputs.py; run `make inputs`"
    )


def test_a_changed_default_makes_its_files_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    (row,) = [row for row in INPUTS if row.name == "traefik_replicas"]
    before = written.files()
    monkeypatch.setattr(
        inputs, "INPUTS", tuple(r if r is not row else dataclasses.replace(row, default=3) for r in INPUTS)
    )
    monkeypatch.setattr(written, "INPUTS", inputs.INPUTS)
    after = written.files()
    changed = sorted(str(path.relative_to(ROOT)) for path in before if before[path] != after[path])
    assert changed == ["roles/traefik/defaults/main.yml", "roles/traefik/meta/argument_specs.yml"]
    assert "traefik_replicas: 3\n" in after[ROOT / "roles" / "traefik" / "defaults" / "main.yml"]


def test_every_row_is_documented_typed_and_prefixed_with_its_role() -> None:
    names = set()
    for row in INPUTS:
        assert row.description, row.name
        assert row.type in ("str", "int", "float", "bool", "list", "dict", "path", "raw"), row.name
        assert row.name.startswith(f"{row.role}_"), row.name
        assert not (row.required and row.default is not UNSET), f"{row.name}: required with a default"
        assert (row.role, row.name) not in names, f"{row.name} twice in {row.role}"
        names.add((row.role, row.name))


def test_every_entry_point_is_a_task_file() -> None:
    for role, entry_points in ROLES.items():
        assert "main" in entry_points, role
        for entry_point in entry_points:
            assert (ROOT / "roles" / role / "tasks" / f"{entry_point}.yml").is_file(), f"{role} {entry_point}"
    for row in INPUTS:
        assert set(row.entry_points) <= set(ROLES[row.role]) - {"main"}, row.name


def _inventory(name: str, member: str) -> dict[str, Any]:
    """A member's variables as an inventory gives them (group_vars/all, then host_vars; not templated)."""
    values: dict[str, Any] = {}
    for path in sorted((ROOT / "inventories" / name / "group_vars" / "all").glob("*.yml")):
        values.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    values.update(
        yaml.safe_load(
            (ROOT / "inventories" / name / "host_vars" / f"{member}.yml").read_text(encoding="utf-8")
        )
    )
    # The one template the local chart paths use; the others (kubeconfig paths) are checked as written.
    here = str(ROOT / "inventories" / name)
    return {
        key: value.replace("{{ inventory_dir }}", here) if isinstance(value, str) else value
        for key, value in values.items()
        if key.startswith(inputs.PREFIXES)
    }


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("local", "local"),
        ("staging", "staging"),
        ("prod", "gke-prod"),
        ("prod", "hetzner-2i2c"),
        ("prod", "bids-ovh"),
    ],
)
def test_the_shipped_inventories_have_no_problem(name: str, member: str) -> None:
    assert problems(member, _inventory(name, member), mapped=MAPPED, host_vars_file=HOST_VARS) == []


def _member(**changes: Any) -> dict[str, Any]:
    values = _inventory("local", "local")
    values.update(changes)
    return {key: value for key, value in values.items() if value is not UNSET}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"binder_k3s": "maybe"},
            "member m: binder_k3s: is a string ('maybe'), must be a boolean (true or false)",
        ),
        ({"binder_k3s": "yes"}, None),
        ({"traefik_replicas": "two"}, "member m: traefik_replicas: is a string ('two'), must be an integer"),
        ({"traefik_replicas": "2"}, None),
        ({"traefik_replicas": 0}, "member m: traefik_replicas: is 0, must be at least 1"),
        (
            {"binder_tls_min_version": "1.1"},
            "member m: binder_tls_min_version: is 1.1, must be one of 1.2, 1.3",
        ),
        (
            {"binder_k3": True},
            "member m: binder_k3: is not a variable of the collection (no role reads it); did you mean binder_k3s?",
        ),
        ({"traefik_replica": 1}, "did you mean traefik_replicas?"),
        (
            {"traefik_zzz": 1},
            "member m: traefik_zzz: is not a variable of the collection (no role reads it); see",
        ),
        (
            {"binder_namespace": UNSET},
            "member m: binder_namespace: is not set; expected in inv/host_vars/m.yml (is the file named after the member?)",
        ),
        (
            {"binder_kubeconfig": None},
            "member m: binder_kubeconfig: is null; expected in inv/host_vars/m.yml",
        ),
        (
            {"cert_manager_acme_email": UNSET},
            "member m: cert_manager_acme_email: is not set, and the cert_manager role has no default:",
        ),
        (
            {"cert_manager_acme_email": "a,b@example.org"},
            "member m: cert_manager_acme_email: 'a,b@example.org' is not a valid e-mail address",
        ),
        ({"cert_manager_acme_email": ""}, "member m: cert_manager_acme_email: is required"),
        (
            {"traefik_chart_version": "40.0.0"},
            "member m: traefik_chart_version: 40.0.0 is not a 41.x chart version",
        ),
        (
            {"cert_manager_chart_version": "~1.20"},
            "member m: cert_manager_chart_version: ~1.20 is not one exact",
        ),
        (
            {"cert_manager_default_issuer": "other"},
            "member m: cert_manager_default_issuer: other is not one of",
        ),
        (
            {"cluster_entrypoint_target": "custom"},
            "member m: cluster_entrypoint_target: is custom: set cluster_entrypoint_selector",
        ),
        (
            {"cluster_entrypoint_target": "nginx"},
            "member m: cluster_entrypoint_target: is nginx, must be one of",
        ),
        (
            {"traefik_tls_cipher_suites": ["A", {"b": 1}]},
            "member m: traefik_tls_cipher_suites[1]: is a mapping, must be a string",
        ),
        (
            {"traefik_values_overrides": ["replicas"]},
            "member m: traefik_values_overrides: is a list, must be a mapping",
        ),
        ({"traefik_log_level": None}, "member m: traefik_log_level: is null; write a string"),
        ({"traefik_namespace": "x"}, "member m: traefik_namespace: set from the member variables"),
        (
            {"binder_kubernetes_version": "1.33.1"},
            "member m: binder_kubernetes_version: 1.33.1 is not a Kubernetes minor",
        ),
    ],
)
def test_one_mistake_is_one_problem_naming_the_variable(
    changes: dict[str, Any], expected: str | None
) -> None:
    found = problems("m", _member(**changes), mapped=MAPPED, host_vars_file=HOST_VARS)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1, found
        assert found[0].startswith(expected) or expected in found[0], found


def test_a_render_needs_no_cluster_variables() -> None:
    values = _member(binder_kubeconfig=UNSET, binder_context=UNSET)
    assert problems("m", values, cluster=False, mapped=MAPPED) == []
    assert [p.split(":")[1].strip() for p in problems("m", values, mapped=MAPPED)] == [
        "binder_kubeconfig",
        "binder_context",
    ]


def test_every_problem_is_found_in_one_check_with_the_catalogue_ones() -> None:
    catalogue = copy.deepcopy(_inventory("local", "local")["binder_ingresses_components"])
    catalogue["jupyterhub"]["hosts"] = ["Hub.example.org"]
    found = problems(
        "m",
        _member(
            cert_manager_acme_email="binder-team",
            traefik_replicas="two",
            binder_k3=True,
            binder_ingresses_components=catalogue,
        ),
        mapped=MAPPED,
    )
    assert [p.split(":")[1].strip() for p in found] == [
        "traefik_replicas",
        "cert_manager_acme_email",
        "binder_k3",
        "binder_ingresses_components.jupyterhub.hosts[0]",
    ]


def test_a_role_alone_checks_only_its_own_variables() -> None:
    values = {"traefik_namespace": "", "traefik_replicas": 0, "binder_k3": True, "cert_manager_zzz": 1}
    assert problems("m", values, roles=["traefik"]) == [
        "member m: traefik_namespace: is empty",
        "member m: traefik_replicas: is 0, must be at least 1",
    ]


@pytest.mark.parametrize(
    ("role", "builder"),
    [
        ("traefik", "traefik_values"),
        ("cert_manager", "cert_manager_values"),
        ("cluster_entrypoint", "entrypoint_service"),
    ],
)
def test_every_setting_is_an_input_of_its_roles_builder(role: str, builder: str) -> None:
    from ansible_collections.binder.ingress.plugins.module_utils import chart_values

    parameters = set(inspect.signature(getattr(chart_values, builder)).parameters) - {"member", "keys"}
    assert set(inputs.setting_names(role)) == parameters


def test_settings_are_converted_as_the_argument_spec_takes_them() -> None:
    given = {"traefik_replicas": "3", "traefik_http_redirect": "yes", "traefik_client_max_requests": "many"}
    found = inputs.settings("traefik", lambda name: given.get(name, f"<{name}>"))
    assert found["replicas"] == 3
    assert found["http_redirect"] is True
    # What does not convert reaches the builder as written: it names the variable.
    assert found["client_max_requests"] == "many"
    assert found["log_level"] == "<traefik_log_level>"
    assert set(found) == set(inputs.setting_names("traefik"))
