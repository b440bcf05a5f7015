"""Unit tests of the helm_transient test: which failed Helm results are worth another attempt.

The messages are Helm 3.19's own, as the local cluster's fault proxy made it print them
(tests/converge/test_api_faults_helm.py runs them for real)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.test import helm_transient as plugin
from ansible_collections.binder.ingress.plugins.test.helm_transient import helm_transient

PATCH = 'cannot patch "traefik" with kind Deployment: '
ROLLED_BACK = (
    "Error: UPGRADE FAILED: release traefik failed, and has been rolled back due to atomic being set: "
)
URL = '"https://127.0.0.1:6443/apis/apps/v1/namespaces/binder/deployments/traefik?fieldManager=helm"'


def failed(stderr: str) -> dict[str, Any]:
    """A kubernetes.core.helm result as run_helm_command fails it."""
    return {
        "failed": True,
        "msg": f"Failure when executing Helm command. Exited 1.\nstdout: \nstderr: {stderr}",
        "stderr": stderr,
        "changed": False,
    }


def test_is_registered() -> None:
    # Imported as a module: pytest would collect a class named Test* as tests.
    assert plugin.TestModule().tests()["helm_transient"] is helm_transient


@pytest.mark.parametrize(
    "stderr",
    [
        ROLLED_BACK + PATCH + "Internal error occurred: sandbox fault h500",
        ROLLED_BACK + PATCH + 'an error on the server ("") has prevented the request from succeeding',
        ROLLED_BACK + PATCH + "the server is currently unable to handle the request",
        ROLLED_BACK
        + PATCH
        + "the server was unable to return a response in the time allotted, but may still "
        "be processing the request",
        ROLLED_BACK + PATCH + "the server has received too many requests and has asked us to try again later",
        ROLLED_BACK
        + PATCH
        + "Operation cannot be fulfilled: the object has been modified; please apply your "
        "changes to the latest version and try again",
        ROLLED_BACK + PATCH + f"Patch {URL}: EOF",
        ROLLED_BACK
        + PATCH
        + f"Patch {URL}: read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer",
        "Error: UPGRADE FAILED: create: failed to create: Internal error occurred: sandbox fault",
        'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:6443/version": dial tcp '
        "127.0.0.1:6443: connect: connection refused",
        'Error: list: failed to list: Get "https://127.0.0.1:6443/api/v1/secrets": http2: client connection lost',
    ],
)
def test_a_passing_api_fault_is_transient(stderr: str) -> None:
    assert helm_transient(failed(stderr)) is True


@pytest.mark.parametrize(
    "stderr",
    [
        # helm --wait ran out of time: another attempt would wait the whole timeout again.
        ROLLED_BACK + "context deadline exceeded",
        "Error: UPGRADE FAILED: timed out waiting for the condition",
        # Even with a dropped connection on the way: the wait is what failed.
        ROLLED_BACK + f"context deadline exceeded: Get {URL}: EOF",
        # A release left pending: another attempt is refused the same way.
        "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
        # The rollback failed too: the release may be left pending.
        "Error: UPGRADE FAILED: an error occurred while finding last successful release. original upgrade "
        'error: could not get information about the resource: Get "https://127.0.0.1:6443/apis/x": EOF: '
        'Kubernetes cluster unreachable: Get "https://127.0.0.1:6443/version": EOF',
        "Error: UPGRADE FAILED: an error occurred while rolling back the release. original upgrade error: "
        + PATCH
        + "Internal error occurred: x: "
        + PATCH
        + "Internal error occurred: x",
        # Chart and values errors.
        "Error: UPGRADE FAILED: values don't meet the specifications of the schema(s) in the following chart(s):",
        "Error: INSTALLATION FAILED: template: traefik/templates/deployment.yaml:3:4: executing "
        '"traefik/templates/deployment.yaml" at <.Values.x>: nil pointer evaluating interface {}.y',
        'Error: path "/charts/traefik" not found',
    ],
)
def test_other_failures_are_not_transient(stderr: str) -> None:
    assert helm_transient(failed(stderr)) is False


def test_a_result_that_did_not_fail_is_not_transient() -> None:
    # Helm may print a connection warning on a run that succeeded.
    assert helm_transient({"changed": True, "stderr": "W1202 EOF, retrying", "msg": ""}) is False
    assert helm_transient({"changed": False, "skipped": True}) is False


@pytest.mark.parametrize("value", [None, "EOF", ["failed"]])
def test_anything_but_a_result_fails_naming_the_test(value: Any) -> None:
    with pytest.raises(AnsibleFilterError, match=r"^helm_transient: expects a registered task result"):
        helm_transient(value)
