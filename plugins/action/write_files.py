# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Write a set of files into one directory on the controller, in one task (docs: plugins/modules/write_files.py).

An action plugin and no module: the files are rendered output that lives next to the playbook run,
so they are written here, on the controller, whatever the host's connection is. That also makes it one
Python call for the whole set instead of one module round trip per file. How the files are written
(no link followed, temp file and rename) is module_utils/_files.py, which the doctor's reports share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.binder.ingress.plugins.module_utils._files import (
    WriteFilesError,
    apply,
    check_files,
    diff,
    parse_mode,
    plan,
)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "dest": {"type": "path", "required": True},
    "files": {"type": "dict", "required": True},
    "mode": {"type": "raw", "default": "0644"},
    "exclusive": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        del tmp
        try:
            args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
            result.update(self.write(args))
        except (AnsibleActionFail, WriteFilesError, OSError) as exc:
            # The one place errors become a task failure; each message names the option or path at fault.
            message = exc.message if isinstance(exc, AnsibleActionFail) else str(exc)
            result.update(failed=True, changed=False, msg=f"write_files: {message}")
        return result

    def write(self, args: dict[str, Any]) -> dict[str, Any]:
        # Every name, content and the mode are checked and the changes worked out before the first write.
        dest = Path(args["dest"]).absolute()
        files = check_files(args["files"])
        mode = parse_mode(args["mode"])
        changes = plan(dest, files, mode, args["exclusive"])
        result: dict[str, Any] = {
            "changed": bool(changes) or not dest.is_dir(),
            "dest": str(dest),
            "written": [c.name for c in changes if c.action != "remove"],
            "removed": [c.name for c in changes if c.action == "remove"],
        }
        if self._task.diff:
            cap = int(C.MAX_FILE_SIZE_FOR_DIFF)
            result["diff"] = [diff(dest, files, mode, change, cap) for change in changes]
        if not self._task.check_mode:
            apply(dest, files, mode, changes)
        return result
