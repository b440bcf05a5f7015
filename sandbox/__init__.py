"""The local cluster for tests, the demo and benchmarks: real engines on loopback.

- `sandbox.controlplane`: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
  kwok, and their PKI;
- `sandbox.faultproxy`: the HTTPS proxy in front of kube-apiserver that injects faults;
- `sandbox.dataplane`: real traefik, the load balancer, stand-in backends and certificates;
- the harness: `sandbox.cli` (`python -m sandbox up|down|...`), `sandbox.engines` (the engines,
  built from pinned Go modules), `sandbox.audit` (the audit log) and `sandbox.demo` (`make demo`).

Its cluster parts never import the collection's code; only the demo harness
(`sandbox.demo`) sends its requests with the collection's prober, the one verify.yml uses. docs/sandbox.md describes it.
"""

__all__: list[str] = []
