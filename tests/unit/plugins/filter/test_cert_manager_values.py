"""Unit tests of the cert_manager_values filter: input checks and error messages."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.filter import cert_manager_values as plugin
from ansible_collections.binder.ingress.plugins.filter.cert_manager_values import FilterModule

cert_manager_values = FilterModule().filters()["cert_manager_values"]


def test_builds_values_from_settings() -> None:
    values = cert_manager_values({"default_issuer": "letsencrypt-staging"}, member="m1")
    assert values["ingressShim"] == {
        "defaultIssuerName": "letsencrypt-staging",
        "defaultIssuerKind": "ClusterIssuer",
    }
    assert values["crds"] == {"enabled": True, "keep": True}


@pytest.mark.parametrize(
    ("settings", "member", "expected"),
    [
        ({}, "", "option member must be a non-empty string (the inventory host)"),
        ("letsencrypt-prod", "m1", "member m1: input must be a mapping"),
        ({"issuer": "x"}, "m1", "member m1: unknown setting(s) issuer"),
        (
            {"controller_resources": {"limits": {"cpu": "much"}}},
            "m1",
            "member m1: cert_manager_controller_resources.limits.cpu:",
        ),
    ],
)
def test_errors_name_the_filter_member_and_key(settings: Any, member: Any, expected: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        cert_manager_values(settings, member=member)
    message = str(caught.value)
    assert message.startswith("binder.ingress.cert_manager_values: ")
    assert expected in message


def test_documentation_is_valid_yaml_naming_the_filter() -> None:
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "cert_manager_values"
    assert "_input" in doc["options"]
    assert doc["options"]["keys"]["type"] == "dict"
    assert yaml.safe_load(plugin.RETURN)["_value"]["type"]
    assert "binder.ingress.cert_manager_values" in plugin.EXAMPLES
