# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The k3s_kubeconfig filter: a thin shell over module_utils.kubeconfig."""

from __future__ import annotations

from typing import Any

import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.binder.ingress.plugins.module_utils.kubeconfig import (
    DEFAULT_API_PORT,
    KubeconfigError,
    rewrite_k3s_kubeconfig,
)

DOCUMENTATION = r"""
name: k3s_kubeconfig
short_description: Make a k3s server's kubeconfig usable from the controller
version_added: 0.1.0
description:
  - Takes the kubeconfig a k3s server writes to C(/etc/rancher/k3s/k3s.yaml), as YAML text or as a mapping.
  - Points the cluster's C(server) at C(https://<address>:<port>) (IPv6 addresses bracketed).
  - Renames the cluster, the user and the context to O(member), selects that context, and sets its default
    namespace to O(namespace).
  - Builds the result from an allowlist, since the node is not trusted and the controller runs what a
    kubeconfig asks for. It takes only the certificate authority data (C(certificate-authority-data)) and the
    client credentials (C(client-certificate-data) with C(client-key-data), or C(token)) from the node's file;
    the server is the one given here.
  - Refuses any other key anywhere in the file, such as C(users[].user.exec), C(auth-provider),
    C(insecure-skip-tls-verify), C(proxy-url), C(tls-server-name), C(extensions), file paths
    (C(certificate-authority), C(client-certificate), C(client-key), C(tokenFile)) or a non-empty
    C(preferences).
  - The result holds a client key, so write it with C(no_log) and C(diff) off.
  - Errors start with C(k3s_kubeconfig:), name the member, the node (O(node)) and every offending key, and
    never quote the file's values.
positional: member, address
options:
  _input:
    description: The k3s kubeconfig, as YAML text or as a mapping.
    type: raw
    required: true
  member:
    description: The federation member's name (a DNS-1123 label); the new cluster, user and context name.
    type: str
    required: true
  address:
    description: The node's public IP address or DNS name, without scheme or port.
    type: str
    required: true
  namespace:
    description: The context's default namespace. Defaults to O(member).
    type: str
  port:
    description: The API server port.
    type: int
    default: 6443
  node:
    description: The inventory host the kubeconfig was read from, named in errors.
    type: str
    version_added: 0.2.0
seealso:
  - name: k3s cluster access
    description: Using the k3s kubeconfig from outside the node.
    link: https://docs.k3s.io/cluster-access
"""

EXAMPLES = r"""
- name: Rewrite the fetched kubeconfig for the member
  ansible.builtin.set_fact:
    member_kubeconfig: >-
      {{ (slurped.content | b64decode)
         | binder.ingress.k3s_kubeconfig('hetzner-gesis', '192.0.2.10', namespace='gesis') }}
  no_log: true
"""

RETURN = r"""
_value:
  description: The rewritten kubeconfig as a mapping (render it with P(ansible.builtin.to_nice_yaml#filter)).
  type: dict
"""


def k3s_kubeconfig(
    data: Any,
    member: Any,
    address: Any,
    namespace: Any = None,
    port: Any = DEFAULT_API_PORT,
    node: Any = None,
) -> dict[str, Any]:
    """See DOCUMENTATION."""
    where = f"member {member}" if isinstance(member, str) else "member ?"
    if isinstance(node, str) and node:
        where += f", node {node}"
    if isinstance(data, (str, bytes)):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            # Only the position: the YAMLError text can quote the file's content.
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise AnsibleFilterError(
                f"k3s_kubeconfig: {where}: the kubeconfig is not valid YAML{at}"
            ) from None
    elif not isinstance(data, dict):
        raise AnsibleFilterError(
            f"k3s_kubeconfig: {where}: input must be YAML text or a mapping, got {type(data).__name__}"
        )
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    try:
        result: dict[str, Any] = rewrite_k3s_kubeconfig(data, member, address, namespace=namespace, port=port)
    except KubeconfigError as exc:
        raise AnsibleFilterError(f"k3s_kubeconfig: {where}: {exc}") from None
    return result


class FilterModule:
    """binder.ingress.k3s_kubeconfig."""

    def filters(self) -> dict[str, Any]:
        return {"k3s_kubeconfig": k3s_kubeconfig}
