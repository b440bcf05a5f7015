"""Helpers of the playbook-level tests of site.yml against the local cluster.

Each test gets a fresh local cluster (real kube-apiserver, no data plane: these tests look at
objects and Helm releases, not traffic), as a new member's cluster is. kube-apiserver's audit
log tells what each run sent to the API: only the kubeconfig user's requests are counted,
since the controllers write all the time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sandbox import audit

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INVENTORY = REPO / "inventories" / "local"
LOCAL_VARS: dict[str, Any] = yaml.safe_load((INVENTORY / "host_vars" / "local.yml").read_text())
CHARTS = REPO / "tests" / "charts"
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
        return [e for e in self.audit if audit.is_write(e)]

    def dry_run_writes(self) -> list[dict[str, Any]]:
        return [e for e in self.audit if e["method"] in audit.WRITE_METHODS and e["dryRun"]]


@dataclass
class Sandbox:
    dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def audit_size(self) -> int:
        return audit.size(self.dir / "audit.jsonl")

    def audit_since(self, offset: int) -> list[dict[str, Any]]:
        """The kubeconfig user's requests since `offset` (what the playbooks sent)."""
        return audit.read(self.dir / "audit.jsonl", offset, user="sandbox")

    @property
    def engines_bin(self) -> str:
        return str(json.loads((self.dir / "state.json").read_text())["engines_bin"])

    def env(self, kubeconfig: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            KUBECONFIG=str(kubeconfig or self.kubeconfig),
            # kubernetes.core.helm runs the helm built with the engines.
            PATH=os.pathsep.join([str(BIN), self.engines_bin, env.get("PATH", "")]),
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
        # kube-apiserver writes an audit event once the response is complete, which can be a
        # moment after the client read it: let the run's last requests land in the log.
        time.sleep(0.5)
        recap = {
            m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
            for m in RECAP.finditer(output)
        }
        return Run(proc.returncode, output, recap, self.audit_since(offset))

    def converge(self, namespace: str, *args: str, **kwargs: Any) -> Run:
        """site.yml on one member, in its own namespace, as a user runs it (Helm releases included)."""
        extra: dict[str, Any] = {"binder_namespace": namespace}
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

    def releases(self, namespace: str, name: str) -> dict[int, str]:
        """Helm's revisions of a release and their status, from its release Secrets."""
        from kubernetes import client

        secrets = client.CoreV1Api(self.api()).list_namespaced_secret(
            namespace, label_selector=f"owner=helm,name={name}"
        )
        return {int(s.metadata.labels["version"]): s.metadata.labels["status"] for s in secrets.items}


def member_inventory(directory: Path, members: dict[str, dict[str, Any]]) -> Path:
    """An inventory in `directory` with these members: inventories/local's group_vars, and each
    member's host_vars as local's with the member's own variables over them."""
    inventory = directory / "inventory"
    (inventory / "host_vars").mkdir(parents=True)
    (inventory / "group_vars").symlink_to(INVENTORY / "group_vars")
    (inventory / "hosts.yml").write_text(
        (INVENTORY / "hosts.yml").read_text().replace("local:", "\n    ".join(f"{m}:" for m in members))
    )
    for member, member_vars in members.items():
        merged = dict(
            LOCAL_VARS,
            # inventories/local finds the fixture charts from its own directory; this one is elsewhere.
            traefik_chart_path=str(CHARTS / "traefik"),
            cert_manager_chart_path=str(CHARTS / "cert-manager"),
            **member_vars,
        )
        (inventory / "host_vars" / f"{member}.yml").write_text(yaml.safe_dump(merged))
    return inventory
