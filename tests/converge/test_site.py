"""site.yml against the sandbox: check/real/check/real, prune, migration, failure isolation, k3s."""

from __future__ import annotations

import json
import socket
import ssl
import uuid
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    REDIRECTOR,
    REDIRECTOR_SERVICE,
    SET_INGRESSES,
    SET_TRAEFIK_RBAC,
)
from ansible_collections.binder.ingress.plugins.module_utils.model import labels
from harness import LOCAL_VARS, REPO, Run, Sandbox, member_inventory, wait_for
from kubernetes import client

SET_LABELS = ",".join(f"{key}={value}" for key, value in labels("local", SET_INGRESSES).items())


def ok(run: Run, host: str = "local") -> dict[str, int]:
    assert run.rc == 0, run.output[-4000:]
    assert run.recap[host]["failed"] == 0, run.output[-4000:]
    return run.recap[host]


def ingresses(sandbox: Sandbox, namespace: str, selector: str | None = None) -> dict[str, Any]:
    items = (
        client.NetworkingV1Api(sandbox.api())
        .list_namespaced_ingress(namespace, label_selector=selector)
        .items
    )
    return {i.metadata.name: i for i in items}


def services(sandbox: Sandbox, namespace: str) -> dict[str, Any]:
    return {
        s.metadata.name: s for s in client.CoreV1Api(sandbox.api()).list_namespaced_service(namespace).items
    }


# The tasks that write: entrypoint (namespace and Service), traefik, cert-manager, ClusterIssuers,
# Ingresses. Each reports changed once, and only when it writes (or would): no compare task.
WRITING_TASKS = 5


def test_check_real_check_real(sandbox: Sandbox) -> None:
    # A new member's cluster: its namespace does not exist yet.
    namespace = f"fourstep-{uuid.uuid4().hex[:6]}"

    first = sandbox.converge(namespace, "--check", "--diff")
    assert namespace not in {n.metadata.name for n in client.CoreV1Api(sandbox.api()).list_namespace().items}
    real = sandbox.converge(namespace)
    again = sandbox.converge(namespace, "--check")
    last = sandbox.converge(namespace)

    changed = [ok(run)["changed"] for run in (first, real, again, last)]
    assert changed == [WRITING_TASKS, WRITING_TASKS, 0, 0], changed
    # Check mode asked the server (dry run) and wrote nothing; the audit log is the witness.
    for run in (first, again):
        assert run.writes() == [], run.writes()
        assert run.dry_run_writes()
    # The diff names the objects and their content, the namespace included, once each.
    assert first.output.count(f"+++ after: Namespace {namespace}\n") == 1
    assert first.output.count(f"+++ after: Ingress {namespace}/jupyterhub") == 1
    assert "hub.local.test" in first.output
    assert "redirector-beta-local-test" in first.output
    # The real run applied the whole set; the run with nothing to do wrote nothing at all.
    assert len(real.writes()) >= 14
    assert last.writes() == []
    assert set(ingresses(sandbox, namespace, SET_LABELS)) == {
        "binderhub",
        "echo",
        "federation-redirect",
        "gcs-proxy",
        "grafana",
        "harbor",
        "jupyterhub",
        "prometheus",
        "redirector-beta-local-test",
        "redirector-status-local-test",
        "static",
    }


def test_check_shows_exactly_the_drift(sandbox: Sandbox) -> None:
    namespace = sandbox.new_namespace("drift")
    ok(sandbox.converge(namespace))
    net = client.NetworkingV1Api(sandbox.api())
    # Someone edits one Ingress by hand and deletes another.
    grafana = net.read_namespaced_ingress("grafana", namespace)
    grafana.spec.rules[0].host = "hand-edited.local.test"
    net.replace_namespaced_ingress("grafana", namespace, grafana)
    net.delete_namespaced_ingress("static", namespace)

    # The hand edit made its author a field manager of the rules: the converge does not take them
    # back unless told to, and says whose they are.
    refused = sandbox.converge(namespace, "--check")
    assert refused.rc != 0 and refused.writes() == [], refused.output[-4000:]
    message = " ".join(refused.output.split())
    assert f"Ingress {namespace}/grafana: conflicts with field manager " in message, message[-4000:]
    assert " over .spec.rules: " in message and "add Ingress/grafana to binder_adopt" in message, message[
        -4000:
    ]
    adopt = {"binder_adopt": ["Ingress/grafana"]}

    check = sandbox.converge(namespace, "--check", "--diff", extra_vars=adopt)
    assert ok(check)["changed"] == 1  # the Ingress set's task only
    assert check.writes() == [], check.writes()
    headers = sorted(line for line in check.output.splitlines() if line.startswith("+++ after: "))
    assert headers == [f"+++ after: Ingress {namespace}/grafana", f"+++ after: Ingress {namespace}/static"]
    removed = [line for line in check.output.splitlines() if line.startswith("-") and "hand-edited" in line]
    assert [line.split("host:")[1].strip() for line in removed] == ["hand-edited.local.test"], removed
    assert net.read_namespaced_ingress("grafana", namespace).spec.rules[0].host == "hand-edited.local.test"

    real = sandbox.converge(namespace, extra_vars=adopt)
    assert ok(real)["changed"] == 1
    assert sorted((e["method"], e["path"].rsplit("/", 1)[1]) for e in real.writes()) == [
        ("PATCH", "grafana"),
        ("PATCH", "static"),
    ]
    assert net.read_namespaced_ingress("grafana", namespace).spec.rules[0].host != "hand-edited.local.test"


def _status(port: int, host: str) -> int:
    """The status of ``GET /`` for ``host`` over HTTPS through the local ``port`` (any certificate:
    which traefik routes the host is under test, not its certificate)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return int(tls.recv(64).split(b" ", 2)[1])


def test_two_members_in_one_cluster_each_served_only_by_its_own_traefik(
    served_sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox = served_sandbox
    namespaces = {m: f"{m}-{uuid.uuid4().hex[:6]}" for m in ("alpha", "beta")}
    # alpha serves the local catalogue (*.local.test); beta hosts of its own.
    beta_hosts = {"binderhub": "binder.beta.test", "grafana": "grafana.beta.test"}
    members: dict[str, dict[str, Any]] = {
        m: {
            "binder_kubeconfig": str(sandbox.kubeconfig),
            "binder_namespace": ns,
            "binder_shared_cluster": True,
        }
        for m, ns in namespaces.items()
    }
    members["beta"].update(
        binder_ingresses_components={c: {"hosts": [h]} for c, h in beta_hosts.items()},
        # alpha installs cert-manager, the one cluster-wide release left.
        cert_manager_helm_enabled=False,
    )
    inventory = member_inventory(tmp_path / "shared", members)

    first = sandbox.playbook(REPO / "site.yml", inventory=inventory)
    assert all(ok(first, m)["changed"] > 0 for m in members)
    # BinderHub's Service, which each member's binderhub Ingress routes to (its chart makes it).
    core = client.CoreV1Api(sandbox.api())
    for ns in namespaces.values():
        core.create_namespaced_service(
            ns, {"metadata": {"name": "binder"}, "spec": {"ports": [{"port": 80, "targetPort": 8585}]}}
        )
    second = sandbox.playbook(REPO / "site.yml", inventory=inventory)
    assert [ok(second, m)["changed"] for m in members] == [0, 0], second.output[-4000:]
    assert second.writes() == []

    # Each member's own IngressClass, neither the cluster's default.
    classes = {c.metadata.name: c for c in client.NetworkingV1Api(sandbox.api()).list_ingress_class().items}
    assert sorted(classes) == [f"traefik-{ns}" for ns in sorted(namespaces.values())]
    for cls in classes.values():
        annotations = cls.metadata.annotations or {}
        assert annotations.get("ingressclass.kubernetes.io/is-default-class") != "true", cls.metadata.name

    # No traefik reads the cluster's Secrets: only its namespace's (a Role), plus IngressClasses and Nodes.
    rbac = client.RbacAuthorizationV1Api(sandbox.api())
    for member, ns in namespaces.items():
        selector = ",".join(f"{k}={v}" for k, v in labels(member, SET_TRAEFIK_RBAC).items())
        (cluster_role,) = rbac.list_cluster_role(label_selector=selector).items
        assert {r for rule in cluster_role.rules for r in rule.resources} == {"ingressclasses", "nodes"}
        (role,) = rbac.list_namespaced_role(ns, label_selector=selector).items
        assert "secrets" in {r for rule in role.rules for r in rule.resources}
        assert not [
            r.metadata.name
            for r in rbac.list_cluster_role().items
            if "secrets" in {x for rule in r.rules or () for x in rule.resources or ()}
            and (r.metadata.labels or {}).get("app.kubernetes.io/instance") == f"traefik-{ns}"
        ], "the chart made its cluster-wide role anyway"

    # Each member's own ACME Issuers, solving through its own class; no ClusterIssuer at all.
    custom = client.CustomObjectsApi(sandbox.api())
    for ns in namespaces.values():
        issuers = custom.list_namespaced_custom_object("cert-manager.io", "v1", ns, "issuers")["items"]
        assert sorted(i["metadata"]["name"] for i in issuers) == ["letsencrypt-prod", "letsencrypt-staging"]
        solvers = {i["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"] for i in issuers}
        assert solvers == {f"traefik-{ns}"}
    assert custom.list_cluster_custom_object("cert-manager.io", "v1", "clusterissuers")["items"] == []

    # A hand-made Ingress without a class, beside alpha's; and one of alpha's class made after it, to
    # know when alpha's traefik has read both.
    net = client.NetworkingV1Api(sandbox.api())
    alpha_ns = namespaces["alpha"]
    for name, class_name in (("classless", None), ("control", f"traefik-{alpha_ns}")):
        rule = {"host": f"{name}.local.test", "http": {"paths": [_path("binder")]}}
        spec: dict[str, Any] = {"rules": [rule]}
        if class_name:
            spec["ingressClassName"] = class_name
        net.create_namespaced_ingress(alpha_ns, {"metadata": {"name": name}, "spec": spec})
    # The API server gave it no class: there is no default one.
    assert net.read_namespaced_ingress("classless", alpha_ns).spec.ingress_class_name is None

    def served() -> dict[str, Any] | None:
        state = json.loads((sandbox.dir / "dataplane.json").read_text())
        scoped = state["traefik"].get("scoped") or {}
        balancers = state.get("load_balancers") or {}
        ports = {
            m: (balancers.get(f"{ns}/cluster-entrypoint") or {}).get("ports", {}).get("443")
            for m, ns in namespaces.items()
        }
        if all(s.get("started") for s in scoped.values()) and len(scoped) == 2 and all(ports.values()):
            return {"scoped": scoped, "ports": ports}
        return None

    found = wait_for("both members' traefiks serving", served, timeout=90)
    scoped, ports = found["scoped"], found["ports"]
    assert ports["alpha"] != ports["beta"]
    # Each traefik's Ingress provider reads its own namespace only (the real traefik's configuration).
    for ns in namespaces.values():
        static = yaml.safe_load(Path(scoped[f"{ns}/traefik"]["static_config"]).read_text())
        assert static["providers"]["kubernetesIngress"]["namespaces"] == [ns]
    wait_for(
        "alpha's traefik routing the control Ingress",
        lambda: _status(ports["alpha"], "control.local.test") != 404,
    )

    # Each member's hosts through its own entrypoint (a route: anything but traefik's 404), never
    # through the other's; the class-less Ingress through neither.
    assert _status(ports["alpha"], "binder.local.test") != 404
    assert _status(ports["alpha"], beta_hosts["binderhub"]) == 404
    assert _status(ports["beta"], beta_hosts["binderhub"]) != 404
    assert _status(ports["beta"], "binder.local.test") == 404
    assert _status(ports["beta"], "control.local.test") == 404
    assert [_status(ports[m], "classless.local.test") for m in members] == [404, 404]

    # beta drops a component: only beta's Ingress goes, alpha's stay.
    del members["beta"]["binder_ingresses_components"]["grafana"]
    before = {m: ingresses(sandbox, ns) for m, ns in namespaces.items()}
    third = sandbox.playbook(REPO / "site.yml", inventory=member_inventory(tmp_path / "pruned", members))
    assert [ok(third, m)["changed"] for m in members] == [0, 1]
    assert [(e["method"], e["path"]) for e in third.writes()] == [
        ("DELETE", f"/apis/networking.k8s.io/v1/namespaces/{namespaces['beta']}/ingresses/grafana")
    ]
    assert set(ingresses(sandbox, namespaces["beta"])) == set(before["beta"]) - {"grafana"}
    assert {n: i.metadata.resource_version for n, i in ingresses(sandbox, namespaces["alpha"]).items()} == {
        n: i.metadata.resource_version for n, i in before["alpha"].items()
    }


def test_prune_deletes_only_what_left_the_inventory(sandbox: Sandbox) -> None:
    # The case under test needs objects that are not the member's in its namespace beforehand.
    namespace = sandbox.create_namespace("prune")
    net = client.NetworkingV1Api(sandbox.api())

    def ingress(name: str, labels: dict[str, str] | None) -> dict[str, Any]:
        rule = {"host": f"{name}.other.test", "http": {"paths": [_path("keep")]}}
        return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"rules": [rule]}}

    # Neither of these is this member's: one unlabelled, one labelled as another member's set.
    net.create_namespaced_ingress(namespace, ingress("hand-made", None))
    other = labels("other-member", SET_INGRESSES)
    net.create_namespaced_ingress(namespace, ingress("other-member", other))

    components = dict(LOCAL_VARS["binder_ingresses_components"])
    components["old-tool"] = {"hosts": ["old.local.test"], "service": {"name": "old-tool", "port": 80}}
    ok(sandbox.converge(namespace, extra_vars={"binder_ingresses_components": components}))
    before = ingresses(sandbox, namespace)
    assert {"old-tool", "redirector-beta-local-test", "hand-made", "other-member"} <= set(before)
    assert REDIRECTOR_SERVICE in services(sandbox, namespace)

    # Remove a component and every redirect: their Ingresses and the redirector Service must go.
    del components["old-tool"]
    del components[REDIRECTOR]
    extra = {"binder_ingresses_components": components}
    check = sandbox.converge(namespace, "--check", "--diff", extra_vars=extra)
    assert ok(check)["changed"] > 0
    assert check.writes() == []
    assert set(ingresses(sandbox, namespace)) == set(before), "check mode deleted something"

    real = sandbox.converge(namespace, extra_vars=extra)
    assert ok(real)["changed"] > 0
    after = ingresses(sandbox, namespace)
    gone = {"old-tool", "redirector-beta-local-test", "redirector-status-local-test"}
    assert set(after) == set(before) - gone
    assert REDIRECTOR_SERVICE not in services(sandbox, namespace)
    deleted = {e["path"].rsplit("/", 1)[1] for e in real.writes() if e["method"] == "DELETE"}
    assert deleted == gone | {REDIRECTOR_SERVICE}
    # Everything that stayed is the very same object, not even rewritten.
    for name, obj in after.items():
        assert obj.metadata.uid == before[name].metadata.uid, name
        assert obj.metadata.resource_version == before[name].metadata.resource_version, name


def _path(service: str) -> dict[str, Any]:
    return {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": {"number": 80}}},
    }


def test_entrypoint_migration_patches_the_service_in_place(sandbox: Sandbox) -> None:
    namespace = sandbox.new_namespace("migrate")
    core = client.CoreV1Api(sandbox.api())

    ok(sandbox.converge(namespace, extra_vars={"cluster_entrypoint_target": "ingress-nginx"}))
    nginx = core.read_namespaced_service("cluster-entrypoint", namespace)
    assert nginx.spec.selector.get("app.kubernetes.io/name") == "ingress-nginx"

    moved = sandbox.converge(namespace)
    assert ok(moved)["changed"] > 0
    traefik = core.read_namespaced_service("cluster-entrypoint", namespace)
    assert traefik.metadata.uid == nginx.metadata.uid
    assert traefik.spec.cluster_ip == nginx.spec.cluster_ip
    assert traefik.spec.selector == {
        "app.kubernetes.io/name": "traefik",
        "app.kubernetes.io/instance": f"traefik-{namespace}",
    }
    assert [p.target_port for p in traefik.spec.ports] == ["web", "websecure"]
    entrypoint = f"/api/v1/namespaces/{namespace}/services/cluster-entrypoint"
    assert [e["method"] for e in moved.writes() if e["path"] == entrypoint] == ["PATCH"]


def test_a_failing_member_leaves_the_other_converged(sandbox: Sandbox, tmp_path: Path) -> None:
    good_ns = sandbox.new_namespace("good")
    # The broken member's API server is gone: its kubeconfig points at a closed port.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    broken_config = yaml.safe_load(sandbox.kubeconfig.read_text())
    for cluster in broken_config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{closed_port}"
    broken_kubeconfig = tmp_path / "broken-kubeconfig"
    broken_kubeconfig.write_text(yaml.safe_dump(broken_config))

    inventory = member_inventory(
        tmp_path,
        {
            "good": {"binder_kubeconfig": str(sandbox.kubeconfig), "binder_namespace": good_ns},
            "broken": {"binder_kubeconfig": str(broken_kubeconfig), "binder_namespace": "broken"},
        },
    )

    run = sandbox.playbook(REPO / "site.yml", inventory=inventory)

    assert run.rc != 0
    assert run.recap["broken"]["failed"] == 1, run.output[-4000:]
    # It fails at its first request, the read of its lock, naming itself, once the retries are spent.
    fatal = next(line for line in run.output.splitlines() if line.startswith("fatal: [broken]"))
    assert "lock of member broken: " in run.output, run.output[-4000:]
    assert "no answer from the API server" in run.output and "Connection refused" in run.output, fatal
    assert run.recap["good"]["failed"] == 0, run.output[-4000:]
    assert run.recap["good"]["changed"] > 0
    assert len(ingresses(sandbox, good_ns, SET_LABELS.replace("member=local", "member=good"))) == 11


def test_k3s_member_fails_before_any_write_when_a_load_balancer_holds_its_ports(sandbox: Sandbox) -> None:
    namespace = sandbox.new_namespace("k3s")
    leftovers = sandbox.create_namespace("k3s-leftover")
    core = client.CoreV1Api(sandbox.api())
    # What a k3s node keeps if its bundled traefik was not disabled.
    core.create_namespaced_service(
        leftovers,
        {
            "metadata": {"name": "traefik"},
            "spec": {
                "type": "LoadBalancer",
                "selector": {"app": "traefik"},
                "ports": [{"name": "web", "port": 80}, {"name": "websecure", "port": 443}],
            },
        },
    )
    try:
        run = sandbox.converge(namespace, extra_vars={"binder_k3s": True})
        assert run.rc != 0
        assert run.recap["local"]["failed"] == 1
        message = " ".join(run.output.split())  # the callback wraps long messages
        assert f"already held by {leftovers}/traefik (port 80, 443)." in message
        assert "member local: binder_k3s:" in message
        assert run.writes() == [] and run.dry_run_writes() == []
        assert services(sandbox, namespace) == {}
    finally:
        core.delete_namespaced_service("traefik", leftovers)

    # Without the leftover, the same k3s member converges.
    ok(sandbox.converge(namespace, extra_vars={"binder_k3s": True}))
    assert "cluster-entrypoint" in services(sandbox, namespace)
