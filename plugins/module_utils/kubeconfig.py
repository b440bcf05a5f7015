# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rewrite the kubeconfig a fresh k3s server writes for use from the controller.

k3s writes ``/etc/rancher/k3s/k3s.yaml`` with one cluster, one user and one
context, all named ``default``, and a server URL on the loopback address.
:func:`rewrite_k3s_kubeconfig` turns it into the member's kubeconfig: the
server points at the node's public address, the three entries take the
member's name and the context selects the member's namespace.

Pure Python with no Ansible import, so it is unit-tested on its own.
Error messages name the offending key and its type, never a value: the
input carries a client key that must never reach a log.
"""

from __future__ import annotations

import copy
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


def rewrite_k3s_kubeconfig(
    config: object,
    member: object,
    address: object,
    namespace: object = None,
    port: object = DEFAULT_API_PORT,
) -> dict[str, Any]:
    """Return a copy of the k3s kubeconfig ``config`` made ready for the controller.

    - ``clusters[0].cluster.server`` becomes ``https://<address>:<port>``;
    - the cluster, the user and the context are renamed to ``member``, the
      context's references follow, and ``current-context`` selects it;
    - the context's ``namespace`` is ``namespace`` (default: ``member``).

    Everything else (certificate authority, client certificate and key,
    preferences) is kept as it is. ``config`` itself is not modified.
    """
    member_name = _check_label("member", member)
    default_namespace = _check_label("namespace", member_name if namespace is None else namespace)
    server = server_url(address, port)
    if not isinstance(config, Mapping):
        raise KubeconfigError(f"the kubeconfig must be a mapping, got {type(config).__name__}")
    if config.get("kind", "Config") != "Config":
        raise KubeconfigError(f"kind must be 'Config', got {config.get('kind')!r}")
    if config.get("apiVersion", "v1") != "v1":
        raise KubeconfigError(f"apiVersion must be 'v1', got {config.get('apiVersion')!r}")

    result: dict[str, Any] = copy.deepcopy(dict(config))
    cluster = _only_entry(result, "clusters", "cluster")
    user = _only_entry(result, "users", "user")
    context = _only_entry(result, "contexts", "context")
    if not isinstance(cluster["cluster"].get("server"), str):
        raise KubeconfigError(
            f"clusters[0].cluster.server must be a string, got {type(cluster['cluster'].get('server')).__name__}"
        )
    # The context must tie the one user to the one cluster: anything else
    # means the file is not the one k3s wrote, and renaming would mislead.
    for ref, entry in (("cluster", cluster), ("user", user)):
        if context["context"].get(ref) != entry["name"]:
            raise KubeconfigError(f"contexts[0].context.{ref} does not name {ref}s[0] ({entry['name']!r})")

    cluster["name"] = member_name
    cluster["cluster"]["server"] = server
    user["name"] = member_name
    context["name"] = member_name
    context["context"]["cluster"] = member_name
    context["context"]["user"] = member_name
    context["context"]["namespace"] = default_namespace
    result["current-context"] = member_name
    result["apiVersion"] = "v1"
    result["kind"] = "Config"
    return result


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
