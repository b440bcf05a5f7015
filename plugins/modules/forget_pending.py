#!/usr/bin/python

# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: forget_pending
short_description: Forget a Helm release's revisions left pending for longer than the Helm timeout
version_added: 0.3.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - An upgrade, install or rollback that lost the API half-way cannot record how it ended. Its
    revision stays C(pending-install), C(pending-upgrade) or C(pending-rollback), and Helm refuses every
    later operation on the release (C(another operation (install/upgrade/rollback) is in progress)).
  - This module deletes the record (the C(helm.sh/release.v1) Secret) of each such revision of
    O(release) that is older than O(timeout), bound to its uid and resourceVersion. The next upgrade
    then goes from the last deployed revision.
  - A pending revision younger than O(timeout) may belong to a Helm process that is still running; it
    is kept, with a warning that says from when it will be forgotten. Ages are measured on the API
    server's clock.
  - Only the records' names, revisions and statuses are returned, never their content.
  - With O(chart_path), it also tells whether the release is current (RV(current)), that is, no revision
    is pending and the latest one is deployed from a chart of the same name, version and appVersion as
    the one at O(chart_path), with exactly O(values) as its user-supplied values (compared as
    M(kubernetes.core.helm) compares them). Only that record is decoded, within 32 MiB. A playbook
    then runs M(kubernetes.core.helm) only when the release is not current.
options:
  release:
    description: Name of the Helm release.
    type: str
    required: true
  namespace:
    description: Namespace of the Helm release (where Helm keeps its records).
    type: str
    required: true
  timeout:
    description:
      - The Helm timeout of the operations on the release, as given to Helm (a Go duration such as
        V(5m0s)). A Helm operation that started longer ago than this has ended, or given up.
    type: str
    required: true
  retries:
    description: How many more times a request that failed transiently is sent.
    type: int
    default: 5
  chart_path:
    description:
      - A local chart (directory or C(.tgz)), the one a converge would install; RV(current) is returned
        only with it.
    type: path
  values:
    description: The values a converge would give the release (C(release_values) of M(kubernetes.core.helm)).
    type: dict
    default: {}
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Lists the records and reports which ones would be forgotten; deletes nothing.
  diff_mode:
    support: none
    description: Shows no diff; the records are Helm's bookkeeping.
  action:
    support: full
    description:
      - The action plugin of the same name runs the module's code inside the worker Ansible starts for
        the task, on the controller, with no module process of its own.
seealso:
  - module: kubernetes.core.helm
"""

EXAMPLES = r"""
- name: Forget a traefik revision that a lost API left pending
  binder.ingress.forget_pending:
    release: traefik
    namespace: gesis
    timeout: 5m0s
    chart_path: /srv/charts/traefik
    values: "{{ traefik_values }}"
  register: traefik_record

- name: Install or upgrade traefik only when it is not current
  kubernetes.core.helm:
    release_name: traefik
    release_namespace: gesis
    chart_ref: /srv/charts/traefik
    release_values: "{{ traefik_values }}"
  when: not traefik_record.current
"""

RETURN = r"""
forgotten:
  description: The pending revisions forgotten (or that would be in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    revision:
      description: The revision (the record's C(version) label).
      type: str
      sample: "7"
    status:
      description: Its status.
      type: str
      sample: pending-upgrade
    since:
      description: When its record was created.
      type: str
      sample: "2026-12-07T17:12:21Z"
kept:
  description: The pending revisions younger than O(timeout), kept; same elements as RV(forgotten).
  returned: always
  type: list
  elements: dict
current:
  description: Helm has nothing to do for this chart and these values (see O(chart_path)).
  returned: when O(chart_path) is given
  type: bool
current_because:
  description: Why the release is current, or why not (V(not installed), V(revision 3 has other values)).
  returned: when O(chart_path) is given
  type: str
  sample: revision 3 is deployed with this chart and these values
"""

from ansible_collections.binder.ingress.plugins.module_utils._runs import (
    forget_pending_spec,
    run_forget_pending,
)
from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule


def main() -> None:
    # The action plugin of the same name runs run_forget_pending inside Ansible's worker; this is the module
    # process's way in (ansible-doc, validate-modules, a run without the action).
    run_forget_pending(
        AnsibleK8SModule(
            module_class=AnsibleModule, argument_spec=forget_pending_spec(), supports_check_mode=True
        )
    )


if __name__ == "__main__":
    main()
