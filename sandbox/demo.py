"""``make demo``: the local member, converged as a user would and served through real traefik.

1. Build the local cluster's engines if their cache lacks them (progress on stderr).
2. Start the local cluster (``python -m sandbox up``: control plane, kwok, data plane).
3. Converge the member with plain ``ansible-playbook site.yml -i inventories/local``, Helm
   releases included (the inventory installs the fixture charts of tests/charts).
4. Read back the Ingresses the converge produced; create stand-in Services for the backends
   they name that the cluster lacks (what the member's JupyterHub, BinderHub, ... charts own),
   which the data plane serves on their ClusterIPs.
5. Probe every host and path of those Ingresses over HTTPS through the cluster entrypoint
   (its load-balancer address in the API, the ports the data plane's load balancer maps),
   with SNI, verified against the local ACME server's root (every certificate was ordered from
   Pebble over ACME, http01 through traefik), until all are served; print one row per route.
6. Run ``playbooks/verify.yml`` as a user would: it finds the entrypoint's address through the
   API; only the local ports and the CA file are passed.
7. Run ``playbooks/doctor.yml`` as a user would, its resolver the local cluster's DNS server
   (which Pebble asks too), and print its table.
8. Stop the local cluster, whatever happened (failure, Ctrl-C): nothing is left running.

The helpers here are shared with the e2e tests (tests/e2e) and tests/converge/test_verify.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox import engines
from sandbox.controlplane.cluster import alive
from sandbox.environ import local_env

ROOT = Path(__file__).resolve().parent.parent
# The demo probes with the collection's own HTTPS-with-SNI client (standard library only), the
# one verify.yml, molecule and the tests use; collections/ makes it importable from the checkout.
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.binder.ingress.plugins.module_utils import _probe  # noqa: E402

BIN = Path(sys.executable).parent
INVENTORY = ROOT / "inventories" / "local"
STANDIN_LABEL = "sandbox.binder.ingress/stand-in"
# What the collection labels every object it owns with (docs/inventory.md).
MANAGED_BY = "app.kubernetes.io/managed-by=binder.ingress"
# The only address the data plane's load balancer gives.
LB_ADDRESS = "127.0.0.1"
# ansible-playbook's exit status after Ctrl-C ("User interrupted execution").
ANSIBLE_INTERRUPTED = 99
# How much of a failed command's output an error shows (the end, where ansible's error is).
OUTPUT_TAIL = 8000


class DemoError(RuntimeError):
    """A step of the demo failed."""


def run(cmd: list[str], *, env: dict[str, str] | None = None, input_text: str | None = None) -> str:
    """Run a command; on failure raise with its output (commands here print no secrets)."""
    completed = subprocess.run(
        cmd,
        cwd=ROOT,
        # The local cluster, never the user's: their KUBECONFIG, K8S_AUTH_* and the like stay out.
        env=local_env(env),
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode in (-signal.SIGINT, ANSIBLE_INTERRUPTED):
        raise KeyboardInterrupt  # Ctrl-C reached the command too: no failure to report
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-OUTPUT_TAIL:]
        raise DemoError(f"{' '.join(cmd[:4])} ... failed ({completed.returncode}):\n{output}")
    return completed.stdout


@dataclass(frozen=True)
class Route:
    host: str
    path: str
    path_type: str
    ingress: str
    namespace: str
    service: str
    port: str
    middlewares: str


def routes(objects: list[dict[str, Any]]) -> list[Route]:
    """One entry per host and path of the Ingresses among ``objects``."""
    out: list[Route] = []
    for obj in objects:
        if obj.get("kind") != "Ingress":
            continue
        meta = obj["metadata"]
        middlewares = (meta.get("annotations") or {}).get(
            "traefik.ingress.kubernetes.io/router.middlewares", ""
        )
        for rule in obj["spec"].get("rules") or []:
            for p in (rule.get("http") or {}).get("paths") or []:
                service = p["backend"]["service"]
                port = service["port"].get("name") or str(service["port"].get("number"))
                out.append(
                    Route(
                        host=rule["host"],
                        path=p["path"],
                        path_type=p["pathType"],
                        ingress=meta["name"],
                        namespace=meta.get("namespace") or "default",
                        service=service["name"],
                        port=port,
                        middlewares=middlewares,
                    )
                )
    return sorted(out, key=lambda r: (r.host, r.path))


def standin_services(ingresses: list[dict[str, Any]], existing: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """Services for the backends the Ingresses name that are not in ``existing`` (namespace, name).

    In a member those come from other charts (JupyterHub's proxy-public, BinderHub's
    binder, ...). Each gets a selector that matches no pod, so the data plane serves a
    stand-in backend on its ClusterIP and port, as kube-proxy would lead to a pod.
    """
    ports: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for route in routes(ingresses):
        key = (route.namespace, route.service)
        if key not in existing:
            ports.setdefault(key, {})[route.port] = {}
    services = []
    for (namespace, name), refs in sorted(ports.items()):
        numbers = {int(ref) for ref in refs if ref.isdigit()}
        port_list: list[dict[str, Any]] = [
            {"name": f"port-{n}", "port": n, "protocol": "TCP"} for n in sorted(numbers)
        ]
        free = 80
        for ref in sorted(r for r in refs if not r.isdigit()):
            # A port the Ingress names: the chart's Service defines it; any free number will do.
            while free in numbers:
                free += 1
            numbers.add(free)
            port_list.append({"name": ref, "port": free, "targetPort": ref, "protocol": "TCP"})
        services.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace, "labels": {STANDIN_LABEL: "true"}},
                "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": port_list},
            }
        )
    return services


@dataclass(frozen=True)
class Entrypoint:
    """The cluster entrypoint as a client reaches it: the Service's load-balancer address (from
    the API) and the local ports the data plane's load balancer maps its 443 and 80 to."""

    service: str  # namespace/name
    address: str
    https: int
    http: int | None


class Sandbox:
    """``python -m sandbox up/down`` around a state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.kubeconfig = state_dir / "kubeconfig"
        # What verifies both the API and the certificates traefik serves: the sandbox CA and the
        # local ACME server's root (written by `up`, sandbox/controlplane/pebble.py).
        self.ca_file = state_dir / "trust.pem"

    def up(self, env: dict[str, str] | None = None) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        run([sys.executable, "-m", "sandbox", "up", "--dir", str(self.dir)], env=env)

    def pids(self) -> list[int]:
        """Every process the local cluster started (traefik included), as far as its state says."""
        found: list[int] = []
        for name in ("state.json", "dataplane.json"):
            path = self.dir / name
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            found += [int(pid) for pid in (data.get("pids") or {}).values()]
            found += [int(p) for p in (data.get("pid"), (data.get("traefik") or {}).get("pid")) if p]
        return sorted(set(found))

    def down(self) -> list[int]:
        """Stop everything; the pids still alive afterwards (none, unless something went wrong)."""
        pids = self.pids()
        # A second Ctrl-C must not leave the cluster half stopped (signals are the main thread's).
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
        try:
            subprocess.run(
                [sys.executable, "-m", "sandbox", "down", "--dir", str(self.dir)],
                cwd=ROOT,
                capture_output=True,
                check=False,
            )
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
        return [pid for pid in pids if alive(pid)]

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.dir / "state.json").read_text())
        return data

    def dataplane(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.dir / "dataplane.json").read_text())
        return data

    @property
    def websecure(self) -> int:
        """traefik's websecure entrypoint (the port the entrypoint's 443 leads to)."""
        return int(self.dataplane()["traefik"]["websecure"])

    @property
    def web(self) -> int:
        return int(self.dataplane()["traefik"]["web"])

    def env(self) -> dict[str, str]:
        """What ansible-playbook, kubectl and helm need: the kubeconfig, and helm on PATH."""
        path = os.pathsep.join([str(BIN), self.state()["engines_bin"], os.environ.get("PATH", "")])
        return {"KUBECONFIG": str(self.kubeconfig), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PATH": path}

    def kubectl(self, *args: str, input_text: str | None = None) -> str:
        return run([str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args], input_text=input_text)

    def items(self, *args: str) -> list[dict[str, Any]]:
        """``kubectl get <args> -o json``'s items."""
        items: list[dict[str, Any]] = json.loads(self.kubectl("get", *args, "-o", "json"))["items"]
        return items

    def helm(self, *args: str) -> str:
        return run(
            ["helm", "--kubeconfig", str(self.kubeconfig), "--kube-context", "sandbox", *args], env=self.env()
        )

    def playbook(self, playbook: str, inventory: Path, *args: str) -> str:
        return run([str(BIN / "ansible-playbook"), playbook, "-i", str(inventory), *args], env=self.env())

    def apply(self, objects: list[dict[str, Any]], field_manager: str = "binder.ingress") -> None:
        if not objects:
            return
        self.kubectl(
            "apply",
            "--server-side",
            f"--field-manager={field_manager}",
            "-f",
            "-",
            input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
        )

    def entrypoint(self) -> Entrypoint | None:
        """The LoadBalancer Service that leads to traefik's websecure entrypoint, once it has an
        address in the API; None before (traefik not started, address not yet set)."""
        balancers = self.dataplane().get("load_balancers") or {}
        leading = {key: lb for key, lb in balancers.items() if (lb.get("ports") or {}).get("443")}
        if not leading:
            return None
        if len(leading) > 1:
            raise DemoError(f"more than one LoadBalancer Service leads to traefik: {sorted(leading)}")
        ((key, lb),) = leading.items()
        namespace, name = key.split("/", 1)
        service = json.loads(self.kubectl("get", "service", "-n", namespace, name, "-o", "json"))
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if not ingress:
            return None
        address = str(ingress[0].get("ip") or ingress[0].get("hostname") or "")
        if address != LB_ADDRESS:
            raise DemoError(f"Service {key} has the load-balancer address {address!r}; expected {LB_ADDRESS}")
        ports = lb["ports"]
        return Entrypoint(key, address, int(ports["443"]), int(ports["80"]) if ports.get("80") else None)


@contextmanager
def running(sandbox: Sandbox, env: dict[str, str] | None = None) -> Iterator[Sandbox]:
    try:
        sandbox.up(env)
        yield sandbox
    finally:
        left = sandbox.down()
        if left:
            print(f"warning: processes of the local cluster still running: {left}", file=sys.stderr)


def converge(sandbox: Sandbox, inventory: Path = INVENTORY) -> None:
    """The users' command, as they run it: ``ansible-playbook site.yml -i <inventory>``."""
    sandbox.playbook("site.yml", inventory)


def member_ingresses(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The Ingresses the converge produced (labelled as the collection's), as the API holds them."""
    ingresses = sandbox.items("ingresses", "--all-namespaces", "-l", MANAGED_BY)
    for ingress in ingresses:
        ingress.setdefault("kind", "Ingress")
    if not ingresses:
        raise DemoError("the converge produced no Ingress")
    return ingresses


def add_standins(sandbox: Sandbox, ingresses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create the stand-in Services the Ingresses' backends need; return them."""
    existing = {
        (s["metadata"]["namespace"], s["metadata"]["name"])
        for s in sandbox.items("services", "--all-namespaces")
    }
    services = standin_services(ingresses, existing)
    sandbox.apply(services, field_manager="sandbox-standin-backends")
    return services


@dataclass
class ServedMember:
    """A member converged in a running local cluster, with every route served."""

    sandbox: Sandbox
    objects: list[dict[str, Any]]  # the member's Ingresses, as the converge left them in the API
    routes: list[Route]
    results: dict[Route, _probe.Answer]
    entrypoint: Entrypoint


@contextmanager
def served_member(inventory: Path, work: Path) -> Iterator[ServedMember]:
    """Start a local cluster in ``work/sandbox``, converge the inventory's member with site.yml,
    add the stand-in backends, and wait until every route is served through the entrypoint with
    its certificate; stop the cluster on exit."""
    sandbox = Sandbox(work / "sandbox")
    with running(sandbox):
        converge(sandbox, inventory)
        objects = member_ingresses(sandbox)
        add_standins(sandbox, objects)
        member_routes = routes(objects)
        entrypoint, results = wait_served(sandbox, member_routes)
        not_ready = [
            f"{r.host}{r.path}: {results[r]}" for r in member_routes if not route_ready(r, results[r])
        ]
        if not_ready:
            raise DemoError("routes not served:\n" + "\n".join(not_ready))
        yield ServedMember(sandbox, objects, member_routes, results, entrypoint)


def route_ready(route: Route, result: _probe.Answer) -> bool:
    """Whether traefik serves the route with its certificate from the local ACME server."""
    if result.error or result.cert is None or route.host not in result.cert.sans:
        return False
    if 300 <= result.status < 400:
        return bool(result.location)
    body = result.json()
    return body is not None and body.get("service") == route.service


def wait_entrypoint(sandbox: Sandbox, timeout: float = 60.0) -> Entrypoint:
    deadline = time.monotonic() + timeout
    while (entrypoint := sandbox.entrypoint()) is None:
        if time.monotonic() > deadline:
            raise DemoError(
                f"no LoadBalancer Service leads to a running traefik after {timeout:.0f} s "
                f"(see {sandbox.dir / 'dataplane.json'} and {sandbox.dir / 'dataplane.log'})"
            )
        time.sleep(0.3)
    return entrypoint


def wait_served(
    sandbox: Sandbox, member_routes: list[Route], timeout: float = 90.0
) -> tuple[Entrypoint, dict[Route, _probe.Answer]]:
    """Probe every route through the entrypoint until all are served with their certificate, or
    the timeout passes."""
    deadline = time.monotonic() + timeout
    entrypoint = wait_entrypoint(sandbox, timeout)
    results: dict[Route, _probe.Answer] = {}
    trust = _probe.Trust(str(sandbox.ca_file))
    while True:
        for route in member_routes:
            if route not in results or not route_ready(route, results[route]):
                results[route] = _probe.request(
                    entrypoint.address, entrypoint.https, route.host, route.path, trust, timeout=5
                )
        if all(route_ready(r, results[r]) for r in member_routes) or time.monotonic() > deadline:
            return entrypoint, results
        time.sleep(0.3)


def verify(sandbox: Sandbox, entrypoint: Entrypoint, inventory: Path = INVENTORY) -> tuple[bool, str]:
    """``playbooks/verify.yml`` as a user runs it; it reads the entrypoint's address from the API.

    Only what differs from a member is passed: the load balancer's local ports (a member's are
    443 and 80) and the sandbox's trust file, which holds Pebble's root (a member's certificates
    chain to a public root)."""
    extra = {"verify_https_port": entrypoint.https, "verify_ca_file": str(sandbox.ca_file)}
    if entrypoint.http is not None:
        extra["verify_http_port"] = entrypoint.http
    else:
        extra["verify_http_redirect"] = False
    try:
        output = sandbox.playbook("playbooks/verify.yml", inventory, "--extra-vars", json.dumps(extra))
    except DemoError as exc:
        return False, str(exc)
    return True, output


def doctor(sandbox: Sandbox, inventory: Path, report_dir: Path) -> tuple[bool, str]:
    """``playbooks/doctor.yml`` as a user runs it, asking the local cluster's DNS server (Pebble's
    challtestsrv, which the ACME server asks too) where each host leads; its reports go to
    ``report_dir``."""
    extra = {"doctor_resolver": sandbox.state()["acme"]["dns"], "doctor_report_dir": str(report_dir)}
    try:
        output = sandbox.playbook("playbooks/doctor.yml", inventory, "--extra-vars", json.dumps(extra))
    except DemoError as exc:
        return False, str(exc)
    return True, output


def verify_report(output: str, task: str = "Show the member's routes") -> str:
    """The table a playbook's debug task prints: verify.yml's routes by default, or ``task``'s
    (doctor.yml's "Show the member's findings")."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if f"TASK [{task}]" in line:
            block = []
            for row in lines[i + 1 :]:
                if row.startswith("TASK [") or row.startswith("PLAY RECAP"):
                    break
                block.append(row)
            body = [row for row in block if row.startswith("        ")]
            return "\n".join(row[8:] for row in body).strip("\n") or "\n".join(block).strip()
    return output.strip()


def table(results: dict[Route, _probe.Answer]) -> str:
    header = [
        "host",
        "path",
        "status",
        "backend reached",
        "redirect Location",
        "certificate subject",
        "issuer",
        "SANs",
        "days left",
    ]
    rows = [header]
    for route, result in sorted(results.items(), key=lambda item: (item[0].host, item[0].path)):
        body = result.json()
        backend = f"{body.get('service')}:{body.get('port')}" if body else "-"
        cert = result.cert
        rows.append(
            [
                route.host,
                route.path,
                str(result.status) if not result.error else f"error: {result.error[:40]}",
                backend,
                result.location or "-",
                cert.subject if cert else "-",
                cert.issuer if cert else "-",
                ",".join(cert.sans) if cert else "-",
                f"{cert.days_left:.1f}" if cert else "-",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def demo(inventory: Path, work: Path, started: float) -> int:
    def step(text: str) -> None:
        print(f"[{time.monotonic() - started:5.1f} s] {text}", flush=True)

    step("engines: checking the cache (building what is missing; cold, about 25 minutes)")
    try:
        engines.build_all()
        engines.bin_dir()
    except engines.EngineError as exc:
        raise DemoError(str(exc)) from exc
    sandbox = Sandbox(work / "sandbox")
    step(
        "starting the local cluster (etcd, kube-apiserver, controller-manager, scheduler, kwok, data plane, "
        "Pebble as the ACME server)"
    )
    with running(sandbox):
        step(
            f"converging: ansible-playbook site.yml -i {os.path.relpath(inventory, ROOT)} (Helm releases included)"
        )
        converge(sandbox, inventory)
        ingresses = member_ingresses(sandbox)
        standins = add_standins(sandbox, ingresses)
        member_routes = routes(ingresses)
        step(
            f"{len(ingresses)} Ingresses in the cluster; {len(standins)} stand-in backend Services added; "
            f"probing {len(member_routes)} routes through the cluster entrypoint"
        )
        entrypoint, results = wait_served(sandbox, member_routes)
        ready = sum(route_ready(r, res) for r, res in results.items())
        step(
            f"{ready}/{len(member_routes)} routes served through {entrypoint.service} "
            f"(load balancer {entrypoint.address}, 443 -> {entrypoint.https}, 80 -> {entrypoint.http})"
        )
        print()
        print(table(results))
        print()
        step("running playbooks/verify.yml (the entrypoint's address from the API)")
        verified, output = verify(sandbox, entrypoint, inventory)
        print()
        print(verify_report(output) if verified else output[-6000:])
        print()
        step("verify.yml: " + ("every route passed" if verified else "FAILED"))
        step("running playbooks/doctor.yml (DNS asked of the local cluster's DNS server)")
        clean, output = doctor(sandbox, inventory, ROOT / ".tmp" / "doctor")
        print()
        print(verify_report(output, "Show the member's findings") if clean else output[-6000:])
        print()
        step(f"doctor.yml: {'no finding to fix' if clean else 'FAILED'}; reports in .tmp/doctor/")
        step("stopping the local cluster")
    step(
        f"stopped; {ready}/{len(member_routes)} routes served with their certificate, verify.yml "
        + ("passed" if verified else "failed")
        + ", doctor.yml "
        + ("clean" if clean else "found errors")
    )
    return 0 if ready == len(member_routes) and verified and clean else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.demo",
        description="Converge the local member on the local cluster and serve it through real traefik.",
    )
    parser.add_argument(
        "-i",
        "--inventory",
        type=Path,
        default=INVENTORY,
        help="an inventory whose one member's kubeconfig is $KUBECONFIG (default: inventories/local)",
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where to keep the cluster's state and logs (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="binder-demo-") as tmp:
        work = (args.work_dir or Path(tmp)).resolve()
        try:
            status = demo(args.inventory.resolve(), work, started)
        except DemoError as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            status = 1
        except KeyboardInterrupt:
            print("interrupted; the local cluster is stopped", file=sys.stderr)
            status = 130
    print(f"demo took {time.monotonic() - started:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
