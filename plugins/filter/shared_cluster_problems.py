# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.shared_cluster import (
    default_ingress_class,
    shared_cluster_problems,
)
from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import check_member, plain

DOCUMENTATION = r"""
name: shared_cluster_problems
short_description: Check how a member shares its cluster with the inventory's other members
version_added: 0.1.0
author: binder.ingress contributors
description:
  - Reads, on the controller, the kubeconfig of every member in O(members) and finds the API server
    URL each one's context reaches. Members that reach the same one share a cluster.
  - Returns the problems of the input member, one string per problem, each starting with the variable
    to change; an empty list when there are none.
  - A problem when the member shares its cluster with another member and either of them does not set
    C(binder_shared_cluster) (both members and the key are named), or when two members of one cluster
    have the same C(binder_namespace) or the same C(binder_ingress_class).
  - It quotes member names, variables and server URLs, never a kubeconfig's content (it holds credentials).
options:
  _input:
    description: The member (inventory host) to check.
    type: str
    required: true
  hostvars:
    description: Ansible's C(hostvars), from which each member's C(binder_kubeconfig), C(binder_context),
      C(binder_shared_cluster), C(binder_namespace) and C(binder_ingress_class) are read.
    type: dict
    required: true
  members:
    description: The inventory's members (C(groups['binder_members'])), the input among them. Members without
      C(binder_kubeconfig) are left out.
    type: list
    elements: str
    required: true
  ingress_class:
    description: The input member's own IngressClass (its C(binder_ingress_class), defaults applied). Other members
      without C(binder_ingress_class) get the binder role's default (C(traefik), or C(traefik-<binder_namespace>)
      with C(binder_shared_cluster)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Check that members sharing a cluster say so
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "member {{ inventory_hostname }}: {{ __problems | join('; ') }}"
  vars:
    __problems: >-
      {{ inventory_hostname | binder.ingress.shared_cluster_problems(hostvars=hostvars,
           members=groups['binder_members'], ingress_class=binder_ingress_class) }}
"""

RETURN = r"""
_value:
  description: The problems, each naming the variable to change; empty when there are none.
  type: list
  elements: str
"""

_NAME = "binder.ingress.shared_cluster_problems"


def _shared_cluster_problems(
    member: Any, hostvars: Any = None, members: Any = None, ingress_class: Any = None
) -> list[str]:
    member = check_member(_NAME, member)
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise AnsibleFilterError(f"{_NAME}: member {member}: option members must be a list of member names")
    if hostvars is None:
        raise AnsibleFilterError(f"{_NAME}: member {member}: option hostvars is required")
    found = []
    for name in [*members, *([] if member in members else [member])]:
        # Only these variables are read (and templated): never a whole host's variables.
        variables = hostvars[name]
        if "binder_kubeconfig" not in variables:
            continue
        shared = variables.get("binder_shared_cluster", False)
        shared = shared if isinstance(shared, bool) else str(shared).lower() in ("true", "yes", "1")
        namespace = variables.get("binder_namespace", "")
        own_class = ingress_class if name == member else variables.get("binder_ingress_class")
        found.append(
            {
                "member": name,
                "kubeconfig": variables.get("binder_kubeconfig"),
                "context": variables.get("binder_context", ""),
                "shared": shared,
                "namespace": namespace,
                "ingress_class": own_class or default_ingress_class(namespace, shared),
            }
        )
    return shared_cluster_problems(member, plain(found))


class FilterModule:
    """The shared_cluster_problems filter."""

    def filters(self) -> dict[str, Any]:
        return {"shared_cluster_problems": _shared_cluster_problems}
