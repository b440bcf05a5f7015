# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shell every filter of this collection shares.

Private to this collection. It checks what every filter gets (the member name, the optional
`keys` mapping, the settings mapping), calls the pure builder (module_utils.model or
module_utils.chart_values), and turns the model's MemberError into one AnsibleFilterError,
one line per problem, each starting with the filter's name.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping

from ansible.errors import AnsibleFilterError
from ansible.template import trust_as_template
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    MEMBER_KEYS,
    MemberError,
    MemberState,
    build_member,
    kind,
)

T = t.TypeVar("T")


def check_member(name: str, member: t.Any) -> str:
    """The member= argument: a non-empty string, the inventory host."""
    if not isinstance(member, str) or not member:
        raise AnsibleFilterError(
            f"{name}: option member must be a non-empty string (the inventory host), got {kind(member)}"
        )
    return member


# Fields of a role's `keys` that its apply step names (apply_set's adopt_variable: the variable that lists
# the objects to adopt), not a builder's input: accepted, and left out of what the builder gets.
APPLY_FIELDS = frozenset({"adopt"})


def check_keys(name: str, member: str, keys: t.Any, fields: Mapping[str, str]) -> dict[str, str]:
    """The keys= argument: known input fields to non-empty variable names."""
    if keys is None:
        return {}
    if not isinstance(keys, Mapping):
        raise AnsibleFilterError(f"{name}: member {member}: option keys must be a mapping, got {kind(keys)}")
    keys = {field: variable for field, variable in keys.items() if field not in APPLY_FIELDS}
    for field, variable in keys.items():
        if field not in fields:
            raise AnsibleFilterError(
                f"{name}: member {member}: option keys: unknown input field {field!r}"
                f" (known: {', '.join(sorted(fields))})"
            )
        if not isinstance(variable, str) or not variable:
            raise AnsibleFilterError(
                f"{name}: member {member}: option keys: {field}: must be a variable name, got {kind(variable)}"
            )
    return dict(keys)


def plain(value: t.Any) -> t.Any:
    """``value`` as plain dicts, lists and strings.

    ansible-core hands filters its own lazy, tagged containers; every ``copy.deepcopy`` of one goes
    back through the templar, which made a member with 150 redirects take minutes in the traefik
    values filter (5 ms on plain data). The builders get plain data, converted once here.
    """
    if isinstance(value, Mapping):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, str):
        # A tagged string as the plain one (str() of a str subclass is an exact str).
        return str.__str__(value)
    return value


def variable(templar: t.Any, name: str) -> t.Any:
    """The value of the variable ``name``, templated by ``templar`` (an action's or a lookup's) and
    returned as plain data. A template that fails raises ansible-core's error, naming the variable."""
    return plain(templar.template(trust_as_template("{{ " + name + " }}")))


def call_builder(name: str, build: Callable[..., T], /, *args: t.Any, **arguments: t.Any) -> T:
    """Run a builder on plain copies of its inputs; every problem it reports becomes a line of the
    filter's error. (Positional-only parameters: the builders' own arguments include `name`.)"""
    try:
        return build(*(plain(arg) for arg in args), **{key: plain(arg) for key, arg in arguments.items()})
    except MemberError as exc:
        raise AnsibleFilterError("\n".join(f"{name}: {issue}" for issue in exc.issues)) from None


def build_from_settings(
    name: str,
    settings: t.Any,
    member: t.Any,
    keys: t.Any,
    *,
    fields: Mapping[str, str],
    required: frozenset[str],
    build: Callable[..., T],
) -> T:
    """Check a settings mapping (known fields only, `required` ones present) and build from it.

    `fields` is the builder's input fields -> its role's variable names (e.g. TRAEFIK_KEYS).
    """
    member = check_member(name, member)
    user_keys = check_keys(name, member, keys, fields)
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError(
            f"{name}: member {member}: input must be a mapping of settings, got {kind(settings)}"
        )
    unknown = sorted(map(str, set(settings) - (set(fields) - {"member"})))
    if unknown:
        raise AnsibleFilterError(f"{name}: member {member}: unknown setting(s) {', '.join(unknown)}")
    variables = {**fields, **user_keys}
    missing = sorted(required - set(settings))
    if missing:
        raise AnsibleFilterError(
            f"{name}: member {member}: {variables[missing[0]]}: is required (setting {missing[0]!r})"
        )
    return call_builder(name, build, member=member, keys=variables, **dict(settings))


def settings_filter(
    name: str, *, fields: Mapping[str, str], required: frozenset[str], build: Callable[..., T]
) -> Callable[..., T]:
    """The function of a filter that takes a role's settings as a mapping and builds with `build`."""

    def run(settings: t.Any, member: t.Any = None, keys: t.Any = None) -> T:
        return build_from_settings(
            name, settings, member, keys, fields=fields, required=required, build=build
        )

    return run


def build_state(
    name: str,
    components: t.Any,
    member: t.Any,
    namespace: t.Any,
    ingress_class: t.Any,
    tls_acme: t.Any,
    keys: t.Any = None,
    entrypoints: t.Any = None,
    tls_min_version: t.Any = None,
    hsts_max_age: t.Any = None,
    issuer: t.Any = None,
) -> MemberState:
    """Check the options and build the member's state; `name` is the calling filter's."""
    member = check_member(name, member)
    variables = {**MEMBER_KEYS, **check_keys(name, member, keys, MEMBER_KEYS)}
    return call_builder(
        name,
        build_member,
        member,
        components,
        namespace=namespace,
        ingress_class=ingress_class,
        tls_acme=tls_acme,
        **{
            name: value
            for name, value in (
                ("entrypoints", entrypoints),
                ("tls_min_version", tls_min_version),
                ("hsts_max_age", hsts_max_age),
                ("issuer", issuer),
            )
            if value is not None
        },
        keys=variables,
    )
