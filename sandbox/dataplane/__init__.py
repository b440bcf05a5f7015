"""The local cluster's data plane: real traefik, load balancer, stand-in backends and certificates.

Runs as its own process (``python -m sandbox.dataplane --dir DIR``) next to kube-apiserver and
talks to it only over HTTPS with the sandbox token, like a controller in a cluster would. It
runs traefik with the values of the traefik Helm release in the cluster. It never imports the
collection's model.
"""
