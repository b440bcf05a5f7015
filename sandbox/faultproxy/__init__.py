"""The fault proxy: an HTTPS reverse proxy in front of kube-apiserver that injects faults.

`proxy` is the proxy (run as ``python -m sandbox.faultproxy``); `faults` parses fault specs and
decides which requests a fault fires on (docs/sandbox.md, "Fault injection").
"""
