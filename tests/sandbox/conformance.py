"""Helpers of the conformance suite: names, waiting, the cluster's own objects.

The cluster handle (local or real) is tests/harness.py's :class:`harness.Cluster`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from kubernetes.client.rest import ApiException

REAL_KUBECONFIG = os.environ.get("SANDBOX_CONFORMANCE_KUBECONFIG")
# The ConfigMap kube-controller-manager puts into every namespace.
ROOT_CA = "kube-root-ca.crt"


def own(names: Any) -> list[str]:
    """`names` without the cluster's own ConfigMap, in order."""
    return [name for name in names if name != ROOT_CA]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body
