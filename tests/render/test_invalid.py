"""Invalid inventories: each fails, names the member and the inventory key, and writes nothing.

All cases share one inventory (one broken member per case, plus one good member) and one
ansible-playbook run, because each start of ansible-playbook costs seconds. The inventory's
group_vars are the production ones, and render.yml maps the member variables with the binder role,
as site.yml does, so the real mapping is what is tested.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    MIDDLEWARE_DEFAULT,
    MIDDLEWARE_HARBOR,
    MIDDLEWARE_HSTS,
    MIDDLEWARE_HUB,
)
from ansible_collections.binder.ingress.plugins.module_utils.model import ANNOTATION_MIDDLEWARES
from render_support import ROOT, run_render

# Each test here starts ansible-playbook (seconds each).
pytestmark = pytest.mark.slow


GOOD_COMPONENTS: dict[str, Any] = {
    "jupyterhub": {"hosts": ["hub.example.org"], "tls_secret": "tls-hub"},
    "binderhub": {"hosts": ["example.org"]},
    "static": {"hosts": ["static.example.org"]},
}


def components(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(GOOD_COMPONENTS)
    result.update(changes)
    return result


def echo(**settings: Any) -> dict[str, Any]:
    """A generic component, valid unless ``settings`` break it."""
    base: dict[str, Any] = {"hosts": ["echo.example.org"], "service": {"name": "echo", "port": 8080}}
    base.update(settings)
    return base


def redirector(*redirects: dict[str, Any]) -> dict[str, Any]:
    return {"redirects": list(redirects)}


CHARTS = ROOT / "tests" / "charts"
# A member variable left out of the member's host variables.
UNSET = object()

# member name -> (host variables that break it, the text the failure must hold: at least the inventory key)
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "host-uppercase": (
        {"binder_ingresses_components": components(jupyterhub={"hosts": ["Hub.example.org"]})},
        "binder_ingresses_components.jupyterhub.hosts[0]",
    ),
    "host-wildcard-inside": (
        {"binder_ingresses_components": components(jupyterhub={"hosts": ["hub.*.example.org"]})},
        "binder_ingresses_components.jupyterhub.hosts[0]",
    ),
    "host-underscore": (
        {"binder_ingresses_components": components(grafana={"hosts": ["grafana_1.example.org"]})},
        "binder_ingresses_components.grafana.hosts[0]",
    ),
    "host-label-too-long": (
        {"binder_ingresses_components": components(grafana={"hosts": ["g" * 64 + ".example.org"]})},
        "binder_ingresses_components.grafana.hosts[0]",
    ),
    "hosts-not-a-list": (
        {"binder_ingresses_components": components(jupyterhub={"hosts": "hub.example.org"})},
        "binder_ingresses_components.jupyterhub.hosts",
    ),
    "collision-across-components": (
        {"binder_ingresses_components": components(binderhub={"hosts": ["hub.example.org"]})},
        "binder_ingresses_components.binderhub.hosts[0]",
    ),
    "collision-with-generic": (
        {"binder_ingresses_components": components(echo=echo(hosts=["example.org"]))},
        "binder_ingresses_components.echo.hosts[0]",
    ),
    "tls-secret-shared": (
        {
            "binder_ingresses_components": components(
                binderhub={"hosts": ["example.org"], "tls_secret": "tls-hub"}
            )
        },
        "binder_ingresses_components.binderhub.tls_secret",
    ),
    "tls-secret-bad-name": (
        {
            "binder_ingresses_components": components(
                jupyterhub={"hosts": ["hub.example.org"], "tls_secret": "TLS_Hub"}
            )
        },
        "binder_ingresses_components.jupyterhub.tls_secret",
    ),
    "port-out-of-range": (
        {"binder_ingresses_components": components(echo=echo(service={"name": "echo", "port": 70000}))},
        "binder_ingresses_components.echo.service.port",
    ),
    "port-zero": (
        {"binder_ingresses_components": components(echo=echo(service={"name": "echo", "port": 0}))},
        "binder_ingresses_components.echo.service.port",
    ),
    "port-bad-name": (
        {"binder_ingresses_components": components(echo=echo(service={"name": "echo", "port": "HTTP_Port"}))},
        "binder_ingresses_components.echo.service.port",
    ),
    "generic-without-service": (
        {"binder_ingresses_components": components(echo={"hosts": ["echo.example.org"]})},
        "binder_ingresses_components.echo",
    ),
    "path-relative": (
        {
            "binder_ingresses_components": components(
                echo=echo(paths=[{"path": "api", "path_type": "Prefix"}])
            )
        },
        "binder_ingresses_components.echo.paths[0].path",
    ),
    "path-type-unknown": (
        {
            "binder_ingresses_components": components(
                echo=echo(paths=[{"path": "/api", "path_type": "Regex"}])
            )
        },
        "binder_ingresses_components.echo.paths[0].path_type",
    ),
    "static-exposes-everything": (
        {
            "binder_ingresses_components": components(
                static={"hosts": ["static.example.org"], "paths": [{"path": "/"}]}
            )
        },
        "binder_ingresses_components.static.paths[0]",
    ),
    "redirect-loop": (
        {
            "binder_ingresses_components": components(
                redirector=redirector(
                    {"type": "host", "from": "a.example.org", "to": "b.example.org"},
                    {"type": "host", "from": "b.example.org", "to": "a.example.org"},
                )
            )
        },
        "binder_ingresses_components.redirector.redirects[0]",
    ),
    "redirect-to-itself": (
        {
            "binder_ingresses_components": components(
                redirector=redirector({"type": "host", "from": "a.example.org", "to": "a.example.org"})
            )
        },
        "binder_ingresses_components.redirector.redirects[0].to",
    ),
    "redirect-bad-type": (
        {
            "binder_ingresses_components": components(
                redirector=redirector({"type": "dns", "from": "a.example.org", "to": "b.example.org"})
            )
        },
        "binder_ingresses_components.redirector.redirects[0].type",
    ),
    "redirect-bad-code": (
        {
            "binder_ingresses_components": components(
                redirector=redirector(
                    {"type": "host", "from": "a.example.org", "to": "b.example.org", "code": 303}
                )
            )
        },
        "binder_ingresses_components.redirector.redirects[0].code",
    ),
    "unknown-component-key": (
        {
            "binder_ingresses_components": components(
                jupyterhub={"hosts": ["hub.example.org"], "hostz": ["x.example.org"]}
            )
        },
        "binder_ingresses_components.jupyterhub.hostz",
    ),
    "bad-component-name": (
        {"binder_ingresses_components": components(Echo_1=echo(hosts=["echo1.example.org"]))},
        "binder_ingresses_components.Echo_1",
    ),
    "middleware-without-provider": (
        {
            "binder_ingresses_components": components(
                jupyterhub={"hosts": ["hub.example.org"], "middlewares": ["hub"]}
            )
        },
        "binder_ingresses_components.jupyterhub.middlewares[0]",
    ),
    "annotation-not-a-string": (
        {
            "binder_ingresses_components": components(
                jupyterhub={"hosts": ["hub.example.org"], "annotations": {"example.org/weight": 5}}
            )
        },
        "binder_ingresses_components.jupyterhub.annotations",
    ),
    "legacy-class-annotation": (
        {
            "binder_ingresses_components": components(
                jupyterhub={
                    "hosts": ["hub.example.org"],
                    "annotations": {"kubernetes.io/ingress.class": "traefik"},
                }
            )
        },
        "binder_ingresses_components.jupyterhub.annotations.kubernetes.io/ingress.class",
    ),
    "enabled-not-a-bool": (
        {
            "binder_ingresses_components": components(
                jupyterhub={"hosts": ["hub.example.org"], "enabled": "yes"}
            )
        },
        "binder_ingresses_components.jupyterhub.enabled",
    ),
    "bucket-bad-host": (
        {
            "binder_ingresses_components": components(
                **{"gcs-proxy": {"buckets": [{"name": "b", "host": "bad host"}]}}
            )
        },
        "binder_ingresses_components.gcs-proxy.buckets[0].host",
    ),
    # traefik drops the router of an Ingress naming a middleware it lacks: refused before any write.
    "middleware-typo": (
        {
            "binder_ingresses_components": components(
                jupyterhub={"hosts": ["hub.example.org"], "middlewares": ["defualt@file"]}
            )
        },
        "member middleware-typo: binder_ingresses_components.jupyterhub.middlewares[0]: 'defualt@file' is not"
        " a middleware the traefik role defines (hub, harbor, default); did you mean 'default@file'?",
    ),
    "middleware-provider-off": (
        {
            "binder_ingresses_components": components(
                jupyterhub={"hosts": ["hub.example.org"], "middlewares": ["auth@kubernetescrd"]}
            )
        },
        "member middleware-provider-off: binder_ingresses_components.jupyterhub.middlewares[0]:"
        " 'auth@kubernetescrd' names the provider 'kubernetescrd', which the traefik role does not enable",
    ),
    "component-misspelt": (
        {"binder_ingresses_components": components(binderhb={"hosts": ["b.example.org"]})},
        "member component-misspelt: binder_ingresses_components.binderhb: 'binderhb' is not a built-in"
        " component: did you mean 'binderhub'?",
    ),
    "components-not-a-mapping": (
        {"binder_ingresses_components": ["jupyterhub"]},
        "binder_ingresses_components",
    ),
    "acme-email-missing": ({"cert_manager_acme_email": ""}, "cert_manager_acme_email"),
    "acme-email-invalid": ({"cert_manager_acme_email": "binder-team"}, "cert_manager_acme_email"),
    # Errors name the member variable the user wrote, not the role variable it is mapped onto.
    "namespace-invalid": ({"binder_namespace": "Binder_NS"}, "member namespace-invalid: binder_namespace:"),
    "ingress-class-invalid": ({"binder_ingress_class": "Traefik_Class"}, "binder_ingress_class:"),
    # A missing member variable (or a misnamed host_vars file) names the file it belongs in.
    "namespace-missing": (
        {"binder_namespace": UNSET},
        "binder_namespace is not set; expected in {inventory}/host_vars/namespace-missing.yml",
    ),
    "catalogue-missing": (
        {"binder_ingresses_components": UNSET},
        "binder_ingresses_components is not set; expected in {inventory}/host_vars/catalogue-missing.yml",
    ),
    # A role variable the binder role sets from a member variable may not be set as well.
    "mapped-variable-set": (
        {"traefik_namespace": "other"},
        "traefik_namespace: set from the member variables",
    ),
    "entrypoint-custom-without-selector": (
        {"cluster_entrypoint_target": "custom"},
        "cluster_entrypoint_selector",
    ),
    "entrypoint-bad-target-port": (
        {"cluster_entrypoint_target_ports": {"https": 70000}},
        "cluster_entrypoint_target_ports.https",
    ),
    "entrypoint-annotation-not-a-string": (
        {"cluster_entrypoint_annotations": {"cloud.google.com/l4-rbs": True}},
        "cluster_entrypoint_annotations.cloud.google.com/l4-rbs",
    ),
    "traefik-replicas-zero": ({"traefik_replicas": 0}, "traefik_replicas"),
    "traefik-replicas-not-a-number": ({"traefik_replicas": "two"}, "traefik_replicas"),
    # The binder role maps member variables onto the roles: errors name the member variable.
    "entrypoint-name-invalid": (
        {"binder_entrypoint_name": "Bad_Name"},
        "member entrypoint-name-invalid: binder_entrypoint_name",
    ),
    # ... and a mapped role variable set in the inventory is refused, not silently ignored.
    "traefik-keys-in-inventory": (
        {"traefik_keys": {"responding_timeout": "binder_timeout"}},
        "member traefik-keys-in-inventory: traefik_keys: set from the member variables",
    ),
    "traefik-overrides-not-a-mapping": (
        {"traefik_values_overrides": ["replicas"]},
        "traefik_values_overrides",
    ),
    "traefik-chart-not-41": ({"traefik_chart_version": "40.0.0"}, "traefik_chart_version"),
    # A local chart is read in preflight: the wrong one fails the member before anything is applied.
    "traefik-chart-path-missing": (
        {"traefik_chart_source": "path", "traefik_chart_path": "/nonexistent/charts/traefik"},
        "traefik_chart_path: /nonexistent/charts/traefik does not exist",
    ),
    "traefik-chart-path-empty": ({"traefik_chart_source": "path"}, "traefik_chart_path: is empty"),
    "traefik-chart-path-not-a-chart": (
        {"traefik_chart_source": "path", "traefik_chart_path": str(CHARTS)},
        f"traefik_chart_path: {CHARTS} is not a chart (no Chart.yaml)",
    ),
    "traefik-chart-path-other-version": (
        {
            "traefik_chart_source": "path",
            "traefik_chart_path": str(CHARTS / "traefik"),
            "traefik_chart_version": "41.2.0",
        },
        "does not match traefik_chart_version 41.2.0",
    ),
    "cert-manager-chart-path-other-chart": (
        {"cert_manager_chart_source": "path", "cert_manager_chart_path": str(CHARTS / "traefik")},
        f"cert_manager_chart_path: chart traefik 41.3.0 in {CHARTS / 'traefik'} does not match the chart name",
    ),
    "cert-manager-chart-path-other-version": (
        {
            "cert_manager_chart_source": "path",
            "cert_manager_chart_path": str(CHARTS / "cert-manager"),
            "cert_manager_chart_version": "v1.20.1",
        },
        "does not match cert_manager_chart_version v1.20.1",
    ),
    "default-issuer-unknown": ({"cert_manager_default_issuer": "zerossl"}, "cert_manager_default_issuer"),
}
GOOD = "good-member"
# A redirect whose host is valid for the catalogue but too long for `redirect-<host, dashed>` as
# a DNS-1123 label: its middleware name is shortened, and traefik defines the name the Ingress uses.
GOOD_LONG_REDIRECT = "good-long-redirect"
LONG_HOST = "binder-staging-redirect-for-the-old-name.long.example.org"
LONG_REDIRECT_VARS: dict[str, Any] = {
    "binder_ingresses_components": components(
        redirector=redirector({"type": "host", "from": LONG_HOST, "to": "example.org"})
    )
}
# A member installing both releases from the fixture charts, which are the pinned ones: it renders.
GOOD_LOCAL_CHARTS = "good-local-charts"
# One member with several catalogue problems: the model must report all of them in one failure.
SEVERAL = "several-problems"
SEVERAL_VARS: dict[str, Any] = {
    "binder_ingresses_components": components(
        jupyterhub={"hosts": ["Hub.example.org"]},
        echo=echo(service={"name": "echo", "port": 0}),
        redirector=redirector({"type": "host", "from": "a.example.org", "to": "a.example.org"}),
    )
}
SEVERAL_KEYS = (
    "binder_ingresses_components.jupyterhub.hosts[0]",
    "binder_ingresses_components.echo.service.port",
    "binder_ingresses_components.redirector.redirects[0].to",
)


LOCAL_CHARTS: dict[str, Any] = {
    "traefik_chart_source": "path",
    "traefik_chart_path": str(CHARTS / "traefik"),
    "cert_manager_chart_source": "path",
    "cert_manager_chart_path": str(CHARTS / "cert-manager"),
}


def member_vars(member: str, changes: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "binder_kubeconfig": f"/nonexistent/{member}.yaml",
        "binder_context": member,
        "binder_namespace": "binder",
        "binder_kubernetes_version": "1.33",
        "binder_k3s": False,
        "binder_ingresses_components": copy.deepcopy(GOOD_COMPONENTS),
    }
    variables.update(changes)
    return {name: value for name, value in variables.items() if value is not UNSET}


@dataclass
class Run:
    inventory: Path
    out: Path
    result: subprocess.CompletedProcess[str]
    failures: dict[str, str]


def _failures(stdout: str) -> dict[str, str]:
    """Each failed host's failure text: from its `fatal: [host]` line to the next result or task."""
    failures: dict[str, str] = {}
    blocks = re.split(
        r"^(?=fatal: \[|ok: \[|changed: \[|skipping: \[|included: |TASK \[|PLAY RECAP|\[ERROR\]|\[WARNING\])",
        stdout,
        flags=re.M,
    )
    for block in blocks:
        found = re.match(r"fatal: \[([^\]]+)\]", block)
        if found:
            failures[found.group(1)] = failures.get(found.group(1), "") + block
    return failures


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    inventory = tmp_path_factory.mktemp("invalid-inventory")
    shutil.copytree(ROOT / "inventories" / "prod" / "group_vars", inventory / "group_vars")
    hosts = {
        name: member_vars(name, changes)
        for name, (changes, _) in {
            **CASES,
            GOOD: ({}, ""),
            GOOD_LONG_REDIRECT: (LONG_REDIRECT_VARS, ""),
            GOOD_LOCAL_CHARTS: (LOCAL_CHARTS, ""),
            SEVERAL: (SEVERAL_VARS, ""),
        }.items()
    }
    hosts = {
        "binder_members": {
            "hosts": hosts,
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            },
        }
    }
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False), encoding="utf-8")
    out = tmp_path_factory.mktemp("invalid-out")
    result = run_render("-i", str(inventory), "-e", f"render_dir={out}", timeout=900)
    return Run(inventory, out, result, _failures(result.stdout))


def test_there_are_at_least_25_cases() -> None:
    assert len(CASES) >= 25


def test_the_run_fails(run: Run) -> None:
    assert run.result.returncode != 0


@pytest.mark.parametrize("member", [GOOD, GOOD_LOCAL_CHARTS, GOOD_LONG_REDIRECT])
def test_the_good_members_still_render(run: Run, member: str) -> None:
    assert member not in run.failures, run.failures.get(member)
    assert (run.out / member / "summary.md").is_file()
    assert (run.out / member / "ingress-jupyterhub.yaml").is_file()


@pytest.mark.parametrize(
    ("member", "key"), [(name, key) for name, (_, key) in CASES.items()], ids=list(CASES)
)
def test_case_fails_naming_member_and_key_and_writes_nothing(run: Run, member: str, key: str) -> None:
    assert member in run.failures, f"{member} did not fail:\n{run.result.stdout[-3000:]}"
    failure = run.failures[member]
    # The callback wraps long messages and writes them as YAML single-quoted strings (' as '').
    assert key.format(inventory=run.inventory) in re.sub(r"\s+", " ", failure).replace("''", "'"), failure
    assert not (run.out / member).exists()


def test_a_long_redirect_host_names_the_middleware_traefik_defines(run: Run) -> None:
    assert GOOD_LONG_REDIRECT not in run.failures, run.failures.get(GOOD_LONG_REDIRECT)
    out = run.out / GOOD_LONG_REDIRECT
    ingresses = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(out.glob("ingress-*.yaml"))]
    (redirect,) = [i for i in ingresses if i["spec"]["rules"][0]["host"] == LONG_HOST]
    annotation = redirect["metadata"]["annotations"][ANNOTATION_MIDDLEWARES]
    name, _, provider = annotation.partition("@")
    assert provider == "file"
    # The plain `redirect-<host, dashed>` is longer than a DNS-1123 label: this name is the shortened one.
    assert len("redirect-" + LONG_HOST.replace(".", "-")) > 63
    assert len(name) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
    values = yaml.safe_load((out / "traefik-values.yaml").read_text(encoding="utf-8"))
    middlewares = values["providers"]["file"]["content"]["http"]["middlewares"]
    assert sorted(middlewares) == sorted(
        [MIDDLEWARE_HUB, MIDDLEWARE_HARBOR, MIDDLEWARE_DEFAULT, MIDDLEWARE_HSTS, name]
    )
    assert middlewares[name]["redirectRegex"]["replacement"] == "https://example.org${1}"


def test_every_catalogue_problem_is_reported_together(run: Run) -> None:
    failure = run.failures[SEVERAL]
    assert failure.count("fatal: [") == 1, failure
    for key in SEVERAL_KEYS:
        assert f"member {SEVERAL}: {key}" in re.sub(r"\s+", " ", failure), failure
    assert not (run.out / SEVERAL).exists()


def test_errors_from_the_roles_name_the_member_in_the_message(run: Run) -> None:
    # Argument-spec type errors are reported by Ansible itself under `fatal: [member]`;
    # every other message also names the member inside it.
    typed = {"components-not-a-mapping", "traefik-replicas-not-a-number", "traefik-overrides-not-a-mapping"}
    for member in set(CASES) - typed:
        assert f"member {member}" in run.failures[member], run.failures[member]
