"""The conformance suite's cluster: the sandbox, or a real cluster when one is named.

`SANDBOX_CONFORMANCE_KUBECONFIG=<kubeconfig> pytest tests/sandbox` runs the same assertions
against a real cluster; tests of sandbox-only features (audit log, faults, the CLI, traefik,
bookmark timing) are marked `sandbox_only` and skipped there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conformance import REAL_KUBECONFIG, ROOT_CA, unique, wait_for
from harness import Cluster, started
from kubernetes import client
from kubernetes.client.rest import ApiException


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox_only: asserts a sandbox-only feature (audit log, faults, CLI)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    if not REAL_KUBECONFIG:
        return
    skip = pytest.mark.skip(
        reason="sandbox-only feature; SANDBOX_CONFORMANCE_KUBECONFIG names a real cluster"
    )
    for item in items:
        if "sandbox_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if REAL_KUBECONFIG:
        yield Cluster(REAL_KUBECONFIG)
        return
    with started(tmp_path_factory.mktemp("sandbox")) as box:
        yield box


@pytest.fixture(scope="session")
def core(cluster: Cluster) -> client.CoreV1Api:
    return client.CoreV1Api(cluster.api())


@pytest.fixture
def ns(core: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = unique("conf")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # Every namespace of a real cluster gets this ConfigMap from kube-controller-manager; wait
    # for it so that lists in the test see a settled namespace.
    wait_for(
        lambda: any(c.metadata.name == ROOT_CA for c in core.list_namespaced_config_map(name).items),
        30,
        f"{ROOT_CA} in {name}",
    )
    yield name
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise
