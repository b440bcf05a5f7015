# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.chart_values import cluster_issuers
from ansible_collections.binder.ingress.plugins.plugin_utils._chart_filters import call_builder, check_member

DOCUMENTATION = r"""
name: cluster_issuers
short_description: Build the ACME ClusterIssuers of a member
version_added: 0.1.0
author: binder.ingress contributors
description:
  - Returns one C(cert-manager.io/v1) ClusterIssuer per entry of O(issuers), each registering the
    ACME account of the input e-mail address and solving http01 challenges through the given
    IngressClass.
  - The account private key is kept in a Secret named after the issuer.
  - Every problem in the input is reported at once, each naming the member and the inventory key.
options:
  _input:
    description: The ACME account e-mail address (required, must look like an address).
    type: str
    required: true
  member:
    description: The member (inventory host) the issuers are for; named in errors and labels.
    type: str
    required: true
  issuers:
    description:
      - Issuer name to ACME directory URL.
      - Defaults to C(letsencrypt-staging) and C(letsencrypt-prod) with Let's Encrypt's directories.
    type: dict
  ingress_class:
    description: IngressClass of the http01 solver's temporary Ingresses.
    type: str
    default: traefik
"""

EXAMPLES = r"""
- name: Build the ClusterIssuers
  ansible.builtin.set_fact:
    __cert_manager_cluster_issuers: >-
      {{ 'admin@example.org' | binder.ingress.cluster_issuers(member=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: The ClusterIssuer manifests.
  type: list
  elements: dict
"""

_NAME = "binder.ingress.cluster_issuers"


def _cluster_issuers(
    email: Any, member: Any = None, issuers: Any = None, ingress_class: Any = "traefik"
) -> list[dict[str, Any]]:
    member = check_member(_NAME, member)
    if issuers is not None and not isinstance(issuers, Mapping):
        raise AnsibleFilterError(
            f"{_NAME}: member {member}: cert_manager_cluster_issuers: must be a mapping of name to ACME URL, "
            f"got {type(issuers).__name__}"
        )
    return call_builder(
        _NAME, member, cluster_issuers, email=email, issuers=issuers, ingress_class=ingress_class
    )


class FilterModule:
    """The cluster_issuers filter."""

    def filters(self) -> dict[str, Any]:
        return {"cluster_issuers": _cluster_issuers}
