# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils._doctor import port_holders

DOCUMENTATION = r"""
name: port_holders
short_description: The LoadBalancer Services, other than one, that hold port 80 or 443
version_added: 0.1.0
author: binder.ingress contributors
description:
  - k3s ServiceLB gives each node port to one LoadBalancer Service only. Returns every LoadBalancer Service of
    the input, other than O(own), that holds one of O(ports), as C(namespace/name (port 80, 443)).
  - The cluster_entrypoint role's k3s check and the doctor module use the same rule.
options:
  _input:
    description: Services as the Kubernetes API returns them (C(resources) of kubernetes.core.k8s_info).
    type: list
    elements: dict
    required: true
  own:
    description: The member's entrypoint Service, C(namespace/name), which may hold them.
    type: str
    required: true
  ports:
    description: The ports to look for.
    type: list
    elements: int
    default: [80, 443]
"""

EXAMPLES = r"""
- name: Name the Services that would block the entrypoint
  ansible.builtin.debug:
    msg: "{{ services.resources | binder.ingress.port_holders(own='binder/cluster-entrypoint') }}"
"""

RETURN = r"""
_value:
  description: C(namespace/name (port 80, 443)) of each Service holding one of the ports.
  type: list
  elements: str
"""


def _port_holders(services: Any, own: Any, ports: Any = (80, 443)) -> list[str]:
    if not isinstance(services, list) or not all(isinstance(s, dict) for s in services):
        raise AnsibleFilterError(
            "binder.ingress.port_holders: the input must be a list of Services (mappings)"
        )
    if not isinstance(own, str):
        raise AnsibleFilterError(f"binder.ingress.port_holders: own must be namespace/name, got {own!r}")
    return port_holders(services, own, tuple(int(p) for p in ports))


class FilterModule:
    """The port_holders filter."""

    def filters(self) -> dict[str, Any]:
        return {"port_holders": _port_holders}
