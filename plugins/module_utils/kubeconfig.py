# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rewrite the kubeconfig a fresh k3s server writes for use from the controller.

k3s writes ``/etc/rancher/k3s/k3s.yaml`` with one cluster, one user and one
context, all named ``default``, and a server URL on the loopback address.
:func:`rewrite_k3s_kubeconfig` turns it into the member's kubeconfig: the
server points at the node's public address, the three entries take the
member's name and the context selects the member's namespace.

The node is not trusted: its kubeconfig is read only for the certificate authority and the client
credentials, and the controller's file is built from an allowlist (see ``_ALLOWED``).

Pure Python with no Ansible import, so it is unit-tested on its own.
Error messages name the offending key and its type, never a value: the
input carries a client key that must never reach a log.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any

DEFAULT_API_PORT = 6443

# A DNS-1123 label: the member name becomes a kubeconfig entry name and, by
# default, a namespace, so it follows the stricter of the two rules.
_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_HOST_LABEL_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?\Z")


class KubeconfigError(ValueError):
    """The k3s kubeconfig, or a rewrite argument, is not what the rewrite expects."""


def _check_label(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise KubeconfigError(f"{what} must be a string, got {type(value).__name__}")
    if not value or len(value) > 63 or not _LABEL_RE.match(value):
        raise KubeconfigError(
            f"{what} {value!r} must be a DNS-1123 label "
            "(at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)"
        )
    return value


def server_url(address: object, port: object = DEFAULT_API_PORT) -> str:
    """The ``https://`` URL of the API server at ``address`` (an IP address or a DNS name).

    IPv6 addresses are bracketed, as URLs require.
    """
    if not isinstance(address, str) or not address:
        raise KubeconfigError(f"address must be a non-empty string, got {type(address).__name__}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise KubeconfigError(f"port must be an integer from 1 to 65535, got {port!r}")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if ip is not None:
        host = f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
        return f"https://{host}:{port}"
    labels = address.rstrip(".").split(".")
    if len(address) > 253 or not all(_HOST_LABEL_RE.match(label) and len(label) <= 63 for label in labels):
        raise KubeconfigError(
            f"address {address!r} is neither an IP address nor a DNS name (give the bare host, without scheme or port)"
        )
    return f"https://{address.rstrip('.').lower()}:{port}"


# What the controller's kubeconfig may carry from the node's file, by place: nothing else is
# copied. Every other key could make the controller run code (users[].user.exec, auth-provider),
# read its own files (certificate-authority, client-certificate, client-key, tokenFile), talk
# through someone else (proxy-url), or stop checking the server (insecure-skip-tls-verify,
# tls-server-name). The server is never taken from the node: the inventory names it.
_ALLOWED: dict[str, frozenset[str]] = {
    "": frozenset({"apiVersion", "kind", "clusters", "users", "contexts", "current-context", "preferences"}),
    "clusters[0]": frozenset({"name", "cluster"}),
    "clusters[0].cluster": frozenset({"server", "certificate-authority-data"}),
    "users[0]": frozenset({"name", "user"}),
    "users[0].user": frozenset({"client-certificate-data", "client-key-data", "token"}),
    "contexts[0]": frozenset({"name", "context"}),
    "contexts[0].context": frozenset({"cluster", "user", "namespace"}),
    "preferences": frozenset(),
}
_BASE64_KEYS = ("client-certificate-data", "client-key-data")
_TOKEN_RE = re.compile(r"[\x21-\x7e]+\Z")


def _key_name(key: object) -> str:
    """A key of the node's file as it may be shown: the file is not trusted, so its length is capped."""
    text = key if isinstance(key, str) else repr(key)
    return text if len(text) <= 64 and text.isprintable() else f"{text[:64]!r}..."


def _refused(mapping: Mapping[Any, Any], where: str) -> list[str]:
    """The keys of ``mapping`` (at ``where`` in the file) that the allowlist does not hold."""
    allowed = _ALLOWED[where]
    return [
        f"{where + '.' if where else ''}{_key_name(key)} is not allowed"
        for key in mapping
        if key not in allowed
    ]


def _only_entry(config: Mapping[str, Any], key: str, inner: str) -> dict[str, Any]:
    """The single named entry of list ``key`` (k3s writes exactly one), with its ``inner`` mapping."""
    entries = config.get(key)
    if not isinstance(entries, list):
        raise KubeconfigError(f"{key} must be a list, got {type(entries).__name__}")
    if len(entries) != 1:
        raise KubeconfigError(
            f"{key} must have exactly one entry (a k3s server writes one), found {len(entries)}"
        )
    entry = entries[0]
    if not isinstance(entry, dict):
        raise KubeconfigError(f"{key}[0] must be a mapping, got {type(entry).__name__}")
    if not isinstance(entry.get("name"), str):
        raise KubeconfigError(f"{key}[0].name must be a string, got {type(entry.get('name')).__name__}")
    if not isinstance(entry.get(inner), dict):
        raise KubeconfigError(f"{key}[0].{inner} must be a mapping, got {type(entry.get(inner)).__name__}")
    return entry


def _base64_problem(where: str, value: object) -> str | None:
    """Why ``value`` is not the base64 text of a PEM block (the value itself is never shown)."""
    if not isinstance(value, str) or not value:
        return f"{where} must be base64 text, got {type(value).__name__}"
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return f"{where} must be base64 text"
    return None


def _credential_problems(user: Mapping[str, Any]) -> list[str]:
    """The user must carry a client certificate and key, or a bearer token, as data."""
    problems = [
        problem
        for key in _BASE64_KEYS
        if key in user
        for problem in [_base64_problem(f"users[0].user.{key}", user[key])]
        if problem
    ]
    if "token" in user and not (isinstance(user["token"], str) and _TOKEN_RE.match(user["token"])):
        problems.append("users[0].user.token must be one line of printable text")
    has_pair = all(key in user for key in _BASE64_KEYS)
    if any(key in user for key in _BASE64_KEYS) and not has_pair:
        problems.append("users[0].user must give client-certificate-data and client-key-data together")
    elif not has_pair and "token" not in user:
        problems.append("users[0].user must give client-certificate-data and client-key-data, or a token")
    return problems


def rewrite_k3s_kubeconfig(
    config: object,
    member: object,
    address: object,
    namespace: object = None,
    port: object = DEFAULT_API_PORT,
) -> dict[str, Any]:
    """Build the member's kubeconfig for the controller from the k3s kubeconfig ``config``.

    The result is built afresh, from an allowlist, never copied: the node is not trusted (its
    users may run code as root there), and the controller runs whatever a kubeconfig asks for.

    - ``clusters[0].cluster.server`` is ``https://<address>:<port>`` (the inventory's address,
      never the node's);
    - ``certificate-authority-data`` is taken from the node's cluster, and the client
      certificate and key data (or a bearer token) from its user;
    - the cluster, the user and the context are named ``member``, the context's references
      follow, ``current-context`` selects it and its ``namespace`` is ``namespace`` (default:
      ``member``).

    Any other key in the node's file (``exec``, ``auth-provider``, ``insecure-skip-tls-verify``,
    ``proxy-url``, ``tls-server-name``, ``extensions``, file paths such as
    ``certificate-authority`` or ``tokenFile``, a non-empty ``preferences``...) is refused:
    :class:`KubeconfigError` names every such key, never a value. ``config`` is not modified.
    """
    member_name = _check_label("member", member)
    default_namespace = _check_label("namespace", member_name if namespace is None else namespace)
    server = server_url(address, port)
    if not isinstance(config, Mapping):
        raise KubeconfigError(f"the kubeconfig must be a mapping, got {type(config).__name__}")
    if config.get("kind", "Config") != "Config":
        raise KubeconfigError("kind must be 'Config'")
    if config.get("apiVersion", "v1") != "v1":
        raise KubeconfigError("apiVersion must be 'v1'")

    cluster = _only_entry(config, "clusters", "cluster")
    user = _only_entry(config, "users", "user")
    context = _only_entry(config, "contexts", "context")
    preferences = config.get("preferences") or {}
    if not isinstance(preferences, Mapping):
        raise KubeconfigError(f"preferences must be a mapping, got {type(preferences).__name__}")
    problems = _refused(config, "")
    for where, mapping in (
        ("clusters[0]", cluster),
        ("clusters[0].cluster", cluster["cluster"]),
        ("users[0]", user),
        ("users[0].user", user["user"]),
        ("contexts[0]", context),
        ("contexts[0].context", context["context"]),
        ("preferences", preferences),
    ):
        problems += _refused(mapping, where)
    if not isinstance(cluster["cluster"].get("server"), str):
        problems.append(
            f"clusters[0].cluster.server must be a string, got {type(cluster['cluster'].get('server')).__name__}"
        )
    ca_problem = _base64_problem(
        "clusters[0].cluster.certificate-authority-data", cluster["cluster"].get("certificate-authority-data")
    )
    problems += [ca_problem] if ca_problem else []
    problems += _credential_problems(user["user"])
    # The context must tie the one user to the one cluster: anything else
    # means the file is not the one k3s wrote, and renaming would mislead.
    for ref, entry in (("cluster", cluster), ("user", user)):
        if context["context"].get(ref) != entry["name"]:
            problems.append(f"contexts[0].context.{ref} does not name {ref}s[0]")
    if problems:
        raise KubeconfigError(
            "; ".join(problems) + " (the controller's kubeconfig takes only the server from the inventory, "
            "clusters[0].cluster.certificate-authority-data, and users[0].user.client-certificate-data "
            "with client-key-data, or token)"
        )

    credentials = {key: user["user"][key] for key in (*_BASE64_KEYS, "token") if key in user["user"]}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": member_name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": cluster["cluster"]["certificate-authority-data"],
                },
            }
        ],
        "users": [{"name": member_name, "user": credentials}],
        "contexts": [
            {
                "name": member_name,
                "context": {"cluster": member_name, "user": member_name, "namespace": default_namespace},
            }
        ],
        "current-context": member_name,
        "preferences": {},
    }


def kubeconfig_problems(path: object, context: object, keys: Mapping[str, str] | None = None) -> list[str]:
    """What keeps the member's kubeconfig at ``path`` from reaching its cluster through ``context``.

    Read on the controller before any cluster call, so that a wrong path or context fails the
    member naming the variable the user wrote (``keys``: ``kubeconfig`` and ``context`` to those
    names), not as the first module's connection error. Problems quote paths and entry names,
    never the file's content: it holds credentials.
    """
    names = {"kubeconfig": "binder_kubeconfig", "context": "binder_context", **(keys or {})}
    kc, ctx = names["kubeconfig"], names["context"]
    if not isinstance(path, str) or not path:
        return [f"{kc}: must be the path of a kubeconfig file, got {type(path).__name__}"]
    full = os.path.expanduser(path)
    try:
        with open(full, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return [f"{kc}: {path} does not exist"]
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return [f"{kc}: {path} cannot be read: {reason}"]
    import yaml  # with the module: PyYAML is an ansible-core requirement, not needed to import this file

    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        config = None
    if not isinstance(config, dict) or not isinstance(config.get("contexts"), list):
        return [f"{kc}: {path} is not a kubeconfig (no list of contexts)"]

    def entries(kind: str) -> dict[str, Any]:
        found = config.get(kind)
        return {
            str(e["name"]): e.get(kind[:-1]) or {}
            for e in (found if isinstance(found, list) else [])
            if isinstance(e, dict) and "name" in e
        }

    contexts = entries("contexts")
    wanted = context if isinstance(context, str) and context else config.get("current-context")
    if not wanted:
        return [f"{ctx}: is empty and {path} has no current-context"]
    if wanted not in contexts:
        have = ", ".join(sorted(contexts)) or "none"
        return [f"{ctx}: {wanted!r} is not a context of {path} (it has: {have})"]
    problems = []
    chosen = contexts[wanted] if isinstance(contexts[wanted], dict) else {}
    for kind, field in (("clusters", "cluster"), ("users", "user")):
        name = chosen.get(field)
        if name not in entries(kind):
            problems.append(
                f"{ctx}: context {wanted!r} names the {field} {name!r}, which {path} does not define"
            )
    return problems
