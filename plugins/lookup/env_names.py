# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: env_names
short_description: The names of the controller's environment variables that start with given prefixes
version_added: 0.3.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - Returns the names, sorted, of the variables of the controller's environment (the environment of
    C(ansible-playbook), which the modules it runs on the controller inherit) that start with any of the
    terms. Never their values, which may be credentials.
  - The collection refuses to call a cluster while a variable that kubernetes.core or Helm read over
    the member's kubeconfig is set (C(K8S_AUTH_*), C(HELM_KUBE*)).
options:
  _terms:
    description: Prefixes of variable names, for example V(K8S_AUTH_). Case-sensitive.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse to run while the operator's shell points kubernetes.core elsewhere
  ansible.builtin.assert:
    that: query('binder.ingress.env_names', 'K8S_AUTH_', 'HELM_KUBE') | length == 0
"""

RETURN = r"""
_raw:
  description: The names of the variables, sorted.
  type: list
  elements: str
  sample: [K8S_AUTH_HOST, K8S_AUTH_VERIFY_SSL]
"""

import os
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
        del variables, kwargs
        prefixes = []
        for term in terms:
            if not isinstance(term, str) or not term:
                raise AnsibleLookupError(f"env_names: a prefix must be a non-empty string, got {term!r}")
            prefixes.append(term)
        return sorted(name for name in os.environ if name.startswith(tuple(prefixes)))
