# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which members of an inventory share a cluster, and whether the inventory says so.

Members that share a cluster must each declare it (``binder_shared_cluster: true``): only then is
each member's traefik scoped to its namespace, with its own IngressClass and ACME Issuers. A member
that does not would serve every other member's Ingresses, read their TLS keys, and adopt the
cluster's class-less Ingresses. The inventory tells which cluster a member writes to only through
its kubeconfig, so two members whose contexts name the same API server URL are taken to share one.

Read on the controller before any cluster call. Problems quote member names, variables and the
server URL, never a kubeconfig's content (it holds credentials).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["cluster_server", "default_ingress_class", "shared_cluster_problems"]


def default_ingress_class(namespace: object, shared: bool) -> str:
    """The member's IngressClass when the inventory sets no binder_ingress_class (the binder role's default)."""
    return f"traefik-{namespace}" if shared else "traefik"


def cluster_server(path: object, context: object) -> str | None:
    """The API server URL that ``context`` of the kubeconfig at ``path`` reaches; None if unknown.

    A kubeconfig that cannot be read is another check's problem (``kubeconfig.kubeconfig_problems``).
    """
    if not isinstance(path, str) or not path:
        return None
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return None
    import yaml  # with the module: PyYAML is an ansible-core requirement, not needed to import this file

    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(config, dict):
        return None

    def entry(kind: str, name: object) -> Mapping[str, Any]:
        for item in config.get(kind) or ():
            if isinstance(item, dict) and item.get("name") == name:
                found = item.get(kind[:-1])
                return found if isinstance(found, dict) else {}
        return {}

    wanted = context if isinstance(context, str) and context else config.get("current-context")
    server = entry("clusters", entry("contexts", wanted).get("cluster")).get("server")
    return server.rstrip("/").lower() if isinstance(server, str) and server else None


def shared_cluster_problems(member: str, members: Sequence[Mapping[str, Any]]) -> list[str]:
    """What is wrong with how ``member`` shares its cluster with the other ``members``.

    Each entry of ``members`` (the inventory's members, ``member`` among them) has ``member``,
    ``kubeconfig``, ``context``, ``shared`` (its ``binder_shared_cluster``), ``namespace`` and
    ``ingress_class``. Problems: another member reaches the same API server and either of the two
    does not declare ``binder_shared_cluster``; two members of one cluster with one namespace or
    one IngressClass.
    """
    servers = {str(m.get("member")): cluster_server(m.get("kubeconfig"), m.get("context")) for m in members}
    by_name = {str(m.get("member")): m for m in members}
    me = by_name.get(member)
    server = servers.get(member)
    if me is None or server is None:
        return []
    problems = []
    for other_name in sorted(by_name):
        other = by_name[other_name]
        if other_name == member or servers.get(other_name) != server:
            continue
        undeclared = [name for name, m in ((member, me), (other_name, other)) if m.get("shared") is not True]
        if undeclared:
            problems.append(
                f"binder_shared_cluster: members {member} and {other_name} use the same cluster ({server}),"
                f" but {' and '.join(undeclared)} {'does' if len(undeclared) == 1 else 'do'} not set"
                " binder_shared_cluster: true; set it on every member of a shared cluster (docs/inventory.md)"
            )
            continue
        if me.get("namespace") == other.get("namespace"):
            problems.append(
                f"binder_namespace: {me.get('namespace')!r} is also the namespace of member {other_name},"
                f" which uses the same cluster ({server}); members that share a cluster need one namespace each"
            )
        if me.get("ingress_class") == other.get("ingress_class"):
            problems.append(
                f"binder_ingress_class: {me.get('ingress_class')!r} is also the IngressClass of member"
                f" {other_name}, which uses the same cluster ({server}); members that share a cluster need"
                " one IngressClass each"
            )
    return problems
