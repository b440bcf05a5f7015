"""The data plane process: ready (dataplane.json) before any traefik release exists."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from sandbox.dataplane.main import DataPlane, main
from sandbox.dataplane.traefik_process import free_port


def _state_dir(tmp_path: Path, api_url: str | None = None) -> trustme.CA:
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    authority.private_key_pem.write_to_path(str(tmp_path / "ca.key"))
    (tmp_path / "dataplane-token").write_text("t")
    # Nothing listens there unless a test serves it: reaching the API would be a bug.
    url = api_url or f"https://127.0.0.1:{free_port()}"
    (tmp_path / "state.json").write_text(json.dumps({"api_url": url, "apiserver_url": url}))
    return authority


def test_the_values_file_option_is_gone(tmp_path: Path) -> None:
    """traefik's values come from the Helm release in the cluster, nowhere else."""
    _state_dir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["--dir", str(tmp_path), "--traefik-values", str(tmp_path / "values.yaml")])
    assert exited.value.code == 2


async def _run_against_empty_cluster(tmp_path: Path) -> tuple[dict[str, Any], list[tuple[str, str]], bool]:
    """A fake kube-apiserver with nothing in it; the data plane runs until dataplane.json appears."""
    authority = trustme.CA()
    requests: list[tuple[str, str]] = []
    done = asyncio.Event()

    async def version(_: web.Request) -> web.Response:
        return web.json_response({"gitVersion": "v1.34.4"})

    async def collection(request: web.Request) -> web.StreamResponse:
        requests.append((request.path, request.query.get("labelSelector", "")))
        assert request.headers.get("Authorization") == "Bearer t"
        if request.query.get("watch") == "true":
            response = web.StreamResponse()
            await response.prepare(request)
            await done.wait()  # a watch with no events, until the test ends
            return response
        return web.json_response({"items": [], "metadata": {"resourceVersion": "7"}})

    app = web.Application()
    app.router.add_get("/version", version)
    app.router.add_get("/{tail:.*}", collection)
    runner = web.AppRunner(app)
    await runner.setup()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_context).start()
    _state_dir(tmp_path, f"https://127.0.0.1:{port}")
    authority.cert_pem.write_to_path(str(tmp_path / "ca.crt"))  # the API's CA, as the sandbox has
    try:
        plane = DataPlane(tmp_path)
        task = asyncio.create_task(plane.run())
        ready = tmp_path / "dataplane.json"
        for _ in range(100):
            if ready.exists() or task.done():
                break
            await asyncio.sleep(0.05)
        state: dict[str, Any] = json.loads(ready.read_text())
        plane.stopping.set()
        await asyncio.wait_for(task, 10)
        return state, requests, ready.exists()
    finally:
        done.set()
        await runner.cleanup()


def test_dataplane_json_is_written_while_no_traefik_release_exists(tmp_path: Path) -> None:
    state, requests, left_behind = asyncio.run(_run_against_empty_cluster(tmp_path))
    traefik = state["traefik"]
    assert (traefik["started"], traefik["release"], traefik["revision"], traefik["pid"]) == (
        False,
        None,
        None,
        None,
    )
    # The entrypoint ports are reserved from the start, so `up` can report them.
    assert {"web", "websecure", "traefik", "metrics"} <= set(traefik["entrypoints"])
    assert traefik["websecure"] == traefik["entrypoints"]["websecure"]
    assert (state["load_balancers"], state["backends"]) == ({}, {})
    # Release Secrets are listed by Helm's label, every namespace.
    assert ("/api/v1/secrets", "owner=helm") in requests
    assert {path for path, _ in requests} >= {
        "/api/v1/services",
        "/api/v1/pods",
        "/apis/networking.k8s.io/v1/ingresses",
        "/apis/networking.k8s.io/v1/ingressclasses",
    }
    assert not left_behind, "dataplane.json was not removed on stop"
