# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter traefik_rbac: traefik's namespaced RBAC, for a member that shares its cluster."""

from __future__ import annotations

from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils.traefik_rbac import (
    TRAEFIK_RBAC_KEYS,
    traefik_rbac,
)
from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import (
    call_builder,
    check_keys,
    check_member,
)

DOCUMENTATION = r"""
name: traefik_rbac
short_description: Build the namespaced RBAC of a member's traefik
version_added: 0.1.0
author: binder.ingress contributors
description:
  - For a member that shares its cluster with other members (O(namespaced)), returns a Role and
    RoleBinding in O(namespace) (Ingresses and their status, Services, EndpointSlices, Secrets) and a
    ClusterRole and ClusterRoleBinding that read only IngressClasses and Nodes, all bound to the
    ServiceAccount the traefik chart runs its pods as. The chart's own RBAC is then off
    (P(binder.ingress.traefik_values#filter) with C(namespaced)).
  - Returns an empty list for a member alone in its cluster, whose traefik the chart's RBAC serves.
  - Every problem in the input is reported at once, each naming the member and the inventory key.
options:
  _input:
    description: The release's chart values, as P(binder.ingress.traefik_values#filter) built them (they name its ServiceAccount).
    type: dict
    required: true
  member:
    description: The member (inventory host) the objects are for; named in errors and labels.
    type: str
    required: true
  namespace:
    description: The namespace of the traefik release, the only one its traefik reads.
    type: str
    required: true
  release:
    description: The Helm release name of traefik.
    type: str
    default: traefik
  namespaced:
    description: Whether the member shares its cluster (the objects are built only then).
    type: bool
    default: false
  keys:
    description:
      - Input field to the variable the user wrote it in, so that errors name that variable.
      - Fields are C(namespace), C(release), C(namespaced), C(values) and C(member).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Build traefik's namespaced RBAC
  ansible.builtin.set_fact:
    __traefik_rbac: >-
      {{ traefik_chart_values | binder.ingress.traefik_rbac(member=inventory_hostname, namespace='alpha',
         release='traefik', namespaced=true) }}
"""

RETURN = r"""
_value:
  description: The Role, RoleBinding, ClusterRole and ClusterRoleBinding manifests, or an empty list.
  type: list
  elements: dict
"""

_NAME = "binder.ingress.traefik_rbac"


def _traefik_rbac(
    values: Any,
    member: Any = None,
    namespace: Any = None,
    release: Any = "traefik",
    namespaced: Any = False,
    keys: Any = None,
) -> list[dict[str, Any]]:
    member = check_member(_NAME, member)
    variables = {**TRAEFIK_RBAC_KEYS, **check_keys(_NAME, member, keys, TRAEFIK_RBAC_KEYS)}
    return call_builder(
        _NAME,
        traefik_rbac,
        member=member,
        namespace=namespace,
        release=release,
        namespaced=namespaced,
        values=values,
        keys=variables,
    )


class FilterModule:
    """The traefik_rbac filter."""

    def filters(self) -> dict[str, Any]:
        return {"traefik_rbac": _traefik_rbac}
