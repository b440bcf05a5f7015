"""Helpers of the playbook-level tests of site.yml against the sandbox's API server.

One sandbox (API only, no data plane: these tests look at objects, not traffic) serves the
whole session; every test converges its own namespace, so tests do not see each other's
objects. The audit log tells what each run sent to the API.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INVENTORY = REPO / "inventories" / "local"
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.MULTILINE,
)


@dataclass
class Run:
    rc: int
    output: str
    recap: dict[str, dict[str, int]]
    audit: list[dict[str, Any]] = field(default_factory=list)

    def writes(self) -> list[dict[str, Any]]:
        """Requests of this run that changed something stored (dry-run requests change nothing)."""
        return [e for e in self.audit if e["method"] in WRITE_METHODS and not e["dryRun"]]

    def dry_run_writes(self) -> list[dict[str, Any]]:
        return [e for e in self.audit if e["method"] in WRITE_METHODS and e["dryRun"]]


@dataclass
class Sandbox:
    dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def audit_size(self) -> int:
        path = self.dir / "audit.jsonl"
        return path.stat().st_size if path.exists() else 0

    def audit_since(self, offset: int) -> list[dict[str, Any]]:
        with (self.dir / "audit.jsonl").open("rb") as fh:
            fh.seek(offset)
            return [json.loads(line) for line in fh.read().splitlines() if line.strip()]

    def env(self, kubeconfig: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            KUBECONFIG=str(kubeconfig or self.kubeconfig),
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        )
        env.update(extra or {})
        return env

    def playbook(
        self,
        playbook: Path,
        *args: str,
        inventory: Path = INVENTORY,
        extra_vars: dict[str, Any] | None = None,
        kubeconfig: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Run:
        cmd = [str(BIN / "ansible-playbook"), str(playbook), "-i", str(inventory), *args]
        if extra_vars:
            cmd += ["--extra-vars", json.dumps(extra_vars)]
        offset = self.audit_size()
        proc = subprocess.run(
            cmd,
            cwd=REPO,
            env=self.env(kubeconfig, env),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output = proc.stdout + proc.stderr
        recap = {
            m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
            for m in RECAP.finditer(output)
        }
        return Run(proc.returncode, output, recap, self.audit_since(offset))

    def converge(self, namespace: str, *args: str, **kwargs: Any) -> Run:
        """site.yml on one member, in its own namespace, with the Helm releases skipped (no helm here)."""
        extra = {"binder_namespace": namespace, "binder_helm_enabled": False}
        extra.update(kwargs.pop("extra_vars", None) or {})
        return self.playbook(REPO / "site.yml", *args, extra_vars=extra, **kwargs)

    def api(self) -> Any:
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig), context="sandbox")

    def create_namespace(self, prefix: str) -> str:
        """A fresh namespace, as the member's BinderHub deployment would have made."""
        from kubernetes import client

        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        client.CoreV1Api(self.api()).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
        )
        return name
