# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The adopt_problems filter: a thin shell over module_utils.adoption."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.adoption import adoption_problems

DOCUMENTATION = r"""
name: adopt_problems
short_description: Say what is wrong with a member's list of objects to adopt
version_added: 0.2.0
description:
  - Checks the input, the member's adoption list (C(binder_adopt)), against the objects the member would
    write, and returns one string per problem; an empty list when there is none.
  - Finds a list that is not a list, an entry that is not C(Kind/name), an unknown kind, and an entry that
    names no object of the member (with a "did you mean" when one is close).
  - Each problem starts with O(key) and the entry's index.
positional: objects
options:
  _input:
    description: The adoption list, C(Kind/name) strings.
    type: raw
    required: true
  objects:
    description: Every object the member would write (its entrypoint Service, its Ingresses and redirector Service, its ClusterIssuers).
    type: list
    elements: dict
    required: true
  key:
    description: The variable the user wrote, as the problems name it.
    type: str
    default: binder_adopt
"""

EXAMPLES = r"""
- name: Check the objects the member adopts
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "member {{ inventory_hostname }}: {{ __problems | join('; ') }}"
  vars:
    __problems: "{{ binder_adopt | binder.ingress.adopt_problems(cluster_entrypoint_objects + binder_ingresses_objects) }}"
"""

RETURN = r"""
_value:
  description: The problems, each naming O(key); empty when every entry names an object of the member.
  type: list
  elements: str
"""


def _adopt_problems(entries: Any, objects: Any, key: str = "binder_adopt") -> list[str]:
    """See DOCUMENTATION."""
    if not isinstance(objects, list):
        raise AnsibleFilterError(
            f"adopt_problems: objects must be a list of objects, got {type(objects).__name__}"
        )
    return adoption_problems(entries, objects, key)


class FilterModule:
    """binder.ingress.adopt_problems."""

    def filters(self) -> dict[str, Any]:
        return {"adopt_problems": _adopt_problems}
