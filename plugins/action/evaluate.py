# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Evaluate variables whose templates may fail, reporting a failure once (docs: plugins/modules/evaluate.py).

ansible-core prints a task whose arguments fail to template twice: as an error with the task's
origin, then as the task result, each wrapped in Ansible's own text ("Task failed: Finalization
of task args ... The filter plugin ... failed: ..."). The collection's filters report every
problem of a member, one per line; this action evaluates the expressions itself, so those lines
become the task's msg, printed once, as they are.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template


def _root_message(exc: BaseException) -> str:
    """The innermost Ansible error's own message (a filter's, without the wrappers around it)."""
    message = str(getattr(exc, "message", exc))
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, AnsibleError):
            message = str(cause.message)
        cause = cause.__cause__
    return message


class ActionModule(ActionBase):
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(
            argument_spec={"values": {"type": "dict", "required": True}}
        )
        values: dict[str, Any] = {}
        for name, variable in args["values"].items():
            if not isinstance(variable, str) or not variable.isidentifier():
                result.update(
                    failed=True, msg=f"values.{name}: expected the name of a variable, got {variable!r}"
                )
                return result
            try:
                # The variable is templated here, lazily, and not as a task argument.
                values[name] = self._templar.template(trust_as_template("{{ " + variable + " }}"))
            except AnsibleError as exc:
                result.update(failed=True, msg=_root_message(exc))
                return result
        # Not ansible_facts: facts from any action but set_fact go to the fact cache, which
        # ansible-core copies and cleans for every later task (seconds per task for a large member),
        # and rank below play variables. A set_fact of the registered values publishes them.
        result.update(changed=False, evaluated=values)
        return result
