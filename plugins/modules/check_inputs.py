# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/check_inputs.py) on the
# controller; this file holds its documentation.

DOCUMENTATION = r"""
module: check_inputs
short_description: Check a member's variables against the collection's input table, every problem at once
version_added: 0.1.0
description:
  - Templates every variable of the member whose name starts with C(binder_), C(cluster_entrypoint_), C(traefik_) or
    C(cert_manager_), and checks those of the roles in O(roles) against the collection's one table of inputs
    (C(plugins/module_utils/inputs.py)), from which the roles' defaults, argument specs and README tables are
    generated.
  - Reports a required variable that is not set, a value of the wrong type, outside its choices or refused by its
    row's check (the ACME e-mail, the chart pins, the default issuer, ...), a variable the binder role sets itself
    (O(mapped)), a variable with one of those prefixes that no role reads (naming the variable it most likely
    meant), and, with the C(binder) role, every problem of the member's catalogue.
  - "Every problem is one line, C(member <member>: <variable>: <what is wrong and what to write>), in RV(problems);
    the task fails once, with all of them."
  - Runs on the controller; never connects to the host.
options:
  member:
    description: The member (inventory host) the variables are of; every problem names it.
    type: str
    required: true
  roles:
    description: The roles whose variables are checked.
    type: list
    elements: str
    choices: [binder, cluster_entrypoint, traefik, cert_manager, binder_ingresses]
    default: [binder, cluster_entrypoint, traefik, cert_manager, binder_ingresses]
  cluster:
    description: The entry point calls the member's cluster, so C(binder_kubeconfig) and C(binder_context) are required.
    type: bool
    default: true
  mapped:
    description: Role variables the binder role sets from member variables; a value set for one is refused.
    type: list
    elements: str
    default: []
  host_vars_file:
    description: The host_vars file a missing member variable belongs in, named in its problem.
    type: str
    default: ''
attributes:
  check_mode:
    support: full
    description: Checks as in a normal run; nothing is written anywhere.
  diff_mode:
    support: none
    description: Shows no diff.
author:
  - binder.ingress contributors (@binder-ingress)
"""

EXAMPLES = r"""
- name: Check the member's variables
  binder.ingress.check_inputs:
    member: "{{ inventory_hostname }}"
    host_vars_file: "{{ inventory_dir }}/host_vars/{{ inventory_hostname }}.yml"
"""

RETURN = r"""
problems:
  description: Every problem found, one per line.
  returned: failure
  type: str
  sample: "member gke-prod: binder_k3: is not a variable of the collection (no role reads it); did you mean binder_k3s?\n"
"""
