"""The stand-in backends and the EndpointSlices published for them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from sandbox.dataplane.backends import BackendPort, BackendServer, endpoint_slice, endpoints_object

SERVICE: dict[str, Any] = {
    "metadata": {"name": "proxy-public", "namespace": "binder", "uid": "u-1"},
    "spec": {
        "selector": {"app": "jupyterhub"},
        "ports": [{"name": "http", "port": 80, "targetPort": 8000}, {"name": "https", "port": 443}],
    },
}


def test_endpoint_slice_points_at_the_local_listeners() -> None:
    local = {
        BackendPort("binder", "proxy-public", 80, "http"): 40001,
        BackendPort("binder", "proxy-public", 443, "https"): 40002,
    }
    slice_ = endpoint_slice(SERVICE, local)
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "proxy-public"
    assert slice_["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert slice_["addressType"] == "IPv4"
    assert slice_["endpoints"] == [
        {"addresses": ["127.0.0.1"], "conditions": {"ready": True, "serving": True, "terminating": False}}
    ]
    assert slice_["ports"] == [
        {"name": "http", "port": 40001, "protocol": "TCP"},
        {"name": "https", "port": 40002, "protocol": "TCP"},
    ]
    endpoints = endpoints_object(SERVICE, local)
    assert endpoints["metadata"]["name"] == "proxy-public"
    assert endpoints["subsets"][0]["ports"][0] == {"name": "http", "port": 40001, "protocol": "TCP"}


async def _exercise() -> list[tuple[int, dict[str, Any]]]:
    server = BackendServer()
    await server.start()
    try:
        port = await server.ensure(BackendPort("binder", "binder", 80, ""))
        other = await server.ensure(BackendPort("binder", "echo", 8080, "web"))
        assert port != other
        assert await server.ensure(BackendPort("binder", "binder", 80, "")) == port
        results = []
        async with aiohttp.ClientSession() as session:
            for url, headers, body in (
                (f"http://127.0.0.1:{port}/a/b?x=1", {"Host": "binder.test"}, b"x" * 3_000_000),
                (f"http://127.0.0.1:{other}/", {"X-Sandbox-Fail": "503"}, b""),
                (f"http://127.0.0.1:{other}/slow", {"X-Sandbox-Delay": "0.3"}, b""),
            ):
                started = asyncio.get_running_loop().time()
                async with session.post(url, headers=headers, data=body) as response:
                    data = json.loads(await response.text())
                    data["elapsed"] = asyncio.get_running_loop().time() - started
                    results.append((response.status, data))
        await server.remove(BackendPort("binder", "echo", 8080, "web"))
        with pytest.raises(aiohttp.ClientConnectorError):
            async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{other}/"):
                pass
        return results
    finally:
        await server.stop()


def test_backend_answers_name_where_the_request_landed() -> None:
    big, failed, slow = asyncio.run(_exercise())
    status, body = big
    assert status == 200
    assert {
        k: body[k] for k in ("service", "namespace", "port", "host", "path", "query", "method", "body_bytes")
    } == {
        "service": "binder",
        "namespace": "binder",
        "port": 80,
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
