"""evaluate reports the innermost error's own message: a filter's lines, without Ansible's wrappers."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleError, AnsibleFilterError
from ansible_collections.binder.ingress.plugins.action.evaluate import _root_message

PROBLEMS = "f: member m: binder_namespace: bad\nf: member m: binder_ingresses_components.x.hosts[0]: bad"


def _wrapped(depth: int) -> BaseException:
    """The filter's error under `depth` layers of Ansible's wrapping errors."""
    error: BaseException = AnsibleFilterError(PROBLEMS)
    for layer in range(depth):
        try:
            raise AnsibleError(f"layer {layer}: {error}") from error
        except AnsibleError as outer:
            error = outer
    return error


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_the_filter_message_is_reported_as_it_is(depth: int) -> None:
    assert _root_message(_wrapped(depth)) == PROBLEMS


def test_a_non_ansible_cause_is_kept_after_the_message() -> None:
    # A plain exception under the innermost Ansible error (a filter's bug) is not a user's problem:
    # its text stays, after the message, for the bug report.
    try:
        try:
            raise ValueError("internal")
        except ValueError as cause:
            raise AnsibleError("member m: key: bad") from cause
    except AnsibleError as error:
        assert _root_message(error) == "member m: key: bad: internal"
