# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils.chart_values import TRAEFIK_KEYS, traefik_values
from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import settings_filter

DOCUMENTATION = r"""
name: traefik_values
short_description: Build the traefik Helm chart values of a member
version_added: 0.1.0
author: binder.ingress contributors
description:
  - Returns the values for the traefik chart 41.x that run the member's ingress controller.
  - The chart's Service is off (the member's cluster entrypoint replaces it), the IngressClass
    is pinned, only the Kubernetes Ingress provider and the file provider are on, and the file
    provider carries the C(harbor) (streaming), C(hub) and C(default) (buffering) middlewares, the
    C(client-limit) (requests in flight per client address) and C(hsts) (headers) middlewares of the
    websecure entry point, traefik's TLS option C(default), plus the given redirect middlewares
    (the C(redirect_middlewares) of P(binder.ingress.member_state#filter)).
  - O(overrides) is deep-merged last, so any chart value can still be set from the inventory.
  - Every problem in the input is reported at once, each naming the member and the inventory key.
options:
  _input:
    description:
      - The settings, a mapping whose keys are the keyword arguments below other than O(member).
      - Keys are C(namespace) (required), C(entrypoint_name), C(ingress_class), C(replicas),
        C(log_level), C(responding_timeout), C(client_max_requests), C(resources), C(tls_min_version),
        C(tls_cipher_suites), C(harbor_max_body_bytes), C(tmp_size_limit), C(ephemeral_storage_limit), C(http_redirect),
        C(access_log_headers), C(access_log_query), C(hsts_max_age), C(hsts_include_subdomains),
        C(redirect_middlewares), C(overrides).
    type: dict
    required: true
  member:
    description: The member (inventory host) the values are for; named in errors and labels.
    type: str
    required: true
  keys:
    description:
      - Input field to the variable the user wrote it in, so that errors name that variable, for example
        C(dict(namespace='binder_namespace')) when the namespace comes from C(binder_namespace).
      - Fields are the keys of O(_input) and C(member). A field not given is named by the traefik role's
        variable (C(traefik_namespace), C(traefik_entrypoint_service), C(traefik_ingress_class),
        C(traefik_replicas), C(traefik_log_level), C(traefik_responding_timeout), C(traefik_client_max_requests),
        C(traefik_resources),
        C(traefik_tls_min_version), C(traefik_tls_cipher_suites), C(traefik_harbor_max_body_bytes),
        C(traefik_tmp_size_limit), C(traefik_ephemeral_storage_limit), C(traefik_http_redirect),
        C(traefik_access_log_headers), C(traefik_access_log_query), C(traefik_hsts_max_age),
        C(traefik_hsts_include_subdomains), C(traefik_redirect_middlewares), C(traefik_values_overrides); C(member) by C(inventory_hostname)).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Build the chart values
  ansible.builtin.set_fact:
    __traefik_values: >-
      {{ {'namespace': binder_namespace, 'redirect_middlewares': binder_ingresses_state.redirect_middlewares}
         | binder.ingress.traefik_values(member=inventory_hostname, keys={'namespace': 'binder_namespace'}) }}
"""

RETURN = r"""
_value:
  description: The chart values, ready to pass to the chart as its values.
  type: dict
"""

_NAME = "binder.ingress.traefik_values"


_traefik_values = settings_filter(
    _NAME, fields=TRAEFIK_KEYS, required=frozenset({"namespace"}), build=traefik_values
)


class FilterModule:
    """The traefik_values filter."""

    def filters(self) -> dict[str, Any]:
        return {"traefik_values": _traefik_values}
