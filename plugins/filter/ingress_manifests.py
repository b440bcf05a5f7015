# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import build_state

DOCUMENTATION = r"""
name: ingress_manifests
short_description: A federation member's complete Ingress manifests
version_added: 0.1.0
description:
  - Turns a member's ingress catalogue (O(_input), the C(binder_ingresses_components) mapping) into
    complete C(networking.k8s.io/v1) Ingress manifests, after validating the whole member at once,
    exactly as P(binder.ingress.member_state#filter) does; it returns only the Ingresses.
  - Any problem fails the filter with every problem of the member, one per line, each naming the
    member and the inventory key.
options:
  _input:
    description:
      - The member's ingress catalogue, a mapping of component name to settings.
    type: dict
    required: true
  member:
    description:
      - The member's name (its inventory host name). Used in labels and in error messages.
    type: string
    required: true
  namespace:
    description:
      - The namespace the member's Ingresses live in.
    type: string
    required: true
  ingress_class:
    description:
      - The IngressClass every Ingress names in C(spec.ingressClassName).
    type: string
    default: traefik
  tls_acme:
    description:
      - Whether every Ingress carries the annotation C(kubernetes.io/tls-acme) set to C("true"), for cert-manager's ingress-shim.
    type: bool
    default: true
seealso:
  - plugin: binder.ingress.member_state
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Write the member's Ingresses
  ansible.builtin.copy:
    dest: "{{ render_dir }}/ingresses.yaml"
    content: >-
      {{ binder_ingresses_components
         | binder.ingress.ingress_manifests(member=inventory_hostname, namespace=binder_ingresses_namespace)
         | ansible.builtin.to_nice_yaml }}
    mode: "0644"
"""

RETURN = r"""
_value:
  description:
    - Complete C(networking.k8s.io/v1) Ingress manifests, sorted by component name, then as given.
  type: list
  elements: dict
"""


_NAME = "binder.ingress.ingress_manifests"


def ingress_manifests(
    components: t.Any,
    member: t.Any = None,
    namespace: t.Any = None,
    ingress_class: t.Any = "traefik",
    tls_acme: t.Any = True,
) -> list[dict[str, t.Any]]:
    """The member's Ingress manifests."""
    state = build_state(_NAME, components, member, namespace, ingress_class, tls_acme)
    return state.ingresses


class FilterModule:
    """binder.ingress.ingress_manifests"""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"ingress_manifests": ingress_manifests}
