"""Helm release Secrets read back by the data plane: decoding, value coalescing, choosing."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from typing import Any

import pytest
from helm_secrets import make_helm_secret

from sandbox.dataplane.releases import (
    Release,
    ReleaseError,
    ReleaseReader,
    choose,
    coalesce,
    decode_release,
    pod_template_labels,
)

RELEASE = {"name": "traefik", "version": 3, "config": {"a": 1}, "chart": {"metadata": {"name": "traefik"}}}


def _api_data(blob: bytes) -> str:
    """What the API shows in data.release for Helm's string ``base64(blob)``."""
    return base64.b64encode(base64.b64encode(blob)).decode()


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(gzip.compress(json.dumps(RELEASE).encode()), id="gzip (what Helm writes)"),
        pytest.param(json.dumps(RELEASE).encode(), id="uncompressed (what Helm also reads)"),
    ],
)
def test_decode_release_undoes_both_base64_layers_and_gzip(blob: bytes) -> None:
    assert decode_release(_api_data(blob)) == RELEASE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param("not base64!", "not a Helm release", id="not base64"),
        pytest.param(
            base64.b64encode(b"plain text, no second base64 layer").decode(), "not a Helm", id="one layer"
        ),
        pytest.param(_api_data(b"\x1f\x8b\x08 truncated gzip"), "not a Helm release", id="broken gzip"),
        pytest.param(_api_data(b"{not json"), "not a Helm release", id="not JSON"),
        pytest.param(_api_data(b"[1, 2]"), "a JSON list, not an object", id="JSON list"),
    ],
)
def test_decode_release_refuses_what_is_not_a_release(data: str, message: str) -> None:
    with pytest.raises(ReleaseError, match=message):
        decode_release(data)


DEFAULTS: dict[str, Any] = {
    "ports": {
        "web": {"port": 8000, "exposedPort": 80},
        "websecure": {"port": 8443, "http": {"tls": {"enabled": True}}},
        "metrics": {"port": 9100},
    },
    "providers": {"kubernetesCRD": {"enabled": True}, "file": {"enabled": False, "content": {}}},
    "metrics": {"prometheus": {"entryPoint": "metrics"}},
    "tolerations": [{"key": "a"}],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "image": {"tag": ""},
}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param({}, DEFAULTS, id="no values: the chart's defaults"),
        pytest.param(
            {"ports": {"web": {"port": 80}}},
            {**DEFAULTS, "ports": {**DEFAULTS["ports"], "web": {"port": 80, "exposedPort": 80}}},
            id="nested maps merge key by key",
        ),
        pytest.param(
            {"ports": {"metrics": None}, "metrics": {"prometheus": None}},
            {
                **DEFAULTS,
                "ports": {k: v for k, v in DEFAULTS["ports"].items() if k != "metrics"},
                "metrics": {},
            },
            id="null deletes a default",
        ),
        pytest.param(
            {"providers": {"file": {"content": {"http": {"middlewares": {"hub": {}}}}}}},
            {
                **DEFAULTS,
                "providers": {
                    "kubernetesCRD": {"enabled": True},
                    "file": {"enabled": False, "content": {"http": {"middlewares": {"hub": {}}}}},
                },
            },
            id="a map over an empty default map",
        ),
        pytest.param(
            {"tolerations": [{"key": "b"}]},
            {**DEFAULTS, "tolerations": [{"key": "b"}]},
            id="lists are replaced, not merged",
        ),
        pytest.param(
            {"nodeSelector": "none", "image": {"tag": None, "repository": "x"}},
            {**DEFAULTS, "nodeSelector": "none", "image": {"repository": "x"}},
            id="a scalar over a default map wins; null deletes inside a merged map",
        ),
        pytest.param(
            {"extra": {"key": None}, "deployment": None},
            {**DEFAULTS, "extra": {"key": None}, "deployment": None},
            id="null without a default stays",
        ),
        pytest.param(
            {"image": "registry/traefik:v3"},
            {**DEFAULTS, "image": "registry/traefik:v3"},
            id="a string over a default map wins",
        ),
    ],
)
def test_coalesce_puts_the_values_over_the_chart_defaults_as_helm_does(
    config: dict[str, Any], expected: dict[str, Any]
) -> None:
    defaults_before, config_before = copy.deepcopy(DEFAULTS), copy.deepcopy(config)
    assert coalesce(DEFAULTS, config) == expected
    assert (DEFAULTS, config) == (defaults_before, config_before), "coalesce changed its arguments"


def test_coalesce_result_shares_nothing_with_its_arguments() -> None:
    config: dict[str, Any] = {"ports": {"web": {"port": 80}}}
    merged = coalesce(DEFAULTS, config)
    merged["ports"]["web"]["port"] = 1
    merged["ports"]["websecure"]["http"]["tls"]["enabled"] = False
    assert config["ports"]["web"]["port"] == 80
    assert DEFAULTS["ports"]["websecure"]["http"]["tls"]["enabled"] is True


MANIFEST = """---
# Source: traefik/templates/rbac.yaml
apiVersion: v1
kind: ServiceAccount
metadata: {name: traefik}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: traefik, labels: {app.kubernetes.io/name: traefik}}
spec:
  template:
    metadata:
      labels: {app.kubernetes.io/name: traefik, app.kubernetes.io/instance: traefik-binder}
"""


def test_a_release_secret_reads_as_the_release_with_its_values() -> None:
    secret = make_helm_secret(
        revision=4,
        status="deployed",
        defaults=DEFAULTS,
        config={"ports": {"web": {"port": 80}}, "metrics": {"prometheus": None}},
        manifest=MANIFEST,
    )
    release = Release.from_secret(secret)
    assert (release.namespace, release.name, release.revision, release.status) == (
        "binder",
        "traefik",
        4,
        "deployed",
    )
    assert (release.chart, release.chart_version, release.uid) == (
        "traefik",
        "41.3.0",
        "uid-binder-traefik-4",
    )
    assert release.values["ports"]["web"] == {"port": 80, "exposedPort": 80}
    assert release.values["metrics"] == {}
    assert release.ref == "binder/traefik revision 4"


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ({"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-binder"}, True),
        ({"app.kubernetes.io/name": "traefik"}, True),
        ({"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-other"}, False),
        ({"app.kubernetes.io/name": "ingress-nginx"}, False),
        ({}, False),
    ],
)
def test_a_service_selects_the_pods_of_the_release_by_their_template_labels(
    selector: dict[str, str], selected: bool
) -> None:
    release = Release.from_secret(make_helm_secret(manifest=MANIFEST))
    assert release.selected_by(selector) is selected


def test_pod_template_labels_come_from_workloads_only() -> None:
    assert pod_template_labels(MANIFEST) == [
        {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-binder"}
    ]
    assert pod_template_labels("") == []
    assert pod_template_labels("kind: [unclosed") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(type="Opaque"), "not helm.sh/release.v1"),
        (lambda s: s["data"].pop("release"), "no data.release"),
        (lambda s: s["data"].update(release="bm9wZQ=="), "not a Helm release"),
    ],
)
def test_a_secret_that_is_no_release_is_refused_naming_it(change: Any, message: str) -> None:
    secret = make_helm_secret()
    change(secret)
    with pytest.raises(ReleaseError, match=message) as caught:
        Release.from_secret(secret)
    assert "binder/sh.helm.release.v1.traefik.v1" in str(caught.value)


def _releases(*specs: tuple[str, str, int, str, str]) -> list[Release]:
    return [
        Release.from_secret(make_helm_secret(name, namespace, revision, status, chart=chart))
        for namespace, name, revision, status, chart in specs
    ]


@pytest.mark.parametrize(
    ("specs", "current", "served", "keep", "ignored"),
    [
        pytest.param([], None, None, False, (), id="nothing installed"),
        pytest.param(
            [("binder", "traefik", 1, "deployed", "traefik")],
            None,
            ("binder", "traefik", 1),
            False,
            (),
            id="installed",
        ),
        pytest.param(
            [
                ("binder", "traefik", 1, "superseded", "traefik"),
                ("binder", "traefik", 2, "deployed", "traefik"),
            ],
            ("binder", "traefik"),
            ("binder", "traefik", 2),
            False,
            (),
            id="upgraded",
        ),
        pytest.param(
            [("binder", "certs", 1, "deployed", "cert-manager")],
            None,
            None,
            False,
            (),
            id="another chart only",
        ),
        pytest.param(
            [("binder", "traefik", 1, "pending-install", "traefik")],
            None,
            None,
            False,
            (),
            id="install in flight",
        ),
        pytest.param(
            [
                ("binder", "traefik", 1, "superseded", "traefik"),
                ("binder", "traefik", 2, "pending-upgrade", "traefik"),
            ],
            ("binder", "traefik"),
            None,
            True,
            (),
            id="upgrade in flight: keep what runs",
        ),
        pytest.param(
            [("binder", "traefik", 1, "uninstalling", "traefik")],
            ("binder", "traefik"),
            None,
            False,
            (),
            id="uninstalling: stop",
        ),
        pytest.param([], ("binder", "traefik"), None, False, (), id="uninstalled, history gone: stop"),
        pytest.param(
            [
                ("binder", "traefik", 1, "superseded", "traefik"),
                ("binder", "traefik", 2, "deployed", "traefik"),
                ("binder", "traefik", 3, "deployed", "traefik"),
            ],
            ("binder", "traefik"),
            ("binder", "traefik", 3),
            False,
            (),
            id="two deployed revisions in the instant between Helm's writes: the newer",
        ),
        pytest.param(
            [("b", "traefik", 1, "deployed", "traefik"), ("a", "edge", 5, "deployed", "traefik")],
            None,
            ("a", "edge", 5),
            False,
            ("b/traefik",),
            id="two releases: the first by namespace and name",
        ),
        pytest.param(
            [("b", "traefik", 1, "deployed", "traefik"), ("a", "edge", 5, "deployed", "traefik")],
            ("b", "traefik"),
            ("b", "traefik", 1),
            False,
            ("a/edge",),
            id="two releases: the one served stays",
        ),
    ],
)
def test_choose_the_deployed_traefik_release(
    specs: list[tuple[str, str, int, str, str]],
    current: tuple[str, str] | None,
    served: tuple[str, str, int] | None,
    keep: bool,
    ignored: tuple[str, ...],
) -> None:
    choice = choose(_releases(*specs), "traefik", current)
    got = (choice.release.namespace, choice.release.name, choice.release.revision) if choice.release else None
    assert (got, choice.keep_current, choice.ignored) == (served, keep, ignored)


def test_the_reader_decodes_each_secret_version_once_and_forgets_deleted_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[str] = []
    original = Release.from_secret

    def counting(secret: dict[str, Any]) -> Release:
        decoded.append(secret["metadata"]["name"])
        return original(secret)

    monkeypatch.setattr(Release, "from_secret", staticmethod(counting))
    reader = ReleaseReader()
    one = make_helm_secret(revision=1, status="deployed")
    two = make_helm_secret(revision=2, status="pending-upgrade")
    cache = {("binder", "one"): one, ("binder", "two"): two}
    assert [r.revision for r in reader.read(cache)] == [1, 2]
    assert [r.revision for r in reader.read(cache)] == [1, 2]
    assert len(decoded) == 2
    two = make_helm_secret(revision=2, status="deployed", resource_version="7")
    assert [r.status for r in reader.read({("binder", "two"): two})] == ["deployed"]
    assert len(decoded) == 3
    # A Secret that is no release is skipped, not fatal.
    broken = make_helm_secret(revision=3)
    broken["data"]["release"] = "bm9wZQ=="
    assert [r.revision for r in reader.read({("binder", "two"): two, ("binder", "x"): broken})] == [2]
