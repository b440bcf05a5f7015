# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/build_facts.py) on the
# controller; this file holds its documentation.

DOCUMENTATION = r"""
module: build_facts
short_description: Set facts from variables whose templates may fail, reporting the failure once
version_added: 0.2.0
description:
  - Sets each fact in O(facts) to the value of a variable, usually a task variable holding the
    expression that builds it, like M(ansible.builtin.set_fact) does.
  - The variables are templated by the action, not as task arguments. When one fails (a filter of
    this collection reporting a member's problems, for example), the task fails with the innermost
    error's own message as its C(msg), printed once, instead of the wrapped text ansible-core prints
    twice for a task whose arguments fail to template.
  - Runs on the controller; never connects to the host.
options:
  facts:
    description:
      - Fact name to the name of the variable holding its value.
      - The facts are set in one go, and only if every variable templated.
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    description: Builds and sets the facts as in a normal run; nothing is written anywhere.
  diff_mode:
    support: none
    description: Shows no diff; facts are not a change to show.
author:
  - binder.ingress contributors (@binder-ingress)
seealso:
  - module: ansible.builtin.set_fact
"""

EXAMPLES = r"""
- name: Build and validate the member's Ingress set
  binder.ingress.build_facts:
    facts:
      binder_ingresses_state: __binder_ingresses_state
  vars:
    __binder_ingresses_state: >-
      {{ binder_ingresses_components | binder.ingress.member_state(member=inventory_hostname,
           namespace=binder_ingresses_namespace) }}
"""

RETURN = r"""
ansible_facts:
  description: The facts set, by name.
  returned: success
  type: dict
"""
