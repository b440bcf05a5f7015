"""Unit tests of the pure k3s kubeconfig rewrite."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.module_utils.kubeconfig import (
    KubeconfigError,
    rewrite_k3s_kubeconfig,
    server_url,
)

# Stand-ins for the base64 blobs k3s writes; a real key must never show in an error.
CA = "Q0EtREFUQS1GT1ItVEVTVFM="
CERT = "Q0xJRU5ULUNFUlQtRk9SLVRFU1RT"
KEY = "U0VDUkVULUNMSUVOVC1LRVktRk9SLVRFU1RT"


def k3s_yaml() -> dict[str, Any]:
    """The shape of /etc/rancher/k3s/k3s.yaml as a fresh k3s server writes it."""
    return {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {"certificate-authority-data": CA, "server": "https://127.0.0.1:6443"},
                "name": "default",
            }
        ],
        "contexts": [{"context": {"cluster": "default", "user": "default"}, "name": "default"}],
        "current-context": "default",
        "kind": "Config",
        "preferences": {},
        "users": [{"name": "default", "user": {"client-certificate-data": CERT, "client-key-data": KEY}}],
    }


def test_rewrite_points_server_renames_entries_and_sets_namespace() -> None:
    out = rewrite_k3s_kubeconfig(k3s_yaml(), "hetzner-gesis", "192.0.2.10", namespace="gesis")
    assert out == {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {"certificate-authority-data": CA, "server": "https://192.0.2.10:6443"},
                "name": "hetzner-gesis",
            }
        ],
        "contexts": [
            {
                "context": {"cluster": "hetzner-gesis", "user": "hetzner-gesis", "namespace": "gesis"},
                "name": "hetzner-gesis",
            }
        ],
        "current-context": "hetzner-gesis",
        "kind": "Config",
        "preferences": {},
        "users": [
            {"name": "hetzner-gesis", "user": {"client-certificate-data": CERT, "client-key-data": KEY}}
        ],
    }


def test_namespace_defaults_to_member() -> None:
    out = rewrite_k3s_kubeconfig(k3s_yaml(), "bids-ovh", "192.0.2.11")
    assert out["contexts"][0]["context"]["namespace"] == "bids-ovh"


def test_input_is_not_modified() -> None:
    original = k3s_yaml()
    before = copy.deepcopy(original)
    rewrite_k3s_kubeconfig(original, "hetzner-2i2c", "192.0.2.12")
    assert original == before


def test_rewrite_is_idempotent() -> None:
    once = rewrite_k3s_kubeconfig(k3s_yaml(), "hetzner-2i2c", "192.0.2.12", namespace="2i2c")
    assert rewrite_k3s_kubeconfig(once, "hetzner-2i2c", "192.0.2.12", namespace="2i2c") == once


@pytest.mark.parametrize(
    ("address", "port", "expected"),
    [
        ("192.0.2.10", 6443, "https://192.0.2.10:6443"),
        ("2001:db8::10", 6443, "https://[2001:db8::10]:6443"),
        ("2001:0db8:0000::0010", 6443, "https://[2001:db8::10]:6443"),
        ("k3s.Example.org.", 6443, "https://k3s.example.org:6443"),
        ("gesis.mybinder.org", 16443, "https://gesis.mybinder.org:16443"),
    ],
)
def test_server_url(address: str, port: int, expected: str) -> None:
    assert server_url(address, port) == expected


@pytest.mark.parametrize(
    ("address", "port", "message"),
    [
        ("", 6443, "address must be a non-empty string"),
        (None, 6443, "address must be a non-empty string, got NoneType"),
        ("https://192.0.2.10", 6443, "neither an IP address nor a DNS name"),
        ("192.0.2.10:6443", 6443, "neither an IP address nor a DNS name"),
        ("bad_host.example.org", 6443, "neither an IP address nor a DNS name"),
        ("192.0.2.10", 0, "port must be an integer from 1 to 65535"),
        ("192.0.2.10", 70000, "port must be an integer from 1 to 65535"),
        ("192.0.2.10", "6443", "port must be an integer"),
        ("192.0.2.10", True, "port must be an integer"),
    ],
)
def test_server_url_rejects(address: Any, port: Any, message: str) -> None:
    with pytest.raises(KubeconfigError, match=message):
        server_url(address, port)


def _without(key: str) -> dict[str, Any]:
    config = k3s_yaml()
    del config[key]
    return config


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    config = k3s_yaml()
    node: Any = config
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("not a mapping", "the kubeconfig must be a mapping, got str"),
        ([], "the kubeconfig must be a mapping, got list"),
        (_with(("kind",), "Pod"), "kind must be 'Config'"),
        (_with(("apiVersion",), "v2"), "apiVersion must be 'v1'"),
        (_without("clusters"), "clusters must be a list, got NoneType"),
        (_without("users"), "users must be a list, got NoneType"),
        (_without("contexts"), "contexts must be a list, got NoneType"),
        (_with(("clusters",), []), "clusters must have exactly one entry .* found 0"),
        (_with(("users",), k3s_yaml()["users"] * 2), "users must have exactly one entry .* found 2"),
        (_with(("clusters", 0), "default"), r"clusters\[0\] must be a mapping, got str"),
        (_with(("clusters", 0, "name"), 3), r"clusters\[0\].name must be a string, got int"),
        (_with(("users", 0, "user"), None), r"users\[0\].user must be a mapping, got NoneType"),
        (_with(("clusters", 0, "cluster", "server"), None), r"clusters\[0\].cluster.server must be a string"),
        (
            _with(("contexts", 0, "context", "user"), "admin"),
            r"contexts\[0\].context.user does not name users\[0\]",
        ),
        (_with(("contexts", 0, "context", "cluster"), "x"), r"contexts\[0\].context.cluster does not name"),
    ],
)
def test_malformed_kubeconfig_is_refused(config: Any, message: str) -> None:
    with pytest.raises(KubeconfigError, match=message) as info:
        rewrite_k3s_kubeconfig(config, "hetzner-gesis", "192.0.2.10")
    assert KEY not in str(info.value)


@pytest.mark.parametrize(
    ("member", "namespace", "message"),
    [
        ("Hetzner-Gesis", None, "member 'Hetzner-Gesis' must be a DNS-1123 label"),
        ("", None, "member '' must be a DNS-1123 label"),
        (None, None, "member must be a string, got NoneType"),
        ("a" * 64, None, "must be a DNS-1123 label"),
        ("hetzner-gesis", "Gesis_ns", "namespace 'Gesis_ns' must be a DNS-1123 label"),
        ("hetzner-gesis", 5, "namespace must be a string, got int"),
    ],
)
def test_bad_names_are_refused(member: Any, namespace: Any, message: str) -> None:
    with pytest.raises(KubeconfigError, match=message):
        rewrite_k3s_kubeconfig(k3s_yaml(), member, "192.0.2.10", namespace=namespace)
