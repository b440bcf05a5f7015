# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run a cluster module of this collection inside the worker process Ansible started for the task.

A module process costs a Python start, the unpacking of its payload and the import of the
kubernetes client: about 1.3 s a task on a 2-core machine, ten or more times per converge of a
member. The members of this collection run on the controller (``ansible_connection: local``), so the
module's code (plugins/module_utils/_runs.py) can run in the worker instead.

The action plugin's module imports this file, ``_runs`` and through it the kubernetes client at the top.
ansible-playbook loads each task's action class in its own process before it forks the task's worker
(the linear strategy asks it whether it bypasses the host loop), so that import happens once per run
and every worker inherits it.

What the module process would do, this does too: the task's arguments are validated against the
module's argument spec (defaults, types, choices, the K8S_AUTH_* fallbacks), check and diff mode are
the task's, warnings are the task's warnings, and every no_log value (the spec's, and those the run
adds) is masked in the result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.json import AnsibleJSONEncoder
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase


class _Exited(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result.get("msg", ""))
        self.result = result


class InProcessModule:
    """What a ``_runs.run_*`` function uses of ``AnsibleK8SModule``, for a run in the worker."""

    server_side_dry_run = False

    def __init__(self, params: dict[str, Any], check_mode: bool, diff: bool, no_log_values: set[str]) -> None:
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.no_log_values = set(no_log_values)
        self.warnings: list[str] = []
        self._module = self  # AnsibleK8SModule keeps no_log values on the AnsibleModule it wraps

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)

    def fail_json(self, msg: str, **kwargs: Any) -> None:
        raise _Exited(dict(kwargs, failed=True, msg=msg))

    def exit_json(self, **kwargs: Any) -> None:
        raise _Exited(kwargs)

    def requires(self, *args: Any, **kwargs: Any) -> None:
        """kubernetes.core asks for a newer kubernetes client only for options this collection does
        not pass (an in-memory kubeconfig, no_proxy); the pinned client has them all."""


def run_module(
    name: str,
    spec: dict[str, Any],
    run: Callable[[Any], None],
    args: dict[str, Any],
    check_mode: bool,
    diff: bool,
) -> dict[str, Any]:
    """The result of ``run`` on ``args``, as the module ``name`` would have returned it."""
    # A module process gets its arguments as JSON: plain types, no trust or origin tags of the
    # templated values (which YAML or deepcopy in the run would choke on, or carry into the result).
    try:
        plain = json.loads(json.dumps(args, cls=AnsibleJSONEncoder))
    except (TypeError, ValueError) as e:
        return {"failed": True, "msg": f"{name}: the arguments are not JSON: {e}"}
    validated = ArgumentSpecValidator(spec).validate(plain)
    if validated.error_messages:
        return {"failed": True, "msg": f"{name}: {'; '.join(validated.error_messages)}"}
    module = InProcessModule(validated.validated_parameters, check_mode, diff, validated._no_log_values)
    try:
        run(module)
        result: dict[str, Any] = {"failed": True, "msg": f"{name}: ended without a result"}
    except _Exited as exited:
        result = exited.result
    masked: dict[str, Any] = remove_values(result, module.no_log_values)
    if module.warnings:
        masked["warnings"] = module.warnings
    masked.setdefault("changed", False)
    return masked


class InProcessAction(ActionBase):
    """The action of a module of ``_runs``: subclasses name the module, its spec and its run."""

    _supports_check_mode = True
    _supports_async = False
    module_name = ""
    spec: Callable[[], dict[str, Any]]
    run_in_worker: Callable[[Any], None]

    def task_args(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """The task's arguments as the module gets them (a subclass may add to them)."""
        del task_vars
        return dict(self._task.args)

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        cls = type(self)
        result.update(
            run_module(
                f"binder.ingress.{cls.module_name}",
                cls.spec(),
                cls.run_in_worker,
                self.task_args(task_vars or {}),
                bool(self._task.check_mode),
                bool(self._task.diff),
            )
        )
        return result
