"""Unit tests of the entrypoint_service filter: input checks and error messages."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.filter import entrypoint_service as plugin
from ansible_collections.binder.ingress.plugins.filter.entrypoint_service import FilterModule
from ansible_collections.binder.ingress.plugins.module_utils.constants import LABEL_MEMBER

entrypoint_service = FilterModule().filters()["entrypoint_service"]


def test_builds_the_service() -> None:
    service = entrypoint_service({"namespace": "prod", "release": "traefik"}, member="gke-prod")
    assert service["metadata"]["name"] == "cluster-entrypoint"
    assert service["spec"]["selector"]["app.kubernetes.io/instance"] == "traefik-prod"
    assert service["metadata"]["labels"][LABEL_MEMBER] == "gke-prod"


@pytest.mark.parametrize(
    ("settings", "member", "expected"),
    [
        ({"namespace": "prod"}, 7, "option member must be a non-empty string (the inventory host)"),
        ("prod", "m1", "member m1: input must be a mapping"),
        ({"namespace": "prod", "selectors": {}}, "m1", "member m1: unknown setting(s) selectors"),
        ({"target": "traefik"}, "m1", "member m1: cluster_entrypoint_namespace: is required"),
        ({"namespace": "prod", "target": "custom"}, "m1", "member m1: cluster_entrypoint_selector:"),
    ],
)
def test_errors_name_the_filter_member_and_key(settings: Any, member: Any, expected: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        entrypoint_service(settings, member=member)
    message = str(caught.value)
    assert message.startswith("binder.ingress.entrypoint_service: ")
    assert expected in message


def test_errors_name_the_variables_given_as_keys() -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        entrypoint_service(
            {"namespace": "Bad_NS", "release": "traefik"},
            member="m1",
            keys={"namespace": "binder_namespace", "release": "binder_traefik_release"},
        )
    assert str(caught.value).startswith(
        "binder.ingress.entrypoint_service: member m1: binder_namespace: 'Bad_NS' is not a valid namespace"
    )


def test_documentation_is_valid_yaml_naming_the_filter() -> None:
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "entrypoint_service"
    assert "_input" in doc["options"]
    assert doc["options"]["keys"]["type"] == "dict"
    assert yaml.safe_load(plugin.RETURN)["_value"]["type"]
    assert "binder.ingress.entrypoint_service" in plugin.EXAMPLES
