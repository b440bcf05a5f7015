"""Fixtures of the playbook-level tests: a fresh local cluster per test (tests/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import Sandbox, started


@pytest.fixture
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A fresh cluster per test: a member's traefik release owns the cluster-wide IngressClass,
    so two tests' members cannot share one cluster (nor can two members in production).
    Nothing is prepared: the cert-manager chart installs its CRDs, namespaces come per test."""
    with started(tmp_path_factory.mktemp("converge-sandbox")) as box:
        yield box


@pytest.fixture
def second_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Another member's cluster, for tests with two members."""
    with started(tmp_path_factory.mktemp("second-sandbox")) as box:
        yield box


@pytest.fixture
def served_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A fresh cluster with its data plane (traefik, load balancers, backends): for tests of traffic."""
    # Any option of `up` but --no-dataplane starts the data plane (Sandbox.up).
    with started(tmp_path_factory.mktemp("served-sandbox"), "--port", "0") as box:
        yield box
