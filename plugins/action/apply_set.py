# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run binder.ingress.apply_set inside Ansible's worker, not in a module process of its own
(plugin_utils/_inprocess.py; docs: plugins/modules/apply_set.py)."""

from __future__ import annotations

from ansible_collections.binder.ingress.plugins.module_utils._runs import apply_set_spec, run_apply_set
from ansible_collections.binder.ingress.plugins.plugin_utils._inprocess import InProcessAction


class ActionModule(InProcessAction):
    module_name = "apply_set"
    spec = staticmethod(apply_set_spec)
    run_in_worker = staticmethod(run_apply_set)
