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
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Lists the records and reports which ones would be forgotten; deletes nothing.
  diff_mode:
    support: none
    description: Shows no diff; the records are Helm's bookkeeping.
seealso:
  - module: kubernetes.core.helm
"""

EXAMPLES = r"""
- name: Forget a traefik revision that a lost API left pending
  binder.ingress.forget_pending:
    release: traefik
    namespace: gesis
    timeout: 5m0s
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
"""

import copy
import traceback
from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils import _names
from ansible_collections.binder.ingress.plugins.module_utils._apply_set import api_message, retrying
from ansible_collections.binder.ingress.plugins.module_utils._helm_pending import PendingError, forget_pending
from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule


def argspec() -> dict[str, Any]:
    args: dict[str, Any] = copy.deepcopy(AUTH_ARG_SPEC)
    args.update(
        release=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        timeout=dict(type="str", required=True),
        retries=dict(type="int", default=5),
    )
    return args


def main() -> None:
    module = AnsibleK8SModule(module_class=AnsibleModule, argument_spec=argspec(), supports_check_mode=True)
    params = module.params
    what = f"forget_pending: release {params['namespace']}/{params['release']}"
    try:
        timeout = _names.duration_seconds(params["timeout"])
    except ValueError as e:
        module.fail_json(msg=f"{what}: timeout {params['timeout']!r}: {e}")
    if params["retries"] < 0:
        module.fail_json(msg=f"{what}: retries must be 0 or more, got {params['retries']}")
    try:
        client = retrying(
            lambda: get_api_client(module), "connecting to the API server", retries=params["retries"]
        )
        result = forget_pending(
            client,
            release=params["release"],
            namespace=params["namespace"],
            timeout=timeout,
            timeout_text=params["timeout"],
            check_mode=module.check_mode,
            retries=params["retries"],
        )
    except PendingError as e:
        module.fail_json(msg=f"forget_pending: {e}")
    except Exception as e:  # the kubeconfig, the connection, the API: one place turns them into a failure
        module.fail_json(msg=f"{what}: {api_message(e)}", exception=traceback.format_exc())
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=bool(result["forgotten"]), **result)


if __name__ == "__main__":
    main()
