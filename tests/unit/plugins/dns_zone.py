"""A small authoritative DNS server on the loopback for the doctor's tests: real DNS over UDP
(dnspython builds and parses the messages), answering A questions from a mapping it is given.

Names it does not hold get NXDOMAIN; a held name asked for another type gets an empty answer.
``ZoneServer.zone`` may be changed while it runs (a test pointing a host elsewhere).
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class ZoneServer:
    def __init__(self, zone: dict[str, str]) -> None:
        self.zone = {name.rstrip(".").lower(): address for name, address in zone.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.questions: list[str] = []
        # Closing a UDP socket does not wake a thread blocked reading it: the reader looks up
        # every 0.1 s whether it is to stop.
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        """As doctor_resolver takes it."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> ZoneServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except Exception:
                continue
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            self.questions.append(f"{name} {dns.rdatatype.to_text(question.rdtype)}")
            address = self.zone.get(name)
            if address is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.A:
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", address))
            try:
                self.sock.sendto(response.to_wire(), client)
            except OSError:
                return
