# Copyright (c) binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One HTTP(S) request to a fixed address, with SNI and Host set to a route's host.

Private helper of the probe_routes module, also used by ``make demo``, the e2e tests and
molecule's verify (through probe_routes), so there is one HTTPS-with-SNI client. It is what
``curl --resolve host:port:address`` does: connect to ``address``, send ``host`` as the TLS
server name and the ``Host`` header, verify the certificate for ``host``. Standard library
only; errors of the route are returned in the answer, never raised, so one bad route does not
stop a report (only a timeout that is not a positive number raises, as the caller's mistake).
A request ends within its timeout as a whole, however slowly a server answers.
"""

from __future__ import annotations

import http.client
import io
import json
import math
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "Certificate",
    "Deadline",
    "Trust",
    "check_timeout",
    "connect",
    "is_traefik_not_found",
    "older_tls_accepted",
    "request",
    "served_der",
]

# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH: the chain is trusted but does not name the host.
_HOSTNAME_MISMATCH = 62
# Go's http.NotFound, which traefik answers when no router takes the request.
_TRAEFIK_NOT_FOUND_BODY = b"404 page not found\n"
_TRAEFIK_NOT_FOUND_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Certificate:
    """The parts of a verified server certificate a report shows."""

    subject: str  # commonName (the whole name without one)
    issuer: str  # commonName (the whole name without one)
    sans: tuple[str, ...]  # DNS names
    not_after: float  # seconds since the epoch

    @property
    def days_left(self) -> float:
        return (self.not_after - time.time()) / 86400

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "not_after": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.not_after)),
            "days_left": round(self.days_left, 1),
        }


@dataclass
class Answer:
    """What came back: a response, or the error that stopped it (status 0)."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""  # at most the request's `limit` bytes
    cert: Certificate | None = None
    der: bytes = b""  # the server certificate as sent, also when it was not verified
    tls_version: str = ""  # as Python's ssl names it: "TLSv1.2", "TLSv1.3"
    error: str = ""

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def json(self) -> dict[str, Any] | None:
        """The body as a JSON object, if it is one."""
        if not self.headers.get("content-type", "").startswith("application/json"):
            return None
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None


class Trust:
    """Which certificates to accept: those of ``ca_file`` only, the system store, or any.

    Holds two contexts built once (loading a trust store is the slow part of a probe): the
    strict one a request uses, and one that checks the chain but not the name, used only to
    say which names a certificate that does not cover the host has.
    """

    def __init__(self, ca_file: str | None = None, *, verify: bool = True) -> None:
        self.verify = verify
        self.strict = self._context(ca_file, verify, check_hostname=verify)
        self.chain_only = self._context(ca_file, verify, check_hostname=False)

    @staticmethod
    def _context(ca_file: str | None, verify: bool, check_hostname: bool) -> ssl.SSLContext:
        context = (
            ssl.create_default_context(cafile=ca_file) if verify else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        )
        context.check_hostname = check_hostname
        context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
        return context


def check_timeout(timeout: float) -> float:
    """The timeout as seconds, if it is a positive finite number; a ValueError naming it if not."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
        raise ValueError(f"timeout: expected a positive number of seconds, got {timeout!r}")
    return float(timeout)


class Deadline:
    """The moment a probe must have ended by: one for connecting, the handshake and the whole answer.

    A socket timeout bounds each call alone, so a server that sends one byte now and then keeps a
    reader waiting for ever. Every socket call here first takes the time left as its timeout.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = check_timeout(timeout)
        self.end = time.monotonic() + self.timeout
        self.stage = "connecting"

    def left(self) -> float:
        """Seconds left; TimeoutError when there are none."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    def arm(self, sock: socket.socket) -> None:
        sock.settimeout(self.left())

    def message(self) -> str:
        return f"timed out after {self.timeout:g} s {self.stage}"


class _DeadlineSocket:
    """The socket calls http.client makes, each bounded by what is left of one Deadline."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        # As socket.socket does: http.client closes the connection while the response still reads
        # from its file, so the socket is closed when the last of them is.
        self.readers = 0
        self.closed = False

    def sendall(self, data: bytes) -> None:
        self.deadline.arm(self.sock)
        self.sock.sendall(data)

    def recv_into(self, buffer: memoryview) -> int:
        self.deadline.arm(self.sock)
        return self.sock.recv_into(buffer)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"makefile: only 'rb' is supported, not {mode!r}")
        self.readers += 1
        return io.BufferedReader(_Reader(self))

    def release(self) -> None:
        self.readers -= 1
        if self.closed and self.readers <= 0:
            self.sock.close()

    def close(self) -> None:
        self.closed = True
        if self.readers <= 0:
            self.sock.close()


class _Reader(io.RawIOBase):
    """A binary file that reads from a _DeadlineSocket."""

    def __init__(self, sock: _DeadlineSocket) -> None:
        super().__init__()
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.sock.recv_into(memoryview(buffer).cast("B"))

    def close(self) -> None:
        if not self.closed:
            super().close()
            self.sock.release()


def _open(address: str, port: int, deadline: Deadline) -> socket.socket:
    """A TCP connection to the first address that takes it, all tries within the deadline.

    Resolving a name is left to the system resolver and its own timeouts; an address is not resolved.
    """
    error: OSError = OSError(f"{address} resolves to no address")
    for family, kind, proto, _canonname, sockaddr in socket.getaddrinfo(
        address, port, type=socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            deadline.arm(sock)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
            if isinstance(exc, TimeoutError):
                break
    raise error


def connect(
    address: str,
    port: int,
    host: str,
    trust: Trust,
    timeout: float = 10.0,
    *,
    strict: bool = True,
    deadline: Deadline | None = None,
) -> ssl.SSLSocket:
    """A TLS socket to address:port with SNI ``host``; raises on failure (ssl or OS errors).

    Connecting and the handshake together end by ``deadline`` (by default, ``timeout`` seconds from
    now); the socket is returned with the time left as its timeout.
    """
    deadline = deadline or Deadline(timeout)
    deadline.stage = "connecting"
    raw = _open(address, port, deadline)
    context = trust.strict if strict else trust.chain_only
    try:
        deadline.stage = "in the TLS handshake"
        deadline.arm(raw)
        return context.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


def certificate(sock: ssl.SSLSocket) -> Certificate | None:
    """The verified peer certificate's subject, issuer, names and expiry (None if unverified)."""
    peer: dict[str, Any] | None = sock.getpeercert()
    if not peer:
        return None

    def common_name(name: Any) -> str:
        # The commonName, or the whole name where it has none.
        pairs = [(str(key), str(value)) for rdn in name for key, value in rdn]
        names = [value for key, value in pairs if key == "commonName"]
        return ", ".join(names or [f"{key}={value}" for key, value in pairs])

    not_after = str(peer.get("notAfter", ""))
    return Certificate(
        subject=common_name(peer.get("subject", ())),
        issuer=common_name(peer.get("issuer", ())),
        sans=tuple(value for kind, value in peer.get("subjectAltName", ()) if kind == "DNS"),
        not_after=ssl.cert_time_to_seconds(not_after) if not_after else 0.0,
    )


def served_der(address: str, port: int, host: str, deadline: Deadline) -> bytes:
    """The certificate the server sends for ``host`` as it is (DER), not verified: what a report
    shows of a certificate that failed verification. Empty when even that handshake fails."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with _open(address, port, deadline) as raw:
            deadline.arm(raw)
            with context.wrap_socket(raw, server_hostname=host) as sock:
                return sock.getpeercert(binary_form=True) or b""
    except (OSError, ssl.SSLError):
        return b""


def _describe(exc: BaseException, deadline: Deadline) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, TimeoutError):
        return deadline.message()
    return f"{type(exc).__name__}: {exc}"


def _not_covering(address: str, port: int, host: str, trust: Trust, deadline: Deadline) -> tuple[str, bytes]:
    """Why a trusted certificate was refused for ``host`` (the names it does have), and the certificate."""
    try:
        with connect(address, port, host, trust, strict=False, deadline=deadline) as sock:
            cert = certificate(sock)
            der = sock.getpeercert(binary_form=True) or b""
    except (OSError, ssl.SSLError) as exc:
        return f"certificate verify failed: not valid for {host} ({_describe(exc, deadline)})", b""
    names = ", ".join(cert.sans) if cert and cert.sans else "no DNS name"
    return f"certificate does not cover {host}: it names {names}", der


def request(
    address: str,
    port: int,
    host: str,
    path: str,
    trust: Trust | None,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    limit: int | None = 65536,
) -> Answer:
    """One request to address:port for ``host`` and ``path``: over TLS with SNI ``host`` when
    ``trust`` is given, plain HTTP when it is None. Reads at most ``limit`` bytes of the body.

    ``timeout`` is the whole probe's: connecting, the handshake, sending the request and reading the
    answer end within it together, however slowly the server sends. A timeout that is not a positive
    number of seconds is a ValueError; every other failure is the answer's ``error``.
    """
    deadline = Deadline(timeout)
    answer = Answer()
    sock: socket.socket
    try:
        if trust is None:
            sock = _open(address, port, deadline)
        else:
            tls = connect(address, port, host, trust, deadline=deadline)
            answer.cert = certificate(tls)
            answer.tls_version = str(tls.version() or "")
            answer.der = tls.getpeercert(binary_form=True) or b""
            sock = tls
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code == _HOSTNAME_MISMATCH and trust is not None:
            answer.error, answer.der = _not_covering(address, port, host, trust, deadline)
        else:
            answer.error = _describe(exc, deadline)
            # What the server sent, as it is, for the report: one more handshake, unverified.
            answer.der = served_der(address, port, host, deadline) if trust is not None else b""
        return answer
    except (OSError, ssl.SSLError) as exc:
        answer.error = _describe(exc, deadline)
        return answer
    connection = http.client.HTTPConnection(address, port)
    connection.sock = _DeadlineSocket(sock, deadline)
    response = None
    try:
        deadline.stage = "sending the request"
        # Host as a client of port 443 or 80 sends it: without whatever local port stands in.
        sent = {"Host": host, "User-Agent": "binder.ingress-probe", **(headers or {})}
        connection.request(method, path, body=body, headers=sent)
        deadline.stage = "reading the answer"
        response = connection.getresponse()
        # A status only with the whole (bounded) body: an answer cut off by the deadline is no answer.
        body_read = response.read() if limit is None else response.read(limit)
        answer.status = response.status
        answer.body = body_read
        answer.headers = {key.lower(): value for key, value in response.getheaders()}
    except (OSError, http.client.HTTPException) as exc:
        answer.error = _describe(exc, deadline)
    finally:
        if response is not None:
            response.close()
        connection.close()
    return answer


_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


def older_tls_accepted(address: str, port: int, host: str, min_version: str, timeout: float = 10.0) -> str:
    """The TLS version of a handshake below ``min_version`` ("1.2") that the server completed,
    trying the newest older version first; "" when it refused them all.

    The client offers every older version with OpenSSL's security level 0, so that a refusal is the
    server's; the certificate is not checked, as only the handshake matters.
    """
    versions = list(_VERSIONS)
    older = versions[: versions.index(min_version)] if min_version in versions else []
    deadline = Deadline(timeout)  # one for all the tries, as for a request
    for name in reversed(older):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
            context.minimum_version = context.maximum_version = _VERSIONS[name]
        except (ValueError, ssl.SSLError):
            continue  # this OpenSSL cannot offer the version at all
        try:
            with _open(address, port, deadline) as raw:
                deadline.arm(raw)
                with context.wrap_socket(raw, server_hostname=host) as sock:
                    return str(sock.version() or name)
        except (OSError, ssl.SSLError):
            continue
    return ""


def is_traefik_not_found(answer: Answer) -> bool:
    """Whether the answer is traefik's own 404: no router took the request, no backend was asked.

    traefik answers with Go's http.NotFound. A backend that is itself written in Go and answers
    its default 404 looks the same, which is why a route is probed at a path its backend serves.
    """
    return (
        answer.status == 404
        and answer.body == _TRAEFIK_NOT_FOUND_BODY
        and answer.headers.get("content-type", "") == _TRAEFIK_NOT_FOUND_TYPE
    )
