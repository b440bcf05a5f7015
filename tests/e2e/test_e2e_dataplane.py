"""The local cluster's data plane follows the API like what it plays: kube-proxy and the
member's workloads (stand-in backends on Service ClusterIPs), the cloud's load balancer, and
cert-manager (stand-in certificates).

Scratch objects live in a namespace of their own in the session's cluster, apart from the member.
"""

from __future__ import annotations

import base64
import http.client
import json
import stat
from collections.abc import Iterator
from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.module_utils.constants import LABEL_MANAGED_BY
from ansible_collections.binder.ingress.plugins.module_utils.constants import MANAGED_BY as MANAGED_BY_VALUE
from cryptography import x509
from harness import Member, local_member, probe, wait_for

from sandbox import audit

NS = "e2e-scratch"
MEMBER_NS = local_member()["binder_namespace"]
MANAGED_BY = f"{LABEL_MANAGED_BY}={MANAGED_BY_VALUE}"


def _get(member: Member, *args: str, namespace: str = NS) -> dict[str, Any] | None:
    out = member.sandbox.kubectl("get", "-n", namespace, *args, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


def _http_get(address: str, port: int, path: str, host: str) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection(address, port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _lb_ips(service: dict[str, Any]) -> list[str]:
    return [
        i.get("ip") for i in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ]


@pytest.fixture(scope="module")
def scratch(member: Member) -> Iterator[Member]:
    member.sandbox.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}])
    yield member
    member.sandbox.kubectl("delete", "namespace", NS, "--wait=false")


def test_a_service_gets_a_backend_on_its_cluster_ip_and_loses_it_when_deleted(scratch: Member) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "scratch", "namespace": NS},
        "spec": {"selector": {"app": "scratch"}, "ports": [{"name": "web", "port": 8080, "targetPort": 80}]},
    }
    scratch.sandbox.apply([service], field_manager="e2e")
    cluster_ip = (_get(scratch, "service", "scratch") or {})["spec"]["clusterIP"]
    backend = wait_for("the backend", lambda: scratch.sandbox.dataplane()["backends"].get(f"{NS}/scratch"))
    assert backend == {"web": f"{cluster_ip}:8080"}
    # As kube-proxy makes the ClusterIP reach a pod: the Service's own address and port answer.
    status, body = _http_get(cluster_ip, 8080, "/e2e/path", "scratch.test")
    assert status == 200
    assert (body["service"], body["namespace"], body["port"], body["port_name"]) == (
        "scratch",
        NS,
        8080,
        "web",
    )
    assert (body["host"], body["path"]) == ("scratch.test", "/e2e/path")

    scratch.sandbox.kubectl("delete", "-n", NS, "service", "scratch")
    wait_for("the backend to go", lambda: f"{NS}/scratch" not in scratch.sandbox.dataplane()["backends"])
    with pytest.raises(ConnectionRefusedError):
        _http_get(cluster_ip, 8080, "/", "scratch.test")


def test_the_entrypoint_selects_traefiks_pods_so_it_gets_no_stand_in(member: Member) -> None:
    # The entrypoint's selector (the collection's) matches the pods of the traefik chart's
    # Deployment (kwok runs them): the data plane leaves it to them, as it would any workload.
    entrypoint = _get(member, "service", "cluster-entrypoint", namespace=MEMBER_NS)
    assert entrypoint is not None
    selector = ",".join(f"{k}={v}" for k, v in entrypoint["spec"]["selector"].items())
    pods = (_get(member, "pods", "-l", selector, namespace=MEMBER_NS) or {})["items"]
    assert pods, f"no pod matches the entrypoint's selector {selector}"
    assert all(p["status"]["phase"] == "Running" for p in pods), [p["status"] for p in pods]
    assert f"{MEMBER_NS}/cluster-entrypoint" not in member.sandbox.dataplane()["backends"]


def test_the_entrypoint_gets_the_load_balancer_address_and_leads_to_traefik(member: Member) -> None:
    entrypoint = _get(member, "service", "cluster-entrypoint", namespace=MEMBER_NS)
    assert entrypoint is not None
    assert _lb_ips(entrypoint) == ["127.0.0.1"]
    traefik = member.sandbox.dataplane()["traefik"]
    # Its 443 and 80 lead to the entrypoints their targetPorts name (websecure, web).
    assert member.sandbox.dataplane()["load_balancers"][f"{MEMBER_NS}/cluster-entrypoint"] == {
        "ip": "127.0.0.1",
        "ports": {"443": traefik["websecure"], "80": traefik["web"]},
    }


def test_every_member_ingress_shows_the_entrypoint_address(member: Member) -> None:
    # traefik publishes the address of the Service publishedService names (the traefik role
    # points it at the cluster entrypoint): the ADDRESS column of `kubectl get ingress`.
    def addresses() -> dict[str, list[str]] | None:
        ingresses = (_get(member, "ingresses", "-l", MANAGED_BY, namespace=MEMBER_NS) or {})["items"]
        found = {i["metadata"]["name"]: _lb_ips(i) for i in ingresses}
        return found if all(ips == ["127.0.0.1"] for ips in found.values()) else None

    found = wait_for("every Ingress to show 127.0.0.1", addresses)
    assert sorted(found) == sorted(o["metadata"]["name"] for o in member.objects)


def test_a_load_balancer_service_gets_an_address_and_loses_it_when_it_stops_being_one(
    scratch: Member,
) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "scratch-lb", "namespace": NS},
        "spec": {"type": "LoadBalancer", "selector": {"app": "scratch-lb"}, "ports": [{"port": 8443}]},
    }
    scratch.sandbox.apply([service], field_manager="e2e")
    wait_for("the address", lambda: _lb_ips(_get(scratch, "service", "scratch-lb") or {}) == ["127.0.0.1"])
    # It selects no traefik pod: its port leads nowhere, and the member's entrypoint is unchanged.
    balancers = scratch.sandbox.dataplane()["load_balancers"]
    assert balancers[f"{NS}/scratch-lb"] == {"ip": "127.0.0.1", "ports": {"8443": None}}
    assert scratch.sandbox.entrypoint() == scratch.entrypoint

    scratch.sandbox.kubectl(
        "patch", "-n", NS, "service", "scratch-lb", "--type=merge", "-p", '{"spec": {"type": "ClusterIP"}}'
    )
    wait_for("the address to go", lambda: _lb_ips(_get(scratch, "service", "scratch-lb") or {}) == [])
    wait_for(
        "the load balancer to go",
        lambda: f"{NS}/scratch-lb" not in scratch.sandbox.dataplane()["load_balancers"],
    )


def _sans(member: Member, secret: str) -> list[str] | None:
    obj = _get(member, "secret", secret)
    if obj is None:
        return None
    cert = x509.load_pem_x509_certificate(base64.b64decode(obj["data"]["tls.crt"]))
    names: list[str] = cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    return names


def _ingress(hosts: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "scratch",
            "namespace": NS,
            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt-staging"},
        },
        "spec": {
            "ingressClassName": "traefik",
            "tls": [{"hosts": hosts, "secretName": "tls-scratch"}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "absent", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
                for host in hosts
            ],
        },
    }


def test_the_certificate_follows_the_ingress_hosts(scratch: Member) -> None:
    scratch.sandbox.apply([_ingress(["one.scratch.test"])], field_manager="e2e")
    wait_for("the first certificate", lambda: _sans(scratch, "tls-scratch") == ["one.scratch.test"])
    scratch.sandbox.apply([_ingress(["one.scratch.test", "two.scratch.test"])], field_manager="e2e")
    wait_for(
        "the reissued certificate",
        lambda: _sans(scratch, "tls-scratch") == ["one.scratch.test", "two.scratch.test"],
    )
    result = wait_for(
        "traefik to serve the new certificate",
        lambda: (
            r
            if (r := probe("two.scratch.test", "/", scratch.websecure, scratch.sandbox.ca_file)).cert
            and "two.scratch.test" in r.cert.sans
            else None
        ),
    )
    assert result.error == ""
    scratch.sandbox.kubectl("delete", "-n", NS, "secret", "tls-scratch")
    wait_for("the deleted Secret to be issued again", lambda: _sans(scratch, "tls-scratch") is not None)


def test_the_data_plane_writes_as_a_user_of_its_own(member: Member) -> None:
    # Its controllers (load balancer, certificate stand-in, traefik) write while a playbook runs: the
    # audit log must tell their requests from the user's, or a "zero writes" check would see them.
    directory = member.sandbox.dir
    assert stat.S_IMODE((directory / "dataplane-token").stat().st_mode) == 0o600
    assert (directory / "dataplane-token").read_text() != (directory / "token").read_text()
    records = audit.read(directory / "audit.jsonl")
    writers = {e["user"] for e in records if audit.is_write(e) and "aiohttp" in e["userAgent"]}
    assert writers == {"sandbox-dataplane"}, writers
