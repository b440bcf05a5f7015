# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: settings
short_description: A role's settings, as its builder takes them, from the collection's input table
version_added: 0.1.0
description:
  - Returns one mapping, for the role named by the term, of each input field of the role's settings builder
    (M(binder.ingress.traefik_values), M(binder.ingress.cert_manager_values), M(binder.ingress.entrypoint_service))
    to the value of the variable the collection's input table (C(plugins/module_utils/inputs.py)) names for it.
  - The render step of the role hands the builder this mapping, so a variable of the role reaches its builder by
    its row in the table, not by a line of the render step.
  - Integer and boolean variables are converted as the argument spec takes them (V("2"), V(yes)).
options:
  _terms:
    description: The role, C(traefik), C(cert_manager) or C(cluster_entrypoint).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Build the traefik chart values
  ansible.builtin.set_fact:
    values: "{{ query('binder.ingress.settings', 'traefik') | first | binder.ingress.traefik_values(member='m') }}"
"""

RETURN = r"""
_raw:
  description: One mapping of setting name to value.
  type: list
  elements: dict
"""

from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.binder.ingress.plugins.module_utils.inputs import setting_names, settings
from ansible_collections.binder.ingress.plugins.plugin_utils._member_filters import variable


class LookupModule(LookupBase):
    def run(
        self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        if len(terms) != 1 or not setting_names(str(terms[0])):
            raise AnsibleLookupError(
                f"binder.ingress.settings: give one role with a settings builder (traefik, cert_manager,"
                f" cluster_entrypoint), got {terms!r}"
            )

        def value_of(name: str) -> Any:
            return variable(self._templar, name)

        return [settings(str(terms[0]), value_of)]
