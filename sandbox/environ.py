"""The environment of every process the local cluster starts: the user's, without their cluster.

Kubernetes clients look for a cluster in the environment before (or instead of) what they are told:
client-go, and so traefik's Kubernetes provider, prefers ``$KUBECONFIG`` over the endpoint it is
configured with, and takes ``KUBERNETES_SERVICE_HOST``/``PORT`` for an in-cluster API; kubectl and
helm read ``KUBECONFIG`` and ``HELM_KUBE*``; kubernetes.core reads ``K8S_AUTH_*``. A user who has
exported any of them for their own cluster must not have the local cluster's processes talk to it,
so every process started by the local cluster gets this environment (standard library only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Names that point a Kubernetes client at a cluster, its credentials or its namespace.
USER_CLUSTER_NAMES = frozenset({"KUBECONFIG", "HELM_NAMESPACE"})
USER_CLUSTER_PREFIXES = ("KUBERNETES_", "K8S_AUTH_", "HELM_KUBE")


def is_user_cluster_setting(name: str) -> bool:
    return name in USER_CLUSTER_NAMES or name.startswith(USER_CLUSTER_PREFIXES)


def local_env(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``base`` (the current environment by default) without the user's cluster settings, then ``extra``."""
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if not is_user_cluster_setting(name)}
    env.update(extra or {})
    return env
