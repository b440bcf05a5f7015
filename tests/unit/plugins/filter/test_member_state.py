"""binder.ingress.member_state: a thin, type-checked shell over the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.filter import member_state as member_state_plugin
from ansible_collections.binder.ingress.plugins.module_utils.model import build_member

ROOT = Path(__file__).resolve().parents[4]
CATALOGUE: dict[str, Any] = {
    "binderhub": {"hosts": ["example.org"]},
    "redirector": {"redirects": [{"type": "host", "from": "beta.example.org", "to": "example.org"}]},
}
FILTERS = [
    pytest.param(member_state_plugin, "member_state", id="member_state"),
]


def get_filter(plugin: Any, name: str) -> Any:
    return plugin.FilterModule().filters()[name]


def test_member_state_is_the_model() -> None:
    result = get_filter(member_state_plugin, "member_state")(CATALOGUE, member="gke", namespace="prod")
    assert result == build_member("gke", CATALOGUE, namespace="prod").as_dict()
    assert json.loads(json.dumps(result)) == result


@pytest.mark.parametrize(("plugin", "name"), FILTERS)
@pytest.mark.parametrize(
    ("value", "kwargs", "words"),
    [
        pytest.param(
            ["binderhub"],
            {},
            "member gke: binder_ingresses_components: must be a mapping of component name to its settings,"
            " got a list",
            id="input-list",
        ),
        pytest.param(
            None,
            {},
            "member gke: binder_ingresses_components: must be a mapping of component name to its settings,"
            " got null",
            id="input-none",
        ),
        pytest.param(
            CATALOGUE,
            {"member": None},
            "option member must be a non-empty string (the inventory host), got null",
            id="member-none",
        ),
        pytest.param(
            CATALOGUE,
            {"member": 3},
            "option member must be a non-empty string (the inventory host), got an integer (3)",
            id="member-int",
        ),
        pytest.param(
            CATALOGUE,
            {"namespace": ""},
            "member gke: binder_ingresses_namespace: '' is not a valid namespace (DNS-1123 label): it is empty",
            id="namespace-empty",
        ),
        pytest.param(
            CATALOGUE,
            {"ingress_class": ["traefik"]},
            "member gke: binder_ingresses_ingress_class: must be a string, got a list",
            id="class-list",
        ),
        pytest.param(
            CATALOGUE,
            {"tls_acme": "yes"},
            "member gke: binder_ingresses_tls_acme: must be a boolean, got a string ('yes')",
            id="tls-acme-str",
        ),
    ],
)
def test_type_checks(plugin: Any, name: str, value: Any, kwargs: dict[str, Any], words: str) -> None:
    args = {"member": "gke", "namespace": "prod", **kwargs}
    with pytest.raises(AnsibleFilterError) as caught:
        get_filter(plugin, name)(value, **args)
    assert str(caught.value.message).startswith(f"binder.ingress.{name}: ")
    assert words in str(caught.value.message)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        pytest.param(
            {"namespace": "Bad_NS", "keys": {"namespace": "binder_namespace"}},
            "binder.ingress.member_state: member gke: binder_namespace: 'Bad_NS' is not a valid namespace"
            " (DNS-1123 label)",
            id="namespace",
        ),
        pytest.param(
            {"keys": {"components": "members.gke.components"}, "namespace": "prod"},
            None,
            id="components",
        ),
        pytest.param(
            {"keys": {"namespaces": "binder_namespace"}},
            "binder.ingress.member_state: member gke: option keys: unknown input field 'namespaces'",
            id="unknown-field",
        ),
    ],
)
def test_errors_name_the_variables_given_as_keys(kwargs: dict[str, Any], words: str | None) -> None:
    args = {"member": "gke", "namespace": "prod", **kwargs}
    catalogue = CATALOGUE if words else {"binderhub": {"hosts": ["Bad.org"]}}
    with pytest.raises(AnsibleFilterError) as caught:
        get_filter(member_state_plugin, "member_state")(catalogue, **args)
    expected = words or (
        "binder.ingress.member_state: member gke: members.gke.components.binderhub.hosts[0]: 'Bad.org'"
    )
    assert str(caught.value.message).startswith(expected)


@pytest.mark.parametrize(("plugin", "name"), FILTERS)
def test_model_errors_name_filter_member_and_key(plugin: Any, name: str) -> None:
    bad = {"static": {"hosts": ["Static.example"]}, "binderhub": {"hosts": ["a.org"], "tls_secret": "Bad"}}
    with pytest.raises(AnsibleFilterError) as caught:
        get_filter(plugin, name)(bad, member="hetzner-gesis", namespace="gesis")
    lines = str(caught.value.message).splitlines()
    assert lines == [
        f"binder.ingress.{name}: member hetzner-gesis: binder_ingresses_components.binderhub.tls_secret:"
        " 'Bad' is not a valid Secret name (DNS-1123 subdomain): each dot-separated label may only hold"
        " lowercase letters, digits and '-', and must start and end with a letter or digit",
        f"binder.ingress.{name}: member hetzner-gesis: binder_ingresses_components.static.hosts[0]:"
        " 'Static.example' is not a valid DNS-1123 host name: it has uppercase letters",
    ]


@pytest.mark.parametrize(("plugin", "name"), FILTERS)
def test_documentation(plugin: Any, name: str) -> None:
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == name
    assert doc["short_description"]
    assert "_input" in doc["options"]
    assert yaml.safe_load(plugin.EXAMPLES)
    assert "_value" in yaml.safe_load(plugin.RETURN)
    assert list(plugin.FilterModule().filters()) == [name]


PLAYBOOK = """\
- name: Use the filters
  hosts: localhost
  gather_facts: false
  vars:
    catalogue: "{{ lookup('ansible.builtin.file', catalogue_file) | ansible.builtin.from_json }}"
  tasks:
    - name: Show the summary and the redirect middlewares
      ansible.builtin.debug:
        msg:
          - "{{ (catalogue | binder.ingress.member_state(member='gke', namespace='prod')).summary }}"
          - "{{ (catalogue | binder.ingress.member_state(member='gke', namespace='prod')).redirect_middlewares }}"
          - "{{ (catalogue | binder.ingress.member_state(member='gke', namespace='prod')).ingresses | length }} ingresses"
"""


@pytest.mark.slow
def test_filters_run_in_ansible(tmp_path: Path) -> None:
    """The filters load and run through ansible-core's plugin loader and templating."""
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(CATALOGUE))
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local"]
    done = subprocess.run(
        [*command, "-e", f"catalogue_file={catalogue}", str(playbook)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| example.org | / | Prefix | binder:80 | tls-binderhub | default@file |" in done.stdout
    assert "redirect-beta-example-org" in done.stdout
    assert "2 ingresses" in done.stdout
