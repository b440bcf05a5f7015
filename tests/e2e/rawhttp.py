"""HTTP/1.1 over TLS by hand, for the e2e tests that need control over the connection.

http.client hides what these tests look at: when a body is sent, whether the server
answers before the body (``Expect: 100-continue``), and when it closes a connection.
"""

from __future__ import annotations

import json
import select
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ansible_collections.binder.ingress.plugins.module_utils import _probe

from sandbox.demo import LB_ADDRESS


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One TLS connection to traefik's websecure entrypoint, SNI and Host set to ``host``."""

    def __init__(self, host: str, port: int, ca_file: Path, timeout: float = 15.0) -> None:
        self.host = host
        # The collection's prober opens the connection: SNI and certificate check as verify.yml's.
        self.sock = _probe.connect(LB_ADDRESS, port, host, _probe.Trust(str(ca_file)), timeout)
        self.fp: BinaryIO = self.sock.makefile("rb")

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.fp.close()
        self.sock.close()

    def send_head(self, method: str, path: str, length: int | None = None, **headers: str) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def read(self) -> Answer:
        status_line = self.fp.readline()
        if not status_line:
            raise ConnectionError("connection closed by the server before an answer")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = self.fp.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if status == 100 or 100 <= status < 200:
            return Answer(status, headers, b"")
        if "content-length" in headers:
            body = self.fp.read(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.fp.readline().split(b";")[0], 16)
                chunk = self.fp.read(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = b""
        return Answer(status, headers, body)

    def get(self, path: str) -> Answer:
        self.send_head("GET", path)
        return self.read()

    def closed_by_peer(self) -> bool:
        """Whether the server has closed the connection (without sending anything else)."""
        if self.sock.pending():
            return False
        readable, _, _ = select.select([self.sock], [], [], 0)
        if not readable:
            return False
        self.sock.setblocking(False)
        try:
            return self.sock.recv(1) == b""
        except ssl.SSLWantReadError:
            return False
        except OSError:
            return True
        finally:
            self.sock.setblocking(True)


def upload(host: str, path: str, port: int, ca_file: Path, size: int) -> Answer:
    """POST ``size`` bytes the way curl does for large bodies: ``Expect: 100-continue``.

    A server that refuses the body (413) answers before it is sent, so its answer is read
    reliably instead of racing a connection reset.
    """
    with Connection(host, port, ca_file, timeout=60) as conn:
        conn.send_head("POST", path, size, Expect="100-continue")
        answer = conn.read()
        if answer.status != 100:
            return answer
        chunk = b"\0" * 65536
        left = size
        while left:
            n = min(left, len(chunk))
            conn.sock.sendall(chunk[:n])
            left -= n
        return conn.read()


def trickle(host: str, path: str, port: int, ca_file: Path, size: int, interval: float) -> Answer | str:
    """Send a ``size``-byte body one byte every ``interval`` seconds.

    Returns the answer, or how the connection was cut.
    """
    with Connection(host, port, ca_file) as conn:
        try:
            conn.send_head("POST", path, size)
            for _ in range(size):
                time.sleep(interval)
                conn.sock.sendall(b"x")
            return conn.read()
        except (OSError, ValueError) as exc:
            return f"cut: {type(exc).__name__}: {exc}"
