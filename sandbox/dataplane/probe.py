"""HTTPS probes through traefik's local entrypoints, as a browser on the member's host would.

Each probe connects to 127.0.0.1:<websecure port>, sends the host name as SNI and Host
header, verifies the certificate against the sandbox CA for that host name, and speaks
HTTP/1.1. Used by ``make demo`` and the e2e tests.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class CertInfo:
    subject: str
    sans: list[str]
    not_after: dt.datetime

    @property
    def days_left(self) -> float:
        return (self.not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400


@dataclass
class ProbeResult:
    status: int
    headers: dict[str, str]
    body: bytes
    cert: CertInfo | None
    error: str | None = None
    json: dict[str, Any] | None = field(default=None)

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verify against the sandbox CA only (never the system store); no verification if None."""
    if ca_file is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca_file))
    return context


def _cert_info(peer: dict[str, Any]) -> CertInfo:
    subject = ", ".join(f"{k}={v}" for rdn in peer.get("subject", ()) for k, v in rdn)
    sans = [value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS"]
    not_after = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(peer["notAfter"]), dt.UTC)
    return CertInfo(subject=subject, sans=sans, not_after=not_after)


def connect(host: str, port: int, ca_file: Path | None, timeout: float = 10.0) -> ssl.SSLSocket:
    """A TLS socket to 127.0.0.1:port with SNI ``host`` (verified for ``host`` when ca_file is given)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return tls_context(ca_file).wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


def peer_cert(sock: ssl.SSLSocket) -> CertInfo | None:
    """The server certificate's details; works on unverified connections too."""
    peer = sock.getpeercert()
    if peer:
        return _cert_info(peer)
    der = sock.getpeercert(binary_form=True)
    if not der:
        return None
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        sans = []
    return CertInfo(
        subject=cert.subject.rfc4514_string(), sans=list(sans), not_after=cert.not_valid_after_utc
    )


def probe(
    host: str,
    path: str,
    port: int,
    ca_file: Path | None,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> ProbeResult:
    """One HTTPS request through traefik; TLS and connection errors are returned, not raised."""
    try:
        sock = connect(host, port, ca_file, timeout)
    except (OSError, ssl.SSLError) as exc:
        return ProbeResult(status=0, headers={}, body=b"", cert=None, error=f"{type(exc).__name__}: {exc}")
    cert = peer_cert(sock)
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    connection.sock = sock
    try:
        connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return ProbeResult(status=0, headers={}, body=b"", cert=cert, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
    result = ProbeResult(
        status=response.status,
        headers={k.lower(): v for k, v in response.getheaders()},
        body=data,
        cert=cert,
    )
    if result.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(data)
            result.json = parsed if isinstance(parsed, dict) else None
        except ValueError:
            pass
    return result
