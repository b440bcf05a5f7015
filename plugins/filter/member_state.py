# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import build_state

DOCUMENTATION = r"""
name: member_state
short_description: Build and validate a federation member's complete ingress state
version_added: 0.1.0
description:
  - Turns a member's ingress catalogue (O(_input), the C(binder_ingresses_components) mapping) into
    everything the member serves at its edge, after validating the whole member at once.
  - The result holds the complete C(networking.k8s.io/v1) Ingress manifests, the selector-less
    C(redirector) Service (only when the member has redirects), traefik file-provider middlewares for
    the redirects, one route per host and path, and a markdown summary of the routes.
  - Any problem fails the filter with every problem of the member, one per line, each naming the
    filter, the member and the inventory key (C(binder_ingresses_components.static.hosts[0])).
  - The catalogue's keys and defaults are described in the collection's C(docs/inventory.md).
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
      - The namespace the member's Ingresses and Services live in.
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
  entrypoints:
    description:
      - The traefik entry points every Ingress's routers attach to, in the annotation
        C(traefik.ingress.kubernetes.io/router.entrypoints).
      - Only C(websecure) by default, so that plain HTTP reaches none of the member's backends, not even at
        C(/.well-known/acme-challenge/) (which the traefik role's C(allowACMEByPass) lets past the HTTPS
        redirect for cert-manager's solvers).
    type: list
    elements: string
    default: [websecure]
  tls_min_version:
    description:
      - The oldest TLS version the member's edge accepts (C(1.2) or C(1.3)), which every route's C(expect) carries
        as C(tls_min_version) for P(binder.ingress.probe_routes#module).
    type: string
    default: '1.2'
  hsts_max_age:
    description:
      - The HSTS C(max-age) the edge sends, at least 31536000 (a year), or 0 for none; every route's C(expect)
        carries it as C(hsts) and C(hsts_max_age).
    type: int
    default: 31536000
  issuer:
    description:
      - Empty (the default) leaves the issuer to cert-manager's default (C(kubernetes.io/tls-acme)).
      - The name of the member's own cert-manager C(Issuer) in O(namespace) (a member that shares its cluster),
        which every Ingress then names in C(cert-manager.io/issuer); a component may then set neither
        C(cert-manager.io/issuer) nor C(cert-manager.io/cluster-issuer) itself.
    type: string
    default: ''
  keys:
    description:
      - Input field to the variable the user wrote it in, so that errors name that variable, for example
        C(dict(namespace='binder_namespace')) when the namespace comes from C(binder_namespace).
      - Fields are C(components) (the input), C(member), C(namespace), C(ingress_class), C(tls_acme),
        C(entrypoints), C(tls_min_version), C(hsts_max_age) and C(issuer). A field not given is named by the binder_ingresses role's variable
        (C(binder_ingresses_components), C(binder_ingresses_namespace), C(binder_ingresses_ingress_class),
        C(binder_ingresses_tls_acme), C(binder_ingresses_entrypoints), C(binder_ingresses_tls_min_version),
        C(binder_ingresses_hsts_max_age);
        C(member) by C(inventory_hostname)).
    type: dict
    default: {}
notes:
  - Middleware references (C(middlewares) of a component) must name a middleware the traefik role defines
    in its file provider, the only provider it enables that defines middlewares (kubernetesCRD is off).
    These are C(hub@file), C(harbor@file), C(default@file) and the member's own C(redirect-...@file).
    traefik drops the router of an Ingress naming any other, and the host would answer traefik's 404.
  - A redirect's middleware name is C(redirect-<from host, dots as dashes>), shortened to a DNS-1123 label
    (63 characters) ending in a hash when the host is long. Pass C(redirect_middlewares) of the result to
    the traefik role (C(traefik_redirect_middlewares)); the Ingress annotations name exactly those.
seealso:
  - plugin: binder.ingress.traefik_values
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Build the member's ingress state
  ansible.builtin.set_fact:
    binder_ingresses_state: >-
      {{ binder_ingresses_components | binder.ingress.member_state(member=inventory_hostname,
         namespace=binder_namespace, keys={'namespace': 'binder_namespace'}) }}

- name: Show the member's routes
  ansible.builtin.debug:
    msg: "{{ binder_ingresses_state.summary }}"
"""

RETURN = r"""
_value:
  description:
    - The member's ingress state.
  type: dict
  contains:
    member:
      description: The member's name.
      type: string
    namespace:
      description: The member's namespace.
      type: string
    ingresses:
      description: Complete C(networking.k8s.io/v1) Ingress manifests, sorted by component name, then as given.
      type: list
      elements: dict
    services:
      description: The selector-less C(redirector) Service when the member has redirects, else empty.
      type: list
      elements: dict
    redirect_middlewares:
      description:
        - traefik file-provider C(http.middlewares) entries for the redirects, by middleware name, the
          names the redirect Ingresses' annotations reference. The traefik role's C(traefik_redirect_middlewares).
      type: dict
    routes:
      description:
        - One entry per host and path, with keys C(component), C(ingress), C(host), C(path), C(path_type),
          C(service), C(port), C(tls_secret), C(middlewares) and C(expect), what a probe must get (request, status,
          location, backend, hsts, hsts_max_age, tls_min_version; see P(binder.ingress.probe_routes#module)).
      type: list
      elements: dict
    summary:
      description: The routes as a markdown table (host, path, pathType, backend, TLS secret, middlewares).
      type: string
"""


_NAME = "binder.ingress.member_state"


def member_state(
    components: t.Any,
    member: t.Any = None,
    namespace: t.Any = None,
    ingress_class: t.Any = "traefik",
    tls_acme: t.Any = True,
    keys: t.Any = None,
    entrypoints: t.Any = None,
    tls_min_version: t.Any = None,
    hsts_max_age: t.Any = None,
    issuer: t.Any = None,
) -> dict[str, t.Any]:
    """The member's ingress state as a JSON-able dict."""
    state = build_state(
        _NAME,
        components,
        member,
        namespace,
        ingress_class,
        tls_acme,
        keys,
        entrypoints,
        tls_min_version,
        hsts_max_age,
        issuer,
    )
    return state.as_dict()


class FilterModule:
    """binder.ingress.member_state"""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"member_state": member_state}
