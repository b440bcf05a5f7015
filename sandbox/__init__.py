"""An emulated Kubernetes API server for tests, the demo and benchmarks.

It answers like kube-apiserver for what binder.ingress, kubectl, kubernetes.core and
traefik do against a cluster. It never imports the collection's code.
"""

__all__: list[str] = []
