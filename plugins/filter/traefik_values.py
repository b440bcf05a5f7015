# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils.chart_values import traefik_values
from ansible_collections.binder.ingress.plugins.plugin_utils._chart_filters import build_from_settings

DOCUMENTATION = r"""
name: traefik_values
short_description: Build the traefik Helm chart values of a member
version_added: 0.1.0
author: binder.ingress contributors
description:
  - Returns the values for the traefik chart 41.x that run the member's ingress controller.
  - The chart's Service is off (the member's cluster entrypoint replaces it), the IngressClass
    is pinned, only the Kubernetes Ingress provider and the file provider are on, and the file
    provider carries the C(harbor), C(hub) and C(default) buffering middlewares plus the given
    redirect middlewares.
  - O(overrides) is deep-merged last, so any chart value can still be set from the inventory.
  - Every problem in the input is reported at once, each naming the member and the inventory key.
options:
  _input:
    description:
      - The settings, a mapping whose keys are the keyword arguments below other than O(member).
      - Keys are C(namespace) (required), C(entrypoint_name), C(ingress_class), C(replicas),
        C(log_level), C(responding_timeout), C(resources), C(redirect_middlewares), C(overrides).
    type: dict
    required: true
  member:
    description: The member (inventory host) the values are for; named in errors and labels.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Build the chart values
  ansible.builtin.set_fact:
    __traefik_values: >-
      {{ {'namespace': 'prod', 'redirect_middlewares': {}}
         | binder.ingress.traefik_values(member=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: The chart values, ready to pass to the chart as its values.
  type: dict
"""

_NAME = "binder.ingress.traefik_values"
_KEYS = frozenset(
    {
        "namespace",
        "entrypoint_name",
        "ingress_class",
        "replicas",
        "log_level",
        "responding_timeout",
        "resources",
        "redirect_middlewares",
        "overrides",
    }
)


def _traefik_values(settings: Any, member: Any = None) -> dict[str, Any]:
    return build_from_settings(
        _NAME, settings, member, keys=_KEYS, required={"namespace": "traefik_namespace"}, build=traefik_values
    )


class FilterModule:
    """The traefik_values filter."""

    def filters(self) -> dict[str, Any]:
        return {"traefik_values": _traefik_values}
