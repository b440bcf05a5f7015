"""Unit tests of the k3s_kubeconfig filter: input handling and error messages."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.filter.k3s_kubeconfig import FilterModule, k3s_kubeconfig

KEY = "U0VDUkVULUNMSUVOVC1LRVktRk9SLVRFU1RT"
K3S_YAML = f"""\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EtREFUQQ==
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {{}}
users:
- name: default
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: {KEY}
"""


def test_filter_is_registered() -> None:
    assert FilterModule().filters()["k3s_kubeconfig"] is k3s_kubeconfig


@pytest.mark.parametrize("data", [K3S_YAML, K3S_YAML.encode(), yaml.safe_load(K3S_YAML)])
def test_accepts_text_bytes_and_mapping(data: Any) -> None:
    out = k3s_kubeconfig(data, "hetzner-gesis", "192.0.2.10", namespace="gesis")
    assert out["clusters"][0]["cluster"]["server"] == "https://192.0.2.10:6443"
    assert out["current-context"] == "hetzner-gesis"
    assert out["contexts"][0] == {
        "name": "hetzner-gesis",
        "context": {"cluster": "hetzner-gesis", "user": "hetzner-gesis", "namespace": "gesis"},
    }
    assert out["users"][0]["user"]["client-key-data"] == KEY


def test_port_given_as_digits_is_accepted() -> None:
    out = k3s_kubeconfig(K3S_YAML, "hetzner-gesis", "192.0.2.10", port="16443")
    assert out["clusters"][0]["cluster"]["server"] == "https://192.0.2.10:16443"


@pytest.mark.parametrize(
    ("data", "member", "address", "message"),
    [
        (
            42,
            "hetzner-gesis",
            "192.0.2.10",
            "^k3s_kubeconfig: member hetzner-gesis: input must be YAML text or a mapping, got int$",
        ),
        (["a"], "hetzner-gesis", "192.0.2.10", "input must be YAML text or a mapping, got list"),
        (None, "hetzner-gesis", "192.0.2.10", "input must be YAML text or a mapping, got NoneType"),
        (
            "clusters: [unclosed",
            "hetzner-gesis",
            "192.0.2.10",
            "^k3s_kubeconfig: member hetzner-gesis: the kubeconfig is not valid YAML at line 1",
        ),
        ("just text", "hetzner-gesis", "192.0.2.10", "the kubeconfig must be a mapping, got str"),
        ("", "hetzner-gesis", "192.0.2.10", "the kubeconfig must be a mapping, got NoneType"),
        (
            K3S_YAML,
            "hetzner-gesis",
            "https://192.0.2.10:6443",
            "^k3s_kubeconfig: member hetzner-gesis: address .* is neither",
        ),
        (K3S_YAML, None, "192.0.2.10", r"^k3s_kubeconfig: member \?: member must be a string"),
        (
            K3S_YAML.replace("users:", "users: []\nx:"),
            "bids-ovh",
            "192.0.2.10",
            "^k3s_kubeconfig: member bids-ovh: users must have exactly one entry",
        ),
    ],
)
def test_errors_name_the_filter_and_member(data: Any, member: Any, address: Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message) as info:
        k3s_kubeconfig(data, member, address)
    assert KEY not in str(info.value)


def test_yaml_error_does_not_quote_the_key() -> None:
    broken = K3S_YAML.replace(f"client-key-data: {KEY}", f"client-key-data: {KEY}\n  : [")
    with pytest.raises(AnsibleFilterError, match="not valid YAML") as info:
        k3s_kubeconfig(broken, "hetzner-gesis", "192.0.2.10")
    assert KEY not in str(info.value)


def test_a_refused_key_is_named_with_the_member_and_the_node() -> None:
    hostile = K3S_YAML.replace(
        "    client-key-data:", "    exec: {command: sh, args: [-c, 'id > /tmp/pwned']}\n    client-key-data:"
    )
    with pytest.raises(AnsibleFilterError) as info:
        k3s_kubeconfig(hostile, "hetzner-gesis", "192.0.2.10", node="hetzner-gesis-node")
    message = str(info.value)
    assert message.startswith(
        "k3s_kubeconfig: member hetzner-gesis, node hetzner-gesis-node: users[0].user.exec is not allowed"
    )
    assert "pwned" not in message and KEY not in message
