"""Federation scale on the local cluster: one member of 100 to 1,000 hosts, then 20 members at once.

    .venv/bin/python -m bench.scale_bench [--quick] [--json FILE] [--plot FILE]

Every converge is the users' command, `ansible-playbook site.yml -i <inventory>`, on inventories
generated into a temporary directory (bench/members.py's catalogues), against local clusters
started for the run with `python -m sandbox up --no-dataplane` (no traffic is needed to converge).

Sweep: for each size (100, 300 and 1,000 hosts) a fresh cluster, so the first converge starts
from what a new member's cluster holds (nothing: Helm installs traefik and cert-manager), then:
- first and no-op converge: wall time; the kubeconfig user's requests in kube-apiserver's audit
  log (a no-op must write nothing); the `changed` total of the play recap;
- peak memory of the ansible controller: the process tree of ansible-playbook (its forks, the
  modules they start and the helm/kubectl they run), sampled every 0.2 s from /proc. Two sums:
  RSS (counts the pages that forks share once per process, so it overstates) and PSS (shares
  each page among the processes mapping it: what the tree really holds);
- `kubectl apply --server-side` of the same namespaced objects (rendered by playbooks/render.yml
  from the same inventory) into a fresh namespace: first (creates) and again (nothing changes);
- the slope of wall time against the number of Ingresses, least squares over the sizes, for the
  converge and for kubectl: the marginal cost of one Ingress.

Federation: one cluster, each member its own namespace. A seed member installs cert-manager
first (one cert-manager per cluster: its CRDs are cluster-scoped); then one member alone, then
N members of the same shape in parallel (`-f N`); first and no-op converges of both.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from bench import procs
from bench.members import catalogue
from sandbox import audit

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONTEXT = "sandbox"
# Each playbook run is stopped after this long (a hung Helm wait must not hang `make bench`).
TIMEOUT_S = 3600


# --- the generated inventory ---------------------------------------------------------------


def member_vars(name: str, hosts: int, kubeconfig: Path) -> dict[str, Any]:
    """A member's host_vars: what inventories/local/host_vars/local.yml says, for a generated catalogue."""
    return {
        "binder_kubeconfig": str(kubeconfig),
        "binder_context": CONTEXT,
        "binder_namespace": name,
        "binder_kubernetes_version": "1.33",
        "traefik_replicas": 1,
        "traefik_chart_source": "path",
        "traefik_chart_path": str(REPO / "tests" / "charts" / "traefik"),
        "cert_manager_chart_source": "path",
        "cert_manager_chart_path": str(REPO / "tests" / "charts" / "cert-manager"),
        "cert_manager_acme_email": f"admin@{name}.example.org",
        "binder_ingresses_components": catalogue(hosts, domain=f"{name}.example.org"),
    }


def shared_cluster_vars(name: str, install_cert_manager: bool) -> dict[str, Any]:
    """What a member needs to share its cluster with others (docs/inventory.md, "Members that
    share a cluster"): the cluster owns the ClusterIssuers, so every member gives the same e-mail,
    issuers and IngressClass; one member (the seed) installs cert-manager and creates the
    IngressClass through its traefik release, the others leave both to it.
    """
    shared: dict[str, Any] = {
        "cert_manager_acme_email": "admin@federation.example.org",
        "cert_manager_helm_enabled": install_cert_manager,
    }
    if not install_cert_manager:
        shared["traefik_values_overrides"] = {"ingressClass": {"enabled": False}}
    return shared


def write_inventory(path: Path, members: dict[str, dict[str, Any]]) -> Path:
    (path / "host_vars").mkdir(parents=True)
    hosts = {
        "binder_members": {
            "hosts": dict.fromkeys(members),
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            },
        }
    }
    (path / "hosts.yml").write_text("---\n" + yaml.safe_dump(hosts, sort_keys=False))
    for name, variables in members.items():
        (path / "host_vars" / f"{name}.yml").write_text("---\n" + yaml.safe_dump(variables, sort_keys=False))
    return path


# --- the cluster and the measured runs -----------------------------------------------------


@dataclass
class Cluster:
    dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.dir / "audit.jsonl"

    def env(self) -> dict[str, str]:
        state = json.loads((self.dir / "state.json").read_text())
        env = dict(os.environ)
        env.update(
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            KUBECONFIG=str(self.kubeconfig),
            PATH=os.pathsep.join([str(BIN), state["engines_bin"], env.get("PATH", "")]),
        )
        return env


@contextmanager
def cluster(directory: Path) -> Iterator[Cluster]:
    cli = [sys.executable, "-m", "sandbox"]
    subprocess.run(
        [*cli, "up", "--dir", str(directory), "--no-dataplane"], cwd=REPO, check=True, capture_output=True
    )
    try:
        yield Cluster(directory)
    finally:
        subprocess.run([*cli, "down", "--dir", str(directory)], cwd=REPO, check=False, capture_output=True)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for pid, ppid, _pgid in procs.stats():
        tree.setdefault(ppid, []).append(pid)
    return tree


def _rss_pss_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class TreeMemory(threading.Thread):
    """Peak memory of a process and all its descendants, sampled from /proc every 0.2 s."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.rss_kb = self.pss_kb = self.largest_kb = self.processes = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            tree = _children()
            pids, todo = [], [self.root]
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo.extend(tree.get(pid, []))
            sizes = [_rss_pss_kb(pid) for pid in pids]
            self.rss_kb = max(self.rss_kb, sum(r for r, _ in sizes))
            self.pss_kb = max(self.pss_kb, sum(p for _, p in sizes))
            self.largest_kb = max(self.largest_kb, *(r for r, _ in sizes))
            self.processes = max(self.processes, len(pids))

    def stop(self) -> None:
        self._done.set()
        self.join()


@dataclass
class Run:
    seconds: float
    writes: int
    reads: int
    dry_run_writes: int
    changed: int | None = None
    peak_rss_mb: float | None = None
    peak_pss_mb: float | None = None
    largest_process_mb: float | None = None
    processes: int | None = None
    # From the start to the kubeconfig user's first request: for site.yml, ansible's start-up and
    # the building and validating of the whole member, before any cluster call.
    until_first_request_s: float | None = None


def timed(c: Cluster, cmd: list[str], memory: bool = False) -> tuple[Run, str]:
    offset = audit.size(c.audit_log)
    start = time.perf_counter()
    started_at = time.time()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=c.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    sampler = TreeMemory(proc.pid) if memory else None
    if sampler:
        sampler.start()
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if sampler:
            sampler.stop()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed (exit {proc.returncode}):\n{out[-4000:]}")
    entries = audit.read(c.audit_log, offset, user="sandbox")
    run = Run(
        seconds=round(seconds, 2),
        writes=sum(audit.is_write(e) for e in entries),
        reads=sum(e["method"] == "GET" for e in entries),
        dry_run_writes=sum(e["method"] in audit.WRITE_METHODS and e["dryRun"] for e in entries),
    )
    if entries:
        first = datetime.datetime.fromisoformat(entries[0]["time"].replace("Z", "+00:00")).timestamp()
        run.until_first_request_s = round(first - started_at, 2)
    if sampler:
        run.peak_rss_mb = round(sampler.rss_kb / 1024, 1)
        run.peak_pss_mb = round(sampler.pss_kb / 1024, 1)
        run.largest_process_mb = round(sampler.largest_kb / 1024, 1)
        run.processes = sampler.processes
    return run, out


def progress(run: Run) -> str:
    """One line per run, so a run cut short still leaves its figures in the log."""
    return (
        f"{run.seconds} s ({run.until_first_request_s} s before the first API request), "
        f"{run.writes} writes, changed={run.changed}, controller tree peak PSS {run.peak_pss_mb} MB "
        f"/ RSS {run.peak_rss_mb} MB"
    )


def converge(c: Cluster, inventory: Path, limit: list[str] | None = None, forks: int | None = None) -> Run:
    cmd = [str(BIN / "ansible-playbook"), "site.yml", "-i", str(inventory)]
    if limit:
        cmd += ["--limit", ",".join(limit)]
    if forks:
        cmd += ["--forks", str(forks)]
    run, out = timed(c, cmd, memory=True)
    run.changed = sum(int(n) for n in re.findall(r"^\S+\s+:\s+ok=\d+\s+changed=(\d+)", out, re.MULTILINE))
    return run


def rendered_objects(
    c: Cluster, inventory: Path, member: str, work: Path, namespace: str
) -> tuple[Path, int]:
    """The member's namespaced objects as render.yml writes them, moved into `namespace`."""
    out = work / f"render-{member}"
    cmd = [str(BIN / "ansible-playbook"), "playbooks/render.yml", "-i", str(inventory)]
    timed(c, [*cmd, "--limit", member, "-e", f"render_dir={out}"])
    docs = []
    for path in sorted((out / member).glob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        if path.name.endswith("-values.yaml") or "namespace" not in obj.get("metadata", {}):
            continue
        obj["metadata"]["namespace"] = namespace
        docs.append(obj)
    target = work / f"{namespace}.yaml"
    target.write_text(yaml.safe_dump_all(docs))
    return target, sum(d["kind"] == "Ingress" for d in docs)


def kubectl_apply(c: Cluster, objects: Path, namespace: str) -> tuple[Run, Run]:
    kubectl = str(BIN / "kubectl")
    subprocess.run([kubectl, "create", "namespace", namespace], env=c.env(), check=True, capture_output=True)
    apply = [
        kubectl,
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=binder.ingress",
        "-f",
        str(objects),
    ]
    return timed(c, apply)[0], timed(c, apply)[0]


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y against x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


# --- the two experiments -------------------------------------------------------------------


def sweep(work: Path, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for hosts in sizes:
        print(f"-- one member, {hosts} hosts: fresh cluster", flush=True)
        with cluster(work / f"cluster-{hosts}") as c:
            inventory = write_inventory(
                work / f"inventory-{hosts}", {"bench": member_vars("bench", hosts, c.kubeconfig)}
            )
            first = converge(c, inventory)
            print(f"   first converge: {progress(first)}", flush=True)
            noop = converge(c, inventory)
            print(f"   no-op converge: {progress(noop)}", flush=True)
            objects, ingresses = rendered_objects(c, inventory, "bench", work, "kubectl")
            k_first, k_again = kubectl_apply(c, objects, "kubectl")
            print(
                f"   kubectl apply --server-side: {k_first.seconds} s, again {k_again.seconds} s", flush=True
            )
        rows.append(
            {
                "hosts": hosts,
                "ingresses": ingresses,
                "objects": len(list(yaml.safe_load_all(objects.read_text()))),
                "first": asdict(first),
                "noop": asdict(noop),
                "kubectl_first": asdict(k_first),
                "kubectl_again": asdict(k_again),
            }
        )
    return rows


def federation(work: Path, members: int, hosts: int) -> dict[str, Any]:
    names = [f"m{i:02d}" for i in range(members + 1)]
    print(f"-- federation: {members} members of {hosts} hosts in one cluster, against one alone", flush=True)
    with cluster(work / "cluster-federation") as c:
        variables = {
            name: member_vars(name, hosts, c.kubeconfig)
            | shared_cluster_vars(name, install_cert_manager=False)
            for name in ["seed", *names]
        }
        variables["seed"] |= shared_cluster_vars("seed", install_cert_manager=True)
        inventory = write_inventory(work / "inventory-federation", variables)
        seed = converge(c, inventory, limit=["seed"])
        print(f"   seed member (installs cert-manager too): {seed.seconds} s", flush=True)
        one_first = converge(c, inventory, limit=names[:1])
        print(f"   one member alone, first converge: {one_first.seconds} s", flush=True)
        many_first = converge(c, inventory, limit=names[1:], forks=members)
        print(f"   {members} members in parallel, first converge: {many_first.seconds} s", flush=True)
        one_noop = converge(c, inventory, limit=names[:1])
        many_noop = converge(c, inventory, limit=names[1:], forks=members)
        print(f"   no-op: one {one_noop.seconds} s, {members} in parallel {many_noop.seconds} s", flush=True)
    return {
        "members": members,
        "hosts_per_member": hosts,
        "forks": members,
        "seed_first": asdict(seed),
        "one_first": asdict(one_first),
        "many_first": asdict(many_first),
        "one_noop": asdict(one_noop),
        "many_noop": asdict(many_noop),
        "ratio_first": round(many_first.seconds / one_first.seconds, 2),
        "ratio_noop": round(many_noop.seconds / one_noop.seconds, 2),
    }


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hosts = [r["hosts"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in (
        ("first", "site.yml, first converge (Helm installs included)", "o-"),
        ("noop", "site.yml, no-op converge", "s-"),
        ("kubectl_first", "kubectl apply --server-side, same objects, first", "^--"),
        ("kubectl_again", "kubectl apply --server-side, same objects, again", "v--"),
    ):
        ax.plot(hosts, [r[key]["seconds"] for r in rows], style, label=label)
    for r in rows:
        ax.annotate(
            f"{r['ingresses']} Ingresses",
            (r["hosts"], r["first"]["seconds"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
        )
    ax.set_xlabel("hosts in the member")
    ax.set_ylabel("wall time (s)")
    ax.set_title("One generated member on the local cluster")
    ax.set_ylim(bottom=0)
    ax.margins(x=0.1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 members: to try the bench out")
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="hosts per member in the sweep (default 100 300 1000)"
    )
    parser.add_argument("--members", type=int, help="members converged in parallel (default 20)")
    parser.add_argument(
        "--member-hosts",
        type=int,
        help="hosts of each of them (default 20, like the production members: 6 to 28)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--plot", type=Path, help="write the plot of wall time against hosts here (PNG)")
    args = parser.parse_args()
    sizes = args.sizes or ([20, 40, 80] if args.quick else [100, 300, 1000])
    members = args.members or (3 if args.quick else 20)
    member_hosts = args.member_hosts or 20

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        rows = sweep(Path(tmp), sizes)
        fed = federation(Path(tmp), members, member_hosts)
    figures: dict[str, Any] = {
        "sizes": rows,
        "slope_s_per_ingress": {
            "converge_first": round(slope([(r["ingresses"], r["first"]["seconds"]) for r in rows]), 4),
            "converge_noop": round(slope([(r["ingresses"], r["noop"]["seconds"]) for r in rows]), 4),
            "kubectl_first": round(slope([(r["ingresses"], r["kubectl_first"]["seconds"]) for r in rows]), 4),
            "kubectl_again": round(slope([(r["ingresses"], r["kubectl_again"]["seconds"]) for r in rows]), 4),
        },
        "federation": fed,
        "load_average_end": os.getloadavg(),
        "took_s": round(time.perf_counter() - started, 1),
    }
    s = figures["slope_s_per_ingress"]
    s["converge_over_kubectl_first"] = (
        round(s["converge_first"] / s["kubectl_first"], 2) if s["kubectl_first"] > 0 else None
    )
    if args.plot:
        plot(rows, args.plot)
        figures["plot"] = str(args.plot)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
