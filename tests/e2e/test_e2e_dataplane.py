"""The sandbox's stand-ins follow the API like the controllers they replace.

Objects here live in a scratch namespace of the session's sandbox, apart from the member.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from e2e_member import Member

from sandbox.dataplane.probe import probe

NS = "e2e-scratch"


def _wait(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _get(member: Member, *args: str) -> dict[str, Any] | None:
    out = member.sandbox.kubectl("get", "-n", NS, *args, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


@pytest.fixture(scope="module")
def scratch(member: Member) -> Iterator[Member]:
    member.sandbox.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}])
    yield member
    member.sandbox.kubectl("delete", "namespace", NS, "--wait=false")


def test_a_service_gets_endpoints_and_loses_them_when_deleted(scratch: Member) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "scratch", "namespace": NS},
        "spec": {"selector": {"app": "scratch"}, "ports": [{"name": "web", "port": 8080, "targetPort": 80}]},
    }
    scratch.sandbox.apply([service], field_manager="e2e")
    slices = _wait(
        "the EndpointSlice",
        lambda: (_get(scratch, "endpointslices", "-l", "kubernetes.io/service-name=scratch") or {}).get(
            "items"
        ),
    )
    (eps,) = slices
    local_port = eps["ports"][0]["port"]
    assert eps["ports"][0]["name"] == "web"
    assert eps["endpoints"][0]["addresses"] == ["127.0.0.1"]
    endpoints = _wait("the Endpoints", lambda: _get(scratch, "endpoints", "scratch"))
    assert endpoints["subsets"][0]["ports"][0]["port"] == local_port
    assert scratch.sandbox.dataplane()["backends"][f"{NS}/scratch"] == {"web": local_port}

    scratch.sandbox.kubectl("delete", "-n", NS, "service", "scratch")
    _wait(
        "the EndpointSlice to go",
        lambda: (
            not (_get(scratch, "endpointslices", "-l", "kubernetes.io/service-name=scratch") or {}).get(
                "items"
            )
        ),
    )
    _wait("the Endpoints to go", lambda: _get(scratch, "endpoints", "scratch") is None)
    _wait("the backend to go", lambda: f"{NS}/scratch" not in scratch.sandbox.dataplane()["backends"])


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
    _wait("the first certificate", lambda: _sans(scratch, "tls-scratch") == ["one.scratch.test"])
    scratch.sandbox.apply([_ingress(["one.scratch.test", "two.scratch.test"])], field_manager="e2e")
    _wait(
        "the reissued certificate",
        lambda: _sans(scratch, "tls-scratch") == ["one.scratch.test", "two.scratch.test"],
    )
    result = _wait(
        "traefik to serve the new certificate",
        lambda: (
            r
            if (r := probe("two.scratch.test", "/", scratch.websecure, scratch.sandbox.ca_file)).cert
            and "two.scratch.test" in r.cert.sans
            else None
        ),
    )
    assert result.error is None
    scratch.sandbox.kubectl("delete", "-n", NS, "secret", "tls-scratch")
    _wait("the deleted Secret to be issued again", lambda: _sans(scratch, "tls-scratch") is not None)
