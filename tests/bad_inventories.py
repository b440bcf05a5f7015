"""Invalid member variables, one case per member: the render tests run them through render.yml,
the converge tests through site.yml against the local cluster.

Each case is the host variables that break an otherwise good member and a text its failure must
hold (at least the inventory key the user wrote).
"""

from __future__ import annotations

import copy
from typing import Any

from harness import REPO

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


CHARTS = REPO / "tests" / "charts"
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
    # A member reached over ssh would render, then fail at its first cluster step.
    "connection-ssh": (
        {"ansible_connection": "ssh"},
        "member connection-ssh: ansible_connection: is ssh; every step of a member runs on the controller",
    ),
    "acme-email-missing": ({"cert_manager_acme_email": ""}, "cert_manager_acme_email"),
    "acme-email-invalid": ({"cert_manager_acme_email": "binder-team"}, "cert_manager_acme_email"),
    # Errors name the member variable the user wrote, not the role variable it is mapped onto.
    "namespace-invalid": ({"binder_namespace": "Binder_NS"}, "member namespace-invalid: binder_namespace:"),
    "ingress-class-invalid": ({"binder_ingress_class": "Traefik_Class"}, "binder_ingress_class:"),
    # A missing member variable (or a misnamed host_vars file) names the file it belongs in.
    "namespace-missing": (
        {"binder_namespace": UNSET},
        "member namespace-missing: binder_namespace: is not set; expected in {inventory}/host_vars/namespace-missing.yml",
    ),
    "catalogue-missing": (
        {"binder_ingresses_components": UNSET},
        "member catalogue-missing: binder_ingresses_components: is not set; expected in {inventory}/host_vars/catalogue-missing.yml",
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
    "traefik-replicas-not-a-number": (
        {"traefik_replicas": "two"},
        "member traefik-replicas-not-a-number: traefik_replicas: is a string ('two'), must be an integer",
    ),
    # Every input is checked by one validator, against the one input table: types, choices and the
    # variables no role reads (a misspelling would otherwise leave the default in place, silently).
    "k3s-not-a-boolean": (
        {"binder_k3s": "maybe"},
        "member k3s-not-a-boolean: binder_k3s: is a string ('maybe'), must be a boolean (true or false)",
    ),
    "misspelt-member-variable": (
        {"binder_k3": True},
        "member misspelt-member-variable: binder_k3: is not a variable of the collection (no role reads it);"
        " did you mean binder_k3s?",
    ),
    "misspelt-role-variable": (
        {"traefik_replica": 1},
        "member misspelt-role-variable: traefik_replica: is not a variable of the collection (no role reads it);"
        " did you mean traefik_replicas?",
    ),
    "acme-email-null": (
        {"cert_manager_acme_email": None},
        "member acme-email-null: cert_manager_acme_email: is null, and the cert_manager role has no default",
    ),
    "tls-min-version-not-a-choice": (
        {"binder_tls_min_version": "1.1"},
        "member tls-min-version-not-a-choice: binder_tls_min_version: is 1.1, must be one of 1.2, 1.3",
    ),
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
    # Not pinned: Helm would install the newest chart the range matches.
    "cert-manager-chart-version-range": (
        {"cert_manager_chart_version": "~1.20"},
        "member cert-manager-chart-version-range: cert_manager_chart_version: ~1.20 is not one exact chart version",
    ),
    "traefik-chart-version-range": (
        {"traefik_chart_version": "41.x"},
        "member traefik-chart-version-range: traefik_chart_version: 41.x is not a 41.x chart version",
    ),
    "default-issuer-unknown": ({"cert_manager_default_issuer": "zerossl"}, "cert_manager_default_issuer"),
    # A private ACME server's CA bundle holds certificates only: a pasted key is refused, not applied.
    "acme-ca-bundle-key": (
        {"cert_manager_acme_ca_bundle": "-----BEGIN PRIVATE KEY-----\nMAAA\n-----END PRIVATE KEY-----\n"},
        "member acme-ca-bundle-key: cert_manager_acme_ca_bundle: PEM block 1 is a PRIVATE KEY, not a CERTIFICATE",
    ),
    # Objects to adopt: each entry must be Kind/name and name one of the member's objects.
    "adopt-no-such-object": (
        {"binder_adopt": ["Ingress/jupyterhb"]},
        "member adopt-no-such-object: binder_adopt[0]: 'Ingress/jupyterhb' names no object of the member; "
        "did you mean Ingress/jupyterhub?",
    ),
    "adopt-not-kind-name": (
        {"binder_adopt": ["jupyterhub"]},
        "member adopt-not-kind-name: binder_adopt[0]: 'jupyterhub' is not Kind/name",
    ),
    "adopt-unknown-kind": (
        {"binder_adopt": ["Deployment/hub"]},
        "member adopt-unknown-kind: binder_adopt[0]: 'Deployment/hub': unknown kind Deployment",
    ),
}
