# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils.chart_values import (
    ENTRYPOINT_KEYS,
    entrypoint_service,
)
from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import settings_filter

DOCUMENTATION = r"""
name: entrypoint_service
short_description: Build the cluster entrypoint Service of a member
version_added: 0.1.0
author: binder.ingress contributors
description:
  - Returns the member's one public C(LoadBalancer) Service with C(externalTrafficPolicy=Local),
    ports 80 (C(http)) and 443 (C(https)) sent to the ingress controller's pods.
  - The selector depends on the target. C(traefik) selects the traefik chart's pods of the given
    release and namespace, C(ingress-nginx) that chart's controller pods, C(custom) the given selector.
  - Target ports default to the controller's named container ports (C(web)/C(websecure) for traefik,
    C(http)/C(https) for ingress-nginx, 80/443 for a custom target).
  - Every problem in the input is reported at once, each naming the member and the inventory key.
options:
  _input:
    description:
      - The settings, a mapping whose keys are C(namespace) (required), C(name), C(target), C(release),
        C(selector), C(target_ports), C(annotations), C(load_balancer_ip) and C(load_balancer_source_ranges).
    type: dict
    required: true
  member:
    description: The member (inventory host) the Service is for; named in errors and labels.
    type: str
    required: true
  keys:
    description:
      - Input field to the variable the user wrote it in, so that errors name that variable, for example
        C(dict(namespace='binder_namespace')) when the namespace comes from C(binder_namespace).
      - Fields are the keys of O(_input) and C(member). A field not given is named by the cluster_entrypoint
        role's variable, C(cluster_entrypoint_<field>) (C(cluster_entrypoint_namespace), ...); C(member) by
        C(inventory_hostname).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Build the entrypoint Service
  ansible.builtin.set_fact:
    __cluster_entrypoint_service: >-
      {{ {'namespace': 'prod', 'target': 'traefik', 'release': 'traefik'}
         | binder.ingress.entrypoint_service(member=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: The Service manifest.
  type: dict
"""

_NAME = "binder.ingress.entrypoint_service"


_entrypoint_service = settings_filter(
    _NAME, fields=ENTRYPOINT_KEYS, required=frozenset({"namespace"}), build=entrypoint_service
)


class FilterModule:
    """The entrypoint_service filter."""

    def filters(self) -> dict[str, Any]:
        return {"entrypoint_service": _entrypoint_service}
