# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The adopted_in filter: a thin shell over module_utils.adoption."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.adoption import adopted_in

DOCUMENTATION = r"""
name: adopted_in
short_description: The entries of a member's adoption list that name objects of one set
version_added: 0.2.0
description:
  - Returns the entries of the input, the member's adoption list (C(binder_adopt), C(Kind/name) strings),
    that name one of O(objects), in the list's order. The binder role gives each role the entries for the
    objects it writes.
  - Entries that name none of them are left out; P(binder.ingress.adopt_problems#filter) reports those that
    name no object of the member at all.
positional: objects
options:
  _input:
    description: The adoption list.
    type: list
    elements: str
    required: true
  objects:
    description: The objects of one set.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Give the cluster_entrypoint role the entries for its Service
  ansible.builtin.set_fact:
    cluster_entrypoint_adopt: "{{ binder_adopt | binder.ingress.adopted_in(cluster_entrypoint_objects) }}"
"""

RETURN = r"""
_value:
  description: The entries that name one of O(objects).
  type: list
  elements: str
"""


def _adopted_in(entries: Any, objects: Any) -> list[str]:
    """See DOCUMENTATION."""
    if not isinstance(objects, list):
        raise AnsibleFilterError(
            f"adopted_in: objects must be a list of objects, got {type(objects).__name__}"
        )
    return adopted_in(entries, objects)


class FilterModule:
    """binder.ingress.adopted_in."""

    def filters(self) -> dict[str, Any]:
        return {"adopted_in": _adopted_in}
