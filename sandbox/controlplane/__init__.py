"""The control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.

`cluster` starts and stops them (and the fault proxy in front of kube-apiserver) around a
state directory; `pki` makes the CA, serving and client certificates and the service-account
keys they use.
"""
