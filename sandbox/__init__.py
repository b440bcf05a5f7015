"""The local cluster for tests, the demo and benchmarks: real engines on loopback.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, built from pinned Go
modules (`sandbox.engines`), a fault proxy in front of the API, and a data plane with real
traefik. It never imports the collection's code.
"""

__all__: list[str] = []
