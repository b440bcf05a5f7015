"""The stand-in backends: which Services get one, and where they listen (the Service's ClusterIP)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import aiohttp
import pytest

from sandbox.dataplane.backends import BackendPort, BackendServer, _service_ports, wants_backend

SERVICE: dict[str, Any] = {
    "metadata": {"name": "proxy-public", "namespace": "binder", "uid": "u-1"},
    "spec": {
        "selector": {"app": "jupyterhub"},
        "ports": [{"name": "http", "port": 80, "targetPort": 8000}, {"name": "https", "port": 443}],
    },
}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"clusterIP": "127.96.0.9", **SERVICE["spec"]},
            [("127.96.0.9", 80, "http"), ("127.96.0.9", 443, "https")],
            id="every TCP port on the ClusterIP",
        ),
        pytest.param(
            {"clusterIP": "127.96.0.9", "ports": [{"port": 53, "protocol": "UDP"}, {"port": 8080}]},
            [("127.96.0.9", 8080, "")],
            id="UDP left out",
        ),
        pytest.param({"clusterIP": "None", **SERVICE["spec"]}, [], id="headless: nothing to serve"),
        pytest.param(dict(SERVICE["spec"]), [], id="no ClusterIP yet"),
    ],
)
def test_backends_listen_on_the_cluster_ip_and_service_port(
    spec: dict[str, Any], expected: list[tuple[str, int, str]]
) -> None:
    ports = _service_ports({"metadata": SERVICE["metadata"], "spec": spec})
    assert [(p.address, p.port, p.port_name) for p in ports] == expected


def _pod(namespace: str, labels: dict[str, str], phase: str = "Running") -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": "p", "labels": labels}, "status": {"phase": phase}}


@pytest.mark.parametrize(
    ("service_spec", "pods", "wanted"),
    [
        pytest.param({"selector": {"app": "jupyterhub"}}, [], True, id="selector, no pods"),
        pytest.param(
            {"selector": {"app": "jupyterhub"}},
            [_pod("binder", {"app": "jupyterhub", "component": "proxy"})],
            False,
            id="a pod matches: the real controller's",
        ),
        pytest.param(
            {"selector": {"app": "jupyterhub"}},
            [_pod("other", {"app": "jupyterhub"})],
            True,
            id="a matching pod in another namespace",
        ),
        pytest.param(
            {"selector": {"app": "jupyterhub", "component": "proxy"}},
            [_pod("binder", {"app": "jupyterhub"})],
            True,
            id="a pod with only part of the labels",
        ),
        pytest.param(
            {"selector": {"app": "jupyterhub"}},
            [
                _pod("binder", {"app": "jupyterhub"}, phase="Succeeded"),
                _pod("binder", {"app": "jupyterhub"}, "Failed"),
            ],
            True,
            id="only terminal pods match",
        ),
        pytest.param(
            {"selector": {"app": "jupyterhub"}},
            [_pod("binder", {"app": "jupyterhub"}, phase="Pending")],
            False,
            id="a pending pod matches",
        ),
        pytest.param({}, [], False, id="no selector: endpoints are the user's"),
        pytest.param(
            {"type": "ExternalName", "externalName": "example.org", "selector": {"app": "x"}},
            [],
            False,
            id="ExternalName",
        ),
    ],
)
def test_a_backend_only_for_a_selector_that_matches_no_pod(
    service_spec: dict[str, Any], pods: list[dict[str, Any]], wanted: bool
) -> None:
    service = {"metadata": {"name": "proxy-public", "namespace": "binder"}, "spec": service_spec}
    cache = {(pod["metadata"]["namespace"], f"pod-{i}"): pod for i, pod in enumerate(pods)}
    assert wants_backend(service, cache) is wanted


async def _exercise() -> list[tuple[int, dict[str, Any]]]:
    server = BackendServer()
    await server.start()
    # Two Services on one port number, told apart by their ClusterIPs (free ports: no root needed).
    port = _free_port()
    binder, echo = (
        BackendPort("binder", "binder", port, "", "127.96.0.2"),
        BackendPort("binder", "echo", port, "web", "127.96.0.3"),
    )
    try:
        assert await server.ensure(binder) == port
        assert await server.ensure(echo) == port
        assert await server.ensure(binder) == port
        results = []
        async with aiohttp.ClientSession() as session:
            for url, headers, body in (
                (f"http://127.96.0.2:{port}/a/b?x=1", {"Host": "binder.test"}, b"x" * 3_000_000),
                (f"http://127.96.0.3:{port}/", {"X-Sandbox-Fail": "503"}, b""),
                (f"http://127.96.0.3:{port}/slow", {"X-Sandbox-Delay": "0.3"}, b""),
            ):
                started = asyncio.get_running_loop().time()
                async with session.post(url, headers=headers, data=body) as response:
                    data = json.loads(await response.text())
                    data["elapsed"] = asyncio.get_running_loop().time() - started
                    results.append((response.status, data))
        await server.remove(echo)
        with pytest.raises(aiohttp.ClientConnectorError):
            async with aiohttp.ClientSession() as session, session.get(f"http://127.96.0.3:{port}/"):
                pass
        return results
    finally:
        await server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.96.0.2", 0))
        port: int = sock.getsockname()[1]
        return port


def port_of(body: dict[str, Any]) -> int:
    return int(body["port"])


def test_backend_answers_name_where_the_request_landed() -> None:
    big, failed, slow = asyncio.run(_exercise())
    status, body = big
    assert status == 200
    assert {
        k: body[k] for k in ("service", "namespace", "port", "host", "path", "query", "method", "body_bytes")
    } == {
        "service": "binder",
        "namespace": "binder",
        "port": port_of(body),
        "host": "binder.test",
        "path": "/a/b",
        "query": "x=1",
        "method": "POST",
        "body_bytes": 3_000_000,
    }
    assert failed[0] == 503
    assert (failed[1]["service"], failed[1]["port_name"]) == ("echo", "web")
    assert slow[0] == 200
    assert slow[1]["elapsed"] >= 0.3


async def _solver_answers() -> list[tuple[int, str]]:
    server = BackendServer()
    await server.start()
    port = _free_port()
    solver = BackendPort("ns", "cm-acme-http-solver-x", port, "http", "127.96.0.4")
    server.solvers[("ns", "cm-acme-http-solver-x")] = ("a.example.org", "TOKEN", "TOKEN.thumbprint")
    try:
        await server.ensure(solver)
        results = []
        async with aiohttp.ClientSession() as session:
            for host, path in (
                ("a.example.org", "/.well-known/acme-challenge/TOKEN"),
                ("a.example.org:80", "/.well-known/acme-challenge/TOKEN"),
                ("b.example.org", "/.well-known/acme-challenge/TOKEN"),
                ("a.example.org", "/.well-known/acme-challenge/OTHER"),
            ):
                async with session.get(f"http://127.96.0.4:{port}{path}", headers={"Host": host}) as response:
                    results.append((response.status, await response.text()))
        return results
    finally:
        await server.stop()


def test_a_solver_backend_answers_only_its_domain_and_token() -> None:
    """As cert-manager's acmesolver: the key authorization for its domain and token, 404 otherwise."""
    assert asyncio.run(_solver_answers()) == [
        (200, "TOKEN.thumbprint"),
        (200, "TOKEN.thumbprint"),
        (404, "not found"),
        (404, "not found"),
    ]
