"""Helm release Secrets as Helm writes them, for the data plane's unit tests."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any


def make_helm_secret(
    name: str = "traefik",
    namespace: str = "binder",
    revision: int = 1,
    status: str = "deployed",
    *,
    chart: str = "traefik",
    defaults: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    manifest: str = "",
    compress: bool = True,
    uid: str | None = None,
    resource_version: str = "1",
) -> dict[str, Any]:
    """A release Secret as Helm v3's Secret driver writes it, read back as JSON from the API.

    `data.release` in the API is base64 (the Secret's encoding) of Helm's string, which is
    base64 of gzip of the release JSON.
    """
    release = {
        "name": name,
        "namespace": namespace,
        "version": revision,
        "info": {"status": status},
        "chart": {"metadata": {"name": chart, "version": "41.3.0"}, "values": defaults or {}},
        "config": config or {},
        "manifest": manifest,
    }
    blob = json.dumps(release).encode()
    if compress:
        blob = gzip.compress(blob)
    helm_string = base64.b64encode(blob)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {
            "name": f"sh.helm.release.v1.{name}.v{revision}",
            "namespace": namespace,
            "uid": uid or f"uid-{namespace}-{name}-{revision}",
            "resourceVersion": resource_version,
            "labels": {"owner": "helm", "name": name, "status": status, "version": str(revision)},
        },
        "data": {"release": base64.b64encode(helm_string).decode()},
    }
