"""Unit tests of apply_set (plugins/module_utils/_apply_set.py) against a fake kubernetes.core client.

What a real kube-apiserver cannot be made to do is tested here: a server that ignores the label
selector, and the refusals that come before any request. tests/converge/test_apply_set_on_cluster.py runs
the module against the local cluster's kube-apiserver.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from http.client import RemoteDisconnected
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from ansible_collections.binder.ingress.plugins.module_utils import _apply_set, _runs
from ansible_collections.binder.ingress.plugins.module_utils._apply_set import ApplySetError, SetApplier
from ansible_collections.binder.ingress.plugins.module_utils._runs import apply_set_spec, run_apply_set
from ansible_collections.binder.ingress.plugins.modules import apply_set
from ansible_collections.binder.ingress.plugins.plugin_utils._inprocess import run_module
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import (
    ConflictError,
    DynamicApiError,
    ForbiddenError,
    InternalServerError,
    NotFoundError,
    ResourceNotFoundError,
    ServerTimeoutError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnprocessibleEntityError,
)
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError

NS = "gesis"
KINDS = {
    "Ingress": ("networking.k8s.io/v1", True),
    "Service": ("v1", True),
    "Secret": ("v1", True),
    "Namespace": ("v1", False),
}
PRUNE = [{"kind": "Ingress", "api_version": "networking.k8s.io/v1"}, {"kind": "Service", "api_version": "v1"}]


def labels(member: str | None = "gesis", set_name: str = "ingresses") -> dict[str, str]:
    out = {"app.kubernetes.io/managed-by": "binder.ingress", "binder.ingress/set": set_name}
    if member:
        out["binder.ingress/member"] = member
    return out


def desired(kind: str, name: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": KINDS[kind][0],
        "kind": kind,
        "metadata": {"name": name, **meta},
        "spec": {"x": name},
    }


def live(kind: str, name: str, lbl: dict[str, str] | None, namespace: str = NS) -> dict[str, Any]:
    obj = desired(kind, name, namespace=namespace, uid=f"uid-{name}", resourceVersion="7")
    if lbl is not None:
        obj["metadata"]["labels"] = lbl
    return obj


def api_error(cls: type, status: int, message: str) -> Exception:
    raw = ApiException(status=status, reason=message)
    raw.body = json.dumps({"kind": "Status", "message": message})
    raw.headers = {"Content-Type": "application/json"}
    error: Exception = cls(raw)
    return error


def field_conflict(manager: str, fields: list[str]) -> Exception:
    """kube-apiserver's answer to a server-side apply that would change fields another manager holds."""
    raw = ApiException(status=409, reason="Conflict")
    causes = [
        # As kube-apiserver writes a StatusCause: its type under the JSON name "reason".
        {"reason": "FieldManagerConflict", "message": f'conflict with "{manager}" using v1', "field": f}
        for f in fields
    ]
    message = f"Apply failed with {len(fields)} conflicts: " + "; ".join(c["message"] for c in causes)
    raw.body = json.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "message": message,
            "reason": "Conflict",
            "code": 409,
            "details": {"causes": causes},
        }
    )
    raw.headers = {"Content-Type": "application/json"}
    error: Exception = ConflictError(raw)
    return error


def path_not_served() -> Exception:
    """kube-apiserver's answer on a path it serves nothing on: a CRD in discovery whose handler
    does not serve it yet. Plain text, not a Status."""
    raw = ApiException(status=404, reason="Not Found")
    raw.body = b"404 page not found\n"
    raw.headers = {"Content-Type": "text/plain; charset=utf-8"}
    error: Exception = NotFoundError(raw)
    return error


class Raw:
    """What the dynamic client returns for a request sent with serialize=False: the HTTP response."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body).encode()


def answer(body: dict[str, Any], params: dict[str, Any]) -> Raw:
    # The module reads JSON bodies only; a request without serialize=False would get a
    # ResourceInstance from the real client, which this fake does not imitate.
    assert params.pop("serialize", True) is False, "requests must be sent with serialize=False"
    return Raw(body)


class FakeResource:
    def __init__(self, cluster: FakeClient, kind: str) -> None:
        self.cluster = cluster
        self.kind = kind
        self.group_version, self.namespaced = KINDS[kind]

    def server_side_apply(self, **params: Any) -> Raw:
        """Stores the body as the object (no defaulting) unless dry_run; refuses `refuse`, and
        `conflicts` unless forced."""
        with self.cluster.lock:  # the module sends requests from several threads
            self.cluster.fail("dry run" if params.get("dry_run") else "apply", params["name"])
            self.cluster.applies.append((self.kind, params["name"], params.get("dry_run")))
            if params.get("force_conflicts"):
                self.cluster.forced.append((self.kind, params["name"], params.get("dry_run")))
            refused = self.cluster.refuse | (set() if params.get("dry_run") else self.cluster.refuse_write)
            if params["name"] in refused:
                raise api_error(UnprocessibleEntityError, 422, f"{self.kind} {params['name']} is invalid")
            if params["name"] in self.cluster.conflicts and not params.get("force_conflicts"):
                raise field_conflict(*self.cluster.conflicts[params["name"]])
            obj = copy.deepcopy(params["body"])
            if params.get("dry_run") != "All":
                self.cluster.objects = [
                    o
                    for o in self.cluster.objects
                    if (o["kind"], o["metadata"]["name"]) != (self.kind, params["name"])
                ]
                self.cluster.objects.append(obj)
            return answer(obj, params)


class FakeClient:
    """Stands in for kubernetes.core's K8SClient: resource(), get(), delete()."""

    def __init__(self, objects: list[dict[str, Any]], *, honour_selector: bool = True) -> None:
        self.objects = objects
        self.honour_selector = honour_selector
        self.applies: list[tuple[str, str, str | None]] = []
        self.deletes: list[dict[str, Any]] = []
        self.refuse: set[str] = set()
        self.refuse_write: set[str] = set()  # the dry run passes, the real apply is refused
        # name -> (manager, fields): another field manager holds those fields (409 unless forced).
        self.conflicts: dict[str, tuple[str, list[str]]] = {}
        self.forced: list[tuple[str, str, str | None]] = []  # applies sent with force_conflicts
        # (request, name) -> what the next such requests raise, one each (an API fault).
        self.failures: dict[tuple[str, str], list[BaseException]] = {}
        self.failed: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def fail(self, request: str, name: str) -> None:
        waiting = self.failures.get((request, name))
        if waiting:
            self.failed.append((request, name))
            raise waiting.pop(0)

    def resource(self, kind: str, api_version: str) -> FakeResource:
        if kind not in KINDS:
            raise ResourceNotFoundError(f"no {kind}")
        return FakeResource(self, kind)

    def get(self, resource: FakeResource, name: str | None = None, **params: Any) -> Any:
        self.fail("get" if name is not None else "list", name or resource.kind)
        if name is not None:
            # By name: whether the namespace exists (no body read), or an object to prune as it is now.
            for o in self.objects:
                if (o["kind"], o["metadata"]["name"]) == (resource.kind, name):
                    return answer(o, params) if "serialize" in params else copy.deepcopy(o)
            raise api_error(NotFoundError, 404, "not found")
        wanted = dict(t.split("=", 1) for t in (params.get("label_selector") or "").split(",") if t)
        items = [
            o
            for o in self.objects
            if o["kind"] == resource.kind
            and o["metadata"].get("namespace") == params.get("namespace")
            and (not self.honour_selector or wanted.items() <= o["metadata"].get("labels", {}).items())
        ]
        return answer({"kind": "List", "items": items}, params)

    def delete(self, resource: FakeResource, **params: Any) -> None:
        self.fail("delete", params["name"])
        self.deletes.append(dict(kind=resource.kind, **params))
        body = params["body"]
        if "All" not in body.get("dryRun", []):
            self.objects = [
                o
                for o in self.objects
                if (o["kind"], o["metadata"]["name"]) != (resource.kind, params["name"])
            ]

    def writes(self) -> list[tuple[str, str]]:
        done = [(k, n) for k, n, dry in self.applies if dry is None]
        return done + [(d["kind"], d["name"]) for d in self.deletes if "dryRun" not in d["body"]]


def run(
    client: FakeClient, objects: list[dict[str, Any]], check: bool = False, **over: Any
) -> dict[str, Any]:
    params: dict[str, Any] = dict(
        set="ingresses",
        member="gesis",
        namespace=NS,
        create_namespace=False,
        objects=objects,
        prune_kinds=PRUNE,
    )
    params.update(over)
    result: dict[str, Any] = SetApplier(client, params, check_mode=check, diff=True).run()
    return result


@pytest.fixture
def cluster() -> FakeClient:
    return FakeClient(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            live("Ingress", "binderhub", labels()),
            live("Ingress", "grafana", labels()),  # no longer desired
            live("Service", "redirector", labels()),  # no longer desired
            live("Ingress", "hand-made", None),  # unlabelled: never ours
            live("Ingress", "other-member", labels("gesis-2")),  # another member's set
            live("Ingress", "other-set", labels(set_name="entrypoint")),  # another set of the member
            live("Ingress", "grafana", labels(), namespace="elsewhere"),  # another namespace
        ]
    )


@pytest.mark.parametrize("honour_selector", [True, False], ids=["server-filters", "server-ignores-selector"])
def test_prunes_only_the_member_set_in_its_namespace(cluster: FakeClient, honour_selector: bool) -> None:
    cluster.honour_selector = honour_selector
    result = run(cluster, [desired("Ingress", "binderhub", labels=labels())])
    assert [o["name"] for o in result["deleted"]] == ["grafana", "redirector"]
    assert [o["name"] for o in result["unchanged"]] == ["binderhub"]
    assert cluster.writes() == [("Ingress", "grafana"), ("Service", "redirector")]
    # Each delete is bound to the object as it was listed.
    assert cluster.deletes[0]["body"]["preconditions"] == {"uid": "uid-grafana", "resourceVersion": "7"}


def test_the_set_labels_are_added_and_a_foreign_one_refused(cluster: FakeClient) -> None:
    result = run(cluster, [desired("Ingress", "binderhub")], check=True)
    assert result["unchanged"] and not result["updated"]
    with pytest.raises(
        ApplySetError, match=r"objects\[0\] \(Ingress x\): label binder.ingress/member is 'beta'"
    ):
        run(cluster, [desired("Ingress", "x", labels={"binder.ingress/member": "beta"})])
    assert cluster.applies == [a for a in cluster.applies if a[2] == "All"]


@pytest.mark.parametrize(
    ("over", "objects", "message"),
    [
        ({"member": None}, [], "a set the members of a cluster share is never pruned"),
        ({"namespace": ""}, [], "Ingress is namespaced: give namespace"),
        ({"prune_kinds": [{"kind": "Namespace", "api_version": "v1"}]}, [], "Namespace is never pruned"),
        ({}, [desired("Ingress", "x", namespace="elsewhere")], "not in the set's namespace gesis"),
        ({}, [desired("Namespace", "x", namespace=NS)], "is cluster-scoped and must not name a namespace"),
        ({}, [desired("Ingress", "x"), desired("Ingress", "x")], r"Ingress gesis/x is given twice"),
        ({}, [{"kind": "Ingress"}], r"objects\[0\]: needs apiVersion, kind and metadata.name"),
        (
            {"member": None, "prune_kinds": []},
            [desired("Namespace", "x", labels=labels())],
            "shared by the members",
        ),
    ],
)
def test_refusals_come_before_any_request_that_writes(
    cluster: FakeClient, over: dict[str, Any], objects: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ApplySetError, match=message):
        run(cluster, objects, **over)
    assert cluster.applies == [] and cluster.deletes == []


def test_a_refused_dry_run_fails_the_set_with_every_refusal_and_writes_nothing(cluster: FakeClient) -> None:
    cluster.refuse = {"a", "b"}
    objects = [desired("Ingress", n) for n in ("a", "new", "b")]
    with pytest.raises(ApplySetError) as caught:
        run(cluster, objects)
    assert caught.value.problems == [
        "Ingress gesis/a: Ingress a is invalid",
        "Ingress gesis/b: Ingress b is invalid",
    ]
    assert cluster.writes() == []


@pytest.mark.parametrize("parallel", [1, 8])
def test_a_refused_apply_leaves_the_others_applied_and_prunes_nothing(
    cluster: FakeClient, parallel: int
) -> None:
    # The dry run accepted every object, so a refusal at apply time is a race or an API fault: the
    # other objects are applied all the same, each refusal is named, and the set is not pruned.
    cluster.objects.append(live("Ingress", "gone", labels()))
    cluster.refuse_write = {"b", "d"}
    objects = [desired("Ingress", n) for n in ("a", "b", "c", "d", "e")]
    with pytest.raises(ApplySetError) as caught:
        run(cluster, objects, parallel=parallel)
    assert caught.value.problems == [
        "Ingress gesis/b: Ingress b is invalid",
        "Ingress gesis/d: Ingress d is invalid",
        "the other objects were applied; nothing was pruned",
    ]
    assert [o["name"] for o in caught.value.result["created"]] == ["a", "c", "e"]
    # When every write is refused, the message does not speak of others.
    cluster.refuse_write = {"a", "b", "c", "d", "e", "f"}
    with pytest.raises(ApplySetError) as caught:
        run(cluster, [*objects, desired("Ingress", "f")], parallel=parallel)
    assert caught.value.problems[-2:] == [
        "Ingress gesis/f: Ingress f is invalid",
        "no object was written; nothing was pruned",
    ]
    stored = {o["metadata"]["name"] for o in cluster.objects if o["kind"] == "Ingress"}
    assert {"a", "c", "e", "gone"} <= stored and not {"b", "d"} & stored
    assert cluster.deletes == []


def test_one_at_a_time_sends_in_the_order_given_and_parallel_reports_in_it(cluster: FakeClient) -> None:
    names = [f"i{n:02d}" for n in range(20)]
    objects = [desired("Ingress", n) for n in reversed(names)]
    run(cluster, objects, parallel=1)
    assert [name for kind, name, dry in cluster.applies if dry and kind == "Ingress"] == list(reversed(names))
    assert [name for kind, name, dry in cluster.applies if not dry and kind == "Ingress"] == list(
        reversed(names)
    )
    changed = [{**desired("Ingress", n), "spec": {"x": "changed"}} for n in names]
    result = run(cluster, changed, parallel=8)
    assert [o["name"] for o in result["updated"]] == names
    assert [d["after_header"] for d in result["diff"]] == [f"Ingress gesis/{n}" for n in names]


def test_the_set_is_the_objects_label_when_not_given(cluster: FakeClient) -> None:
    objects = [desired("Ingress", n, labels=labels()) for n in ("a", "b")]
    result = run(cluster, objects, set=None, prune_kinds=[])
    assert [o["name"] for o in result["created"]] == ["a", "b"]
    mixed = [*objects, desired("Ingress", "c", labels=labels(set_name="entrypoint"))]
    with pytest.raises(ApplySetError, match=r"do not all carry one binder\.ingress/set label"):
        run(cluster, mixed, set=None)
    with pytest.raises(ApplySetError, match="found none, 'ingresses'"):
        run(cluster, [*objects, desired("Ingress", "d")], set=None)
    with pytest.raises(ApplySetError, match=r"no objects whose binder\.ingress/set label names it"):
        run(cluster, [], set=None)
    assert cluster.writes() == [("Ingress", "a"), ("Ingress", "b")]


def test_missing_namespace_fails_a_real_run_and_is_shown_in_check_mode() -> None:
    client = FakeClient([])
    with pytest.raises(ApplySetError, match="namespace gesis does not exist"):
        run(client, [desired("Ingress", "a")])
    result = run(client, [desired("Ingress", "a")], check=True)
    assert [o["name"] for o in result["created"]] == ["a"]
    assert result["diff"][0]["after_header"] == "Ingress gesis/a (not validated by the server)"
    assert "namespace gesis does not exist yet" in result["warnings"][0]
    assert client.applies == []


def test_created_namespace_is_bare_and_first() -> None:
    client = FakeClient([])
    result = run(client, [desired("Ingress", "a")], create_namespace=True)
    assert [(o["kind"], o["name"]) for o in result["created"]] == [("Namespace", NS), ("Ingress", "a")]
    assert client.objects[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}


def test_unserved_kind_fails_a_real_run_and_is_shown_in_check_mode(cluster: FakeClient) -> None:
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "le"}}
    with pytest.raises(ApplySetError, match=r"does not serve cert-manager\.io/v1 ClusterIssuer"):
        run(cluster, [issuer], set="cluster-issuers", member=None, namespace=None, prune_kinds=[])
    result = run(
        cluster, [issuer], check=True, set="cluster-issuers", member=None, namespace=None, prune_kinds=[]
    )
    assert result["changed"] is True and [o["name"] for o in result["created"]] == ["le"]
    assert "binder.ingress/member" not in result["diff"][0]["after"]


def test_ownership_change_alone_is_a_write() -> None:
    theirs = live("Ingress", "a", labels())
    theirs["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply", "time": "t1"}]
    ours = copy.deepcopy(theirs)
    ours["metadata"]["managedFields"] = [{"manager": "binder.ingress", "operation": "Apply", "time": "t2"}]
    assert _apply_set.differs(theirs, ours)
    later = copy.deepcopy(ours)
    later["metadata"]["managedFields"][0]["time"] = "t3"
    later["metadata"]["resourceVersion"] = "8"
    later["status"] = {"loadBalancer": {}}
    assert not _apply_set.differs(ours, later)


def test_secret_values_are_masked_in_the_diff() -> None:
    secret = {
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"k": "c2VjcmV0"},
        "stringData": {"t": "x"},
    }
    assert _apply_set.shown(secret)["data"] == {"k": _apply_set.MASK}
    assert _apply_set.shown(secret)["stringData"] == {"t": _apply_set.MASK}
    assert secret["data"] == {"k": "c2VjcmV0"}


# --- API faults: what is retried, how long, and what a set that cannot be applied leaves -------


def throttled(seconds: str) -> Exception:
    error = api_error(TooManyRequestsError, 429, "too many requests")
    error.headers = {"Content-Type": "application/json", "Retry-After": seconds}  # type: ignore[attr-defined]
    return error


def lost() -> Exception:
    return ProtocolError(
        "Connection aborted.", RemoteDisconnected("Remote end closed connection without response")
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoffs the module waits, without waiting them."""
    waited: list[float] = []
    monkeypatch.setattr(_apply_set, "time", SimpleNamespace(monotonic=time.monotonic, sleep=waited.append))
    return waited


@pytest.mark.parametrize(
    ("request_", "name", "errors"),
    [
        ("dry run", "binderhub", [api_error(InternalServerError, 500, "etcd hiccup")] * 2),
        ("apply", "new", [throttled("3")]),
        ("apply", "new", [api_error(ConflictError, 409, "the object has been modified")]),
        ("list", "Ingress", [lost(), api_error(ServiceUnavailableError, 503, "starting")]),
        ("delete", "grafana", [api_error(ServerTimeoutError, 504, "timeout"), lost()]),
        ("get", NS, [ReadTimeoutError(None, "/api/v1/namespaces/gesis", "read timed out")]),
    ],
    ids=["500-dry-run", "429-apply", "409-apply", "lost-and-503-list", "504-and-lost-delete", "timeout-get"],
)
def test_a_transient_failure_is_retried_and_the_set_converges(
    cluster: FakeClient, sleeps: list[float], request_: str, name: str, errors: list[Exception]
) -> None:
    cluster.failures[(request_, name)] = list(errors)
    result = run(cluster, [desired("Ingress", "binderhub", labels=labels()), desired("Ingress", "new")])
    assert cluster.failed == [(request_, name)] * len(errors)  # every fault fired, and was got over
    assert [o["name"] for o in result["created"]] == ["new"]
    assert [o["name"] for o in result["deleted"]] == ["grafana", "redirector"]
    assert len(sleeps) == len(errors)
    if request_ == "apply" and errors[0].status == 429:  # type: ignore[attr-defined]
        assert sleeps == [3.0]  # the server's Retry-After
    else:
        # 0.5 s, then 1 s, each with up to a quarter more.
        assert all(0.5 * 2**n <= s <= 0.625 * 2**n for n, s in enumerate(sleeps)), sleeps


def test_an_api_that_stays_down_fails_naming_the_step_and_sends_nothing_more(
    cluster: FakeClient, sleeps: list[float]
) -> None:
    cluster.failures[("apply", "b")] = [api_error(ServiceUnavailableError, 503, "unavailable")] * 100
    objects = [desired("Ingress", n) for n in ("a", "b", "c")]
    with pytest.raises(ApplySetError) as caught:
        run(cluster, objects, parallel=1, retries=3)
    problems = caught.value.problems
    assert problems[0].startswith("Ingress gesis/b: apply: unavailable (tried 4 times in "), problems
    assert problems[1:] == [
        "Ingress gesis/b: not applied",
        "Ingress gesis/c: not applied",
        "the other objects were applied; nothing was pruned",
    ]
    assert len(sleeps) == 3 and sum(sleeps) <= 0.625 * (1 + 2 + 4)
    assert cluster.writes() == [("Ingress", "a")]  # c was never sent, grafana never deleted
    assert [o["name"] for o in caught.value.result["created"]] == ["a"]


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (api_error(UnprocessibleEntityError, 422, "invalid"), False),
        (api_error(NotFoundError, 404, "gone"), False),
        (api_error(ForbiddenError, 403, "forbidden"), False),
        (api_error(ConflictError, 409, "modified"), False),
        (api_error(DynamicApiError, 502, "bad gateway"), True),
        (lost(), True),
        (path_not_served(), True),
    ],
    ids=["422", "404", "403", "409-not-an-apply", "502", "lost", "404-kind-not-served-yet"],
)
def test_only_a_failure_another_try_can_cure_is_retried(error: Exception, retried: bool) -> None:
    calls: list[int] = []
    waited: list[float] = []

    def call() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return "ok"

    if retried:
        assert _apply_set.retrying(call, "step", sleep=waited.append) == "ok"
        assert (len(calls), len(waited)) == (2, 1)
    else:
        with pytest.raises(type(error)):
            _apply_set.retrying(call, "step", sleep=waited.append)
        assert (len(calls), waited) == (1, [])


def test_a_prune_refused_because_the_object_changed_reads_it_again(
    cluster: FakeClient, sleeps: list[float]
) -> None:
    # grafana changed after it was listed (409 on the delete): still the set's, it is deleted as it
    # is now. redirector changed too, and lost the set's labels: someone took it over; it stays.
    cluster.failures[("delete", "grafana")] = [api_error(ConflictError, 409, "precondition failed")]
    cluster.failures[("delete", "redirector")] = [api_error(ConflictError, 409, "precondition failed")]
    redirector = next(o for o in cluster.objects if o["metadata"]["name"] == "redirector")

    def take_over(request: str, name: str, fail: Any = cluster.fail) -> None:
        if (request, name) == ("delete", "redirector"):
            redirector["metadata"]["labels"] = {}
        fail(request, name)

    cluster.fail = take_over  # type: ignore[method-assign]
    grafana = next(o for o in cluster.objects if o["metadata"]["name"] == "grafana")
    grafana["metadata"]["resourceVersion"] = "8"
    result = run(cluster, [desired("Ingress", "binderhub", labels=labels())])
    assert [o["name"] for o in result["deleted"]] == ["grafana"]
    assert cluster.writes() == [("Ingress", "grafana")]
    assert cluster.deletes[-1]["body"]["preconditions"] == {"uid": "uid-grafana", "resourceVersion": "8"}
    assert result["warnings"] == [
        "set ingresses of member gesis: Service gesis/redirector changed while it was pruned and no longer "
        "carries the set's labels: left as it is"
    ]
    assert sleeps == []  # a precondition that failed is read again at once, not waited for


def in_worker(args: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
    """The task's result, as the action plugin runs apply_set inside Ansible's worker."""
    return run_module("binder.ingress.apply_set", apply_set_spec(), run_apply_set, args, check_mode, False)


def test_the_task_retries_connecting_and_names_the_member_when_the_api_is_down(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    attempts: list[int] = []

    def unreachable(module: Any) -> Any:
        attempts.append(1)
        raise MaxRetryError(None, "/version", NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]

    monkeypatch.setattr(_runs, "get_api_client", unreachable)
    args = dict(
        set="ingresses",
        member="gesis",
        namespace=NS,
        objects=[desired("Ingress", "a")],
        retries=2,
        context="gesis-ctx",
    )
    result = in_worker(args)
    message = result["msg"]
    assert result["failed"] is True
    # The member and its context: which cluster did not answer.
    assert message.startswith(
        "apply_set: set ingresses of member gesis: connecting to the API server of context gesis-ctx:"
        " no answer from the API server: "
    ), message
    assert "Connection refused" in message and "(tried 3 times in " in message
    assert len(attempts) == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    ("key", "value", "want"),
    [("parallel", 0, "at least 1"), ("retries", -1, "0 or more"), ("request_timeout", 0.0, "more than 0")],
)
def test_the_task_refuses_limits_out_of_range(
    monkeypatch: pytest.MonkeyPatch, key: str, value: Any, want: str
) -> None:
    monkeypatch.setattr(_runs, "get_api_client", lambda module: pytest.fail("no client before the check"))
    args = {"set": "ingresses", "member": "gesis", "namespace": NS, "objects": [], key: value}
    result = in_worker(args)
    assert result["failed"] is True
    assert result["msg"] == f"apply_set: set ingresses of member gesis: {key} must be {want}, got {value}"


def test_the_task_fails_naming_the_member_and_the_object(
    monkeypatch: pytest.MonkeyPatch, cluster: FakeClient
) -> None:
    cluster.refuse = {"a"}
    monkeypatch.setattr(_runs, "get_api_client", lambda module: cluster)
    result = in_worker(dict(set="ingresses", member="gesis", namespace=NS, objects=[desired("Ingress", "a")]))
    assert result["failed"] is True
    assert result["msg"] == "apply_set: set ingresses of member gesis: Ingress gesis/a: Ingress a is invalid"


def test_the_task_masks_secret_values_and_checks_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the worker as in a module process: a value of a Secret of the set is masked wherever the
    result shows it, and arguments the spec refuses fail the task before any client is made."""

    def echo(module: Any) -> None:  # a run whose result shows the objects it was given
        _runs.hide_secret_values(module._module.no_log_values, module.params["objects"])
        module.exit_json(objects=module.params["objects"], msg="token s3cr3t-value")

    secret = desired("Secret", "token")
    secret["stringData"] = {"token": "s3cr3t-value"}
    args = dict(set="ingresses", member="gesis", namespace=NS, objects=[secret])
    result = run_module("binder.ingress.apply_set", apply_set_spec(), echo, args, False, False)
    assert "s3cr3t-value" not in json.dumps(result), result
    # As AnsibleModule masks: a whole value by name, a value inside a text by stars.
    assert result["objects"][0]["stringData"] == {"token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}
    assert result["msg"] == "token ********" and result["changed"] is False

    monkeypatch.setattr(_runs, "get_api_client", lambda module: pytest.fail("no client for bad arguments"))
    bad = in_worker(dict(set="ingresses", objects="not a list of objects", parallel="many"))
    assert bad["failed"] is True and bad["msg"].startswith("binder.ingress.apply_set: "), bad
    assert "parallel" in bad["msg"], bad


def test_documented_options_match_the_argument_spec() -> None:
    from ansible_collections.kubernetes.core.plugins.doc_fragments.k8s_auth_options import ModuleDocFragment

    own = yaml.safe_load(apply_set.DOCUMENTATION)
    documented = own["options"] | yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = apply_set_spec()
    assert set(documented) == set(spec)
    for name, doc in own["options"].items():
        for key in ("type", "elements", "default"):
            assert doc.get(key) == spec[name].get(key), (name, key)
        assert doc.get("required", False) == spec[name].get("required", False), name
    assert set(own["options"]["prune_kinds"]["suboptions"]) == set(spec["prune_kinds"]["options"])
    yaml.safe_load(apply_set.EXAMPLES)
    assert set(yaml.safe_load(apply_set.RETURN)) == {"created", "updated", "unchanged", "deleted"}


# --- ownership: what the set may change, and adoption ----------------------------------------------


def helm_made(name: str) -> dict[str, Any]:
    """An Ingress exactly as Helm leaves it: its label, its release annotations, its field manager."""
    obj = live("Ingress", name, {"app.kubernetes.io/managed-by": "Helm"})
    obj["metadata"]["annotations"] = {
        "meta.helm.sh/release-name": "jhub",
        "meta.helm.sh/release-namespace": NS,
    }
    obj["metadata"]["managedFields"] = [{"manager": "helm", "operation": "Update", "fieldsV1": {}}]
    return obj


FOREIGN = {
    "hand-made": (
        lambda: {
            **live("Ingress", "hand-made", None),
            "metadata": {
                **live("Ingress", "hand-made", None)["metadata"],
                "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"}],
            },
        },
        "none of the set's labels; field managers kubectl-client-side-apply (Update)",
    ),
    "other-member": (
        lambda: live("Ingress", "other-member", labels("gesis-2")),
        "labels app.kubernetes.io/managed-by=binder.ingress, binder.ingress/set=ingresses, "
        "binder.ingress/member=gesis-2; no field managers",
    ),
    "other-set": (
        lambda: live("Ingress", "other-set", labels(set_name="entrypoint")),
        "labels app.kubernetes.io/managed-by=binder.ingress, binder.ingress/set=entrypoint, "
        "binder.ingress/member=gesis",
    ),
    "jupyterhub": (
        lambda: helm_made("jupyterhub"),
        "Helm release gesis/jhub; labels app.kubernetes.io/managed-by=Helm; field managers helm (Update)",
    ),
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
@pytest.mark.parametrize("check", [False, True], ids=["real", "check"])
def test_a_live_object_the_set_does_not_own_is_refused_and_left_as_it_is(name: str, check: bool) -> None:
    make, owner = FOREIGN[name]
    client = FakeClient([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, make()])
    before = copy.deepcopy(client.objects)
    objects = [desired("Ingress", "new"), desired("Ingress", name)]
    with pytest.raises(ApplySetError) as caught:
        run(client, objects, check=check, adopt_variable="binder_adopt")
    assert caught.value.problems[0].startswith(f"Ingress gesis/{name}: exists and is not the set's ("), caught
    assert owner in caught.value.problems[0]
    assert caught.value.problems[0].endswith(
        f"it is left as it is. To let the set take it over, add Ingress/{name} to binder_adopt"
    )
    assert caught.value.problems[1:] == ["nothing of the set was written"]
    # Refused on the list alone: not even a dry run of the others, no prune.
    assert client.applies == [] and client.deletes == []
    assert client.objects == before


def test_a_member_label_on_a_shared_set_is_another_members() -> None:
    issuer = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shared", "labels": labels()}}
    client = FakeClient([dict(issuer, metadata=dict(issuer["metadata"], labels=labels(set_name="x")))])
    with pytest.raises(ApplySetError, match=r"Namespace shared: exists and is not the set's .*member=gesis"):
        run(client, [desired("Namespace", "shared")], set="x", member=None, namespace=None, prune_kinds=[])
    assert client.applies == []


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_a_named_object_is_adopted_by_one_forced_apply_and_is_then_the_sets(name: str) -> None:
    make = FOREIGN[name][0]
    client = FakeClient([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, make()])
    client.conflicts[name] = ("helm", [".spec.rules"])  # the old owner holds fields the set sets
    objects = [desired("Ingress", "new"), desired("Ingress", name)]
    result = run(client, objects, adopt=[f"Ingress/{name}"])
    assert [o["name"] for o in result["updated"]] == [name]
    # Only the adopted object, and only its dry run and apply, took fields over.
    assert client.forced == [("Ingress", name, "All"), ("Ingress", name, None)]
    assert next(o for o in client.objects if o["metadata"]["name"] == name)["metadata"]["labels"] == labels()

    # Adopted: the next run, the name still listed, finds nothing to do and forces nothing.
    del client.conflicts[name]
    client.forced.clear()
    again = run(client, objects, adopt=[f"Ingress/{name}"])
    assert again["changed"] is False and client.forced == []


def test_a_conflict_with_another_field_manager_is_an_error_naming_it_and_is_never_retried(
    cluster: FakeClient, sleeps: list[float]
) -> None:
    # Someone changed binderhub with kubectl edit: kubectl now holds the fields the set would set back.
    cluster.conflicts["binderhub"] = ("kubectl-edit", [".spec.x", ".metadata.annotations.a"])
    objects = [desired("Ingress", "binderhub", labels=labels()) | {"spec": {"x": "new"}}]
    with pytest.raises(ApplySetError) as caught:
        run(cluster, objects, adopt_variable="binder_adopt")
    assert caught.value.problems == [
        "Ingress gesis/binderhub: conflicts with field manager kubectl-edit over .metadata.annotations.a, "
        ".spec.x: the set never takes fields over from another manager. Undo that change, or add "
        "Ingress/binderhub to binder_adopt to take the fields over"
    ]
    assert cluster.applies == [("Ingress", "binderhub", "All")] and sleeps == []
    assert cluster.forced == [] and cluster.writes() == []
    # Named for adoption, the set takes those fields over.
    result = run(cluster, objects, adopt=["Ingress/binderhub"])
    assert [o["name"] for o in result["updated"]] == ["binderhub"]
    assert cluster.forced == [("Ingress", "binderhub", "All"), ("Ingress", "binderhub", None)]


def test_only_a_conflict_of_concurrency_is_retried_for_an_apply() -> None:
    assert _apply_set.transient(api_error(ConflictError, 409, "the object has been modified"), conflict=True)
    assert not _apply_set.transient(field_conflict("helm", [".spec"]), conflict=True)
    assert _apply_set.field_conflicts(field_conflict("helm", [".spec", ".x"])) == [
        ("helm", ".spec"),
        ("helm", ".x"),
    ]


@pytest.mark.parametrize(
    ("adopt", "message"),
    [
        ("Ingress/a", r"binder_adopt: must be a list of Kind/name strings"),
        (["Ingress"], r"binder_adopt\[0\]: 'Ingress' is not Kind/name"),
        (["Ingress/a", 3], r"binder_adopt\[1\]: 3 is not Kind/name"),
        (["Ingres/a"], r"binder_adopt\[0\]: 'Ingres/a': unknown kind Ingres, .*did you mean Ingress/a\?"),
        (
            ["Ingress/ab"],
            r"binder_adopt\[0\]: 'Ingress/ab' names no object of the set; did you mean Ingress/a\?",
        ),
        (["Service/a"], r"binder_adopt\[0\]: 'Service/a' names no object of the set"),
    ],
)
def test_a_bad_adoption_list_is_refused_naming_the_key_before_any_request(
    cluster: FakeClient, adopt: Any, message: str
) -> None:
    with pytest.raises(ApplySetError, match=message):
        run(cluster, [desired("Ingress", "a")], adopt=adopt, adopt_variable="binder_adopt")
    assert cluster.applies == [] and cluster.deletes == []


def test_ownership_only_reads_and_refuses_but_never_writes(cluster: FakeClient) -> None:
    objects = [desired("Ingress", "binderhub"), desired("Ingress", "brand-new")]
    result = run(cluster, objects, ownership_only=True)
    assert result["changed"] is False and cluster.applies == [] and cluster.deletes == []
    with pytest.raises(ApplySetError, match="Ingress gesis/hand-made: exists and is not the set's"):
        run(cluster, [*objects, desired("Ingress", "hand-made")], ownership_only=True)
    assert cluster.applies == [] and cluster.deletes == []


class StaleDiscovery:
    """kubernetes.core's cached discovery (a file per API server URL and user): it may name a kind
    the server no longer serves, until invalidate_cache() reads discovery afresh."""

    def __init__(self, client: FakeClient, stale: str) -> None:
        self.client, self.stale, self.invalidated = client, stale, 0

    def invalidate_cache(self) -> None:
        self.invalidated += 1


class StaleClient(FakeClient):
    """A cluster without cert-manager whose cached discovery still names ClusterIssuer."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        super().__init__(objects)
        self.resources = StaleDiscovery(self, "ClusterIssuer")

    def resource(self, kind: str, api_version: str) -> FakeResource:
        if kind != self.resources.stale:
            return super().resource(kind, api_version)
        if self.resources.invalidated:
            raise ResourceNotFoundError(f"no {kind}")
        stale = FakeResource(self, "Namespace")  # cluster-scoped, as a ClusterIssuer
        stale.kind, stale.group_version = kind, api_version
        return stale

    def get(self, resource: FakeResource, name: str | None = None, **params: Any) -> Any:
        if resource.kind == self.resources.stale:
            self.failed.append(("list", resource.kind))
            raise path_not_served()
        return super().get(resource, name, **params)


@pytest.mark.parametrize("ownership_only", [True, False])
def test_a_kind_only_a_stale_discovery_cache_names_is_read_afresh_once_not_retried(
    ownership_only: bool,
) -> None:
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "le"}}
    client = StaleClient([])
    params = dict(set="cluster-issuers", member=None, namespace=None, prune_kinds=[])
    started = time.monotonic()
    if ownership_only:
        result = run(client, [issuer], ownership_only=True, **params)
        assert result["changed"] is False
    else:
        with pytest.raises(ApplySetError, match=r"does not serve cert-manager\.io/v1 ClusterIssuer"):
            run(client, [issuer], **params)
    # One list, then discovery read afresh once: no retries of a kind the server does not serve.
    assert client.failed == [("list", "ClusterIssuer")]
    assert client.resources.invalidated == 1
    assert time.monotonic() - started < 0.4
