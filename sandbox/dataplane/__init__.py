"""The sandbox data plane: real traefik, stand-in backends, endpoints and certificates.

Runs as its own process (``python -m sandbox.dataplane --dir DIR``) next to the emulated
API server and talks to it only over HTTPS with the sandbox token, like a controller in a
cluster would. It never imports the collection's model.
"""
