"""Unit tests of the member's lock (plugins/module_utils/_member_lock.py) and of the forgetting of
pending Helm records (plugins/module_utils/_helm_pending.py), against a fake kubernetes.core client
that keeps resourceVersions and checks preconditions as kube-apiserver does.

tests/converge/test_lock.py runs them against the local cluster, two converges at once.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os
import socket
import subprocess
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.module_utils import _names
from ansible_collections.binder.ingress.plugins.module_utils._chart import Chart
from ansible_collections.binder.ingress.plugins.module_utils._helm_pending import forget_pending
from ansible_collections.binder.ingress.plugins.module_utils._member_lock import (
    LockError,
    MemberLock,
    holder_alive,
    holder_identity,
    lease_name,
    micro_time,
)
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ConflictError, NotFoundError

T0 = 1_800_000_000.0  # the controller's clock at the start of each test
ME, OTHER = "me@ctl pid 1", "ci@runner pid 2"


def api_error(cls: type, status: int, message: str) -> Exception:
    raw = ApiException(status=status, reason=message)
    raw.body = json.dumps({"kind": "Status", "message": message})
    raw.headers = {"Content-Type": "application/json"}
    error: Exception = cls(raw)
    return error


class Raw:
    def __init__(self, body: dict[str, Any], date: float | None = None) -> None:
        self.data = json.dumps(body).encode()
        self.headers = {"Date": formatdate(date, usegmt=True)} if date is not None else {}


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.on_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


class FakeClient:
    """Objects by (kind, namespace, name); every write bumps resourceVersion and is recorded."""

    def __init__(self, clock: Clock) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.writes: list[tuple[str, str]] = []
        self.version = 100
        self.clock = clock
        self.before_write: Callable[[], None] | None = None

    def resource(self, kind: str, api_version: str) -> str:
        del api_version
        return kind

    def put(self, kind: str, namespace: str, obj: dict[str, Any]) -> None:
        self.version += 1
        obj = copy.deepcopy(obj)
        obj["metadata"].update(resourceVersion=str(self.version), namespace=namespace)
        obj["metadata"].setdefault("uid", f"uid-{obj['metadata']['name']}-{self.version}")
        self.objects[(kind, namespace, obj["metadata"]["name"])] = obj

    def get(
        self, kind: str, *, namespace: str, name: str | None = None, serialize: bool = True, **query: Any
    ) -> Raw:
        assert serialize is False
        if name is None:  # a list, with the label selector the module sends (status in (...))
            items = [o for (k, ns, _name), o in sorted(self.objects.items()) if k == kind and ns == namespace]
            assert query["field_selector"] == "type=helm.sh/release.v1"
            wanted = query["label_selector"].split("status in (")[1].rstrip(")").split(", ")
            items = [o for o in items if o["metadata"]["labels"]["status"] in wanted]
            return Raw({"items": items}, date=self.clock())
        if (kind, namespace, name) not in self.objects:
            raise api_error(NotFoundError, 404, f"{kind} {name} not found")
        return Raw(self.objects[(kind, namespace, name)])

    def _before(self) -> None:
        if self.before_write:
            hook, self.before_write = self.before_write, None
            hook()

    def create(self, kind: str, body: dict[str, Any], namespace: str) -> None:
        self._before()
        if (kind, namespace, body["metadata"]["name"]) in self.objects:
            raise api_error(ConflictError, 409, "already exists")
        self.writes.append(("create", body["metadata"]["name"]))
        body = copy.deepcopy(body)
        body["metadata"].pop("resourceVersion", None)
        self.put(kind, namespace, body)

    def replace(self, kind: str, body: dict[str, Any], namespace: str) -> None:
        self._before()
        current = self.objects.get((kind, namespace, body["metadata"]["name"]))
        if current is None or current["metadata"]["resourceVersion"] != body["metadata"]["resourceVersion"]:
            raise api_error(ConflictError, 409, "the object has been modified")
        self.writes.append(("update", body["metadata"]["name"]))
        body = copy.deepcopy(body)
        body["metadata"]["uid"] = current["metadata"]["uid"]
        self.put(kind, namespace, body)

    def delete(self, kind: str, *, name: str, namespace: str, body: dict[str, Any]) -> None:
        self._before()
        current = self.objects.get((kind, namespace, name))
        if current is None:
            raise api_error(NotFoundError, 404, f"{kind} {name} not found")
        pre = body["preconditions"]
        if (current["metadata"]["uid"], current["metadata"]["resourceVersion"]) != (
            pre["uid"],
            pre["resourceVersion"],
        ):
            raise api_error(ConflictError, 409, "Precondition failed")
        self.writes.append(("delete", name))
        del self.objects[(kind, namespace, name)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> FakeClient:
    return FakeClient(clock)


def lock(
    client: FakeClient, clock: Clock, holder: str = ME, wait: float = 0, check_mode: bool = False
) -> MemberLock:
    return MemberLock(
        client,
        member="gesis",
        namespace="kube-system",
        holder=holder,
        duration=600,
        wait=wait,
        check_mode=check_mode,
        clock=clock,
        sleep=clock.sleep,
    )


def held(client: FakeClient, holder: str, acquired: float, duration: int = 600) -> None:
    client.put(
        "Lease",
        "kube-system",
        {
            "metadata": {"name": "binder-ingress.gesis"},
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": duration,
                "acquireTime": micro_time(acquired),
                "renewTime": micro_time(acquired),
            },
        },
    )


def lease(client: FakeClient) -> dict[str, Any] | None:
    return client.objects.get(("Lease", "kube-system", "binder-ingress.gesis"))


def test_a_free_lock_is_taken_and_given_back(client: FakeClient, clock: Clock) -> None:
    mine = lock(client, clock)
    result = mine.acquire()
    assert result["acquired"] is True and result["waited"] == 0
    spec = lease(client)["spec"]  # type: ignore[index]
    assert spec["holderIdentity"] == ME and spec["leaseDurationSeconds"] == 600
    assert spec["acquireTime"] == micro_time(T0)
    assert lease(client)["metadata"]["labels"] == {  # type: ignore[index]
        "app.kubernetes.io/managed-by": "binder.ingress",
        "binder.ingress/member": "gesis",
    }
    # Taking it again (the same converge) renews it.
    clock.now += 30
    assert mine.acquire()["acquired"] is True
    assert lease(client)["spec"]["renewTime"] == micro_time(T0 + 30)  # type: ignore[index]
    assert lease(client)["spec"]["acquireTime"] == micro_time(T0)  # type: ignore[index]
    assert mine.release()["released"] is True
    assert lease(client) is None
    assert client.writes == [
        ("create", "binder-ingress.gesis"),
        ("update", "binder-ingress.gesis"),
        ("delete", "binder-ingress.gesis"),
    ]
    assert mine.warnings == []


def test_a_held_lock_fails_at_once_naming_the_member_the_holder_and_since_when(
    client: FakeClient, clock: Clock
) -> None:
    held(client, OTHER, T0 - 90)
    with pytest.raises(LockError) as error:
        lock(client, clock).acquire()
    message = str(error.value)
    assert message.startswith(
        "member gesis: its lock (Lease kube-system/binder-ingress.gesis) is held by ci@runner pid 2"
    )
    assert (
        "since 2027-01-15 07:58:30 UTC" in message
        and "until 2027-01-15 08:08:30 UTC at the latest" in message
    )
    assert "Nothing of the member was written" in message
    assert lease(client)["spec"]["holderIdentity"] == OTHER  # type: ignore[index]
    assert client.writes == []


def test_a_held_lock_is_waited_for_until_the_holder_gives_it_back(client: FakeClient, clock: Clock) -> None:
    held(client, OTHER, T0)
    # The other converge gives it back after 10 s.
    clock.on_sleep = lambda: client.objects.clear() if clock.now >= T0 + 10 else None
    mine = lock(client, clock, wait=60)
    result = mine.acquire()
    assert result["acquired"] is True and result["waited"] == 10
    assert lease(client)["spec"]["holderIdentity"] == ME  # type: ignore[index]
    assert mine.warnings == [
        "member gesis: waited 10 s for its lock (Lease kube-system/binder-ingress.gesis), held by "
        "ci@runner pid 2, another converge of this member"
    ]


def test_waiting_is_bounded(client: FakeClient, clock: Clock) -> None:
    held(client, OTHER, T0)
    with pytest.raises(LockError, match=r"held by ci@runner pid 2 .*\(waited 30 s for it\)"):
        lock(client, clock, wait=30).acquire()
    assert clock.now == T0 + 30
    assert client.writes == []


def test_an_expired_lock_is_taken_over_with_a_warning(client: FakeClient, clock: Clock) -> None:
    held(client, OTHER, T0 - 601)
    mine = lock(client, clock)
    assert mine.acquire()["acquired"] is True
    spec = lease(client)["spec"]  # type: ignore[index]
    assert (
        spec["holderIdentity"] == ME
        and spec["leaseTransitions"] == 1
        and spec["acquireTime"] == micro_time(T0)
    )
    assert client.writes == [("update", "binder-ingress.gesis")]
    assert mine.warnings[0].startswith(
        "member gesis: took over its lock (Lease kube-system/binder-ingress.gesis) from ci@runner pid 2"
    )


def test_of_two_converges_that_take_a_free_lock_at_once_one_wins(client: FakeClient, clock: Clock) -> None:
    # Between our read (no Lease) and our create, the other converge creates it.
    client.before_write = lambda: held(client, OTHER, T0)
    with pytest.raises(LockError, match="is held by ci@runner pid 2"):
        lock(client, clock).acquire()
    assert lease(client)["spec"]["holderIdentity"] == OTHER  # type: ignore[index]
    # The same race over an expired Lease: our update carries the resourceVersion we read.
    held(client, "old@gone pid 3", T0 - 700)
    client.before_write = lambda: held(client, OTHER, T0)
    with pytest.raises(LockError, match="is held by ci@runner pid 2"):
        lock(client, clock).acquire()
    assert client.writes == []


@pytest.mark.parametrize("holder", [None, OTHER])
def test_check_mode_only_reads_and_warns_when_held(
    client: FakeClient, clock: Clock, holder: str | None
) -> None:
    if holder:
        held(client, holder, T0 - 5)
    mine = lock(client, clock, check_mode=True, wait=600)
    result = mine.acquire()
    assert result["acquired"] is False
    assert client.writes == [] and clock.now == T0
    if holder:
        assert len(mine.warnings) == 1 and "is held by ci@runner pid 2 since" in mine.warnings[0]
        assert lease(client)["spec"]["holderIdentity"] == OTHER  # type: ignore[index]
    else:
        assert mine.warnings == [] and lease(client) is None


def test_a_lock_another_converge_took_over_is_not_given_back(client: FakeClient, clock: Clock) -> None:
    mine = lock(client, clock)
    mine.acquire()
    clock.now += 700
    held(client, OTHER, clock.now)
    result = mine.release()
    assert result["released"] is False
    assert lease(client)["spec"]["holderIdentity"] == OTHER  # type: ignore[index]
    assert "was no longer this converge's at its end (held by ci@runner pid 2" in mine.warnings[0]
    assert "longer than the lock's duration (600 s)" in mine.warnings[0]


@pytest.mark.parametrize(
    ("member", "name"),
    [
        ("gesis", "binder-ingress.gesis"),
        ("hetzner-2i2c", "binder-ingress.hetzner-2i2c"),
        ("Gesis_Prod", "binder-ingress.gesis-prod-"),
        ("x" * 250, "binder-ingress." + "x" * 40 + "-"),
    ],
)
def test_every_member_name_gives_a_valid_lease_name(member: str, name: str) -> None:
    assert lease_name(member).startswith(name)
    assert _names.dns1123_subdomain(lease_name(member)) is None
    assert lease_name("Gesis_Prod") != lease_name("gesis_prod") != lease_name("gesis-prod")


def record(
    client: FakeClient, version: int, status: str, created: float, content: dict[str, Any] | None = None
) -> None:
    stamp = micro_time(created).split(".")[0] + "Z"
    data = "c2VjcmV0"
    if content is not None:  # as Helm writes it: JSON, gzipped, base64, in a Secret (base64 again)
        helm = base64.b64encode(gzip.compress(json.dumps(content).encode()))
        data = base64.b64encode(helm).decode()
    client.put(
        "Secret",
        "gesis",
        {
            "metadata": {
                "name": f"sh.helm.release.v1.traefik.v{version}",
                "creationTimestamp": stamp,
                "labels": {"owner": "helm", "name": "traefik", "status": status, "version": str(version)},
            },
            "type": "helm.sh/release.v1",
            "data": {"release": data},
        },
    )


CHART = Chart(
    path="/charts/traefik",
    format="directory",
    name="traefik",
    version="39.0.0",
    app_version="v3.6.2",
    api_version="v2",
)
VALUES = {"deployment": {"replicas": 2}, "ingressClass": {"name": "traefik"}}


def release_record(revision: int, status: str = "deployed", **changes: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "name": "traefik",
        "namespace": "gesis",
        "version": revision,
        "info": {"status": status},
        "chart": {"metadata": {"name": "traefik", "version": "39.0.0", "appVersion": "v3.6.2"}},
        "config": copy.deepcopy(VALUES),
    }
    content.update(changes)
    return content


def current(client: FakeClient, clock: Clock, values: dict[str, Any] | None = None) -> tuple[bool, str]:
    result = forget_pending(
        client,
        release="traefik",
        namespace="gesis",
        timeout=300,
        timeout_text="5m0s",
        clock=clock,
        chart=CHART,
        values=VALUES if values is None else values,
    )
    return result["current"], result["current_because"]


def test_a_release_deployed_with_this_chart_and_these_values_is_current(
    client: FakeClient, clock: Clock
) -> None:
    record(client, 1, "superseded", T0 - 7200, release_record(1, "superseded", config={}))
    record(client, 2, "deployed", T0 - 3600, release_record(2))
    assert current(client, clock) == (True, "revision 2 is deployed with this chart and these values")
    # Compared as kubernetes.core.helm compares the values: 2 and 2.0 are the same number.
    assert current(client, clock, {"deployment": {"replicas": 2.0}, "ingressClass": {"name": "traefik"}})[0]
    assert client.writes == []


@pytest.mark.parametrize(
    ("changes", "because"),
    [
        (
            {"config": {"deployment": {"replicas": 3}, "ingressClass": {"name": "traefik"}}},
            "revision 2 has other values",
        ),
        ({"config": None}, "revision 2 has other values"),
        (
            {"chart": {"metadata": {"name": "traefik", "version": "38.0.0", "appVersion": "v3.6.2"}}},
            "revision 2 is chart traefik 38.0.0 (app v3.6.2), not traefik 39.0.0 (app v3.6.2)",
        ),
        (
            {"chart": {"metadata": {"name": "traefik", "version": "39.0.0", "appVersion": "v3.6.1"}}},
            "revision 2 is chart traefik 39.0.0 (app v3.6.1), not traefik 39.0.0 (app v3.6.2)",
        ),
        (
            {"version": 1},
            "Secret gesis/sh.helm.release.v1.traefik.v2: the record is revision 1 of release 'traefik' in 'gesis', its labels and namespace"
            " say revision 2 of 'traefik' in 'gesis'",
        ),
        (
            {"namespace": "other"},
            "Secret gesis/sh.helm.release.v1.traefik.v2: the record is revision 2 of release 'traefik' in 'other', its labels and namespace"
            " say revision 2 of 'traefik' in 'gesis'",
        ),
        ({"info": {"status": "failed"}}, "revision 2 is failed"),
        ({"chart": "traefik"}, "the record of revision 2 names no chart"),
    ],
)
def test_a_release_that_differs_in_any_field_helm_compares_is_not_current(
    client: FakeClient, clock: Clock, changes: dict[str, Any], because: str
) -> None:
    record(client, 2, "deployed", T0 - 3600, release_record(2, **changes))
    assert current(client, clock) == (False, because)


def test_a_release_whose_latest_revision_is_not_deployed_is_not_current(
    client: FakeClient, clock: Clock
) -> None:
    assert current(client, clock) == (False, "not installed")
    record(client, 2, "deployed", T0 - 3600, release_record(2))
    record(client, 3, "failed", T0 - 1800, release_record(3, "failed"))
    assert current(client, clock) == (False, "revision 3 is failed")
    record(client, 4, "pending-upgrade", T0 - 60, release_record(4, "pending-upgrade"))
    assert current(client, clock) == (False, "a revision was pending")


def test_a_record_that_cannot_be_read_is_never_current(client: FakeClient, clock: Clock) -> None:
    record(client, 2, "deployed", T0 - 3600)  # its data is no Helm record
    is_current, because = current(client, clock)
    assert not is_current and because.startswith(
        "Secret gesis/sh.helm.release.v1.traefik.v2: the record of revision 2 cannot be read: "
    ), because


def test_only_pending_records_older_than_the_helm_timeout_are_forgotten(
    client: FakeClient, clock: Clock
) -> None:
    record(client, 1, "deployed", T0 - 3600)
    record(client, 2, "pending-upgrade", T0 - 301)  # older than 5m0s: its Helm has ended
    record(client, 3, "pending-rollback", T0 - 120)  # may still be running
    result = forget_pending(
        client, release="traefik", namespace="gesis", timeout=300, timeout_text="5m0s", clock=clock
    )
    assert [r["revision"] for r in result["forgotten"]] == ["2"]
    assert [r["revision"] for r in result["kept"]] == ["3"]
    assert client.writes == [("delete", "sh.helm.release.v1.traefik.v2")]
    assert len(result["warnings"]) == 1
    assert "revision 3 is pending-rollback since" in result["warnings"][0]
    assert "less than the Helm timeout (5m0s) ago" in result["warnings"][0]
    assert "c2VjcmV0" not in json.dumps(result)


def test_forgetting_pending_records_in_check_mode_deletes_nothing(client: FakeClient, clock: Clock) -> None:
    record(client, 2, "pending-install", T0 - 400)
    result = forget_pending(
        client,
        release="traefik",
        namespace="gesis",
        timeout=300,
        timeout_text="5m",
        check_mode=True,
        clock=clock,
    )
    assert [r["revision"] for r in result["forgotten"]] == ["2"]
    assert client.writes == []


def test_a_pending_record_that_helm_changes_meanwhile_is_kept(client: FakeClient, clock: Clock) -> None:
    record(client, 2, "pending-upgrade", T0 - 400)
    client.before_write = lambda: record(client, 2, "pending-upgrade", T0 - 400)  # a new resourceVersion
    result = forget_pending(
        client, release="traefik", namespace="gesis", timeout=300, timeout_text="5m", clock=clock
    )
    assert result["forgotten"] == [] and [r["revision"] for r in result["kept"]] == ["2"]
    assert client.writes == []


def test_a_lock_whose_holder_no_longer_runs_on_this_controller_is_taken_over(
    client: FakeClient, clock: Clock
) -> None:
    held(client, OTHER, T0 - 5)  # unexpired
    mine = MemberLock(
        client,
        member="gesis",
        namespace="kube-system",
        holder=ME,
        duration=600,
        wait=0,
        alive=lambda holder: False if holder == OTHER else None,
        clock=clock,
        sleep=clock.sleep,
    )
    assert mine.acquire()["acquired"] is True
    assert lease(client)["spec"]["holderIdentity"] == ME  # type: ignore[index]
    assert mine.warnings == [
        "member gesis: took over its lock (Lease kube-system/binder-ingress.gesis) from ci@runner pid 2, whose "
        "ansible-playbook no longer runs on this controller"
    ]


def test_holder_alive_asks_only_this_controller() -> None:
    host = socket.gethostname()
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert holder_alive(holder_identity("me", host, os.getpid()), host) is True
    assert holder_alive(holder_identity("me", host, gone.pid), host) is False
    assert holder_alive(holder_identity("me", "elsewhere.example", gone.pid), host) is None
    assert holder_alive("someone's own words", host) is None
