"""``make demo``: the local member, live, through real traefik.

1. Render ``inventories/local`` with ``playbooks/render.yml`` (the collection's own output).
2. Start the sandbox with the rendered ``traefik-values.yaml``.
3. Create stand-in Services for the backends the member's other charts (JupyterHub,
   BinderHub, ...) would create, then converge the member with ``site.yml`` (Helm
   releases skipped).
4. Wait for the stand-in certificates and for traefik to serve every route.
5. Print one row per host and path of the rendered Ingresses, each probed over HTTPS
   through traefik with SNI and the sandbox CA.
6. Stop the sandbox, whatever happened.

The helpers here are shared with the e2e tests (tests/e2e).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sandbox.dataplane.probe import ProbeResult, probe

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STANDIN_LABEL = "sandbox.binder.ingress/stand-in"
VALUES_FILES = {"traefik-values.yaml", "cert-manager-values.yaml"}


class DemoError(RuntimeError):
    """A step of the demo failed."""


def run(cmd: list[str], *, env: dict[str, str] | None = None, input_text: str | None = None) -> str:
    """Run a command; on failure raise with its output (commands here print no secrets)."""
    completed = subprocess.run(
        cmd,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        input=input_text,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise DemoError(
            f"{' '.join(cmd[:4])} ... failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )
    return completed.stdout


def render(inventory: Path, out_dir: Path) -> Path:
    """Render the inventory's single member; return its output directory."""
    run(
        [
            str(BIN / "ansible-playbook"),
            "playbooks/render.yml",
            "-i",
            str(inventory),
            "-e",
            f"render_dir={out_dir}",
        ],
        env={"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    )
    members = sorted(p for p in out_dir.iterdir() if p.is_dir())
    if len(members) != 1:
        raise DemoError(f"expected one rendered member in {out_dir}, found {[p.name for p in members]}")
    return members[0]


def rendered_objects(member_dir: Path) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(member_dir.glob("*.yaml")):
        if path.name in VALUES_FILES:
            continue
        objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return objects


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
    """One entry per host and path of the rendered Ingresses."""
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


def standin_services(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Services for the backends the rendered Ingresses name but the collection does not own.

    In a member those come from other charts (JupyterHub's proxy-public, BinderHub's
    binder, ...). Each gets a selector, so the sandbox's endpoint controller starts a
    backend for it.
    """
    owned = {
        (o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects if o.get("kind") == "Service"
    }
    ports: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for route in routes(objects):
        key = (route.namespace, route.service)
        if key not in owned:
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


class Sandbox:
    """``python -m sandbox up/down`` around a state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.kubeconfig = state_dir / "kubeconfig"
        self.ca_file = state_dir / "ca.crt"

    def up(self, traefik_values: Path | None, env: dict[str, str] | None = None) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "sandbox", "up", "--dir", str(self.dir)]
        if traefik_values is not None:
            cmd += ["--traefik-values", str(traefik_values)]
        run(cmd, env=env)

    def down(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "sandbox", "down", "--dir", str(self.dir)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )

    def dataplane(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.dir / "dataplane.json").read_text())
        return data

    @property
    def websecure(self) -> int:
        return int(self.dataplane()["traefik"]["websecure"])

    @property
    def web(self) -> int:
        return int(self.dataplane()["traefik"]["web"])

    def kubectl(self, *args: str, input_text: str | None = None) -> str:
        return run([str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args], input_text=input_text)

    def apply(self, objects: list[dict[str, Any]], field_manager: str = "binder.ingress") -> None:
        if not objects:
            return
        text = yaml.safe_dump_all(objects, sort_keys=False)
        self.kubectl("apply", "--server-side", f"--field-manager={field_manager}", "-f", "-", input_text=text)

    def serves(self, group: str) -> bool:
        return bool(self.kubectl("api-resources", f"--api-group={group}", "-o", "name").strip())


@contextmanager
def running(
    sandbox: Sandbox, traefik_values: Path | None, env: dict[str, str] | None = None
) -> Iterator[Sandbox]:
    try:
        sandbox.up(traefik_values, env)
        yield sandbox
    finally:
        sandbox.down()


def converge(
    sandbox: Sandbox, objects: list[dict[str, Any]], inventory: Path = ROOT / "inventories" / "local"
) -> list[str]:
    """Converge the member with the collection's own ``site.yml``; return notes for the reader.

    Before it, the sandbox gets what a member's cluster already has: the member's namespace and
    the Services of its other charts (JupyterHub, BinderHub, ...; stand-ins derived from the
    rendered Ingresses' backends), and the ClusterIssuer CRD the skipped cert-manager release
    would install (molecule's shared prepare playbook). The Helm releases are skipped: the
    sandbox has no Helm, and runs traefik itself from the rendered chart values.
    """
    namespaces = sorted({o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace")})
    sandbox.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces])
    sandbox.apply(standin_services(objects), field_manager="sandbox-standin-backends")
    env = {"KUBECONFIG": str(sandbox.kubeconfig), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    playbook = str(BIN / "ansible-playbook")
    run(
        [
            playbook,
            "molecule/resources/sandbox_prepare.yml",
            "--extra-vars",
            json.dumps({"sandbox_prepare_namespaces": namespaces, "sandbox_prepare_backends": False}),
        ],
        env=env,
    )
    run(
        [
            playbook,
            "site.yml",
            "-i",
            str(inventory),
            "--extra-vars",
            json.dumps({"binder_helm_enabled": False}),
        ],
        env=env,
    )
    return [
        "converged with site.yml (Helm releases skipped: the sandbox runs traefik from the rendered values)"
    ]


@dataclass
class ServedMember:
    """A member converged in a running sandbox, with every route served."""

    sandbox: Sandbox
    member_dir: Path
    objects: list[dict[str, Any]]
    routes: list[Route]
    results: dict[Route, ProbeResult]
    values_file: Path


@contextmanager
def served_member(inventory: Path, work: Path) -> Iterator[ServedMember]:
    """Render the inventory's member, start a sandbox serving it (traefik values copied to
    ``work/traefik-values.yaml``, so a test may change them), converge it with site.yml, and
    wait until every route is served with its certificate; stop the sandbox on exit."""
    member_dir = render(inventory, work / "render")
    objects = rendered_objects(member_dir)
    values_file = work / "traefik-values.yaml"
    shutil.copyfile(member_dir / "traefik-values.yaml", values_file)
    sandbox = Sandbox(work / "sandbox")
    with running(sandbox, values_file):
        converge(sandbox, objects, inventory)
        member_routes = routes(objects)
        results = wait_served(sandbox, member_routes)
        not_ready = [
            f"{r.host}{r.path}: {results[r]}" for r in member_routes if not route_ready(r, results[r])
        ]
        if not_ready:
            raise DemoError("routes not served:\n" + "\n".join(not_ready))
        yield ServedMember(sandbox, member_dir, objects, member_routes, results, values_file)


def route_ready(route: Route, result: ProbeResult) -> bool:
    """Whether traefik serves the route with the stand-in certificate."""
    if result.error or result.cert is None or route.host not in result.cert.sans:
        return False
    if 300 <= result.status < 400:
        return bool(result.location)
    return result.json is not None and result.json.get("service") == route.service


def wait_served(
    sandbox: Sandbox, member_routes: list[Route], timeout: float = 90.0
) -> dict[Route, ProbeResult]:
    """Probe every route until all are served with their certificate, or the timeout passes."""
    deadline = time.monotonic() + timeout
    results: dict[Route, ProbeResult] = {}
    while True:
        port = sandbox.websecure
        for route in member_routes:
            if route not in results or not route_ready(route, results[route]):
                results[route] = probe(route.host, route.path, port, sandbox.ca_file, timeout=5)
        if all(route_ready(r, results[r]) for r in member_routes) or time.monotonic() > deadline:
            return results
        time.sleep(0.3)


def table(results: dict[Route, ProbeResult]) -> str:
    header = [
        "host",
        "path",
        "status",
        "backend reached",
        "redirect Location",
        "certificate subject",
        "SANs",
        "days left",
    ]
    rows = [header]
    for route, result in sorted(results.items(), key=lambda item: (item[0].host, item[0].path)):
        backend = f"{result.json.get('service')}:{result.json.get('port')}" if result.json else "-"
        cert = result.cert
        rows.append(
            [
                route.host,
                route.path,
                str(result.status) if not result.error else f"error: {result.error[:40]}",
                backend,
                result.location or "-",
                cert.subject if cert else "-",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.demo", description="Serve the local member through real traefik."
    )
    parser.add_argument("-i", "--inventory", type=Path, default=ROOT / "inventories" / "local")
    parser.add_argument(
        "--work-dir", type=Path, help="where to render and keep the sandbox state (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="binder-demo-") as tmp:
        work = (args.work_dir or Path(tmp)).resolve()
        print(f"rendering {args.inventory} ...", flush=True)
        member_dir = render(args.inventory.resolve(), work / "render")
        print(f"  rendered in {time.monotonic() - started:.1f} s", flush=True)
        objects = rendered_objects(member_dir)
        member_routes = routes(objects)
        sandbox = Sandbox(work / "sandbox")
        print("starting the sandbox (API, traefik, backends, certificate stand-in) ...", flush=True)
        with running(sandbox, member_dir / "traefik-values.yaml"):
            print(f"  sandbox up at {time.monotonic() - started:.1f} s", flush=True)
            notes = converge(sandbox, objects, args.inventory.resolve())
            for note in notes:
                print(f"note: {note}")
            print(
                f"applied {len(objects)} objects of member {member_dir.name}; probing {len(member_routes)} routes ..."
            )
            results = wait_served(sandbox, member_routes)
            print(f"  all routes probed at {time.monotonic() - started:.1f} s")
            print()
            print(table(results))
            print()
        ready = sum(route_ready(r, res) for r, res in results.items())
        print(f"{ready}/{len(member_routes)} routes served with their certificate; sandbox stopped.")
        print(f"demo took {time.monotonic() - started:.1f} s")
    return 0 if ready == len(member_routes) else 1


if __name__ == "__main__":
    sys.exit(main())
