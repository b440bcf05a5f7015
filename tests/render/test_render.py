"""playbooks/render.yml over every inventory of the repository, checked object by object.

Every rendered Kubernetes object must pass the official schema of its member's Kubernetes
minor in strict mode (unknown fields fail). The production Ingresses must carry exactly the
hosts, paths and TLS Secrets of mybinder.org's public configuration, written out below by
hand from that configuration (not computed by the model).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    TRAEFIK_MIDDLEWARES,
    redirect_middleware_name,
)
from render_support import BIN, ROOT, run_render

# Each test here starts ansible-playbook (seconds each).
pytestmark = pytest.mark.slow

INVENTORIES = sorted(path for path in (ROOT / "inventories").iterdir() if path.is_dir())
VALUES_FILES = {"traefik-values.yaml", "cert-manager-values.yaml"}
# Kinds whose schema lives in a CRD, not in Kubernetes' own OpenAPI (checked by hand below).
CRD_KINDS = {"ClusterIssuer"}


def inventory_members(inventory: Path) -> dict[str, dict[str, Any]]:
    """The members (hosts of binder_members) and their variables, as ansible-inventory sees them."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    listing = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(inventory), "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data = json.loads(listing.stdout)
    hostvars = data["_meta"]["hostvars"]
    return {host: hostvars[host] for host in data["binder_members"]["hosts"]}


@dataclass
class Rendered:
    inventory: Path
    out: Path
    members: dict[str, dict[str, Any]]
    result: subprocess.CompletedProcess[str]


_CACHE: dict[str, Rendered] = {}


def render_inventory(inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Render an inventory once per test session: each ansible-playbook start costs seconds."""
    if inventory.name not in _CACHE:
        out = tmp_path_factory.mktemp(f"render-{inventory.name}")
        # A relative render_dir, taken from the working directory the playbook runs in.
        result = run_render("-i", str(inventory), "-e", f"render_dir={out.name}", cwd=out.parent)
        _CACHE[inventory.name] = Rendered(inventory, out, inventory_members(inventory), result)
    return _CACHE[inventory.name]


@pytest.fixture(params=INVENTORIES, ids=lambda path: path.name)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_inventory(request.param, tmp_path_factory)


@pytest.fixture
def prod(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    result = render_inventory(ROOT / "inventories" / "prod", tmp_path_factory)
    assert result.result.returncode == 0, result.result.stdout[-4000:]
    return result


def objects(member_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(member_dir.glob("*.yaml")):
        if path.name not in VALUES_FILES:
            yield path, yaml.safe_load(path.read_text(encoding="utf-8"))


def test_every_inventory_renders(rendered: Rendered) -> None:
    assert rendered.result.returncode == 0, rendered.result.stdout[-4000:] + rendered.result.stderr[-2000:]
    assert rendered.members, f"{rendered.inventory.name} has no members"
    assert sorted(p.name for p in rendered.out.iterdir()) == sorted(rendered.members)
    for member in rendered.members:
        member_dir = rendered.out / member
        for name in ("traefik-values.yaml", "cert-manager-values.yaml", "summary.md"):
            assert (member_dir / name).is_file(), f"{member}: {name} missing"
        kinds = {obj["kind"] for _, obj in objects(member_dir)}
        assert {"Service", "Ingress", "ClusterIssuer"} <= kinds, f"{member}: {kinds}"


# Issue 19 restructures how a member is built, not what is built: the sha256 of every file
# render.yml wrote for the shipped inventories at 0a14356 (main when the issue was started). Not the
# local member's ClusterIssuers: they take the local ACME server's address when a sandbox runs.
BEFORE_ISSUE_19 = Path(__file__).parent / "rendered_before_issue_19.sha256"


def test_every_inventory_renders_byte_identical_to_before_issue_19(rendered: Rendered) -> None:
    name = rendered.inventory.name
    lines = (line.split("  ", 1) for line in BEFORE_ISSUE_19.read_text(encoding="utf-8").splitlines())
    expected = {path: digest for digest, path in lines if path.startswith(f"{name}/")}
    assert expected, f"no files of {name} in {BEFORE_ISSUE_19.name}"
    found = {
        f"{name}/{path.relative_to(rendered.out)}": hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(rendered.out.rglob("*"))
        if path.is_file() and not (name == "local" and path.name.startswith("clusterissuer-"))
    }
    changed = sorted(path for path in expected.keys() | found.keys() if expected.get(path) != found.get(path))
    assert changed == [], f"rendered differently from 0a14356: {changed}"


def test_every_object_passes_the_official_schema_strictly(rendered: Rendered) -> None:
    checked = 0
    for member, hostvars in rendered.members.items():
        version = str(hostvars["binder_kubernetes_version"])
        for path, obj in objects(rendered.out / member):
            assert path.name == f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
            if obj["kind"] in CRD_KINDS:
                continue
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{member}: {path.name}: {exc}")
            checked += 1
    assert checked > 0


def test_cluster_issuers_have_the_acme_shape(rendered: Rendered) -> None:
    # kubernetes-validate ships no CRD schemas; the fields cert-manager requires, checked by hand.
    for member, hostvars in rendered.members.items():
        issuers = {
            obj["metadata"]["name"]: obj
            for _, obj in objects(rendered.out / member)
            if obj["kind"] == "ClusterIssuer"
        }
        assert set(issuers) == {"letsencrypt-staging", "letsencrypt-prod"}
        for name, issuer in issuers.items():
            assert issuer["apiVersion"] == "cert-manager.io/v1"
            assert set(issuer) == {"apiVersion", "kind", "metadata", "spec"}
            acme = issuer["spec"]["acme"]
            assert set(acme) == {"server", "email", "privateKeySecretRef", "solvers"}
            assert acme["server"].startswith("https://acme-")
            assert ("staging" in acme["server"]) == (name == "letsencrypt-staging")
            assert acme["email"] == hostvars["cert_manager_acme_email"]
            assert acme["privateKeySecretRef"] == {"name": name}
            # Solver Ingresses answer on plain HTTP only (the web entry point), past the redirect.
            assert acme["solvers"] == [
                {
                    "http01": {
                        "ingress": {
                            "ingressClassName": "traefik",
                            "ingressTemplate": {
                                "metadata": {
                                    "annotations": {"traefik.ingress.kubernetes.io/router.entrypoints": "web"}
                                }
                            },
                        }
                    }
                }
            ]


def test_traefik_values_point_at_the_member_entrypoint(rendered: Rendered) -> None:
    for member, hostvars in rendered.members.items():
        values = yaml.safe_load((rendered.out / member / "traefik-values.yaml").read_text(encoding="utf-8"))
        namespace = hostvars["binder_namespace"]
        ingress = values["providers"]["kubernetesIngress"]
        assert ingress["publishedService"] == {
            "enabled": True,
            "pathOverride": f"{namespace}/cluster-entrypoint",
        }
        entrypoint = yaml.safe_load(
            (rendered.out / member / "service-cluster-entrypoint.yaml").read_text(encoding="utf-8")
        )
        assert entrypoint["metadata"]["namespace"] == namespace
        assert entrypoint["spec"]["selector"]["app.kubernetes.io/instance"] == f"traefik-{namespace}"
        # Every middleware an Ingress names from the file provider must be defined there.
        defined = set(values["providers"]["file"]["content"]["http"]["middlewares"])
        for _, obj in objects(rendered.out / member):
            refs = (
                obj["metadata"]
                .get("annotations", {})
                .get("traefik.ingress.kubernetes.io/router.middlewares", "")
            )
            for ref in filter(None, refs.split(",")):
                name, _, provider = ref.strip().partition("@")
                if provider == "file":
                    assert name in defined, (
                        f"{member}: {obj['metadata']['name']} names undefined middleware {ref}"
                    )


# (Ingress name, host, path, pathType, TLS Secret) of every production route, from mybinder's
# config/<member>.yaml and the chart defaults those files leave in place. Redirect hosts each get
# their own Secret (<base>-<host with dashes>) where mybinder shares kubelego-tls-redirector.
def _member(short: str, member: str, harbor: str) -> set[tuple[str, str, str, str, str]]:
    routes = {
        ("jupyterhub", f"hub.{short}.mybinder.org", "/", "Prefix", "kubelego-tls-hub"),
        ("binderhub", f"{short}.mybinder.org", "/", "Prefix", f"kubelego-tls-binder-{member}"),
        ("static", f"static.{short}.mybinder.org", "/badge.svg", "Exact", "kubelego-tls-static"),
        ("prometheus", f"prometheus.{short}.mybinder.org", "/", "Prefix", "kubelego-tls-prometheus"),
        ("grafana", f"grafana.{short}.mybinder.org", "/", "Prefix", "kubelego-tls-grafana"),
    }
    routes |= {
        ("harbor", harbor, path, "Prefix", "tls-harbor")
        for path in ("/", "/api/", "/service/", "/v2/", "/c/")
    }
    return routes


PROD_ROUTES: dict[str, set[tuple[str, str, str, str, str]]] = {
    "gke-prod": {
        ("federation-redirect", "mybinder.org", "/", "Prefix", "kubelego-tls-federation-redirect"),
        ("gcs-proxy", "archive.analytics.mybinder.org", "/", "Prefix", "kubelego-tls-gcs-proxy"),
        ("gcs-proxy", "archive.analytics.gke2.mybinder.org", "/", "Prefix", "kubelego-tls-gcs-proxy"),
        *{
            (f"redirector-{dashed}", host, "/", "Prefix", f"kubelego-tls-redirector-{dashed}")
            for host in (
                "beta.mybinder.org",
                "docs.mybinder.org",
                "playground.mybinder.org",
                "status.mybinder.org",
            )
            for dashed in [host.replace(".", "-")]
        },
        *{
            (component, f"{component}.{sub}mybinder.org", "/", "Prefix", f"kubelego-tls-{component}")
            for component in ("prometheus", "grafana")
            for sub in ("", "gke.", "gke2.")
        },
        *{
            ("static", f"static.{sub}mybinder.org", "/badge.svg", "Exact", "kubelego-tls-static")
            for sub in ("", "gke.", "gke2.")
        },
    },
    "hetzner-gesis": _member("gesis", "hetzner-gesis", "registry.gesis.mybinder.org"),
    "hetzner-2i2c": _member("2i2c", "hetzner-2i2c", "oci.2i2c.mybinder.org"),
    "bids-ovh": _member("bids", "bids-ovh", "registry.bids.mybinder.org"),
}

PROD_REDIRECTS = {
    "beta.mybinder.org": "https://mybinder.org${1}",
    "docs.mybinder.org": "https://mybinder.readthedocs.io${1}",
    "playground.mybinder.org": "https://play.nteract.io${1}",
    "status.mybinder.org": "https://mybinder.readthedocs.io/en/latest/status.html",
}


def _routes(member_dir: Path) -> set[tuple[str, str, str, str, str]]:
    routes = set()
    for _, obj in objects(member_dir):
        if obj["kind"] != "Ingress":
            continue
        (tls,) = obj["spec"]["tls"]
        rule_hosts = [rule["host"] for rule in obj["spec"]["rules"]]
        assert sorted(tls["hosts"]) == sorted(rule_hosts), obj["metadata"]["name"]
        for rule in obj["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                routes.add(
                    (obj["metadata"]["name"], rule["host"], path["path"], path["pathType"], tls["secretName"])
                )
    return routes


def test_prod_ingresses_match_mybinders_config(prod: Rendered) -> None:
    assert set(prod.members) == set(PROD_ROUTES)
    for member, expected in PROD_ROUTES.items():
        assert _routes(prod.out / member) == expected, member


def test_prod_gke_entrypoint_and_redirects(prod: Rendered) -> None:
    gke = prod.out / "gke-prod"
    entrypoint = yaml.safe_load((gke / "service-cluster-entrypoint.yaml").read_text(encoding="utf-8"))
    assert entrypoint["metadata"]["annotations"] == {
        "cloud.google.com/l4-rbs": "enabled",
        "networking.gke.io/load-balancer-ip-addresses": "cluster-entrypoint",
    }
    assert entrypoint["spec"]["type"] == "LoadBalancer"
    assert entrypoint["spec"]["externalTrafficPolicy"] == "Local"
    values = yaml.safe_load((gke / "traefik-values.yaml").read_text(encoding="utf-8"))
    middlewares = values["providers"]["file"]["content"]["http"]["middlewares"]
    replacements = {
        host: middlewares[redirect_middleware_name(host)]["redirectRegex"]["replacement"]
        for host in PROD_REDIRECTS
    }
    assert replacements == PROD_REDIRECTS
    # The GKE member has no other annotations; the k3s members none at all.
    for member in ("hetzner-gesis", "hetzner-2i2c", "bids-ovh"):
        service = yaml.safe_load(
            (prod.out / member / "service-cluster-entrypoint.yaml").read_text(encoding="utf-8")
        )
        assert "annotations" not in service["metadata"], member


def test_limit_renders_only_the_chosen_member(tmp_path: Path) -> None:
    result = run_render(
        "-i", str(ROOT / "inventories" / "prod"), "-e", f"render_dir={tmp_path}", "--limit", "hetzner-gesis"
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert [p.name for p in tmp_path.iterdir()] == ["hetzner-gesis"]


def test_a_directory_that_is_not_earlier_output_is_left_alone(tmp_path: Path) -> None:
    precious = tmp_path / "local" / "notes.txt"
    precious.parent.mkdir()
    precious.write_text("keep me", encoding="utf-8")
    result = run_render("-i", str(ROOT / "inventories" / "local"), "-e", f"render_dir={tmp_path}")
    assert result.returncode != 0
    assert "refusing to replace" in result.stdout
    assert [p.name for p in precious.parent.iterdir()] == ["notes.txt"]


def test_render_dir_is_required(tmp_path: Path) -> None:
    result = run_render("-i", str(ROOT / "inventories" / "local"), cwd=tmp_path)
    assert result.returncode != 0
    assert "render_dir: is required" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_sandbox_translates_every_rendered_traefik_values(rendered: Rendered, tmp_path: Path) -> None:
    """The data plane runs traefik from the release the role installs: the rendered values over
    the fixture chart's defaults (tests/charts/traefik), coalesced as Helm does. A key the role
    starts setting that the translation does not handle (or knowingly ignore) fails here."""
    from sandbox.dataplane.releases import coalesce
    from sandbox.dataplane.traefik_config import ClusterAccess, entrypoint_names, translate

    chart_defaults = yaml.safe_load((ROOT / "tests" / "charts" / "traefik" / "values.yaml").read_text())
    cluster = ClusterAccess(endpoint="https://127.0.0.1:6443", token="t", ca_file=tmp_path / "ca.crt")
    for member in rendered.members:
        rendered_values = yaml.safe_load(
            (rendered.out / member / "traefik-values.yaml").read_text(encoding="utf-8")
        )
        values = coalesce(chart_defaults, rendered_values)
        ports = {name: 20000 + i for i, name in enumerate(entrypoint_names(values))}
        setup = translate(values, ports=ports, cluster=cluster, state_dir=tmp_path / member)
        entry_points = setup.static["entryPoints"]
        assert {"web", "websecure"} <= set(entry_points), f"{member}: {sorted(entry_points)}"
        timeouts = entry_points["websecure"]["transport"]["respondingTimeouts"]
        assert timeouts["readTimeout"] and timeouts["idleTimeout"], f"{member}: {timeouts}"
        middlewares = setup.dynamic["http"]["middlewares"]
        assert set(TRAEFIK_MIDDLEWARES) <= set(middlewares), f"{member}: {sorted(middlewares)}"
        # Every member's spool is a capped tmpfs; every client address has its share of requests.
        assert setup.spool.memory and setup.spool.size_limit, f"{member}: {setup.spool}"
        assert "inFlightReq" in middlewares["client-limit"], f"{member}: {sorted(middlewares)}"
