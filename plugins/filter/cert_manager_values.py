# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils.chart_values import (
    CERT_MANAGER_KEYS,
    cert_manager_values,
)
from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import settings_filter

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
  keys:
    description:
      - Input field to the variable the user wrote it in, so that errors name that variable, for example
        C(dict(default_issuer='binder_default_issuer')).
      - Fields are the keys of O(_input) and C(member). A field not given is named by the cert_manager role's
        variable (C(cert_manager_default_issuer), C(cert_manager_controller_resources),
        C(cert_manager_webhook_resources), C(cert_manager_cainjector_resources),
        C(cert_manager_values_overrides); C(member) by C(inventory_hostname)).
    type: dict
    default: {}
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


_cert_manager_values = settings_filter(
    _NAME, fields=CERT_MANAGER_KEYS, required=frozenset(), build=cert_manager_values
)


class FilterModule:
    """The cert_manager_values filter."""

    def filters(self) -> dict[str, Any]:
        return {"cert_manager_values": _cert_manager_values}
