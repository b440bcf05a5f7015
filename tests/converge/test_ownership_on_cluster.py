"""A converge changes only what the member owns, or what binder_adopt names (issue 18, finding 2).

One cluster, as a member's often is before its first converge: the BinderHub chart made an Ingress
`jupyterhub` (real helm, a chart written here), someone made an Ingress `grafana` by hand (kubectl),
another member's apply labelled an Ingress `binderhub` as its own, and cert-manager is installed (real
helm) with a ClusterIssuer `letsencrypt-prod` of other content (an nginx http01 solver). site.yml
refuses all four before the member's first write, naming each, its owner and binder_adopt, and
leaves them byte-identical; named in binder_adopt they are taken over, and the next run changes
nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    SET_CLUSTER_ISSUERS,
    SET_INGRESSES,
)
from ansible_collections.binder.ingress.plugins.module_utils.model import labels
from harness import REPO, Run, Sandbox, wait_for

CHARTS = REPO / "tests" / "charts"

FOREIGN = ("Ingress/jupyterhub", "Ingress/grafana", "Ingress/binderhub", "ClusterIssuer/letsencrypt-prod")


def helm(sandbox: Sandbox, *args: str) -> None:
    proc = subprocess.run(["helm", *args], capture_output=True, text=True, env=sandbox.env(), timeout=120)
    assert proc.returncode == 0, proc.stderr


def hub_chart(directory: Path) -> Path:
    """The smallest chart that makes what the JupyterHub chart makes when its Ingress is on."""
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": "hub", "version": "0.1.0"})
    )
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "jupyterhub"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "hub.chart.test",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "proxy-public", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    (directory / "templates" / "ingress.yaml").write_text(yaml.safe_dump(ingress))
    return directory


def hand_made(name: str, host: str, extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    path = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": name, "port": {"number": 80}}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "labels": extra_labels or {}},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [path]}}]},
    }


NGINX_ISSUER = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "ClusterIssuer",
    "metadata": {"name": "letsencrypt-prod"},
    "spec": {
        "acme": {
            "email": "someone@else.test",
            # Fails at once and always alike: the cluster's cert-manager sets its Ready condition once.
            "server": "https://acme.invalid/directory",
            "privateKeySecretRef": {"name": "letsencrypt-prod"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
        }
    },
}


def snapshot(sandbox: Sandbox, namespace: str) -> dict[str, dict[str, Any]]:
    """The four objects as the API holds them, whole (resourceVersion and managedFields included)."""
    out = {}
    for ref in FOREIGN:
        kind, name = ref.split("/")
        scope = ["-n", namespace] if kind == "Ingress" else []
        out[ref] = json.loads(sandbox.kubectl("get", kind.lower(), name, *scope, "-o", "json").stdout)
    return out


def stable(sandbox: Sandbox, namespace: str) -> dict[str, dict[str, Any]] | None:
    """The snapshot, if it did not change within two seconds."""
    first = snapshot(sandbox, namespace)
    time.sleep(2)
    return first if snapshot(sandbox, namespace) == first else None


def flat(run: Run) -> str:
    """The run's output with the callback's line wrapping and YAML quoting (' as '') undone."""
    return re.sub(r"\s+", " ", run.output).replace("''", "'")


def test_objects_made_by_others_are_refused_untouched_then_adopted_when_named(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    namespace = f"owned-{uuid.uuid4().hex[:6]}"
    # The member's namespace, made by its BinderHub release; the Ingress its chart made.
    helm(sandbox, "install", "hub", str(hub_chart(tmp_path / "hub")), "-n", namespace, "--create-namespace")
    sandbox.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(hand_made("grafana", "grafana.x.test"))
    )
    other = labels("other-member", SET_INGRESSES)
    sandbox.kubectl(
        "apply", "--server-side", "--field-manager=binder.ingress", "-n", namespace, "-f", "-",
        stdin=json.dumps(hand_made("binderhub", "binder.other.test", other)),
    )  # fmt: skip
    # cert-manager as someone installed it before (its own release), and their ClusterIssuer.
    helm(
        sandbox,
        "install",
        "cert-manager",
        str(CHARTS / "cert-manager"),
        "-n",
        "cert-manager",
        "--create-namespace",
        "--set",
        "crds.enabled=true",
    )
    wait_for(  # the chart's CRD is served a moment after it is created
        "the ClusterIssuer applied",
        lambda: (
            sandbox.kubectl("apply", "-f", "-", stdin=json.dumps(NGINX_ISSUER), check=False).returncode == 0
        ),
    )
    # At rest: nothing (a cert-manager writing an issuer's status) changes them any more.
    before = wait_for("the objects at rest", lambda: stable(sandbox, namespace), timeout=60)

    refused = sandbox.converge(namespace)
    assert refused.rc != 0 and refused.recap["local"]["failed"] == 1, refused.output[-4000:]
    message = flat(refused)
    owners = {
        "Ingress/jupyterhub": f"Ingress {namespace}/jupyterhub: exists and is not the set's (Helm release "
        f"{namespace}/hub; labels app.kubernetes.io/managed-by=Helm; field managers helm (Update))",
        "Ingress/grafana": f"Ingress {namespace}/grafana: exists and is not the set's (none of the set's labels; "
        "field managers kubectl-client-side-apply (Update))",
        "Ingress/binderhub": f"Ingress {namespace}/binderhub: exists and is not the set's (labels "
        "app.kubernetes.io/managed-by=binder.ingress, binder.ingress/set=ingresses, "
        "binder.ingress/member=other-member; field managers binder.ingress (Apply))",
        "ClusterIssuer/letsencrypt-prod": "ClusterIssuer letsencrypt-prod: exists and is not the set's (none of the "
        "set's labels; field managers kubectl-client-side-apply (Update)",
    }
    for ref, owner in owners.items():
        assert owner in message, (ref, message[-6000:])
        assert f"To let the set take it over, add {ref} to binder_adopt" in message, ref
    # Nothing of the member was written: no namespace, Service, Helm release, ClusterIssuer or Ingress,
    # not even a dry run; the four objects are exactly as they were.
    assert refused.writes() == [] and refused.dry_run_writes() == [], refused.writes()
    assert snapshot(sandbox, namespace) == before
    assert sandbox.releases(namespace, "traefik") == {}
    assert sandbox.releases("cert-manager", "cert-manager") == {1: "deployed"}

    adopt = {"binder_adopt": list(FOREIGN)}
    adopted = sandbox.converge(namespace, extra_vars=adopt)
    assert adopted.rc == 0, adopted.output[-4000:]
    after = snapshot(sandbox, namespace)
    for ref in FOREIGN:
        kind = ref.split("/")[0]
        want = (
            labels(None, SET_CLUSTER_ISSUERS) if kind == "ClusterIssuer" else labels("local", SET_INGRESSES)
        )
        assert after[ref]["metadata"]["labels"].items() >= want.items(), (ref, after[ref]["metadata"])
    assert after["Ingress/jupyterhub"]["spec"]["rules"][0]["host"] == "hub.local.test"
    assert after["Ingress/grafana"]["spec"]["ingressClassName"] == "traefik"
    solvers = after["ClusterIssuer/letsencrypt-prod"]["spec"]["acme"]["solvers"]
    assert "nginx" not in json.dumps(solvers) and "traefik" in json.dumps(solvers), solvers

    again = sandbox.converge(namespace, extra_vars=adopt)
    assert again.rc == 0 and again.recap["local"]["changed"] == 0, again.output[-4000:]
    assert again.writes() == []
