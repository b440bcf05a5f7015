# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""traefik's RBAC for a member that shares its cluster with other members.

Pure and typed, as ``chart_values``. Where a member is alone in its cluster, the traefik chart
makes traefik's RBAC (a ClusterRole that reads every Service and Secret of the cluster). Where
members share a cluster, that would let each member's traefik read the others' TLS keys, so the
chart makes none (``traefik_values(namespaced=True)`` sets ``rbac.enabled: false``) and these
objects replace it:

- a Role and RoleBinding in the member's namespace: the Ingresses (and their status), Services,
  EndpointSlices and Secrets traefik's Ingress provider reads there, and nothing elsewhere;
- a ClusterRole and ClusterRoleBinding for the two cluster-scoped kinds the provider watches:
  IngressClasses (to know which Ingresses name its class) and Nodes (read by the provider's
  informer). Neither holds a secret.

The chart's own ``rbac.namespaced`` is not used: it also sets the provider's
``disableClusterScopeResources``, with which traefik never reads IngressClasses and drops every
Ingress that sets ``spec.ingressClassName`` (each of the member's Ingresses does).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils import _names
from ansible_collections.binder.ingress.plugins.module_utils.constants import SET_TRAEFIK_RBAC
from ansible_collections.binder.ingress.plugins.module_utils.model import Issues, check_member, kind, labels

__all__ = ["TRAEFIK_RBAC_KEYS", "service_account_name", "traefik_rbac"]

JSON = dict[str, Any]

TRAEFIK_RBAC_KEYS: Mapping[str, str] = {
    "member": "inventory_hostname",
    "namespace": "traefik_namespace",
    "release": "traefik_release_name",
    "namespaced": "traefik_namespaced",
    "values": "traefik_values_overrides",
}

_READ = ["get", "list", "watch"]
# What traefik's Ingress provider reads in the namespaces it watches.
_NAMESPACE_RULES: list[JSON] = [
    {"apiGroups": [""], "resources": ["services", "secrets"], "verbs": _READ},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": _READ},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"], "verbs": ["update"]},
]
# The cluster-scoped kinds it watches whatever its namespaces.
_CLUSTER_RULES: list[JSON] = [
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingressclasses"], "verbs": _READ},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]},
]


def _trunc(name: str) -> str:
    return name[:63].rstrip("-")


def service_account_name(release: str, values: Mapping[str, Any]) -> str:
    """The ServiceAccount the traefik chart runs its pods as: ``serviceAccount.name``, else its fullname."""
    account = values.get("serviceAccount")
    if isinstance(account, Mapping) and account.get("name"):
        return str(account["name"])
    override = values.get("fullnameOverride")
    if override:
        return _trunc(str(override))
    name = str(values.get("nameOverride") or "traefik")
    return _trunc(release if name in release else f"{release}-{name}")


def traefik_rbac(
    *,
    member: str,
    namespace: str,
    release: str = "traefik",
    namespaced: bool = False,
    values: Mapping[str, Any] | None = None,
    keys: Mapping[str, str] | None = None,
) -> list[JSON]:
    """The Role, ClusterRole and their bindings of a namespaced traefik; none when not ``namespaced``.

    ``values`` are the release's chart values (``traefik_values``), which name its ServiceAccount.
    """
    issues = Issues(str(member), {**TRAEFIK_RBAC_KEYS, **(keys or {})})
    check_member(issues, member)
    k = issues.key
    issues.valid(namespace, k("namespace"), "namespace (DNS-1123 label)", _names.dns1123_label)
    issues.valid(release, k("release"), "Helm release name (DNS-1123 label)", _names.dns1123_label)
    if not isinstance(namespaced, bool):
        issues.add(k("namespaced"), f"must be a boolean, got {kind(namespaced)}")
    chart_values = issues.mapping(
        values if values is not None else {}, k("values"), "the traefik chart values"
    )
    issues.raise_if_any()
    if not namespaced:
        return []

    account = service_account_name(release, chart_values or {})
    name = account
    # Cluster-scoped names are shared by every member of the cluster: the namespace makes them the member's.
    cluster_name = f"{account}-{namespace}-binder-ingress"
    subjects = [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
    own = labels(member, SET_TRAEFIK_RBAC)
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace, "labels": own},
            "rules": copy.deepcopy(_NAMESPACE_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace, "labels": own},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": subjects,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": cluster_name, "labels": own},
            "rules": copy.deepcopy(_CLUSTER_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": cluster_name, "labels": own},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
            "subjects": subjects,
        },
    ]
