# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run binder.ingress.forget_pending inside Ansible's worker, not in a module process of its own
(plugin_utils/_inprocess.py; docs: plugins/modules/forget_pending.py)."""

from __future__ import annotations

from ansible_collections.binder.ingress.plugins.module_utils._runs import (
    forget_pending_spec,
    run_forget_pending,
)
from ansible_collections.binder.ingress.plugins.plugin_utils._inprocess import InProcessAction


class ActionModule(InProcessAction):
    module_name = "forget_pending"
    spec = staticmethod(forget_pending_spec)
    run_in_worker = staticmethod(run_forget_pending)
