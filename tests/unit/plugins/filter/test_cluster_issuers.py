"""Unit tests of the cluster_issuers filter: input checks and error messages."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.filter import cluster_issuers as plugin
from ansible_collections.binder.ingress.plugins.filter.cluster_issuers import FilterModule

cluster_issuers = FilterModule().filters()["cluster_issuers"]


def test_builds_issuers_with_the_given_class() -> None:
    issuers = cluster_issuers("ops@example.org", member="m1", ingress_class="edge")
    assert {issuer["metadata"]["name"] for issuer in issuers} == {"letsencrypt-staging", "letsencrypt-prod"}
    assert all(
        i["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"] == "edge" for i in issuers
    )


def test_builds_only_the_given_issuers() -> None:
    issuers = cluster_issuers("ops@example.org", member="m1", issuers={"le": "https://acme.example.org/dir"})
    assert [issuer["metadata"]["name"] for issuer in issuers] == ["le"]


@pytest.mark.parametrize(
    ("email", "kwargs", "expected"),
    [
        ("ops@example.org", {}, "option member must be a non-empty string (the inventory host)"),
        ("", {"member": "m1"}, "member m1: cert_manager_acme_email: is required"),
        (
            "ops",
            {"member": "m1"},
            "member m1: cert_manager_acme_email: 'ops' is not a valid e-mail address: it is not of the form",
        ),
        (
            "ops",
            {"member": "m1", "keys": {"email": "binder_acme_email"}},
            "member m1: binder_acme_email: 'ops' is not a valid e-mail address",
        ),
        ("ops@example.org", {"member": "m1", "issuers": ["le"]}, "member m1: cert_manager_cluster_issuers:"),
        (
            "ops@example.org",
            {"member": "m1", "ingress_class": "Bad Class"},
            "member m1: cert_manager_ingress_class:",
        ),
    ],
)
def test_errors_name_the_filter_member_and_key(email: Any, kwargs: dict[str, Any], expected: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        cluster_issuers(email, **kwargs)
    message = str(caught.value)
    assert message.startswith("binder.ingress.cluster_issuers: ")
    assert expected in message


def test_documentation_is_valid_yaml_naming_the_filter() -> None:
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "cluster_issuers"
    assert "_input" in doc["options"]
    assert doc["options"]["keys"]["type"] == "dict"
    assert yaml.safe_load(plugin.RETURN)["_value"]["type"]
    assert "binder.ingress.cluster_issuers" in plugin.EXAMPLES
