"""Fixtures of the plugin tests: the local HTTPS server of tls_servers.py."""

from tls_servers import servers

__all__ = ["servers"]
