# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the member_lock module: one converge of a member at a time (private).

The lock is a ``coordination.k8s.io/v1`` Lease in the member's cluster, named after the member.
Taking it is a create, or an update bound to the resourceVersion it was read at, so two
converges that try at once cannot both win: the API server refuses the second with a 409. A lock
is free when there is no Lease, when its holder is empty, or when it expired: its holder did not
renew it within its ``leaseDurationSeconds`` (that converge died, or ran longer than the
duration). Times are the controllers' clocks, written as the Lease's MicroTime. Nothing here
imports Ansible: the module turns :class:`LockError` into a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils import _names
from ansible_collections.binder.ingress.plugins.module_utils._apply_set import (
    api_message,
    retrying,
    status_of,
)
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    LABEL_MANAGED_BY,
    LABEL_MEMBER,
    MANAGED_BY,
)

with suppress(ImportError):
    from kubernetes.dynamic.exceptions import NotFoundError

__all__ = ["LEASE_API_VERSION", "LockError", "MemberLock", "holder_alive", "holder_identity", "lease_name"]

JSON = dict[str, Any]
LEASE_API_VERSION = "coordination.k8s.io/v1"
LEASE_PREFIX = "binder-ingress."
# Seconds between two reads of a lock another converge holds.
POLL = 2.0
# Times a create or update that lost a race is tried again after reading the Lease anew.
RACES = 10
_UNSAFE = re.compile(r"[^a-z0-9-]+")


class LockError(Exception):
    """The lock could not be taken (held by another converge) or read."""


def lease_name(member: str) -> str:
    """The member's Lease: ``binder-ingress.<member>``. A member name that is no valid object
    name (a label value may hold capitals and '_') is made one, with a hash of the whole name so
    that two members never share a lock."""
    name = LEASE_PREFIX + member
    if _names.dns1123_subdomain(name) is None:
        return name
    safe = _UNSAFE.sub("-", member.lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(member.encode()).hexdigest()[:8]
    return f"{LEASE_PREFIX}{safe + '-' if safe else ''}{digest}"


def holder_identity(user: str, host: str, pid: int) -> str:
    """Who holds a lock: the controller's user, host and ansible-playbook process."""
    return f"{user}@{host} pid {pid}"


_HOLDER_RE = re.compile(r"(?P<user>[^@\s]+)@(?P<host>\S+) pid (?P<pid>[0-9]+)\Z")


def holder_alive(holder: str, host: str) -> bool | None:
    """Whether the converge that holds a lock still runs, when this controller can tell: False for a
    holder on this host (``host``) whose ansible-playbook process is gone, True if it runs, None for
    a holder elsewhere (its lock then lasts until it expires)."""
    match = _HOLDER_RE.match(holder)
    if not match or match["host"] != host:
        return None
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    except (OverflowError, OSError):
        return None
    return True


def micro_time(seconds: float) -> str:
    """A Lease's MicroTime (RFC 3339, microseconds, UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> float | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def shown(seconds: float | None) -> str:
    """A time as messages show it: UTC, to the second."""
    if seconds is None:
        return "(unknown)"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class MemberLock:
    """Take, and give back, the lock of ``member`` in ``namespace`` of the client's cluster."""

    def __init__(
        self,
        client: Any,
        *,
        member: str,
        namespace: str,
        holder: str,
        duration: int,
        wait: float,
        check_mode: bool = False,
        retries: int = 5,
        alive: Callable[[str], bool | None] = lambda holder: None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.member = member
        self.namespace = namespace
        self.name = lease_name(member)
        self.holder = holder
        self.duration = duration
        self.wait = wait
        self.check_mode = check_mode
        self.retries = retries
        self.alive = alive
        self.clock = clock
        self.sleep = sleep
        self.warnings: list[str] = []
        self._resource: Any = None

    @property
    def where(self) -> str:
        return f"Lease {self.namespace}/{self.name}"

    # -- the API ---------------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        return retrying(call, f"lock of member {self.member}: {self.where}: {what}", retries=self.retries)

    def resource(self) -> Any:
        if self._resource is None:
            self._resource = self._call("discovery", lambda: self.client.resource("Lease", LEASE_API_VERSION))
        return self._resource

    def read(self) -> JSON | None:
        try:
            lease = self._call(
                "read",
                lambda: self.client.get(
                    self.resource(), name=self.name, namespace=self.namespace, serialize=False
                ),
            )
        except NotFoundError:
            return None
        return _json(lease)

    def _body(self, lease: JSON | None, now: float) -> JSON:
        metadata: JSON = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": {LABEL_MANAGED_BY: MANAGED_BY, LABEL_MEMBER: self.member},
        }
        spec = (lease or {}).get("spec") or {}
        ours = spec.get("holderIdentity") == self.holder
        if lease is not None:
            metadata["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.holder,
                "leaseDurationSeconds": self.duration,
                "acquireTime": spec.get("acquireTime") if ours else micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": int(spec.get("leaseTransitions") or 0)
                + (0 if ours or lease is None else 1),
            },
        }

    def _write(self, lease: JSON | None, now: float) -> bool:
        """Create or update the Lease as ours; False when another converge won the race (409)."""
        body = self._body(lease, now)
        resource = self.resource()
        try:
            if lease is None:
                self._call("create", lambda: self.client.create(resource, body, namespace=self.namespace))
            else:
                self._call("update", lambda: self.client.replace(resource, body, namespace=self.namespace))
        except Exception as e:
            if status_of(e) == 409:
                return False
            raise LockError(f"member {self.member}: taking its lock ({self.where}): {api_message(e)}") from e
        return True

    # -- what a lock says ------------------------------------------------------------------------

    @staticmethod
    def holder_of(lease: JSON | None) -> str:
        return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")

    @staticmethod
    def since(lease: JSON) -> float | None:
        spec = lease.get("spec") or {}
        return parse_time(spec.get("acquireTime")) or parse_time(spec.get("renewTime"))

    @staticmethod
    def expires(lease: JSON) -> float | None:
        spec = lease.get("spec") or {}
        renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
        duration = spec.get("leaseDurationSeconds")
        if renewed is None or not isinstance(duration, int):
            return None
        return renewed + duration

    def held_by_another(self, lease: JSON | None, now: float) -> bool:
        if lease is None:
            return False
        holder = self.holder_of(lease)
        expires = self.expires(lease)
        if not holder or holder == self.holder or expires is None or now >= expires:
            return False
        return self.alive(holder) is not False

    def describe(self, lease: JSON) -> str:
        return (
            f"held by {self.holder_of(lease)} since {shown(self.since(lease))}, "
            f"until {shown(self.expires(lease))} at the latest"
        )

    # -- take and give back ----------------------------------------------------------------------

    def acquire(self) -> JSON:
        started = self.clock()
        deadline = started + self.wait
        waited_for = ""
        for _race in range(RACES):
            while True:
                lease = self.read()
                now = self.clock()
                if lease is None or not self.held_by_another(lease, now):
                    break
                waited_for = self.holder_of(lease)
                if self.check_mode:
                    self.warnings.append(
                        f"member {self.member}: its lock ({self.where}) is {self.describe(lease)}: another "
                        "converge of this member is running, and this check shows the member as it is now"
                    )
                    return self.result(lease, acquired=False, waited=0.0)
                if now >= deadline:
                    raise LockError(
                        f"member {self.member}: its lock ({self.where}) is {self.describe(lease)}: another "
                        f"converge of this member is running (waited {now - started:.0f} s for it). "
                        "Nothing of the member was written. Run again when it has ended; if its holder is "
                        f"gone, delete the Lease ({self.namespace}/{self.name}) first"
                    )
                self.sleep(max(0.0, min(POLL, deadline - now)))
            waited = now - started
            if self.check_mode:
                return self.result(lease, acquired=False, waited=waited)
            previous = self.holder_of(lease)
            if self._write(lease, now):
                if lease is not None and previous and previous != self.holder:
                    expires = self.expires(lease)
                    why = (
                        f"which expired at {shown(expires)}: that converge died, or ran longer than the "
                        "lock's duration"
                        if expires is None or now >= expires
                        else "whose ansible-playbook no longer runs on this controller"
                    )
                    self.warnings.append(
                        f"member {self.member}: took over its lock ({self.where}) from {previous}, {why}"
                    )
                if waited_for:
                    self.warnings.append(
                        f"member {self.member}: waited {waited:.0f} s for its lock ({self.where}), held by "
                        f"{waited_for}, another converge of this member"
                    )
                return self.result(self.read(), acquired=True, waited=waited)
        raise LockError(f"member {self.member}: its lock ({self.where}) changed every time it was taken")

    def release(self) -> JSON:
        for _race in range(RACES):
            lease = self.read()
            if lease is None or self.holder_of(lease) != self.holder:
                self.warnings.append(
                    f"member {self.member}: its lock ({self.where}) was no longer this converge's at its end"
                    + (f" ({self.describe(lease)})" if lease is not None else " (the Lease is gone)")
                    + f": the converge ran longer than the lock's duration ({self.duration} s), or the "
                    "Lease was deleted, and another converge may have run alongside"
                )
                return self.result(lease, acquired=False, released=False)
            meta = lease["metadata"]
            preconditions = {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions}
            try:
                self._call(
                    "delete",
                    partial(
                        self.client.delete,
                        self.resource(),
                        name=self.name,
                        namespace=self.namespace,
                        body=body,
                    ),
                )
            except NotFoundError:
                pass
            except Exception as e:
                if status_of(e) == 409:
                    continue
                raise LockError(
                    f"member {self.member}: giving back its lock ({self.where}): {api_message(e)}"
                ) from e
            return self.result(lease, acquired=False, released=True)
        raise LockError(f"member {self.member}: its lock ({self.where}) changed every time it was given back")

    def result(self, lease: JSON | None, **flags: Any) -> JSON:
        spec = (lease or {}).get("spec") or {}
        return {
            "lock": {
                "namespace": self.namespace,
                "name": self.name,
                "holder": spec.get("holderIdentity") or None,
                "acquire_time": spec.get("acquireTime"),
                "renew_time": spec.get("renewTime"),
                "lease_duration_seconds": spec.get("leaseDurationSeconds"),
            },
            **flags,
        }


def _json(obj: Any) -> JSON:
    """The body of a request sent with serialize=False, as plain JSON."""
    if isinstance(obj, dict):
        return obj
    parsed: JSON = json.loads(obj.data)
    return parsed
