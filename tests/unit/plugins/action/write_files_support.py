"""What the write_files tests share: the action driven through its ActionModule with a real Task.

The action never uses its connection (it writes on the controller), so the stub only carries what
ActionBase.run looks at.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible_collections.binder.ingress.plugins.action.write_files import ActionModule


def run(args: dict[str, Any], *, check: bool = False, diff: bool = False) -> dict[str, Any]:
    task = Task()
    task.action = "binder.ingress.write_files"
    task.args = args
    task.check_mode = check
    task.diff = diff
    connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir=None))
    action = ActionModule(task, connection, PlayContext(), DataLoader(), None)
    result: dict[str, Any] = action.run(task_vars={})
    return result
