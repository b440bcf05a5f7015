# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run binder.ingress.chart_info inside Ansible's worker, not in a module process of its own
(plugin_utils/_inprocess.py; docs: plugins/modules/chart_info.py). It reads files on the controller,
where the collection's members run (``ansible_connection: local``) and where helm reads the chart."""

from __future__ import annotations

from ansible_collections.binder.ingress.plugins.module_utils._chart import argspec, run_chart_info
from ansible_collections.binder.ingress.plugins.plugin_utils._inprocess import InProcessAction


class ActionModule(InProcessAction):
    module_name = "chart_info"
    spec = staticmethod(argspec)
    run_in_worker = staticmethod(run_chart_info)
