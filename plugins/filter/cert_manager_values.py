# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.chart_values import (
    ChartValuesError,
    cert_manager_values,
)

DOCUMENTATION = r"""
name: cert_manager_values
short_description: Build the cert-manager Helm chart values of a member
version_added: 0.1.0
author: binder.ingress contributors
description:
  - Returns the values for the cert-manager chart (v1.20 and later).
  - The CRDs are installed by the chart and kept when the release is removed, and ingress-shim
    issues certificates for annotated Ingresses from the given default ClusterIssuer.
  - Resource requests and limits are set for the controller, the webhook and the cainjector.
  - O(overrides) is deep-merged last.
  - Every problem in the input is reported at once, each naming the member and the inventory key.
options:
  _input:
    description:
      - The settings, a mapping whose keys are C(default_issuer), C(controller_resources),
        C(webhook_resources), C(cainjector_resources) and C(overrides), all optional.
    type: dict
    required: true
  member:
    description: The member (inventory host) the values are for; named in errors.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Build the chart values
  ansible.builtin.set_fact:
    __cert_manager_values: >-
      {{ {'default_issuer': 'letsencrypt-prod'}
         | binder.ingress.cert_manager_values(member=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: The chart values.
  type: dict
"""

_NAME = "binder.ingress.cert_manager_values"
_KEYS = frozenset(
    {"default_issuer", "controller_resources", "webhook_resources", "cainjector_resources", "overrides"}
)


def _cert_manager_values(settings: Any, member: Any = None) -> dict[str, Any]:
    if not isinstance(member, str) or not member:
        raise AnsibleFilterError(f"{_NAME}: member= must be given as a non-empty string (the inventory host)")
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(
            f"{_NAME}: member {member}: input must be a mapping of settings, got {type(settings).__name__}"
        )
    unknown = sorted(set(settings) - _KEYS)
    if unknown:
        raise AnsibleFilterError(
            f"{_NAME}: member {member}: unknown setting(s) {', '.join(map(str, unknown))}"
        )
    try:
        return cert_manager_values(member=member, **dict(settings))
    except ChartValuesError as exc:
        raise AnsibleFilterError(f"{_NAME}: " + "; ".join(exc.issues)) from exc


class FilterModule:
    """The cert_manager_values filter."""

    def filters(self) -> dict[str, Any]:
        return {"cert_manager_values": _cert_manager_values}
