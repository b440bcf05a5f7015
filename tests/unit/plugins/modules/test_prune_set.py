"""Unit tests of the prune_set module against a fake kubernetes.core client."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.binder.ingress.plugins.modules import prune_set
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ResourceNotFoundError,
)

NS = "gesis"
SET = [
    "app.kubernetes.io/managed-by=binder.ingress",
    "binder.ingress/member=gesis",
    "binder.ingress/set=ingresses",
]
KINDS = [{"kind": "Ingress", "api_version": "networking.k8s.io/v1"}, {"kind": "Service", "api_version": "v1"}]


def labels(member: str = "gesis") -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "binder.ingress",
        "binder.ingress/member": member,
        "binder.ingress/set": "ingresses",
    }


def obj(kind: str, name: str, lbl: dict[str, str] | None, namespace: str = NS) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{kind}-{namespace}-{name}",
        "managedFields": [{"manager": "binder.ingress"}],
    }
    if lbl is not None:
        meta["labels"] = lbl
    api = "networking.k8s.io/v1" if kind == "Ingress" else "v1"
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": {"x": name}}


def stub(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": kind, "metadata": meta}


def api_error(cls: type, status: int, message: str) -> Exception:
    raw = ApiException(status=status, reason=message)
    raw.body = json.dumps({"kind": "Status", "message": message})
    raw.headers = {"Content-Type": "application/json"}
    error: Exception = cls(raw)
    return error


class FakeResource:
    def __init__(self, kind: str, api_version: str) -> None:
        self.kind = kind
        self.api_version = api_version


class Listing:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def to_dict(self) -> dict[str, Any]:
        # Like a real list response: the items carry no kind/apiVersion of their own.
        items = copy.deepcopy(self.items)
        for item in items:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {"kind": "List", "items": items}


class FakeClient:
    """Stands in for kubernetes.core's K8SClient: resource(), get(), delete()."""

    def __init__(self, objects: list[dict[str, Any]], *, honour_selector: bool = True) -> None:
        self.objects = objects
        self.honour_selector = honour_selector
        self.deletes: list[dict[str, Any]] = []
        self.fail_delete: Exception | None = None
        self.vanish: set[str] = set()

    def resource(self, kind: str, api_version: str) -> FakeResource:
        if kind not in ("Ingress", "Service"):
            raise ResourceNotFoundError(f"no {kind}")
        return FakeResource(kind, api_version)

    def get(self, resource: FakeResource, namespace: str, label_selector: str) -> Listing:
        wanted = dict(term.split("=", 1) for term in label_selector.split(","))
        items = [
            o
            for o in self.objects
            if o["kind"] == resource.kind
            and o["metadata"]["namespace"] == namespace
            and (
                not self.honour_selector
                or all(o["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
            )
        ]
        return Listing(items)

    def delete(self, resource: FakeResource, **params: Any) -> None:
        self.deletes.append(dict(kind=resource.kind, **params))
        if self.fail_delete is not None:
            raise self.fail_delete
        if params["name"] in self.vanish:
            raise api_error(NotFoundError, 404, "not found")
        match = [
            o
            for o in self.objects
            if o["kind"] == resource.kind
            and o["metadata"]["name"] == params["name"]
            and o["metadata"]["namespace"] == params["namespace"]
        ]
        if not match:
            raise api_error(NotFoundError, 404, "not found")
        if match[0]["metadata"]["uid"] != params["body"]["preconditions"]["uid"]:
            raise api_error(ConflictError, 409, "precondition failed: uid")
        # As kube-apiserver: with a DeleteOptions body, dryRun comes from the body and the query's
        # parameters are ignored (a dryRun=All in the query alone deletes for real).
        body = params.get("body")
        dry_run = "All" in body.get("dryRun", []) if body else params.get("dry_run") == "All"
        if not dry_run:
            self.objects.remove(match[0])

    def names(self) -> set[tuple[str, str, str]]:
        return {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.objects}


def params(desired: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(
        namespace=NS, label_selectors=list(SET), kinds=copy.deepcopy(KINDS), desired=desired
    )
    return base | over


@pytest.fixture
def cluster() -> FakeClient:
    return FakeClient(
        [
            obj("Ingress", "binderhub", labels()),
            obj("Ingress", "grafana", labels()),  # no longer desired
            obj("Ingress", "redirector-old-example-org", labels()),  # no longer desired
            obj("Service", "redirector", labels()),  # no longer desired (no redirects left)
            obj("Ingress", "hand-made", None),  # unlabelled: never ours
            obj("Ingress", "other-member", labels("gesis-2")),  # another member's set
            obj("Ingress", "grafana", labels(), namespace="elsewhere"),  # other namespace
        ]
    )


def run(client: FakeClient, p: dict[str, Any], check: bool = False, diff: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = prune_set.SetPruner(client, p, check_mode=check, diff=diff).run()
    return result


@pytest.mark.parametrize("honour_selector", [True, False], ids=["server-filters", "server-ignores-selector"])
def test_deletes_only_undesired_labelled_objects_of_the_member(
    cluster: FakeClient, honour_selector: bool
) -> None:
    cluster.honour_selector = honour_selector
    result = run(cluster, params([stub("Ingress", "binderhub")]))

    assert result["changed"] is True
    assert [(d["kind"], d["name"]) for d in result["deleted"]] == [
        ("Ingress", "grafana"),
        ("Ingress", "redirector-old-example-org"),
        ("Service", "redirector"),
    ]
    assert result["kept"] == 1
    assert cluster.names() == {
        ("Ingress", NS, "binderhub"),
        ("Ingress", NS, "hand-made"),
        ("Ingress", NS, "other-member"),
        ("Ingress", "elsewhere", "grafana"),
    }
    assert result["deleted"][0] == {
        "kind": "Ingress",
        "api_version": "networking.k8s.io/v1",
        "namespace": NS,
        "name": "grafana",
        "uid": f"uid-Ingress-{NS}-grafana",
    }


def test_full_definitions_are_accepted_as_desired(cluster: FakeClient) -> None:
    desired = [obj("Ingress", n, labels()) for n in ("binderhub", "grafana", "redirector-old-example-org")]
    desired.append(obj("Service", "redirector", labels()))
    before = cluster.names()

    result = run(cluster, params(desired))

    assert result == {"changed": False, "deleted": [], "kept": 4}
    assert cluster.deletes == []
    assert cluster.names() == before


def test_kind_is_part_of_the_identity(cluster: FakeClient) -> None:
    # An Ingress called "redirector" does not keep the Service called "redirector".
    result = run(cluster, params([stub("Ingress", "binderhub"), stub("Ingress", "redirector")]))
    assert ("Service", "redirector") in [(d["kind"], d["name"]) for d in result["deleted"]]


def test_desired_object_in_another_namespace_does_not_keep_this_one(cluster: FakeClient) -> None:
    result = run(cluster, params([stub("Ingress", "grafana", namespace="elsewhere")]))
    assert ("Ingress", NS, "grafana") not in cluster.names()
    assert ("Ingress", "elsewhere", "grafana") in cluster.names()
    assert result["changed"] is True


def test_check_mode_deletes_nothing_and_reports_what_would_go(cluster: FakeClient) -> None:
    before = cluster.names()

    result = run(cluster, params([stub("Ingress", "binderhub")]), check=True)

    assert cluster.names() == before
    assert result["changed"] is True
    assert [d["name"] for d in result["deleted"]] == ["grafana", "redirector-old-example-org", "redirector"]
    assert cluster.deletes and all(d["body"]["dryRun"] == ["All"] for d in cluster.deletes)


def test_real_run_sends_no_dry_run(cluster: FakeClient) -> None:
    run(cluster, params([stub("Ingress", "binderhub")]))
    assert cluster.deletes and all("dry_run" not in d and "dryRun" not in d["body"] for d in cluster.deletes)


def test_each_delete_is_bound_to_the_listed_uid(cluster: FakeClient) -> None:
    run(cluster, params([stub("Ingress", "binderhub")]))
    assert {d["body"]["preconditions"]["uid"] for d in cluster.deletes} == {
        f"uid-Ingress-{NS}-grafana",
        f"uid-Ingress-{NS}-redirector-old-example-org",
        f"uid-Service-{NS}-redirector",
    }


def test_diff_shows_each_deleted_object_before_and_nothing_after(cluster: FakeClient) -> None:
    result = run(cluster, params([stub("Ingress", "binderhub")]), diff=True)

    diffs = result["diff"]
    assert [d["before_header"] for d in diffs] == [
        f"Ingress {NS}/grafana",
        f"Ingress {NS}/redirector-old-example-org",
        f"Service {NS}/redirector",
    ]
    assert all(d["after"] == {} for d in diffs)
    assert diffs[0]["before"]["spec"] == {"x": "grafana"}
    assert diffs[0]["before"]["kind"] == "Ingress"
    assert "managedFields" not in diffs[0]["before"]["metadata"]


def test_no_diff_key_without_diff_mode(cluster: FakeClient) -> None:
    assert "diff" not in run(cluster, params([]))


def test_secret_values_are_masked_in_the_diff() -> None:
    secret = obj("Secret", "tls-old", labels())
    secret["data"] = {"tls.key": "c2VjcmV0"}
    secret["stringData"] = {"token": "hunter2"}
    shown = prune_set.masked(secret)
    assert shown["data"] == {"tls.key": prune_set.MASK}
    assert shown["stringData"] == {"token": prune_set.MASK}
    assert secret["data"] == {"tls.key": "c2VjcmV0"}  # the original is left alone


def test_nothing_to_prune_is_unchanged() -> None:
    client = FakeClient([obj("Ingress", "binderhub", labels()), obj("Ingress", "hand-made", None)])
    assert run(client, params([stub("Ingress", "binderhub")])) == {"changed": False, "deleted": [], "kept": 1}
    assert client.deletes == []


def test_empty_desired_prunes_the_whole_set_but_nothing_else(cluster: FakeClient) -> None:
    result = run(cluster, params([]))
    assert len(result["deleted"]) == 4
    assert cluster.names() == {
        ("Ingress", NS, "hand-made"),
        ("Ingress", NS, "other-member"),
        ("Ingress", "elsewhere", "grafana"),
    }


def test_object_gone_before_its_delete_is_not_reported(cluster: FakeClient) -> None:
    cluster.vanish = {"grafana"}
    result = run(cluster, params([stub("Ingress", "binderhub")]))
    assert "grafana" not in [d["name"] for d in result["deleted"]]
    assert len(result["deleted"]) == 2


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        (api_error(ForbiddenError, 403, "ingresses is forbidden"), "ingresses is forbidden"),
        (api_error(ConflictError, 409, "precondition failed: uid"), "precondition failed"),
    ],
)
def test_refused_delete_fails_naming_the_object(cluster: FakeClient, error: Exception, fragment: str) -> None:
    cluster.fail_delete = error
    with pytest.raises(CoreException, match=rf"Failed to delete Ingress {NS}/grafana: .*{fragment}"):
        run(cluster, params([stub("Ingress", "binderhub")]))


@pytest.mark.parametrize(
    ("selectors", "allowed"),
    [
        (SET, True),
        (["binder.ingress/set in (ingresses)"], True),
        (["binder.ingress/set"], True),
        (["binder.ingress/set==ingresses"], True),
        (["binder.ingress/set!=other"], False),
        (["!binder.ingress/set"], False),
        (["binder.ingress/set notin (other)"], False),
        (["binder.ingress/set!=other", "!foo"], False),
        ([], False),
        ([" "], False),
    ],
)
def test_selector_must_require_a_label(selectors: list[str], allowed: bool) -> None:
    if allowed:
        prune_set.check_selector(selectors)
    else:
        with pytest.raises(CoreException, match="could match unlabelled objects"):
            prune_set.check_selector(selectors)


def test_negative_only_selector_deletes_nothing(cluster: FakeClient) -> None:
    with pytest.raises(CoreException):
        run(cluster, params([], label_selectors=["binder.ingress/member!=other"]))
    assert cluster.deletes == []


@pytest.mark.parametrize(
    "bad", [{"kind": "Ingress"}, {"metadata": {"name": "x"}}, {"kind": "Ingress", "metadata": {}}]
)
def test_desired_entries_need_kind_and_name(cluster: FakeClient, bad: dict[str, Any]) -> None:
    with pytest.raises(CoreException, match=r"desired\[1\] needs kind and metadata.name"):
        run(cluster, params([stub("Ingress", "binderhub"), bad]))
    assert cluster.deletes == []


def test_unknown_kind_fails_before_any_delete(cluster: FakeClient) -> None:
    kinds = [*KINDS, {"kind": "Widget", "api_version": "example.org/v1"}]
    with pytest.raises(CoreException, match=r"does not serve example\.org/v1/Widget"):
        run(cluster, params([], kinds=kinds))
    assert cluster.deletes == []


class Exited(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result


def call_main(monkeypatch: pytest.MonkeyPatch, client: FakeClient, args: dict[str, Any]) -> dict[str, Any]:
    def finish(_module: Any, **kwargs: Any) -> None:
        raise Exited(kwargs)

    monkeypatch.setattr(prune_set, "get_api_client", lambda module: client)
    monkeypatch.setattr(prune_set.AnsibleModule, "exit_json", finish)
    monkeypatch.setattr(prune_set.AnsibleModule, "fail_json", lambda m, **kw: finish(m, failed=True, **kw))
    with patch_module_args(args), pytest.raises(Exited) as exited:
        prune_set.main()
    return exited.value.result


def test_main_runs_in_check_and_diff_mode(monkeypatch: pytest.MonkeyPatch, cluster: FakeClient) -> None:
    before = cluster.names()
    args = params([stub("Ingress", "binderhub")]) | {"_ansible_check_mode": True, "_ansible_diff": True}
    result = call_main(monkeypatch, cluster, args)
    assert result["changed"] is True
    assert len(result["diff"]) == 3
    assert cluster.names() == before


def test_main_turns_errors_into_a_failure_naming_the_namespace(
    monkeypatch: pytest.MonkeyPatch, cluster: FakeClient
) -> None:
    cluster.fail_delete = api_error(ForbiddenError, 403, "ingresses is forbidden")
    result = call_main(monkeypatch, cluster, params([]))
    assert result["failed"] is True
    assert result["msg"].startswith(
        f"prune_set in namespace {NS}: Failed to delete Ingress {NS}/binderhub: ingresses is forbidden"
    )


def test_documented_options_match_the_argument_spec() -> None:
    from ansible_collections.kubernetes.core.plugins.doc_fragments.k8s_auth_options import ModuleDocFragment

    own = yaml.safe_load(prune_set.DOCUMENTATION)
    documented = own["options"] | yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = prune_set.argspec()
    assert set(documented) == set(spec)
    for name, doc in own["options"].items():
        assert doc.get("type") == spec[name].get("type"), name
        assert doc.get("required", False) == spec[name].get("required", False), name
        assert doc.get("elements") == spec[name].get("elements"), name
    suboptions = own["options"]["kinds"]["suboptions"]
    assert set(suboptions) == set(spec["kinds"]["options"])
    assert own["extends_documentation_fragment"] == ["kubernetes.core.k8s_auth_options"]
    assert own["version_added"] == "0.1.0"
    yaml.safe_load(prune_set.EXAMPLES)
    assert set(yaml.safe_load(prune_set.RETURN)) == {"deleted", "kept"}
