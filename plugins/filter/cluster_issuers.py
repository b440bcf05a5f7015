# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils.chart_values import (
    CLUSTER_ISSUERS_KEYS,
    cluster_issuers,
)
from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import (
    call_builder,
    check_keys,
    check_member,
)

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
  ca_bundle:
    description:
      - PEM text of the CA certificates that sign a private ACME server's HTTPS certificate, set as each
        issuer's C(spec.acme.caBundle). Only C(CERTIFICATE) blocks are accepted.
      - Empty (the default) trusts the system roots, as Let's Encrypt needs.
    type: str
    default: ''
  namespace:
    description:
      - Empty (the default) builds cluster-scoped ClusterIssuers, one set shared by every member of the cluster.
      - A namespace builds the member's own C(Issuer) objects in it, labelled with the member (for a member that
        shares its cluster, whose http01 solver names the member's own IngressClass).
    type: str
    default: ''
  keys:
    description:
      - Input field to the variable the user wrote it in, so that errors name that variable, for example
        C(dict(email='binder_acme_email')).
      - Fields are C(email) (the input), C(issuers), C(ingress_class), C(ca_bundle), C(namespace) and C(member). A field not
        given is named by the cert_manager role's variable (C(cert_manager_acme_email),
        C(cert_manager_cluster_issuers), C(cert_manager_ingress_class), C(cert_manager_acme_ca_bundle);
        C(member) by C(inventory_hostname)).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Build the ClusterIssuers
  ansible.builtin.set_fact:
    __cert_manager_cluster_issuers: >-
      {{ 'admin@example.org' | binder.ingress.cluster_issuers(member=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: The ClusterIssuer manifests (Issuer manifests with O(namespace)).
  type: list
  elements: dict
"""

_NAME = "binder.ingress.cluster_issuers"


def _cluster_issuers(
    email: Any,
    member: Any = None,
    issuers: Any = None,
    ingress_class: Any = "traefik",
    ca_bundle: Any = "",
    namespace: Any = "",
    keys: Any = None,
) -> list[dict[str, Any]]:
    member = check_member(_NAME, member)
    variables = {**CLUSTER_ISSUERS_KEYS, **check_keys(_NAME, member, keys, CLUSTER_ISSUERS_KEYS)}
    return call_builder(
        _NAME,
        cluster_issuers,
        member=member,
        email=email,
        issuers=issuers,
        ingress_class=ingress_class,
        ca_bundle=ca_bundle,
        namespace=namespace,
        keys=variables,
    )


class FilterModule:
    """The cluster_issuers filter."""

    def filters(self) -> dict[str, Any]:
        return {"cluster_issuers": _cluster_issuers}
