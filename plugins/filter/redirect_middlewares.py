# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.model import MemberError, redirect_middlewares

DOCUMENTATION = r"""
name: redirect_middlewares
short_description: traefik redirectRegex middlewares for a member's redirects
version_added: 0.1.0
description:
  - Turns the redirector's redirects (O(_input), C(binder_ingresses_components.redirector.redirects))
    into traefik file-provider C(http.middlewares) entries, one C(redirectRegex) per redirect, named
    C(redirect-<from host, dots as dashes>) as the redirect's Ingress references it
    (C(redirect-beta-mybinder-org@file)).
  - C(type=host) keeps the request path and query (C(https://<from>/a?b) to C(https://<to>/a?b));
    C(type=url) always goes to the fixed C(https://<to>).
  - C(code=302) (the default) makes traefik answer GET with 302 and other methods with 307;
    C(code=301) gives 301 for GET and 308 for other methods. traefik offers nothing else.
  - The redirects are validated (entries, codes, redirects to themselves, loops); problems fail the
    filter, one per line, each naming the member and the inventory key. Collisions with other
    components are checked by P(binder.ingress.member_state#filter), which sees the whole member.
options:
  _input:
    description:
      - The redirects, a list of mappings with keys C(type) (C(host) or C(url)), C(from), C(to),
        and optionally C(code) (301 or 302) and C(tls_secret).
    type: list
    elements: dict
    required: true
  member:
    description:
      - The member's name (its inventory host name), for error messages.
    type: string
    required: true
seealso:
  - plugin: binder.ingress.member_state
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Add the redirect middlewares to traefik's file provider
  ansible.builtin.set_fact:
    __traefik_redirect_middlewares: >-
      {{ binder_ingresses_components.redirector.redirects | default([])
         | binder.ingress.redirect_middlewares(member=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description:
    - Middleware name to its definition, a C(redirectRegex) with C(regex), C(replacement) and C(permanent).
  type: dict
"""


_NAME = "binder.ingress.redirect_middlewares"


def redirect_middlewares_filter(redirects: t.Any, member: t.Any = None) -> dict[str, dict[str, t.Any]]:
    """The redirectRegex middlewares of the redirects, by name."""
    if not isinstance(member, str) or not member:
        raise AnsibleFilterError(
            f"{_NAME}: option member must be a non-empty string, got {type(member).__name__}"
        )
    if isinstance(redirects, (str, bytes, Mapping)) or not isinstance(redirects, Sequence):
        raise AnsibleFilterError(
            f"{_NAME}: member {member}: the input (binder_ingresses_components.redirector.redirects)"
            f" must be a list of redirects, got {type(redirects).__name__}"
        )
    if not redirects:
        return {}
    try:
        return redirect_middlewares(member, redirects)
    except MemberError as exc:
        raise AnsibleFilterError("\n".join(f"{_NAME}: {issue}" for issue in exc.issues)) from None


class FilterModule:
    """binder.ingress.redirect_middlewares"""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"redirect_middlewares": redirect_middlewares_filter}
