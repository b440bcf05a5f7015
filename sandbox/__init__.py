"""The local cluster for tests, the demo and benchmarks: real engines on loopback.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, built from pinned Go
modules (`sandbox.engines`), a fault proxy in front of the API, and a data plane with real
traefik. Its cluster parts never import the collection's code; only the demo harness
(`sandbox.demo`) sends its requests with the collection's prober, the one verify.yml uses.
"""

__all__: list[str] = []
