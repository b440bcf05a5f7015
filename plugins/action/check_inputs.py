# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Check a member's variables against the collection's input table (docs: plugins/modules/check_inputs.py).

Every variable with one of the collection's prefixes is templated here, one at a time, so that a
variable whose template fails is one problem among the others, and checked by
module_utils.inputs.issues. The problems are returned together, each once, as a block of lines.
"""

from __future__ import annotations

import os
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.binder.ingress.plugins.module_utils.inputs import MEMBER_ROLES, issues
from ansible_collections.binder.ingress.plugins.module_utils.kubeconfig import kubeconfig_problems
from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import variable

_SPEC = {
    "member": {"type": "str", "required": True},
    "roles": {"type": "list", "elements": "str", "default": list(MEMBER_ROLES)},
    "cluster": {"type": "bool", "default": True},
    "mapped": {"type": "list", "elements": "str", "default": []},
    "host_vars_file": {"type": "str", "default": ""},
    "refused_env": {"type": "list", "elements": "str", "default": []},
}


def _controller(member: str, task_vars: dict[str, Any]) -> list[str]:
    """Every step of a member runs on the controller, against its kubeconfig: a member Ansible would reach
    over ssh renders fine, then fails at its first cluster step on a connection to a machine named after it."""
    connection = task_vars.get("ansible_connection")
    if connection == "local":
        return []
    return [
        f"member {member}: ansible_connection: is {connection or 'not set (ssh)'}; every step of a member runs on"
        " the controller through its kubeconfig: set ansible_connection: local for the members (the vars of"
        " binder_members in hosts.yml, as in inventories/prod)"
    ]


def _environment(member: str, prefixes: list[str]) -> list[str]:
    """kubernetes.core takes each connection setting it is not given from K8S_AUTH_<setting>, and helm takes
    HELM_KUBE* over the kubeconfig it is handed: a variable left in the operator's shell would send the
    member's requests (credentials, prune) to another cluster, or turn TLS verification off. Named, never
    their values."""
    names = sorted(name for name in os.environ if name.startswith(tuple(prefixes)))
    if not names:
        return []
    return [
        f"member {member}: the controller's environment sets {', '.join(names)}, which kubernetes.core (K8S_AUTH_*)"
        " and helm (HELM_KUBE*) would use over binder_kubeconfig and binder_context: the member's requests could go"
        f" to another cluster, or without TLS verification. Unset {'it' if len(names) == 1 else 'them'}"
        f" (unset {' '.join(names)}) and run again."
    ]


class ActionModule(ActionBase):
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=_SPEC)
        member = args["member"]
        roles = args["roles"]
        prefixes = tuple(f"{role}_" for role in roles)
        values: dict[str, Any] = {}
        found: list[str] = []
        if "binder" in roles:
            found += _controller(member, task_vars or {})
        for name in sorted(task_vars or {}):
            if not name.startswith(prefixes):
                continue
            try:
                values[name] = variable(self._templar, name)
            except AnsibleError as exc:
                found.append(f"member {member}: {name}: cannot be evaluated: {exc.message}")
        table = issues(
            member,
            values,
            roles=roles,
            cluster=args["cluster"],
            mapped=args["mapped"],
            host_vars_file=args["host_vars_file"],
        )
        found += [str(issue) for issue in table]
        if "binder" in roles and args["cluster"]:
            found += _environment(member, args["refused_env"])
            # The kubeconfig is read only when its two variables passed the table's checks.
            if not {issue.key for issue in table} & {"binder_kubeconfig", "binder_context"}:
                # Only the problems, never the file's content (it holds credentials).
                found += [
                    f"member {member}: {problem}"
                    for problem in kubeconfig_problems(
                        values.get("binder_kubeconfig"), values.get("binder_context")
                    )
                ]
        if found:
            # The summary is msg (ansible-core prints msg twice, once with the task's origin); the
            # problems are printed once, as a block.
            count = f"{len(found)} problem{'s' if len(found) > 1 else ''}"
            result.update(
                failed=True,
                msg=f"member {member}: {count} in its variables, each below (nothing was written to any cluster)",
                problems="\n".join(found) + "\n",
            )
        else:
            result.update(changed=False, msg=f"member {member}: {len(values)} variables checked")
        return result
