# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shell of the filters over the member model (member_state).

Private to this collection: checks the filter's options, builds the member with the pure
model, and turns every problem the model reports into one AnsibleFilterError, one line per
problem, each starting with the filter's name.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    MemberError,
    MemberState,
    build_member,
)


def _require_str(name: str, value: t.Any, option: str) -> str:
    if not isinstance(value, str) or not value:
        raise AnsibleFilterError(
            f"{name}: option {option} must be a non-empty string, got {type(value).__name__}"
        )
    return value


def build_state(
    name: str, components: t.Any, member: t.Any, namespace: t.Any, ingress_class: t.Any, tls_acme: t.Any
) -> MemberState:
    """Check the options and build the member's state; `name` is the calling filter's."""
    member = _require_str(name, member, "member")
    namespace = _require_str(name, namespace, "namespace")
    ingress_class = _require_str(name, ingress_class, "ingress_class")
    if not isinstance(tls_acme, bool):
        raise AnsibleFilterError(f"{name}: option tls_acme must be a boolean, got {type(tls_acme).__name__}")
    if not isinstance(components, Mapping):
        raise AnsibleFilterError(
            f"{name}: member {member}: the input (binder_ingresses_components) must be a mapping of component"
            f" name to settings, got {type(components).__name__}"
        )
    try:
        return build_member(
            member, components, namespace=namespace, ingress_class=ingress_class, tls_acme=tls_acme
        )
    except MemberError as exc:
        raise AnsibleFilterError("\n".join(f"{name}: {issue}" for issue in exc.issues)) from None
