#!/usr/bin/env python3
"""Probe URLs through one TLS endpoint, the way a browser reaching the member would.

`ansible.builtin.uri` cannot connect to one address while sending another name in SNI and Host,
so the verify playbooks use this helper (the equivalent of `curl --resolve host:443:127.0.0.1`).

Input (stdin, JSON): {"connect": "127.0.0.1", "port": 8443, "ca": "/path/ca.crt",
                      "timeout": 10, "probes": [{"host": "hub.local.test", "path": "/"}, ...]}
A probe may set its own "port", and "scheme": "http" for plain HTTP (no TLS, "cert" null).
Output (stdout, JSON): one result per probe, in order: {"host", "path", "status", "location",
    "body" (parsed JSON or null), "cert": {"subject_cn", "issuer_cn", "sans", "not_after"} or null,
    "error" or null}.
Certificates are verified against the given CA and the probed host name; a failed verification
is reported as that probe's error. Only `"ca": null` turns verification off, for certificates no
local trust store can check (Let's Encrypt staging, in the k3s scenario, which asserts the issuer).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys
from typing import Any


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI, certificate check and Host all for `host`."""

    def __init__(self, host: str, address: str, port: int, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._address = address
        self._context = context
        self.peer_cert: dict[str, Any] | None = None

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)
        self.peer_cert = describe(self.sock.getpeercert(binary_form=True))


def describe(der: bytes | None) -> dict[str, Any] | None:
    """Subject, issuer, DNS names and expiry of a DER certificate (parsed even when unverified)."""
    if not der:
        return None
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)

    def common_name(name: x509.Name) -> str | None:
        values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(values[0].value) if values else None

    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = sorted(sans.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = []
    return {
        "subject_cn": common_name(cert.subject),
        "issuer_cn": common_name(cert.issuer),
        "sans": names,
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


def probe(spec: dict[str, Any], context: ssl.SSLContext, item: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "host": item["host"],
        "path": item.get("path", "/"),
        "status": None,
        "location": None,
        "body": None,
        "cert": None,
        "error": None,
    }
    port = int(item.get("port", spec["port"]))
    conn: http.client.HTTPConnection
    if item.get("scheme", "https") == "http":
        conn = http.client.HTTPConnection(spec["connect"], port, timeout=spec["timeout"])
    else:
        conn = PinnedHTTPSConnection(item["host"], spec["connect"], port, context, spec["timeout"])
    try:
        # The Host header of a request to port 443: no port in it, whatever local port stands for 443.
        headers = {"Host": item["host"], "User-Agent": "binder.ingress-verify"}
        conn.request(item.get("method", "GET"), result["path"], headers=headers)
        response = conn.getresponse()
        raw = response.read()
        result["status"] = response.status
        result["location"] = response.getheader("Location")
        result["cert"] = getattr(conn, "peer_cert", None)
        try:
            result["body"] = json.loads(raw)
        except ValueError:
            result["body"] = None
    except (OSError, ssl.SSLError, http.client.HTTPException) as e:
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    return result


def main() -> int:
    spec = json.load(sys.stdin)
    spec.setdefault("connect", "127.0.0.1")
    spec.setdefault("timeout", 10)
    if spec.get("ca"):
        context = ssl.create_default_context(cafile=spec["ca"])
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    results = [probe(spec, context, item) for item in spec["probes"]]
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
