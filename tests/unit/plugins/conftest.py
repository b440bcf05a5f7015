"""Fixtures of the plugin tests: the local HTTPS server and the slow-drip servers of tls_servers.py."""

from tls_servers import drips, servers

__all__ = ["drips", "servers"]
