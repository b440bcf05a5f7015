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
        ({"namespace": "binder"}, None, "member= must be given"),
        (["namespace"], "m1", "member m1: input must be a mapping"),
        ({"namespace": "binder", "replica": 2}, "m1", "member m1: unknown setting(s) replica"),
        ({}, "m1", "member m1: traefik_namespace:"),
        ({"namespace": "binder", "replicas": 0}, "m1", "member m1: traefik_replicas:"),
    ],
)
def test_errors_name_the_filter_member_and_key(settings: Any, member: Any, expected: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        traefik_values(settings, member=member)
    message = str(caught.value)
    assert message.startswith("binder.ingress.traefik_values: ")
    assert expected in message


def test_documentation_is_valid_yaml_naming_the_filter() -> None:
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "traefik_values"
    assert "_input" in doc["options"]
    assert yaml.safe_load(plugin.RETURN)["_value"]["type"]
    assert "binder.ingress.traefik_values" in plugin.EXAMPLES
