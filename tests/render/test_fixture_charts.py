"""The fixture charts (tests/charts) templated with the values the roles render, object by object.

The local cluster installs these charts in place of the upstream ones, so they must create what the
collection relies on from exactly the values it passes: the pods the cluster entrypoint selects, with
the named ports it targets, the IngressClass the Ingresses name, the file provider's middlewares, and
the CRDs the ClusterIssuers need with a schema that accepts them. Each member of inventories/local and
inventories/prod is rendered with playbooks/render.yml, then each chart with `helm template`.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from render_support import ROOT, run_render

# Starts ansible-playbook once per inventory and helm once per chart and member (seconds each).
pytestmark = pytest.mark.slow

CHARTS = ROOT / "tests" / "charts"
TRAEFIK = CHARTS / "traefik"
CERT_MANAGER = CHARTS / "cert-manager"
KUBERNETES_VERSION = "1.33"
CRDS = {
    "clusterissuers.cert-manager.io": ("ClusterIssuer", "Cluster"),
    "issuers.cert-manager.io": ("Issuer", "Namespaced"),
    "certificates.cert-manager.io": ("Certificate", "Namespaced"),
    "certificaterequests.cert-manager.io": ("CertificateRequest", "Namespaced"),
    "orders.acme.cert-manager.io": ("Order", "Namespaced"),
    "challenges.acme.cert-manager.io": ("Challenge", "Namespaced"),
}


def _defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))


CERT_MANAGER_RELEASE = _defaults("cert_manager")["cert_manager_release_name"]
CERT_MANAGER_NAMESPACE = _defaults("cert_manager")["cert_manager_namespace"]


@pytest.fixture(scope="session")
def helm() -> str:
    path = shutil.which("helm")
    if path is None:
        pytest.fail(
            "helm is not on PATH: the fixture charts are checked with `helm template`. Build it with "
            "`make engines` and put the directory `python3 -m sandbox.engines --print-bin-dir` prints on PATH "
            "(the Makefile does this)."
        )
    return path


@dataclass(frozen=True)
class Member:
    inventory: str
    name: str
    dir: Path
    namespace: str
    traefik_release: str

    def values(self, chart: str) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load((self.dir / f"{chart}-values.yaml").read_text(encoding="utf-8"))
        return data

    def objects(self) -> list[dict[str, Any]]:
        return [
            yaml.safe_load(path.read_text(encoding="utf-8"))
            for path in sorted(self.dir.glob("*.yaml"))
            if not path.name.endswith("-values.yaml")
        ]

    def entrypoint(self) -> dict[str, Any]:
        (service,) = [o for o in self.objects() if o["metadata"]["name"] == "cluster-entrypoint"]
        return service


def _render_members(inventory: str, out: Path) -> list[Member]:
    result = run_render("-i", str(ROOT / "inventories" / inventory), "-e", f"render_dir={out}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # The traefik release is the binder role's default unless the inventory's shared variables set it.
    release = {
        **yaml.safe_load((ROOT / "roles" / "binder" / "defaults" / "main.yml").read_text(encoding="utf-8")),
        **yaml.safe_load(
            (ROOT / "inventories" / inventory / "group_vars" / "all" / "shared.yml").read_text(
                encoding="utf-8"
            )
        ),
    }["binder_traefik_release"]
    members = []
    for member_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        member = Member(inventory, member_dir.name, member_dir, "", release)
        namespace = member.entrypoint()["metadata"]["namespace"]
        members.append(Member(inventory, member_dir.name, member_dir, namespace, member.traefik_release))
    return members


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> list[Member]:
    found = []
    for inventory in ("local", "prod"):
        found += _render_members(inventory, tmp_path_factory.mktemp(f"fixture-render-{inventory}"))
    assert {m.inventory for m in found} == {"local", "prod"}
    return found


def template(
    helm: str, chart: Path, release: str, namespace: str, values: dict[str, Any], tmp: Path
) -> list[dict[str, Any]]:
    """`helm template` of the chart with these values, as a list of objects; fails on a helm error."""
    result = _helm_template(helm, chart, release, namespace, values, tmp)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _helm_template(
    helm: str, chart: Path, release: str, namespace: str, values: dict[str, Any], tmp: Path
) -> subprocess.CompletedProcess[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    values_file = tmp / f"{chart.name}-values.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    # helm keeps repositories and caches under these: a test must not read or write the user's.
    env = dict(os.environ)
    env.update(
        {
            name: str(tmp / "helm-home" / name)
            for name in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME")
        }
    )
    return subprocess.run(
        [helm, "template", release, str(chart), "--namespace", namespace, "--values", str(values_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    return kinds


def only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects).get(kind, [])
    assert len(found) == 1, f"expected one {kind}, got {[o['metadata']['name'] for o in found]}"
    return found[0]


def flags(container: dict[str, Any]) -> dict[str, str]:
    """`--key=value` arguments as key -> value."""
    parsed = {}
    for arg in container["args"]:
        key, _, value = arg.removeprefix("--").partition("=")
        parsed[key] = value
    return parsed


def each_member(members: list[Member]) -> Iterator[Member]:
    assert len(members) >= 5  # local + four production members
    yield from members


# ---------------------------------------------------------------------------
# traefik


def test_traefik_pods_are_what_the_entrypoint_selects(
    helm: str, members: list[Member], tmp_path: Path
) -> None:
    for member in each_member(members):
        values = member.values("traefik")
        objects = template(
            helm, TRAEFIK, member.traefik_release, member.namespace, values, tmp_path / member.name
        )
        deployment = only(objects, "Deployment")
        entrypoint = member.entrypoint()
        pod = deployment["spec"]["template"]
        (container,) = pod["spec"]["containers"]

        assert deployment["metadata"]["namespace"] == member.namespace
        assert deployment["spec"]["replicas"] == values["deployment"]["replicas"], member.name
        # The entrypoint selects exactly these pods, and the Deployment owns them.
        selector = entrypoint["spec"]["selector"]
        assert selector == {
            "app.kubernetes.io/name": "traefik",
            "app.kubernetes.io/instance": f"{member.traefik_release}-{member.namespace}",
        }
        assert selector.items() <= pod["metadata"]["labels"].items(), member.name
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        # Every port the entrypoint targets by name is a container port of that name, on the values' port.
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert {p["targetPort"] for p in entrypoint["spec"]["ports"]} <= set(ports), (member.name, ports)
        assert ports == {
            "web": values["ports"]["web"]["port"],
            "websecure": values["ports"]["websecure"]["port"],
            "metrics": 9100,
        }, member.name
        assert container["resources"] == values["resources"], member.name


def test_traefik_flags_carry_the_values(helm: str, members: list[Member], tmp_path: Path) -> None:
    for member in each_member(members):
        values = member.values("traefik")
        objects = template(
            helm, TRAEFIK, member.traefik_release, member.namespace, values, tmp_path / member.name
        )
        (container,) = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
        args = flags(container)
        assert args["providers.kubernetesingress.ingressendpoint.publishedservice"] == (
            f"{member.namespace}/cluster-entrypoint"
        )
        assert args["providers.kubernetesingress.allowEmptyServices"] == "true"
        assert args["entryPoints.web.address"] == ":80/tcp"
        assert args["entryPoints.websecure.address"] == ":443/tcp"
        assert args["entryPoints.web.http.redirections.entryPoint.to"] == "websecure"
        assert args["entryPoints.web.allowACMEByPass"] == "true"
        assert args["entryPoints.websecure.transport.respondingTimeouts.readTimeout"] == "180s"
        assert args["entryPoints.websecure.transport.respondingTimeouts.idleTimeout"] == "180s"
        assert args["accesslog.fields.headers.defaultMode"] == "drop"
        assert args["accesslog.fields.headers.names.User-Agent"] == "keep"
        assert args["metrics.prometheus.entryPoint"] == "metrics"
        assert args["log.level"] == values["log"]["level"]
        assert args["api.dashboard"] == "false"
        # The CRD provider is off in every member: its flag must not appear at all.
        assert not any(key.startswith("providers.kubernetescrd") for key in args), args


def test_traefik_ingress_class_is_the_pinned_default_class(
    helm: str, members: list[Member], tmp_path: Path
) -> None:
    for member in each_member(members):
        values = member.values("traefik")
        objects = template(
            helm, TRAEFIK, member.traefik_release, member.namespace, values, tmp_path / member.name
        )
        ingress_class = only(objects, "IngressClass")
        assert ingress_class["metadata"]["name"] == "traefik"
        assert ingress_class["metadata"]["annotations"] == {
            "ingressclass.kubernetes.io/is-default-class": "true"
        }
        # The class every generated Ingress names is the one the chart creates.
        classes = {o["spec"]["ingressClassName"] for o in member.objects() if o["kind"] == "Ingress"}
        assert classes == {ingress_class["metadata"]["name"]}, member.name


def test_traefik_file_provider_is_mounted_with_the_middlewares(
    helm: str, members: list[Member], tmp_path: Path
) -> None:
    for member in each_member(members):
        values = member.values("traefik")
        objects = template(
            helm, TRAEFIK, member.traefik_release, member.namespace, values, tmp_path / member.name
        )
        config_map = only(objects, "ConfigMap")
        ((file_name, text),) = config_map["data"].items()
        assert yaml.safe_load(text) == values["providers"]["file"]["content"], member.name

        pod = only(objects, "Deployment")["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        (mount,) = [m for name, m in mounts.items() if "configMap" in volumes[name]]
        assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"]
        assert flags(container)["providers.file.filename"] == f"{mount['mountPath']}/{file_name}"
        # /tmp, where buffered bodies are spooled, is the bounded emptyDir the role asks for.
        assert mounts["tmp"]["mountPath"] == "/tmp"
        assert volumes["tmp"]["emptyDir"] == values["deployment"]["tmpVolume"]["emptyDir"], member.name
        assert volumes["tmp"]["emptyDir"]["sizeLimit"], member.name


def test_traefik_has_no_service_and_can_read_what_it_routes(
    helm: str, members: list[Member], tmp_path: Path
) -> None:
    for member in each_member(members):
        values = member.values("traefik")
        objects = template(
            helm, TRAEFIK, member.traefik_release, member.namespace, values, tmp_path / member.name
        )
        kinds = by_kind(objects)
        assert "Service" not in kinds, "service.enabled is false: the cluster entrypoint is the Service"
        assert sorted(kinds) == [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "Deployment",
            "IngressClass",
            "ServiceAccount",
        ]
        granted = {
            (group, resource, verb)
            for rule in only(objects, "ClusterRole")["rules"]
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }
        needed = {
            *{
                ("networking.k8s.io", r, v)
                for r in ("ingresses", "ingressclasses")
                for v in ("list", "watch")
            },
            ("networking.k8s.io", "ingresses/status", "update"),
            *{("", r, v) for r in ("services", "secrets") for v in ("list", "watch")},
            *{("discovery.k8s.io", "endpointslices", v) for v in ("list", "watch")},
        }
        assert needed <= granted, needed - granted
        binding = only(objects, "ClusterRoleBinding")
        account = only(objects, "ServiceAccount")
        pod = only(objects, "Deployment")["spec"]["template"]["spec"]
        assert binding["roleRef"]["name"] == only(objects, "ClusterRole")["metadata"]["name"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": member.namespace}
        ]
        assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_traefik_cluster_scoped_rbac_is_per_release_and_namespace(helm: str, tmp_path: Path) -> None:
    names = {
        namespace: {
            o["metadata"]["name"]
            for o in template(helm, TRAEFIK, "traefik", namespace, {}, tmp_path / namespace)
            if o["kind"] in ("ClusterRole", "ClusterRoleBinding")
        }
        for namespace in ("member-a", "member-b")
    }
    assert names == {"member-a": {"traefik-member-a"}, "member-b": {"traefik-member-b"}}


@pytest.mark.parametrize(
    ("values", "expected_ports", "service_ports", "ingress_class"),
    [
        # The chart's own defaults: unpinned class name, a chart Service on the exposed ports.
        (
            {},
            {"web": 8000, "websecure": 8443, "metrics": 9100},
            {"web": 80, "websecure": 443},
            "traefik-traefik",
        ),
        (
            {"metrics": {"prometheus": None}},
            {"web": 8000, "websecure": 8443},
            {"web": 80, "websecure": 443},
            "traefik-traefik",
        ),
        (
            {
                "service": {"enabled": False},
                "ingressClass": {"name": "edge"},
                "ports": {"web": {"port": 8080}},
            },
            {"web": 8080, "websecure": 8443, "metrics": 9100},
            None,
            "edge",
        ),
    ],
    ids=["chart-defaults", "metrics-off", "service-off-class-pinned"],
)
def test_traefik_values_change_what_is_created(
    helm: str,
    tmp_path: Path,
    values: dict[str, Any],
    expected_ports: dict[str, int],
    service_ports: dict[str, int] | None,
    ingress_class: str,
) -> None:
    objects = template(helm, TRAEFIK, "traefik", "edge", values, tmp_path)
    (container,) = only(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == expected_ports
    services = by_kind(objects).get("Service", [])
    if service_ports is None:
        assert services == []
    else:
        (service,) = services
        assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == service_ports
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= set(expected_ports)
        assert service["spec"]["selector"] == {
            "app.kubernetes.io/name": "traefik",
            "app.kubernetes.io/instance": "traefik-edge",
        }
    assert only(objects, "IngressClass")["metadata"]["name"] == ingress_class
    assert "ConfigMap" not in by_kind(objects), "the file provider is off by default"


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        # Chart 41 made the file provider's content an object; the string of older charts must fail.
        ({"providers": {"file": {"enabled": True, "content": "http: {}"}}}, "providers.file.content"),
        ({"deployment": {"kind": "DaemonSet"}}, "deployment.kind"),
        ({"deployment": {"replicas": "two"}}, "deployment.replicas"),
        ({"ports": {"web": {"port": 70000}}}, "ports.web.port"),
    ],
    ids=["file-content-string", "daemonset", "replicas-not-a-number", "port-out-of-range"],
)
def test_traefik_schema_refuses_values_the_fixture_cannot_honour(
    helm: str, tmp_path: Path, values: dict[str, Any], fragment: str
) -> None:
    result = _helm_template(helm, TRAEFIK, "traefik", "edge", values, tmp_path)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
    assert fragment.replace(".", "/") in result.stderr or fragment in result.stderr, result.stderr


# ---------------------------------------------------------------------------
# cert-manager


def _structural(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD schema as the API server applies it to a server-side apply (the way the roles write):
    an object's unknown fields are refused unless the schema preserves them."""
    result = copy.deepcopy(schema)
    preserved = result.pop("x-kubernetes-preserve-unknown-fields", False)
    if result.get("type") == "object" and "properties" in result and not preserved:
        result["additionalProperties"] = False
    result["properties"] = {name: _structural(sub) for name, sub in result.get("properties", {}).items()}
    if isinstance(result.get("items"), dict):
        result["items"] = _structural(result["items"])
    # format: byte is base64 for the API server; jsonschema does not know it.
    result.pop("format", None)
    return result


def crd_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    schema = _structural(version["schema"]["openAPIV3Schema"])
    # apiVersion, kind and metadata are checked by the API server itself, not by the CRD's schema.
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


@pytest.fixture(scope="module")
def cert_manager_objects(
    helm: str, members: list[Member], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("cert-manager")
    return {
        member.name: template(
            helm,
            CERT_MANAGER,
            CERT_MANAGER_RELEASE,
            CERT_MANAGER_NAMESPACE,
            member.values("cert-manager"),
            tmp / member.name,
        )
        for member in members
    }


def test_cert_manager_installs_and_keeps_the_crds(
    members: list[Member], cert_manager_objects: dict[str, list[dict[str, Any]]]
) -> None:
    for member in each_member(members):
        assert member.values("cert-manager")["crds"] == {"enabled": True, "keep": True}
        crds = {
            o["metadata"]["name"]: o
            for o in by_kind(cert_manager_objects[member.name])["CustomResourceDefinition"]
        }
        assert set(crds) == set(CRDS)
        for name, (kind, scope) in CRDS.items():
            crd = crds[name]
            assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
            assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}, name
            assert (crd["spec"]["names"]["kind"], crd["spec"]["scope"]) == (kind, scope)
            assert name == f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"
            (version,) = crd["spec"]["versions"]
            assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)


def test_the_cluster_issuer_crd_accepts_what_the_role_renders(
    members: list[Member], cert_manager_objects: dict[str, list[dict[str, Any]]]
) -> None:
    for member in each_member(members):
        (crd,) = [
            o
            for o in cert_manager_objects[member.name]
            if o["metadata"]["name"] == "clusterissuers.cert-manager.io"
        ]
        schema = crd_schema(crd)
        issuers = [o for o in member.objects() if o["kind"] == "ClusterIssuer"]
        assert len(issuers) == 2
        for issuer in issuers:
            assert issuer["apiVersion"] == f"{crd['spec']['group']}/{crd['spec']['versions'][0]['name']}"
            jsonschema.validate(issuer, schema)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "acme", "solvers", 0, "http01", "ingress", "ingressClass"), "traefik"),
        (("spec", "acme", "privateKeySecretRef", "nam"), "x"),
        (("spec", "acmee"), {}),
        (("spec", "acme", "server"), None),
    ],
    ids=["misspelt-solver-field", "misspelt-secret-ref", "misspelt-issuer-type", "server-missing"],
)
def test_the_cluster_issuer_crd_refuses_a_misspelt_issuer(
    members: list[Member],
    cert_manager_objects: dict[str, list[dict[str, Any]]],
    path: tuple[Any, ...],
    value: Any,
) -> None:
    member = members[0]
    (crd,) = [
        o
        for o in cert_manager_objects[member.name]
        if o["metadata"]["name"] == "clusterissuers.cert-manager.io"
    ]
    issuer = copy.deepcopy(next(o for o in member.objects() if o["kind"] == "ClusterIssuer"))
    parent: Any = issuer
    for key in path[:-1]:
        parent = parent[key]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(issuer, crd_schema(crd))


def test_cert_manager_controller_gets_the_default_issuer_and_resources(
    members: list[Member], cert_manager_objects: dict[str, list[dict[str, Any]]]
) -> None:
    for member in each_member(members):
        values = member.values("cert-manager")
        deployments = {
            o["metadata"]["name"]: o for o in by_kind(cert_manager_objects[member.name])["Deployment"]
        }
        assert set(deployments) == {
            CERT_MANAGER_RELEASE,
            f"{CERT_MANAGER_RELEASE}-webhook",
            f"{CERT_MANAGER_RELEASE}-cainjector",
        }
        (controller,) = deployments[CERT_MANAGER_RELEASE]["spec"]["template"]["spec"]["containers"]
        args = flags(controller)
        assert args["default-issuer-name"] == values["ingressShim"]["defaultIssuerName"] == "letsencrypt-prod"
        assert args["default-issuer-kind"] == values["ingressShim"]["defaultIssuerKind"] == "ClusterIssuer"
        assert "default-issuer-group" not in args
        assert controller["resources"] == values["resources"]
        for component in ("webhook", "cainjector"):
            (container,) = deployments[f"{CERT_MANAGER_RELEASE}-{component}"]["spec"]["template"]["spec"][
                "containers"
            ]
            assert container["resources"] == values[component]["resources"], component


def test_cert_manager_has_rbac_and_no_webhook_configuration(
    members: list[Member], cert_manager_objects: dict[str, list[dict[str, Any]]]
) -> None:
    for member in each_member(members):
        objects = cert_manager_objects[member.name]
        kinds = by_kind(objects)
        assert set(kinds) == {
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "Deployment",
            "ServiceAccount",
        }
        accounts = {o["metadata"]["name"] for o in kinds["ServiceAccount"]}
        for deployment in kinds["Deployment"]:
            assert deployment["spec"]["template"]["spec"]["serviceAccountName"] in accounts
            assert deployment["metadata"]["namespace"] == CERT_MANAGER_NAMESPACE
        (binding,) = kinds["ClusterRoleBinding"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": CERT_MANAGER_RELEASE, "namespace": CERT_MANAGER_NAMESPACE}
        ]
        granted = {
            (group, resource)
            for rule in only(objects, "ClusterRole")["rules"]
            for group in rule["apiGroups"]
            for resource in rule["resources"]
        }
        assert {
            ("cert-manager.io", "clusterissuers"),
            ("cert-manager.io", "certificates"),
            ("", "secrets"),
        } <= granted
        assert ("networking.k8s.io", "ingresses") in granted


@pytest.mark.parametrize(
    ("crds", "expected"),
    [
        ({"enabled": False, "keep": True}, None),
        ({"enabled": True, "keep": False}, {}),
        ({"enabled": True, "keep": True}, {"helm.sh/resource-policy": "keep"}),
    ],
    ids=["off", "not-kept", "kept"],
)
def test_cert_manager_crds_follow_crds_enabled_and_keep(
    helm: str, tmp_path: Path, crds: dict[str, bool], expected: dict[str, str] | None
) -> None:
    objects = template(helm, CERT_MANAGER, "cert-manager", "cert-manager", {"crds": crds}, tmp_path)
    found = by_kind(objects).get("CustomResourceDefinition", [])
    if expected is None:
        assert found == []
    else:
        assert {o["metadata"]["name"] for o in found} == set(CRDS)
        assert {json.dumps(o["metadata"].get("annotations", {})) for o in found} == {json.dumps(expected)}


def test_cert_manager_issuer_group_and_no_shim_defaults(helm: str, tmp_path: Path) -> None:
    shim = {"defaultIssuerName": "corp", "defaultIssuerKind": "Issuer", "defaultIssuerGroup": "example.org"}
    with_shim = template(helm, CERT_MANAGER, "cm", "cm", {"ingressShim": shim}, tmp_path / "shim")
    (container,) = only([o for o in with_shim if o["metadata"]["name"] == "cm"], "Deployment")["spec"][
        "template"
    ]["spec"]["containers"]
    assert {k: v for k, v in flags(container).items() if k.startswith("default-issuer")} == {
        "default-issuer-name": "corp",
        "default-issuer-kind": "Issuer",
        "default-issuer-group": "example.org",
    }
    without = template(helm, CERT_MANAGER, "cm", "cm", {}, tmp_path / "plain")
    (container,) = only([o for o in without if o["metadata"]["name"] == "cm"], "Deployment")["spec"][
        "template"
    ]["spec"]["containers"]
    assert not any(k.startswith("default-issuer") for k in flags(container))


# ---------------------------------------------------------------------------
# Both


def test_every_fixture_object_passes_the_official_schema_strictly(
    helm: str, members: list[Member], cert_manager_objects: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    checked = 0
    for member in each_member(members):
        traefik = template(
            helm,
            TRAEFIK,
            member.traefik_release,
            member.namespace,
            member.values("traefik"),
            tmp_path / member.name,
        )
        for obj in traefik + cert_manager_objects[member.name]:
            try:
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{member.name}: {obj['kind']} {obj['metadata']['name']}: {exc}")
            checked += 1
    assert checked > 0
