# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubeconfig_problems filter: a thin shell over module_utils.kubeconfig."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.kubeconfig import kubeconfig_problems

DOCUMENTATION = r"""
name: kubeconfig_problems
short_description: Say what keeps a member's kubeconfig from reaching its cluster
version_added: 0.2.0
description:
  - Reads the kubeconfig file at the input path on the controller and returns the problems that keep
    it from reaching the cluster through O(context), one string per problem; an empty list when there
    are none.
  - Finds a missing or unreadable file, a file that is not a kubeconfig, a context that is not in it,
    and a context that names a cluster or user the file does not define.
  - Each problem starts with the variable the user wrote (O(keys)); it quotes paths and entry names,
    never the file's content, which holds credentials.
  - The binder role checks every member with it before any cluster call.
positional: context
options:
  _input:
    description: Path of the kubeconfig on the controller; C(~) is expanded.
    type: path
    required: true
  context:
    description: The context to use; empty for the file's C(current-context).
    type: str
    required: true
  keys:
    description: The variable names to put in the problems, for C(kubeconfig) and C(context).
    type: dict
    default: {kubeconfig: binder_kubeconfig, context: binder_context}
"""

EXAMPLES = r"""
- name: Check the member's kubeconfig and context
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "member {{ inventory_hostname }}: {{ __problems | join('; ') }}"
  vars:
    __problems: "{{ binder_kubeconfig | binder.ingress.kubeconfig_problems(binder_context) }}"
"""

RETURN = r"""
_value:
  description: The problems, each naming the variable; empty when the kubeconfig and context are usable.
  type: list
  elements: str
"""


def _kubeconfig_problems(path: Any, context: Any, keys: Any = None) -> list[str]:
    """See DOCUMENTATION."""
    if keys is not None and not (isinstance(keys, dict) and all(isinstance(v, str) for v in keys.values())):
        raise AnsibleFilterError(
            "kubeconfig_problems: keys must map kubeconfig and context to variable names"
        )
    return kubeconfig_problems(path, context, dict(keys) if keys else None)


class FilterModule:
    """binder.ingress.kubeconfig_problems."""

    def filters(self) -> dict[str, Any]:
        return {"kubeconfig_problems": _kubeconfig_problems}
