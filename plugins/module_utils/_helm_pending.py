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

The same read tells whether the release is current (:func:`release_current`): its latest revision is
deployed with the chart and the values a converge would give it. Then Helm has nothing to do, and the
converge does not start it. Nothing here imports Ansible.
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
from ansible_collections.binder.ingress.plugins.module_utils._chart import Chart
from ansible_collections.binder.ingress.plugins.module_utils._doctor import read_release
from ansible_collections.binder.ingress.plugins.module_utils._member_lock import parse_time, shown

with suppress(ImportError):
    from kubernetes.dynamic.exceptions import NotFoundError

__all__ = ["PENDING", "PendingError", "forget_pending", "release_current"]

JSON = dict[str, Any]
PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
# The statuses of a revision that can be the latest: every older revision is superseded (or was
# uninstalled with its history kept, which Helm treats as not installed).
LATEST = ("deployed", "failed", "uninstalling", *PENDING)
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
    chart: Chart | None = None,
    values: JSON | None = None,
) -> JSON:
    """Delete the release's pending records older than ``timeout`` seconds; keep the younger ones, each
    with a warning. Returns ``forgotten`` and ``kept`` (revision, status, since) and ``warnings``; with
    ``chart``, also ``current`` and ``current_because`` (:func:`release_current` of ``values``)."""
    what = f"release {namespace}/{release}"

    def call(label: str, fn: Callable[[], Any]) -> Any:
        return retrying(fn, f"{what}: {label}", retries=retries)

    secrets = call("discovery", lambda: client.resource("Secret", "v1"))
    response = call(
        "list its records",
        lambda: client.get(
            secrets,
            namespace=namespace,
            label_selector=f"owner=helm,name={release},status in ({', '.join(LATEST)})",
            field_selector=f"type={RELEASE_TYPE}",
            serialize=False,
        ),
    )
    now = server_time(response, clock)
    listed = json.loads(response.data).get("items") or []
    records = [r for r in listed if ((r.get("metadata") or {}).get("labels") or {}).get("status") in PENDING]
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
    result: JSON = {"forgotten": forgotten, "kept": kept, "warnings": warnings}
    if chart is not None:
        if records:
            result["current"], result["current_because"] = False, "a revision was pending"
        else:
            result["current"], result["current_because"] = release_current(
                release, namespace, listed, chart, values or {}
            )
    return result


def _chart_shown(chart: tuple[Any, Any, Any]) -> str:
    return f"{chart[0]} {chart[1]} (app {chart[2] or 'none'})"


def release_current(
    release: str, namespace: str, records: list[JSON], chart: Chart, values: JSON
) -> tuple[bool, str]:
    """Whether Helm would change nothing: the latest of the release's ``records`` (its Secrets of the
    statuses in LATEST) is deployed, and its record names this chart (name, version and appVersion) and
    holds exactly ``values`` as the user-supplied values. Compared as kubernetes.core.helm compares them
    (Python equality of the parsed values, so 1 and 1.0 are the same). The reason why not, or why so.

    The latest record is the doctor's (:func:`read_release`): only that one is decoded, within the
    doctor's size limit, and one that cannot be read, or whose content disagrees with its labels, is
    never current."""
    latest = read_release(release, namespace, records)
    if latest.problem:
        return False, latest.problem
    if not latest.secret:
        return False, "not installed"
    revision = latest.revision
    if latest.status != "deployed":
        return False, f"revision {revision} is {latest.status}"
    if latest.chart is None:
        return False, f"the record of revision {revision} names no chart"
    wanted = (chart.name, chart.version, chart.app_version)
    if latest.chart != wanted:
        return False, f"revision {revision} is chart {_chart_shown(latest.chart)}, not {_chart_shown(wanted)}"
    if latest.values != json.loads(json.dumps(values)):
        return False, f"revision {revision} has other values"
    return True, f"revision {revision} is deployed with this chart and these values"
