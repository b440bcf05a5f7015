# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Name the lock's holder on the controller, then run the module (docs: plugins/modules/member_lock.py).

The holder is the ansible-playbook process that runs the converge: its user, host and pid. The
module cannot tell it (it runs as a child of a worker process, a new one for every task), but this
action runs in the worker, which multiprocessing started for ansible-playbook and which knows its
pid (its OS parent may be a fork server in between): the same holder for the task that takes the
lock and the one that gives it back, and another one for every other run.
"""

from __future__ import annotations

import getpass
import multiprocessing
import os
import socket
from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.binder.ingress.plugins.module_utils._member_lock import holder_identity


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if not args.get("holder"):
            parent = multiprocessing.parent_process()
            pid = parent.pid if parent is not None and parent.pid else os.getppid()
            args["holder"] = holder_identity(getpass.getuser(), socket.gethostname(), pid)
        result.update(
            self._execute_module(
                module_name="binder.ingress.member_lock", module_args=args, task_vars=task_vars
            )
        )
        return result
