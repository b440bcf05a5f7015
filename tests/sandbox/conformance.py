"""Helpers shared by the conformance tests: the cluster handle, raw requests, waiting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KUBECTL = str(BIN / "kubectl")
REAL_KUBECONFIG = os.environ.get("SANDBOX_CONFORMANCE_KUBECONFIG")
# The ConfigMap kube-controller-manager puts into every namespace.
ROOT_CA = "kube-root-ca.crt"


def own(names: Any) -> list[str]:
    """`names` without the cluster's own ConfigMap, in order."""
    return [name for name in names if name != ROOT_CA]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Cluster:
    kubeconfig: str
    sandbox_dir: Path | None
    api: client.ApiClient

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_dir is not None

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KUBECONFIG": self.kubeconfig,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        }

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [KUBECTL, *args], input=stdin, capture_output=True, text=True, env=self.env(), timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> Response:
        """A raw API request through the kubernetes client's transport (auth and TLS from the kubeconfig)."""
        url = self.api.configuration.host + path
        headers = {"Accept": "application/json", "Content-Type": content_type}
        self.api.update_params_for_auth(headers, [], ["BearerToken"], path, method, body)
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        if isinstance(body, str):
            body = body.encode()
        # urllib3 directly: the generated client would re-encode bodies by content type.
        raw = self.api.rest_client.pool_manager.request(
            method, url, body=body, headers=headers, preload_content=True, redirect=False, retries=False
        )
        status, data, hdrs = raw.status, raw.data, raw.headers
        text = data.decode() if isinstance(data, bytes) else (data or "")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Response(int(status), parsed, {k.lower(): v for k, v in dict(hdrs).items()})


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body
