# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/evaluate.py) on the
# controller; this file holds its documentation.

DOCUMENTATION = r"""
module: evaluate
short_description: Evaluate variables whose templates may fail, reporting the failure once
version_added: 0.2.0
description:
  - Templates each variable named in O(values), usually a task variable holding the expression that
    builds a role's result, and returns their values in RV(evaluated). Register the result and publish
    the values with M(ansible.builtin.set_fact).
  - The variables are templated by the action, not as task arguments. When one fails (a filter of
    this collection reporting a member's problems, for example), the task fails with the innermost
    error's own message as its C(msg), printed once, instead of the wrapped text ansible-core prints
    twice for a task whose arguments fail to template.
  - The values are not returned as C(ansible_facts). ansible-core puts the facts of any action but
    M(ansible.builtin.set_fact) into the fact cache, copies and cleans that cache for every later
    task (seconds per task for a member of a thousand hosts), and ranks them below play variables.
  - Runs on the controller; never connects to the host.
options:
  values:
    description:
      - Result name to the name of the variable holding its value.
      - The values are returned together, and only if every variable templated.
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    description: Evaluates the variables as in a normal run; nothing is written anywhere.
  diff_mode:
    support: none
    description: Shows no diff; a value is not a change to show.
author:
  - binder.ingress contributors (@binder-ingress)
seealso:
  - module: ansible.builtin.set_fact
"""

EXAMPLES = r"""
- name: Build and validate the member's Ingress set
  binder.ingress.evaluate:
    values:
      state: __binder_ingresses_state
  vars:
    __binder_ingresses_state: >-
      {{ binder_ingresses_components | binder.ingress.member_state(member=inventory_hostname,
           namespace=binder_ingresses_namespace) }}
  register: __binder_ingresses_built

- name: Publish the member's state
  ansible.builtin.set_fact:
    binder_ingresses_state: "{{ __binder_ingresses_built.evaluated.state }}"
"""

RETURN = r"""
evaluated:
  description: The value of each variable in O(values), by result name.
  returned: success
  type: dict
  sample: {state: {summary: []}}
"""
