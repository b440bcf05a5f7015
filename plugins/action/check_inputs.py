# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Check a member's variables against the collection's input table (docs: plugins/modules/check_inputs.py).

Every variable with one of the collection's prefixes is templated here, one at a time, so that a
variable whose template fails is one problem among the others, and checked by
module_utils.inputs.problems. The problems are returned together, each once, as a block of lines.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template
from ansible_collections.binder.ingress.plugins.module_utils.inputs import MEMBER_ROLES, PREFIXES, problems
from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import plain

_SPEC = {
    "member": {"type": "str", "required": True},
    "roles": {"type": "list", "elements": "str", "default": list(MEMBER_ROLES)},
    "cluster": {"type": "bool", "default": True},
    "mapped": {"type": "list", "elements": "str", "default": []},
    "host_vars_file": {"type": "str", "default": ""},
}


class ActionModule(ActionBase):
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=_SPEC)
        member = args["member"]
        values: dict[str, Any] = {}
        failed: list[str] = []
        for name in sorted(task_vars or {}):
            if not name.startswith(PREFIXES):
                continue
            try:
                values[name] = plain(self._templar.template(trust_as_template("{{ " + name + " }}")))
            except AnsibleError as exc:
                failed.append(f"member {member}: {name}: cannot be evaluated: {exc.message}")
        found = failed + problems(
            member,
            values,
            roles=args["roles"],
            cluster=args["cluster"],
            mapped=args["mapped"],
            host_vars_file=args["host_vars_file"],
        )
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
