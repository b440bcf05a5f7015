# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The helm_transient test: did a Helm task fail on the API, so that running it again is safe?"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: helm_transient
short_description: Whether a failed kubernetes.core.helm result failed on a passing API fault
version_added: 0.1.0
description:
  - True when the registered result of P(kubernetes.core.helm#module) failed, and Helm's message names
    a failure of the Kubernetes API that may pass (client-go's and Helm's own words), and nothing that
    running it again would only repeat.
  - "Transient: C(Internal error occurred) (500), C(an error on the server) (another 5xx),
    C(the server is currently unable to handle the request) (503),
    C(the server was unable to return a response in the time allotted) (504),
    C(has asked us to try again later) (429 once client-go's own retries on C(Retry-After) ran out),
    C(the object has been modified) (409 conflict), C(Kubernetes cluster unreachable),
    a connection closed without an answer (C(EOF), C(connection reset by peer), C(connection refused),
    C(broken pipe), C(http2: client connection lost), C(TLS handshake timeout))."
  - "Never transient, even when the message also holds one of those words: a C(--wait) that ran out of
    time (C(context deadline exceeded), C(timed out waiting for the condition)): running it again would
    wait the whole timeout again; and Helm's C(another operation ... is in progress) about a release left pending, which
    cannot pass; and a failure whose own rollback failed too (C(original upgrade error),
    C(original install error)), which may have left the release pending. A chart or values error
    names none of the words above."
  - Running C(helm upgrade --install --atomic) again after such a failure is safe, since a failed upgrade
    was rolled back (or never started).
  - A result that did not fail is not transient. Anything but a mapping fails, naming the test.
options:
  _input:
    description: The registered result of a P(kubernetes.core.helm#module) task.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Install or upgrade the release, again after a passing API fault
  kubernetes.core.helm:
    release_name: traefik
    chart_ref: traefik/traefik
    release_namespace: binder
    wait: true
    atomic: true
  register: release
  until: release is not binder.ingress.helm_transient
  retries: 3
  delay: 5
"""

RETURN = r"""
_value:
  description: Whether the task failed on a passing API fault.
  type: bool
"""

# client-go's and Helm's words for a failure of the API that may pass (k8s.io/apimachinery's
# StatusReason messages, net/http's and Go's connection errors, Helm's cluster check).
TRANSIENT = re.compile(
    "|".join(
        (
            r"Internal error occurred",
            r"an error on the server",
            r"the server is currently unable to handle the request",
            r"the server was unable to return a response in the time allotted",
            r"has asked us to try again later",
            r"the object has been modified",
            r"Kubernetes cluster unreachable",
            r"\bEOF\b",
            r"connection reset by peer",
            r"connection refused",
            r"broken pipe",
            r"http2: client connection lost",
            r"TLS handshake timeout",
        )
    )
)
# A --wait that ran out of time; a release left pending; a failure whose rollback (or uninstall)
# failed too, which may have left the release pending: running again cannot help (the next run's
# first step forgets a pending revision).
NOT_TRANSIENT = re.compile(
    "|".join(
        (
            r"context deadline exceeded",
            r"timed out waiting for the condition",
            r"another operation \(install/upgrade/rollback\) is in progress",
            r"original (?:upgrade|install) error",
        )
    )
)


def helm_transient(result: Any) -> bool:
    """See DOCUMENTATION."""
    if not isinstance(result, Mapping):
        raise AnsibleFilterError(
            f"helm_transient: expects a registered task result, got {type(result).__name__}"
        )
    if not result.get("failed"):
        return False
    text = "\n".join(str(result.get(key) or "") for key in ("msg", "stderr"))
    return TRANSIENT.search(text) is not None and NOT_TRANSIENT.search(text) is None


class TestModule:
    def tests(self) -> dict[str, Any]:
        return {"helm_transient": helm_transient}
