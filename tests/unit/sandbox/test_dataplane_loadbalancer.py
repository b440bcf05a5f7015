"""The load-balancer controller: which Services get the address, and where their ports lead."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.dataplane.loadbalancer import port_map, status_patch


def _service(spec: dict[str, Any], ingress: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    status = {"loadBalancer": {"ingress": ingress}} if ingress is not None else {"loadBalancer": {}}
    return {"metadata": {"name": "cluster-entrypoint", "namespace": "binder"}, "spec": spec, "status": status}


SET = {"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}}
CLEAR = {"status": {"loadBalancer": {"ingress": None}}}


@pytest.mark.parametrize(
    ("spec", "ingress", "patch"),
    [
        pytest.param({"type": "LoadBalancer"}, None, SET, id="a new LoadBalancer gets the address"),
        pytest.param(
            {"type": "LoadBalancer"}, [{"ip": "127.0.0.1", "ipMode": "VIP"}], None, id="already set"
        ),
        pytest.param(
            {"type": "LoadBalancer"}, [{"ip": "203.0.113.9"}], SET, id="another address is replaced"
        ),
        pytest.param(
            {"type": "LoadBalancer", "loadBalancerClass": "example.org/lb"},
            None,
            None,
            id="another implementation's class: left alone",
        ),
        pytest.param({"type": "ClusterIP"}, None, None, id="not a LoadBalancer"),
        pytest.param(
            {"type": "ClusterIP"}, [{"ip": "127.0.0.1"}], CLEAR, id="no longer a LoadBalancer: cleared"
        ),
        pytest.param({"type": "NodePort"}, [{"ip": "127.0.0.1"}], CLEAR, id="now a NodePort: cleared"),
    ],
)
def test_status_patch(spec: dict[str, Any], ingress: list[dict[str, Any]] | None, patch: Any) -> None:
    assert status_patch(_service(spec, ingress)) == patch


ENTRYPOINTS = {"web": 41000, "websecure": 41001, "traefik": 41002, "metrics": 41003}
CONTAINER_PORTS = {"web": 80, "websecure": 443, "metrics": 9100}


@pytest.mark.parametrize(
    ("ports", "selects", "expected"),
    [
        pytest.param(
            [{"port": 80, "targetPort": "web"}, {"port": 443, "targetPort": "websecure"}],
            True,
            {"80": 41000, "443": 41001},
            id="named target ports: the entrypoints",
        ),
        pytest.param(
            [{"port": 8443, "targetPort": 443}, {"port": 9100}],
            True,
            {"8443": 41001, "9100": 41003},
            id="numbered target ports (or none): the entrypoint with that container port",
        ),
        pytest.param(
            [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8081}],
            True,
            {"80": None, "81": None},
            id="a port no entrypoint has",
        ),
        pytest.param(
            [{"port": 80, "targetPort": "web"}],
            False,
            {"80": None},
            id="a Service that does not select traefik's pods",
        ),
    ],
)
def test_port_map(ports: list[dict[str, Any]], selects: bool, expected: dict[str, int | None]) -> None:
    service = _service({"type": "LoadBalancer", "ports": ports})
    assert port_map(service, selects, ENTRYPOINTS, CONTAINER_PORTS) == expected
