"""Unit tests of the traefik_values filter: input checks and error messages."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.filter import traefik_values as plugin
from ansible_collections.binder.ingress.plugins.filter.traefik_values import FilterModule

traefik_values = FilterModule().filters()["traefik_values"]


def test_builds_values_from_settings() -> None:
    values = traefik_values({"namespace": "binder", "replicas": 3}, member="m1")
    assert values["deployment"]["replicas"] == 3
    assert (
        values["providers"]["kubernetesIngress"]["publishedService"]["pathOverride"]
        == "binder/cluster-entrypoint"
    )


@pytest.mark.parametrize(
    ("settings", "member", "expected"),
    [
        ({"namespace": "binder"}, None, "option member must be a non-empty string (the inventory host)"),
        (["namespace"], "m1", "member m1: input must be a mapping"),
        ({"namespace": "binder", "replica": 2}, "m1", "member m1: unknown setting(s) replica"),
        ({}, "m1", "member m1: traefik_namespace: is required"),
        ({"namespace": "binder", "replicas": 0}, "m1", "member m1: traefik_replicas:"),
    ],
)
def test_errors_name_the_filter_member_and_key(settings: Any, member: Any, expected: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        traefik_values(settings, member=member)
    message = str(caught.value)
    assert message.startswith("binder.ingress.traefik_values: ")
    assert expected in message


def test_errors_name_the_variables_given_as_keys() -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        traefik_values(
            {"namespace": "Bad_NS", "replicas": 0},
            member="m1",
            keys={"namespace": "binder_namespace"},
        )
    assert str(caught.value).splitlines() == [
        "binder.ingress.traefik_values: member m1: binder_namespace: 'Bad_NS' is not a valid namespace"
        " (DNS-1123 label): only lowercase letters, digits and '-' are allowed, starting and ending with a"
        " letter or digit",
        "binder.ingress.traefik_values: member m1: traefik_replicas: must be an integer of at least 1,"
        " got an integer (0)",
    ]


def test_a_missing_setting_names_the_key_the_user_wrote() -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        traefik_values({}, member="m1", keys={"namespace": "binder_namespace"})
    assert str(caught.value) == (
        "binder.ingress.traefik_values: member m1: binder_namespace: is required (setting 'namespace')"
    )


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["namespace"], "member m1: option keys must be a mapping, got a list"),
        ({"namespaces": "binder_namespace"}, "member m1: option keys: unknown input field 'namespaces'"),
        ({"namespace": ""}, "member m1: option keys: namespace: must be a variable name"),
    ],
)
def test_bad_keys_are_refused(keys: Any, expected: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        traefik_values({"namespace": "binder"}, member="m1", keys=keys)
    assert str(caught.value).startswith(f"binder.ingress.traefik_values: {expected}")


def test_documentation_is_valid_yaml_naming_the_filter() -> None:
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "traefik_values"
    assert "_input" in doc["options"]
    assert doc["options"]["keys"]["type"] == "dict"
    assert yaml.safe_load(plugin.RETURN)["_value"]["type"]
    assert "binder.ingress.traefik_values" in plugin.EXAMPLES
