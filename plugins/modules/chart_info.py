#!/usr/bin/python

# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: chart_info
short_description: Read a local Helm chart and check it against the pinned name and version
version_added: 0.1.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - Reads the C(Chart.yaml) of a local Helm chart, either an unpacked chart directory or a packaged
    chart archive (C(.tgz), as written by C(helm package)), and returns its name and versions.
  - With O(name) or O(version), fails unless the chart has exactly that name and version. Helm ignores
    C(--version) for a local chart, so this is the check that the chart on disk is the pinned one.
  - Fails when O(path) does not exist or is not a chart. Every failure message names the member
    (O(member)) and the inventory variable the value came from (O(variables)), so that a role can run this module
    before anything is written to a cluster and report the problem as the user wrote it.
  - Nothing is changed; the module only reads files. It runs where the task runs; the members of
    this collection use C(ansible_connection=local), which is also where C(helm) runs.
options:
  path:
    description:
      - The chart directory (holding C(Chart.yaml)) or the chart archive.
      - A relative path is taken relative to the directory the module runs in; prefer an absolute
        path, for example built from C(inventory_dir).
    type: path
    required: true
  name:
    description:
      - The chart name the chart must have. Not checked when omitted.
    type: str
  version:
    description:
      - The chart version the chart must have, compared as written (V(v1.20.2) is not V(1.20.2)). Not
        checked when omitted.
    type: str
  member:
    description:
      - The member the chart is for; failure messages start with C(member <member>:) when it is given.
    type: str
  variables:
    description:
      - The inventory variables that O(path), O(name) and O(version) came from, named in failure messages
        instead of the option names.
    type: dict
    default: {}
    suboptions:
      path:
        description: Variable of O(path).
        type: str
        default: path
      name:
        description: Variable of O(name).
        type: str
        default: name
      version:
        description: Variable of O(version).
        type: str
        default: version
requirements:
  - PyYAML (a dependency of ansible-core)
attributes:
  check_mode:
    support: full
    description: Only reads; in check mode the module reads and checks the same.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
  action:
    support: full
    description:
      - The action plugin of the same name runs the module's code inside the worker Ansible starts for
        the task, on the controller, with no module process of its own.
notes:
  - The module changes nothing; the task's C(changed) is always false.
  - In an archive, the chart is the C(Chart.yaml) one directory deep (C(<name>/Chart.yaml)); the
    C(Chart.yaml) of subcharts below C(<name>/charts/) are not looked at.
seealso:
  - module: kubernetes.core.helm
"""

EXAMPLES = r"""
- name: Check the local traefik chart against the pins
  binder.ingress.chart_info:
    path: "{{ traefik_chart_path }}"
    name: "{{ traefik_chart_name }}"
    version: "{{ traefik_chart_version }}"
    member: "{{ inventory_hostname }}"
    variables:
      path: traefik_chart_path
      name: traefik_chart_name
      version: traefik_chart_version

- name: Read a packaged chart
  binder.ingress.chart_info:
    path: /srv/charts/cert-manager-v1.20.2.tgz
  register: chart

- name: Show what it is
  ansible.builtin.debug:
    msg: "{{ chart.name }} {{ chart.version }} ({{ chart.format }}) at {{ chart.path }}"
"""

RETURN = r"""
path:
  description: The absolute path of the chart, with symbolic links resolved.
  returned: success
  type: str
  sample: /srv/binder.ingress/tests/charts/traefik
format:
  description: V(directory) for an unpacked chart, V(archive) for a packaged one.
  returned: success
  type: str
  sample: directory
name:
  description: The chart's C(name).
  returned: success
  type: str
  sample: traefik
version:
  description: The chart's C(version).
  returned: success
  type: str
  sample: 41.3.0
app_version:
  description: The chart's C(appVersion); empty when the chart has none.
  returned: success
  type: str
  sample: v3.7.11
api_version:
  description: The chart's C(apiVersion) (V(v2) for Helm 3 charts).
  returned: success
  type: str
  sample: v2
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.binder.ingress.plugins.module_utils._chart import argspec, run_chart_info


def main() -> None:
    # The action plugin of the same name runs run_chart_info inside Ansible's worker; this is the
    # module process's way in (ansible-doc, validate-modules, a run without the action).
    run_chart_info(AnsibleModule(argument_spec=argspec(), supports_check_mode=True))


if __name__ == "__main__":
    main()
