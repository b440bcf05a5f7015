"""The tests' one harness: a cluster (the local one, or a real one), and what the tests run against it.

- :func:`sandbox_cli` runs ``python -m sandbox ...`` (the local cluster's front door);
- :class:`Cluster` is a cluster reached through a kubeconfig: ``kubectl``, the kubernetes
  client, raw API requests, and ``ansible-playbook`` with the repository's ansible.cfg;
- :class:`Sandbox` is the local cluster in a state directory (``up``/``down``), a Cluster whose
  kube-apiserver audit log tells what each playbook run sent (:attr:`Run.audit`);
- :func:`started` is the fixtures' context: a fresh local cluster, stopped afterwards;
- :func:`member_inventory`, :func:`local_member`, :class:`Member`: the local member's inventory,
  and the member ``make demo`` serves (``sandbox.demo.served_member``) for the e2e tests.

tests/conftest.py's directory is on ``sys.path`` (pytest's rootdir-relative imports), so every
test directory imports this module as ``harness``. The audit log counts only the kubeconfig
user's requests, since the controllers write all the time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sandbox import audit
from sandbox.environ import local_env

if TYPE_CHECKING:  # only the e2e tests need make demo's member; the other tests do not load it
    from sandbox.demo import Entrypoint, Route, ServedMember
    from sandbox.demo import Sandbox as DemoSandbox

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KUBECTL = str(BIN / "kubectl")
INVENTORY = REPO / "inventories" / "local"
CHARTS = REPO / "tests" / "charts"
LOCAL_VARS: dict[str, Any] = yaml.safe_load((INVENTORY / "host_vars" / "local.yml").read_text())
# The user the local cluster's kubeconfig authenticates as (what the playbooks send as).
SANDBOX_USER = "sandbox"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.MULTILINE,
)


def ansible_env(path: list[str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of ansible-playbook (and kubectl, helm) in the tests: the repository's
    ansible.cfg, plain output, ``path`` (default: the virtualenv's bin) before PATH, then ``extra``.
    The tester's own cluster settings (KUBECONFIG, K8S_AUTH_*, HELM_KUBE*, ...) stay out, as in
    ``make demo``: the playbooks refuse K8S_AUTH_* and HELM_KUBE*, and the tests' cluster is
    the one ``extra`` names."""
    env = local_env()
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=os.pathsep.join([*(path or [str(BIN)]), env.get("PATH", "")]),
    )
    env.update(extra)
    return env


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    """``check()``'s first true answer, asked every ``interval`` s; fails naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(interval)


def sandbox_cli(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m sandbox <args>``; with ``check``, a failure raises with the command's output."""
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"python -m sandbox {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
    return proc


# Where the binder role keeps the members' locks (binder_lock_namespace's default).
LOCK_LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"


def is_lock_request(entry: dict[str, Any]) -> bool:
    """A request about a member's lock: the playbooks send no other request about Leases there.
    (A create's path has no name; the audit event's objectRef may.)"""
    path = str(entry["path"])
    name = str((entry.get("objectRef") or {}).get("name") or path.rpartition("/")[2])
    return path.startswith(LOCK_LEASES) and (path == LOCK_LEASES or name.startswith("binder-ingress."))


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Run:
    """One ansible-playbook run: exit code, output, PLAY RECAP per host, and (on the local
    cluster) the kubeconfig user's API requests during the run."""

    rc: int
    output: str
    recap: dict[str, dict[str, int]]
    audit: list[dict[str, Any]] = field(default_factory=list)

    def writes(self) -> list[dict[str, Any]]:
        """Requests of this run that changed something stored (dry-run requests change nothing),
        but for the member's lock (:meth:`lock_writes`): every real converge takes and gives it
        back, and it is not a change of the member."""
        return [e for e in self.audit if audit.is_write(e) and not is_lock_request(e)]

    def lock_writes(self) -> list[dict[str, Any]]:
        """This run's writes of the members' locks (Leases binder-ingress.<member> in kube-system)."""
        return [e for e in self.audit if audit.is_write(e) and is_lock_request(e)]

    def dry_run_writes(self) -> list[dict[str, Any]]:
        return [e for e in self.audit if e["method"] in audit.WRITE_METHODS and e["dryRun"]]


class Cluster:
    """A cluster reached through a kubeconfig: the local cluster (``sandbox_dir`` set) or a real one."""

    def __init__(self, kubeconfig: Path | str, sandbox_dir: Path | None = None) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.sandbox_dir = sandbox_dir
        self._api: Any = None

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_dir is not None

    def extra_path(self) -> list[str]:
        """Directories put before PATH for the commands run against this cluster."""
        return [str(BIN)]

    def env(self, kubeconfig: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of kubectl, helm and ansible-playbook against this cluster."""
        return ansible_env(self.extra_path(), KUBECONFIG=str(kubeconfig or self.kubeconfig), **(extra or {}))

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [KUBECTL, *args], input=stdin, capture_output=True, text=True, env=self.env(), timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def api(self) -> Any:
        """The kubernetes client's ApiClient for this kubeconfig (one per cluster)."""
        if self._api is None:
            from kubernetes import config

            self._api = config.new_client_from_config(config_file=str(self.kubeconfig))
        return self._api

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> Response:
        """A raw API request through the kubernetes client's transport (auth and TLS from the kubeconfig)."""
        api = self.api()
        url = api.configuration.host + path
        headers = {"Accept": "application/json", "Content-Type": content_type}
        api.update_params_for_auth(headers, [], ["BearerToken"], path, method, body)
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        if isinstance(body, str):
            body = body.encode()
        # urllib3 directly: the generated client would re-encode bodies by content type.
        raw = api.rest_client.pool_manager.request(
            method, url, body=body, headers=headers, preload_content=True, redirect=False, retries=False
        )
        status, data, hdrs = raw.status, raw.data, raw.headers
        text = data.decode() if isinstance(data, bytes) else (data or "")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Response(int(status), parsed, {k.lower(): v for k, v in dict(hdrs).items()})

    def audit_size(self) -> int:
        return 0

    def audit_since(self, offset: int) -> list[dict[str, Any]]:
        del offset
        return []

    def playbook(
        self,
        playbook: Path,
        *args: str,
        inventory: Path | str = INVENTORY,
        extra_vars: dict[str, Any] | None = None,
        kubeconfig: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 600,
    ) -> Run:
        """``ansible-playbook <playbook> -i <inventory> <args>`` against this cluster."""
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
            timeout=timeout,
            check=False,
        )
        output = proc.stdout + proc.stderr
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

    @staticmethod
    def new_namespace(prefix: str) -> str:
        """A name for a namespace that does not exist yet: a new member's, which site.yml creates."""
        return f"{prefix}-{uuid.uuid4().hex[:6]}"

    def create_namespace(self, prefix: str) -> str:
        """A fresh namespace, as the member's BinderHub deployment would have made."""
        from kubernetes import client

        name = self.new_namespace(prefix)
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


class Sandbox(Cluster):
    """The local cluster whose state is in ``dir`` (``python -m sandbox up/down --dir``)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory / "kubeconfig", directory)
        self.dir = directory
        self.ca_file = directory / "ca.crt"

    def up(self, *options: str) -> None:
        """Start it; by default without the data plane (tests of objects and releases, not traffic)."""
        sandbox_cli("up", "--dir", str(self.dir), *(options or ("--no-dataplane",)))

    def down(self) -> None:
        sandbox_cli("down", "--dir", str(self.dir), check=False)

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.dir / "state.json").read_text())
        return data

    @property
    def engines_bin(self) -> str:
        return str(self.state()["engines_bin"])

    def extra_path(self) -> list[str]:
        # kubernetes.core.helm runs the helm built with the engines.
        return [str(BIN), self.engines_bin]

    def audit_size(self) -> int:
        return audit.size(self.dir / "audit.jsonl")

    def add_fault(self, spec: str) -> None:
        """Give the fault proxy a fault (docs/sandbox.md, "Fault injection")."""
        sandbox_cli("fault", "--dir", str(self.dir), "add", spec)

    def clear_faults(self) -> None:
        sandbox_cli("fault", "--dir", str(self.dir), "clear")

    def fault_log(self, since: int = 0) -> list[dict[str, Any]]:
        """The requests the proxy's faults answered (``faults.jsonl``), from line ``since`` on."""
        path = self.dir / "faults.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines[since:]]

    def audit_since(self, offset: int) -> list[dict[str, Any]]:
        """The kubeconfig user's requests since ``offset`` (what the playbooks sent)."""
        # kube-apiserver writes an audit event once the response is complete, which can be a
        # moment after the client read it: let the last requests land in the log.
        time.sleep(0.5)
        return audit.read(self.dir / "audit.jsonl", offset, user=SANDBOX_USER)


@contextmanager
def started(directory: Path, *options: str) -> Iterator[Sandbox]:
    """A fresh local cluster in ``directory``, stopped afterwards whatever happened."""
    box = Sandbox(directory)
    box.up(*options)
    try:
        yield box
    finally:
        box.down()


def member_inventory(directory: Path, members: dict[str, dict[str, Any]]) -> Path:
    """An inventory in ``directory`` with these members: inventories/local's group_vars, and each
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


def local_member() -> dict[str, Any]:
    """The local member's host_vars, as written (the e2e tests' expectations come from here, never
    from the collection's model, which is what is under test)."""
    data: dict[str, Any] = yaml.safe_load((INVENTORY / "host_vars" / "local.yml").read_text())
    return data


def local_hosts() -> list[str]:
    """Every host inventories/local's member serves, sorted: the components' hosts, the buckets'
    hosts and the redirects' sources (written out from the inventory, not from the model)."""
    hosts: list[str] = []
    for name, spec in local_member()["binder_ingresses_components"].items():
        if name == "gcs-proxy":
            hosts += [b["host"] for b in spec["buckets"]]
        elif name == "redirector":
            hosts += [r["from"] for r in spec["redirects"]]
        else:
            hosts += spec["hosts"]
    return sorted(hosts)


def traefik_chart() -> Path:
    """The traefik chart inventories/local installs (its traefik_chart_path, inventory_dir resolved)."""
    path = str(local_member()["traefik_chart_path"]).replace("{{ inventory_dir }}", str(INVENTORY))
    return Path(path).resolve()


@dataclass
class Member:
    """The local member as ``make demo`` serves it: converged by ``site.yml -i inventories/local``,
    Helm releases included, stand-in backends added, every route served by real traefik through
    the cluster entrypoint with its certificate, ordered from the local Pebble over ACME."""

    sandbox: DemoSandbox
    objects: list[dict[str, Any]]  # the member's Ingresses, as the converge left them in the API
    routes: list[Route]
    entrypoint: Entrypoint
    release: str  # the traefik Helm release the data plane serves
    namespace: str
    traefik_values: str  # the values the converge gave that release (helm get values)

    @classmethod
    def of(cls, served: ServedMember) -> Member:
        traefik = served.sandbox.dataplane()["traefik"]
        release, namespace = str(traefik["release"]), str(traefik["namespace"])
        values = served.sandbox.helm("get", "values", release, "--namespace", namespace, "--output", "yaml")
        return cls(
            served.sandbox, served.objects, served.routes, served.entrypoint, release, namespace, values
        )

    @property
    def websecure(self) -> int:
        """The local port the entrypoint's 443 leads to."""
        return self.entrypoint.https

    @property
    def web(self) -> int:
        """The local port the entrypoint's 80 leads to."""
        assert self.entrypoint.http is not None
        return self.entrypoint.http

    def set_traefik_values(self, text: str, timeout: float = 60.0) -> int:
        """``helm upgrade`` the traefik release with these values (the chart the converge installed);
        wait until the data plane serves the new revision, then until every route is served again.
        Returns the revision."""
        values_file = self.sandbox.dir / "e2e-traefik-values.yaml"
        values_file.write_text(text)
        upgraded = self.sandbox.helm(
            "upgrade",
            self.release,
            str(traefik_chart()),
            "--namespace",
            self.namespace,
            "--values",
            str(values_file),
            "--output",
            "json",
        )
        revision = int(json.loads(upgraded)["version"])
        deadline = time.monotonic() + timeout
        while True:
            traefik = self.sandbox.dataplane()["traefik"]
            assert traefik["error_revision"] != revision, (
                f"revision {revision} not served: {traefik['error']}"
            )
            if traefik["revision"] == revision and traefik["started"]:
                break
            assert time.monotonic() < deadline, f"the data plane did not serve revision {revision}: {traefik}"
            time.sleep(0.2)
        from sandbox.demo import route_ready, wait_served

        _, results = wait_served(self.sandbox, self.routes, timeout=timeout)
        assert all(route_ready(r, results[r]) for r in self.routes), results
        return revision


def probe(host: str, path: str, port: int, ca_file: Path, **kwargs: Any) -> Any:
    """One HTTPS request for ``host`` and ``path`` through the entrypoint's local ``port``, the
    certificate verified against ``ca_file``: the collection's prober, the one verify.yml uses."""
    from ansible_collections.binder.ingress.plugins.module_utils import _probe

    from sandbox.demo import LB_ADDRESS

    return _probe.request(LB_ADDRESS, port, host, path, _probe.Trust(str(ca_file)), **kwargs)
