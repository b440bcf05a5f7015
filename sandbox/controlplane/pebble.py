"""The local ACME server: Pebble and its DNS server, pebble-challtestsrv.

Started by ``up`` once the data plane has reserved traefik's entrypoint ports, because
Pebble's http01 validation must reach traefik's ``web`` entrypoint: every connection Pebble's
validator makes goes to ``httpPort`` on the address its DNS server answers. So

- pebble-challtestsrv answers every A query with 127.0.0.1 (where traefik listens) and no
  AAAA, serving DNS only (its challenge servers stay off: traefik answers the challenges);
- Pebble's ``httpPort`` is the ``web`` entrypoint's local port, the port a member's 80 leads
  to. The request passes traefik's HTTP-to-HTTPS redirect, and only ``allowACMEByPass``
  lets it reach the solver Ingress, as on a member;
- ``PEBBLE_VA_NOSLEEP=1`` (no random wait before validating), ``PEBBLE_WFE_NONCEREJECT=0``
  (no deliberately rejected nonces) and ``PEBBLE_AUTHZREUSE=0`` (every order is validated
  afresh; by default Pebble reuses a valid authorization half of the time, so whether a
  renewal passes through traefik at all would be chance) make issuance fast and deterministic.

Pebble serves its directory and management API over HTTPS with a certificate from the
sandbox CA (``ca.crt``). It makes a new root and intermediate each start; ``up`` fetches the
root from the management API into ``DIR/acme-roots.pem`` and writes ``DIR/trust.pem``
(sandbox CA and that root), which verifies both the API and the certificates traefik serves.
The certificate lifetime is ``SANDBOX_CERT_LIFETIME`` (``90d``, ``12h``, ``600``...; default
90 days). Pebble also honours an order's ``notAfter``, which the certificate stand-in sends
as cert-manager does (``enableDurationFeature`` and a Certificate's ``duration``), so a test
can watch one short-lived certificate renewed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import urllib.request
from pathlib import Path
from typing import Any

from sandbox import engines
from sandbox.controlplane.cluster import SandboxError, free_port, spawn, wait_until

DEFAULT_LIFETIME_SECONDS = 90 * 86400
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TIMEOUT = 30.0


def parse_lifetime(text: str) -> int:
    """``"90d"``, ``"12h"``, ``"30m"``, ``"45s"`` or plain seconds, as whole seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not match:
        raise SandboxError(
            f"SANDBOX_CERT_LIFETIME={text!r}: expected a whole number with an optional unit s, m, h or d"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise SandboxError(f"SANDBOX_CERT_LIFETIME={text!r}: must be positive")
    return seconds


def free_udp_tcp_port() -> int:
    """A loopback port free for both TCP and UDP (DNS serves both)."""
    for _ in range(20):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise SandboxError("no loopback port is free for both TCP and UDP")


def config(ports: dict[str, int], cert: Path, key: Path, lifetime: int) -> dict[str, Any]:
    return {
        "pebble": {
            "listenAddress": f"127.0.0.1:{ports['directory']}",
            "managementListenAddress": f"127.0.0.1:{ports['management']}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": ports["http"],
            # TLS-ALPN-01 is not used; a port where nothing listens.
            "tlsPort": ports["tls"],
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            # One profile: Pebble picks a random one for an order that names none.
            "profiles": {
                "default": {"description": "the sandbox's certificates", "validityPeriod": lifetime}
            },
        }
    }


def _fetch(url: str, context: ssl.SSLContext) -> str:
    with urllib.request.urlopen(url, context=context, timeout=5) as resp:
        text: str = resp.read().decode()
        return text


def start(directory: Path, web_port: int, pids: dict[str, int]) -> dict[str, Any]:
    """Start challtestsrv and Pebble; fills ``pids``; what ``state.json`` records under ``acme``."""
    lifetime_text = os.environ.get("SANDBOX_CERT_LIFETIME", "")
    lifetime = parse_lifetime(lifetime_text) if lifetime_text else DEFAULT_LIFETIME_SECONDS
    ports = {
        "dns": free_udp_tcp_port(),
        "challtestsrv": free_port(),
        "directory": free_port(),
        "management": free_port(),
        "tls": free_port(),
        "http": web_port,
    }
    dns = spawn(
        "challtestsrv",
        [
            str(engines.binary("pebble-challtestsrv")),
            "-dnsserver",
            f"127.0.0.1:{ports['dns']}",
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
            "-management",
            f"127.0.0.1:{ports['challtestsrv']}",
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-doh",
            "",
        ],
        directory,
    )
    pids["challtestsrv"] = dns.pid
    cfg = directory / "pebble-config.json"
    cfg.write_text(
        json.dumps(config(ports, directory / "pebble.crt", directory / "pebble.key", lifetime), indent=2)
    )
    pebble = spawn(
        "pebble",
        [str(engines.binary("pebble")), "-config", str(cfg), "-dnsserver", f"127.0.0.1:{ports['dns']}"],
        directory,
        env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"},
    )
    pids["pebble"] = pebble.pid
    context = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    directory_url = f"https://127.0.0.1:{ports['directory']}/dir"
    wait_until(
        lambda: json.loads(_fetch(directory_url, context)),
        TIMEOUT,
        "pebble",
        pebble,
        directory / "pebble.log",
    )
    management = f"https://127.0.0.1:{ports['management']}"
    root = wait_until(
        lambda: _fetch(f"{management}/roots/0", context),
        TIMEOUT,
        "pebble's root",
        pebble,
        directory / "pebble.log",
    )
    intermediate = _fetch(f"{management}/intermediates/0", context)
    (directory / "acme-roots.pem").write_text(root)
    (directory / "acme-intermediate.pem").write_text(intermediate)
    (directory / "trust.pem").write_text((directory / "ca.crt").read_text() + root)
    return {
        "directory_url": directory_url,
        "management_url": management,
        "server_ca_file": str(directory / "ca.crt"),
        "roots_file": str(directory / "acme-roots.pem"),
        "intermediate_file": str(directory / "acme-intermediate.pem"),
        "trust_file": str(directory / "trust.pem"),
        "dns": f"127.0.0.1:{ports['dns']}",
        # challtestsrv's management API: a test can point one host's DNS elsewhere (/add-a).
        "dns_management_url": f"http://127.0.0.1:{ports['challtestsrv']}",
        "http_port": web_port,
        "cert_lifetime_seconds": lifetime,
    }
