# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shell shared by the filters that take a role's settings as a mapping.

Private to this collection. It checks the arguments every such filter gets (the member
name and the settings mapping), calls the pure builder from chart_values.py, and turns its
problems into one AnsibleFilterError that starts with the filter's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.chart_values import ChartValuesError

T = TypeVar("T")


def check_member(name: str, member: Any) -> str:
    """The member= argument: a non-empty string, the inventory host."""
    if not isinstance(member, str) or not member:
        raise AnsibleFilterError(f"{name}: member= must be given as a non-empty string (the inventory host)")
    return member


def call_builder(name: str, member: str, build: Callable[..., T], /, **arguments: Any) -> T:
    """Run a chart_values builder; its problems become the filter's error. (Positional-only
    parameters: the builders' own arguments include `name`.)"""
    try:
        return build(member=member, **arguments)
    except ChartValuesError as exc:
        raise AnsibleFilterError(f"{name}: " + "; ".join(exc.issues)) from exc


def build_from_settings(
    name: str,
    settings: Any,
    member: Any,
    *,
    keys: frozenset[str],
    required: Mapping[str, str],
    build: Callable[..., T],
) -> T:
    """Check a settings mapping (known keys only, `required` maps a required setting to the
    role variable it comes from) and build from it."""
    member = check_member(name, member)
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(
            f"{name}: member {member}: input must be a mapping of settings, got {type(settings).__name__}"
        )
    unknown = sorted(map(str, set(settings) - keys))
    if unknown:
        raise AnsibleFilterError(f"{name}: member {member}: unknown setting(s) {', '.join(unknown)}")
    for setting, variable in required.items():
        if setting not in settings:
            raise AnsibleFilterError(
                f"{name}: member {member}: {variable}: the setting '{setting}' is required"
            )
    return call_builder(name, member, build, **dict(settings))
