"""binder.ingress.redirect_middlewares: a type-checked shell over the model's redirect middlewares."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.filter.redirect_middlewares import FilterModule
from ansible_collections.binder.ingress.plugins.module_utils.model import redirect_middlewares

NAME = "binder.ingress.redirect_middlewares"
REDIRECTS = [
    {"type": "host", "from": "beta.mybinder.org", "to": "mybinder.org"},
    {
        "type": "url",
        "from": "status.mybinder.org",
        "to": "mybinder.readthedocs.io/en/latest/status.html",
        "code": 301,
    },
]


def run(value: Any, **kwargs: Any) -> Any:
    return FilterModule().filters()["redirect_middlewares"](value, **kwargs)


def test_result_is_the_models() -> None:
    result = run(REDIRECTS, member="gke")
    assert result == redirect_middlewares("gke", REDIRECTS)
    assert list(result) == ["redirect-beta-mybinder-org", "redirect-status-mybinder-org"]
    assert result["redirect-status-mybinder-org"]["redirectRegex"]["permanent"] is True


def test_tuple_input_and_empty_list() -> None:
    assert run(tuple(REDIRECTS), member="gke") == run(REDIRECTS, member="gke")
    assert run([], member="gke") == {}


@pytest.mark.parametrize(
    ("value", "kwargs", "words"),
    [
        pytest.param(REDIRECTS, {}, "option member must be a non-empty string, got NoneType", id="no-member"),
        pytest.param(
            REDIRECTS, {"member": 1}, "option member must be a non-empty string, got int", id="member-int"
        ),
        pytest.param({"redirects": REDIRECTS}, {"member": "gke"}, "member gke: the input", id="mapping"),
        pytest.param(
            "beta.mybinder.org", {"member": "gke"}, "must be a list of redirects, got str", id="string"
        ),
        pytest.param(None, {"member": "gke"}, "must be a list of redirects, got NoneType", id="none"),
    ],
)
def test_type_checks(value: Any, kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        run(value, **kwargs)
    assert str(caught.value.message).startswith(f"{NAME}: ")
    assert words in str(caught.value.message)


def test_model_errors_are_wrapped() -> None:
    bad = [
        {"type": "host", "from": "a.org", "to": "a.org"},
        {"type": "host", "from": "b.org", "to": "c.org", "code": 307},
    ]
    with pytest.raises(AnsibleFilterError) as caught:
        run(bad, member="bids-ovh")
    lines = str(caught.value.message).splitlines()
    assert len(lines) == 2
    assert lines[0] == (
        f"{NAME}: member bids-ovh: binder_ingresses_components.redirector.redirects[0].to: 'a.org' redirects 'a.org' to itself"
    )
    assert lines[1].startswith(
        f"{NAME}: member bids-ovh: binder_ingresses_components.redirector.redirects[1].code: 307 "
    )
