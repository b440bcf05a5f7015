# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Name the lock's holder on the controller, then run binder.ingress.member_lock inside Ansible's
worker (plugin_utils/_inprocess.py; docs: plugins/modules/member_lock.py).

The holder is the ansible-playbook process that runs the converge: its user, host and pid. The
worker, which multiprocessing started for ansible-playbook (a new one for every task), knows that pid
(its OS parent may be a fork server in between): the same holder for the task that takes the lock and
the one that gives it back, and another one for every other run.
"""

from __future__ import annotations

import getpass
import multiprocessing
import os
import socket
from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils._member_lock import holder_identity
from ansible_collections.binder.ingress.plugins.module_utils._runs import member_lock_spec, run_member_lock
from ansible_collections.binder.ingress.plugins.plugin_utils._inprocess import InProcessAction


class ActionModule(InProcessAction):
    module_name = "member_lock"
    spec = staticmethod(member_lock_spec)
    run_in_worker = staticmethod(run_member_lock)

    def task_args(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        args = dict(self._task.args)
        if not args.get("holder"):
            parent = multiprocessing.parent_process()
            pid = parent.pid if parent is not None and parent.pid else os.getppid()
            args["holder"] = holder_identity(getpass.getuser(), socket.gethostname(), pid)
        return args
