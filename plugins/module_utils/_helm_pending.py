# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the forget_pending module: forget a Helm revision that a lost API left pending (private).

Helm records each revision of a release in a Secret (type ``helm.sh/release.v1``, labels
``owner=helm``, ``name=<release>``, ``status``, ``version``). An upgrade, install or rollback that
lost the API half-way cannot record how it ended: its revision stays ``pending-*`` and Helm refuses
every later operation on the release. Forgetting that record (deleting its Secret) lets the next
upgrade go from the last deployed revision. A pending record is forgotten only once it is older
than the Helm timeout: a younger one may belong to a Helm process that is still running (another
converge, or one whose converge was killed), whose record must not be pulled from under it. Ages
are measured on the API server's clock (its ``Date`` header), as the record's creation time is.
Nothing here imports Ansible.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils._apply_set import (
    api_message,
    retrying,
    status_of,
)
from ansible_collections.binder.ingress.plugins.module_utils._member_lock import parse_time, shown

with suppress(ImportError):
    from kubernetes.dynamic.exceptions import NotFoundError

__all__ = ["PENDING", "PendingError", "forget_pending"]

JSON = dict[str, Any]
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
RELEASE_TYPE = "helm.sh/release.v1"


class PendingError(Exception):
    """The release's records could not be read or forgotten."""


def server_time(response: Any, clock: Callable[[], float]) -> float:
    """The API server's time when it answered (its Date header), else the controller's."""
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Date") if hasattr(headers, "get") else None
    with suppress(TypeError, ValueError):
        if value:
            return parsedate_to_datetime(value).timestamp()
    return clock()


def forget_pending(
    client: Any,
    *,
    release: str,
    namespace: str,
    timeout: float,
    timeout_text: str,
    check_mode: bool = False,
    retries: int = 5,
    clock: Callable[[], float] = time.time,
) -> JSON:
    """Delete the release's pending records older than ``timeout`` seconds; keep the younger ones, each
    with a warning. Returns ``forgotten`` and ``kept`` (revision, status, since) and ``warnings``."""
    what = f"release {namespace}/{release}"

    def call(label: str, fn: Callable[[], Any]) -> Any:
        return retrying(fn, f"{what}: {label}", retries=retries)

    secrets = call("discovery", lambda: client.resource("Secret", "v1"))
    response = call(
        "list its records",
        lambda: client.get(
            secrets,
            namespace=namespace,
            label_selector=f"owner=helm,name={release},status in ({', '.join(PENDING)})",
            field_selector=f"type={RELEASE_TYPE}",
            serialize=False,
        ),
    )
    now = server_time(response, clock)
    records = json.loads(response.data).get("items") or []
    forgotten: list[JSON] = []
    kept: list[JSON] = []
    warnings: list[str] = []
    for record in sorted(records, key=lambda r: str(r["metadata"]["name"])):
        meta = record["metadata"]
        labels = meta.get("labels") or {}
        created = parse_time(meta.get("creationTimestamp"))
        entry = {
            "revision": labels.get("version"),
            "status": labels.get("status"),
            "since": meta.get("creationTimestamp"),
        }
        if created is None or now - created < timeout:
            kept.append(entry)
            since = shown(created)
            warnings.append(
                f"{what}: revision {entry['revision']} is {entry['status']} since {since}, less than the Helm "
                f"timeout ({timeout_text}) ago: a Helm operation may still be running, so its record is kept. "
                "Helm refuses to change the release until that operation ends; a converge forgets the record "
                f"from {shown(created + timeout) if created is not None else '(unknown)'} on"
            )
            continue
        forgotten.append(entry)
        if check_mode:
            continue
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
        }
        try:
            call(
                f"forget revision {entry['revision']}",
                partial(client.delete, secrets, name=meta["name"], namespace=namespace, body=body),
            )
        except NotFoundError:
            pass
        except Exception as e:
            if status_of(e) != 409:
                raise PendingError(f"{what}: forget revision {entry['revision']}: {api_message(e)}") from e
            # Helm wrote the record since it was listed: its operation is alive after all.
            forgotten.pop()
            kept.append(entry)
            warnings.append(f"{what}: revision {entry['revision']} changed while it was forgotten: kept")
    return {"forgotten": forgotten, "kept": kept, "warnings": warnings}
