"""Validation (schemas, CRD schemas, API-server rules), dry-run and fieldValidation."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from harness import Cluster, Response

INGRESS = "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"


def _ingress(name: str = "ing", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rules": [
            {
                "host": "app.example.org",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "app", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ]
    }
    body.update(spec)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}, "spec": body}


def _path(path: str | None, path_type: str | None) -> dict[str, Any]:
    p: dict[str, Any] = {"backend": {"service": {"name": "app", "port": {"number": 80}}}}
    if path is not None:
        p["path"] = path
    if path_type is not None:
        p["pathType"] = path_type
    return p


def _causes(resp: Response) -> dict[str, str]:
    assert resp.status == 422, resp.body
    assert resp.body["kind"] == "Status" and resp.body["reason"] == "Invalid"
    return {c["field"]: c["reason"] for c in resp.body["details"]["causes"]}


def test_valid_ingress_is_accepted(cluster: Cluster, ns: str) -> None:
    assert cluster.request("POST", INGRESS.format(ns=ns), _ingress()).status == 201


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("app.example.org", True),
        ("*.example.org", True),
        ("Upper.example.org", False),
        ("*example.org", False),
        ("a.*.example.org", False),
        ("10.0.0.1", False),
        ("under_score.example.org", False),
    ],
)
def test_ingress_host_rules(cluster: Cluster, ns: str, host: str, ok: bool) -> None:
    ing = _ingress()
    ing["spec"]["rules"][0]["host"] = host
    resp = cluster.request("POST", INGRESS.format(ns=ns), ing, query={"dryRun": "All"})
    if ok:
        assert resp.status == 201, resp.body
    else:
        assert _causes(resp) == {"spec.rules[0].host": "FieldValueInvalid"}


@pytest.mark.parametrize(
    ("path", "path_type", "field"),
    [
        ("/", None, "spec.rules[0].http.paths[0].pathType"),
        ("/", "Regex", "spec.rules[0].http.paths[0].pathType"),
        ("relative", "Prefix", "spec.rules[0].http.paths[0].path"),
        ("/a//b", "Exact", "spec.rules[0].http.paths[0].path"),
        ("relative", "ImplementationSpecific", "spec.rules[0].http.paths[0].path"),
    ],
)
def test_ingress_path_rules(cluster: Cluster, ns: str, path: str, path_type: str | None, field: str) -> None:
    ing = _ingress()
    ing["spec"]["rules"][0]["http"]["paths"] = [_path(path, path_type)]
    assert field in _causes(cluster.request("POST", INGRESS.format(ns=ns), ing, query={"dryRun": "All"}))


def test_ingress_backend_must_be_service_or_resource(cluster: Cluster, ns: str) -> None:
    ing = _ingress()
    ing["spec"]["rules"][0]["http"]["paths"][0]["backend"] = {
        "service": {"name": "app", "port": {"number": 80}},
        "resource": {"apiGroup": "example.org", "kind": "Bucket", "name": "b"},
    }
    causes = _causes(cluster.request("POST", INGRESS.format(ns=ns), ing, query={"dryRun": "All"}))
    assert "spec.rules[0].http.paths[0].backend" in causes
    ing["spec"]["rules"][0]["http"]["paths"][0]["backend"] = {
        "resource": {"apiGroup": "example.org", "kind": "Bucket", "name": "b"}
    }
    assert cluster.request("POST", INGRESS.format(ns=ns), ing, query={"dryRun": "All"}).status == 201


def test_ingress_class_annotation_must_match_the_field(cluster: Cluster, ns: str) -> None:
    # kube-apiserver rejects the legacy annotation beside spec.ingressClassName only when they differ.
    same = _ingress(name="same", ingressClassName="traefik")
    same["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "traefik"}
    assert cluster.request("POST", INGRESS.format(ns=ns), same).status == 201
    other = _ingress(name="other", ingressClassName="traefik")
    other["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    causes = _causes(cluster.request("POST", INGRESS.format(ns=ns), other))
    assert causes == {"annotations.kubernetes.io/ingress.class": "FieldValueInvalid"}


def test_ingress_schema_is_strict_about_types(cluster: Cluster, ns: str) -> None:
    ing = _ingress()
    ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"] = {"number": "eighty"}
    resp = cluster.request("POST", INGRESS.format(ns=ns), ing)
    assert resp.status == 400 and resp.body["reason"] == "BadRequest"


def _svc(ns: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc", "namespace": ns},
        "spec": {"ports": ports, **spec},
    }


@pytest.mark.parametrize(
    ("ports", "field"),
    [
        ([{"port": 0}], "spec.ports[0].port"),
        ([{"port": 70000}], "spec.ports[0].port"),
        ([{"name": "a", "port": 80}, {"port": 81}], "spec.ports[1].name"),
        ([{"name": "a", "port": 80}, {"name": "a", "port": 81}], "spec.ports[1].name"),
        ([{"name": "a", "port": 80}, {"name": "b", "port": 80}], "spec.ports[1]"),
        ([{"name": "Bad_Name", "port": 80}], "spec.ports[0].name"),
        ([{"port": 80, "protocol": "HTTP"}], "spec.ports[0].protocol"),
    ],
)
def test_service_port_rules(cluster: Cluster, ns: str, ports: list[dict[str, Any]], field: str) -> None:
    resp = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/services", _svc(ns, ports), query={"dryRun": "All"}
    )
    assert field in _causes(resp)


def test_service_cluster_ip_is_immutable(cluster: Cluster, ns: str) -> None:
    created = cluster.request("POST", f"/api/v1/namespaces/{ns}/services", _svc(ns, [{"port": 80}]))
    assert created.status == 201
    ip = created.body["spec"]["clusterIP"]
    other = "10.96.77.77" if ip != "10.96.77.77" else "10.96.77.78"
    resp = cluster.request(
        "PATCH",
        f"/api/v1/namespaces/{ns}/services/svc",
        {"spec": {"clusterIP": other, "clusterIPs": [other]}},
        "application/merge-patch+json",
    )
    assert resp.status == 422 and resp.body["reason"] == "Invalid"
    assert any(c["field"].startswith("spec.clusterIP") for c in resp.body["details"]["causes"])


def test_tls_secret_needs_cert_and_key(cluster: Cluster, ns: str) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64.b64encode(b"cert").decode()},
    }
    causes = _causes(cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", secret))
    assert causes == {"data[tls.key]": "FieldValueRequired"}
    secret["data"]["tls.key"] = base64.b64encode(b"key").decode()
    assert cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", secret).status == 201


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/namespaces/{ns}/configmaps", "Not_Valid"),
        ("/api/v1/namespaces/{ns}/services", "1starts-with-digit"),
        ("/api/v1/namespaces/{ns}/configmaps", "a" * 254),
    ],
)
def test_object_names(cluster: Cluster, ns: str, path: str, name: str) -> None:
    resp = cluster.request(
        "POST", path.format(ns=ns), {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}}
    )
    assert _causes(resp).get("metadata.name") == "FieldValueInvalid"


def test_namespace_names_are_labels(cluster: Cluster) -> None:
    resp = cluster.request(
        "POST", "/api/v1/namespaces", {"metadata": {"name": "has.dots"}}, query={"dryRun": "All"}
    )
    assert _causes(resp) == {"metadata.name": "FieldValueInvalid"}


def test_label_values_are_checked(cluster: Cluster, ns: str) -> None:
    resp = cluster.request(
        "POST",
        f"/api/v1/namespaces/{ns}/configmaps",
        {"metadata": {"name": "l", "labels": {"ok": "not valid!"}}},
    )
    assert _causes(resp) == {"metadata.labels": "FieldValueInvalid"}


# --- fieldValidation -----------------------------------------------------------------------------


def _with_unknown(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "fv", "namespace": ns},
        "data": {"a": "1"},
        "bogus": True,
    }


def test_field_validation_strict_rejects_unknown_fields(cluster: Cluster, ns: str) -> None:
    resp = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", _with_unknown(ns), query={"fieldValidation": "Strict"}
    )
    assert resp.status == 400 and resp.body["reason"] == "BadRequest"
    assert 'unknown field "bogus"' in resp.body["message"]


def test_field_validation_warn_drops_and_warns(cluster: Cluster, ns: str) -> None:
    resp = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", _with_unknown(ns), query={"fieldValidation": "Warn"}
    )
    assert resp.status == 201
    assert "bogus" not in resp.body
    assert 'unknown field \\"bogus\\"' in resp.headers.get("warning", "")


def test_field_validation_ignore_drops_silently(cluster: Cluster, ns: str) -> None:
    resp = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", _with_unknown(ns), query={"fieldValidation": "Ignore"}
    )
    assert resp.status == 201 and "bogus" not in resp.body
    assert "warning" not in resp.headers


def test_kubectl_apply_rejects_unknown_fields(cluster: Cluster, ns: str) -> None:
    result = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(_with_unknown(ns)), check=False)
    assert result.returncode == 1 and 'unknown field "bogus"' in result.stderr


# --- dry run -------------------------------------------------------------------------------------


def test_dry_run_create_stores_nothing(cluster: Cluster, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {"a": "1"}}
    resp = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body, query={"dryRun": "All"})
    assert resp.status == 201 and resp.body["metadata"]["uid"]
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/dry").status == 404


def test_dry_run_is_validated(cluster: Cluster, ns: str) -> None:
    resp = cluster.request("POST", INGRESS.format(ns=ns), _ingress(rules=[]), query={"dryRun": "All"})
    assert resp.status == 422


def test_dry_run_update_patch_delete_change_nothing(cluster: Cluster, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    made = cluster.request("POST", base, {"metadata": {"name": "keep"}, "data": {"a": "1"}}).body
    rv = made["metadata"]["resourceVersion"]
    upd = cluster.request("PUT", f"{base}/keep", {**made, "data": {"a": "2"}}, query={"dryRun": "All"})
    assert upd.status == 200 and upd.body["data"] == {"a": "2"}
    patched = cluster.request(
        "PATCH", f"{base}/keep", {"data": {"a": "3"}}, "application/merge-patch+json", {"dryRun": "All"}
    )
    assert patched.status == 200 and patched.body["data"] == {"a": "3"}
    applied = cluster.request(
        "PATCH",
        f"{base}/keep",
        json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}, "data": {"a": "4"}}
        ),
        "application/apply-patch+yaml",
        {"dryRun": "All", "fieldManager": "dry", "force": "true"},
    )
    assert applied.status == 200 and applied.body["data"] == {"a": "4"}
    assert cluster.request("DELETE", f"{base}/keep", query={"dryRun": "All"}).status == 200
    now = cluster.request("GET", f"{base}/keep").body
    assert now["data"] == {"a": "1"} and now["metadata"]["resourceVersion"] == rv


def test_invalid_dry_run_value_is_400(cluster: Cluster, ns: str) -> None:
    resp = cluster.request(
        "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "x"}}, query={"dryRun": "Some"}
    )
    # An unknown dryRun value is refused as invalid, before anything is stored.
    assert resp.status == 422 and resp.body["reason"] == "Invalid"
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/x").status == 404


def test_kubectl_dry_run_server(cluster: Cluster, ns: str) -> None:
    manifest = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kd", "namespace": ns}}
    )
    out = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=manifest).stdout
    assert "(server dry run)" in out
    assert cluster.kubectl("-n", ns, "get", "configmap", "kd", check=False).returncode == 1


# --- custom resources ----------------------------------------------------------------------------


def test_custom_resource_validated_against_crd_schema(cluster: Cluster, ns: str, widget_crd: str) -> None:
    base = f"/apis/example.org/v1/namespaces/{ns}/{widget_crd}"

    def widget(spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}

    assert (
        cluster.request("POST", base, widget({"size": 2, "port": "http"}), query={"dryRun": "All"}).status
        == 201
    )
    assert (
        cluster.request("POST", base, widget({"size": 2, "port": 8080}), query={"dryRun": "All"}).status
        == 201
    )
    assert _causes(cluster.request("POST", base, widget({"size": 0}))) == {"spec.size": "FieldValueInvalid"}
    assert _causes(cluster.request("POST", base, widget({"color": "red"}))) == {
        "spec.size": "FieldValueRequired"
    }
    assert _causes(cluster.request("POST", base, widget({"size": 1, "color": "green"}))) == {
        "spec.color": "FieldValueNotSupported"
    }
    strict = cluster.request(
        "POST", base, widget({"size": 1, "extra": 1}), query={"fieldValidation": "Strict"}
    )
    assert strict.status == 400 and 'unknown field "spec.extra"' in strict.body["message"]
    pruned = cluster.request(
        "POST", base, widget({"size": 1, "extra": 1}), query={"fieldValidation": "Ignore"}
    )
    # Unknown fields pruned, schema defaults applied.
    assert pruned.status == 201 and pruned.body["spec"] == {"size": 1, "replicas": 1}


def test_field_validation_duplicate_fields(cluster: Cluster, ns: str) -> None:
    raw = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "twice"}, "data": {"a": "1", "a": "2"}}'
    base = f"/api/v1/namespaces/{ns}/configmaps"
    strict = cluster.request("POST", base, raw, query={"fieldValidation": "Strict"})
    assert strict.status == 400 and 'duplicate field "data.a"' in strict.body["message"]
    warned = cluster.request("POST", base, raw, query={"fieldValidation": "Warn"})
    assert warned.status == 201 and warned.body["data"] == {"a": "2"}
    assert "duplicate field" in warned.headers.get("warning", "")
