"""An unauthenticated flood (uploads of the largest size, headers that never end) cannot take the
edge down: traefik keeps running, its spool stays under its cap and every other route answers.

The flood comes from loopback addresses other than 127.0.0.1 (traefik listens on 127.0.0.1 and
sees each one as a client address of its own); the other routes are probed from 127.0.0.1 meanwhile.
The release runs the converge's values with the cap, the per-client share and the read timeout
scaled down, so that the flood takes seconds and little memory.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.binder.ingress.plugins.module_utils import _probe
from harness import Member, local_member
from rawhttp import upload

from sandbox.dataplane.traefik_process import spool_bytes
from sandbox.demo import LB_ADDRESS, route_ready

HUB = local_member()["binder_ingresses_components"]["jupyterhub"]["hosts"][0]
HUB_MAX_BODY = 64_000_000  # the hub middleware's limit: the largest upload anyone may send

# Stand-ins for the role's defaults (1Gi, 500 per address, 180 s), so the flood takes seconds.
CAP = 160 * 2**20
PER_CLIENT = 2
# The read timeout bounds the body too: long enough for a held 64 MB upload on a loaded machine.
READ_TIMEOUT = 8.0

FLOOD_ADDRESS = "127.0.0.2"
UPLOADS = 6  # N: concurrent uploads of the largest size from FLOOD_ADDRESS
SLOW_HEADERS = 20  # M: connections from FLOOD_ADDRESS whose headers never end
# Several addresses together, each within its share: only the spool's cap can stop them.
CROWD = ("127.0.0.3", "127.0.0.4", "127.0.0.5")


@pytest.fixture(scope="module")
def flood_limits(member: Member) -> Iterator[Member]:
    """The traefik release upgraded with the converge's values, the cap, the per-client share and the
    read timeout scaled down; upgraded back to the converge's values afterwards."""
    values = yaml.safe_load(member.traefik_values)
    values["deployment"]["tmpVolume"]["emptyDir"]["sizeLimit"] = f"{CAP // 2**20}Mi"
    for middleware in values["providers"]["file"]["content"]["http"]["middlewares"].values():
        if "inFlightReq" in middleware:
            middleware["inFlightReq"]["amount"] = PER_CLIENT
    values["ports"]["websecure"]["transport"]["respondingTimeouts"]["readTimeout"] = f"{READ_TIMEOUT:g}s"
    member.set_traefik_values(yaml.safe_dump(values))
    try:
        yield member
    finally:
        member.set_traefik_values(member.traefik_values)


def _connect(source: str, port: int, ca_file: Path, timeout: float = 30.0) -> ssl.SSLSocket:
    """A TLS connection to the hub through the entrypoint, from ``source`` (a loopback address)."""
    raw = socket.create_connection((LB_ADDRESS, port), timeout=timeout, source_address=(source, 0))
    context = ssl.create_default_context(cafile=str(ca_file))
    return context.wrap_socket(raw, server_hostname=HUB)


def _status(sock: ssl.SSLSocket) -> tuple[int, bytes]:
    """The status of the next answer, and what was read of it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    return int(data.split(b" ", 2)[1]), data


@dataclass
class Flood:
    """What the flood's clients saw."""

    first: list[int] = field(default_factory=list)  # each upload's first answer (100 or a refusal)
    final: list[int] = field(default_factory=list)  # the final answer of each admitted upload
    errors: list[str] = field(default_factory=list)
    header_cut_after: list[float] = field(default_factory=list)  # seconds until traefik closed
    holding: list[int] = field(default_factory=list)  # admitted uploads that sent all but their end
    answered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, where: list[Any], value: Any) -> None:
        with self.lock:
            where.append(value)


def _upload(flood: Flood, expected: int, source: str, port: int, ca_file: Path) -> None:
    """One upload of the largest size; its last 64 KiB wait for ``flood.release``, so that every
    admitted upload holds its spool at once."""
    try:
        with _connect(source, port, ca_file) as sock:
            head = f"POST /upload HTTP/1.1\r\nHost: {HUB}\r\nContent-Length: {HUB_MAX_BODY}\r\n"
            sock.sendall((head + "Expect: 100-continue\r\n\r\n").encode())
            status, _ = _status(sock)
            flood.record(flood.first, status)
            if len(flood.first) == expected:
                flood.answered.set()
            if status != 100:
                return
            chunk = b"\0" * 65536
            left = HUB_MAX_BODY
            while left > len(chunk):
                sock.sendall(chunk)
                left -= len(chunk)
            flood.record(flood.holding, 1)
            flood.release.wait(60)
            sock.sendall(chunk[:left])
            status, _ = _status(sock)
            flood.record(flood.final, status)
    except OSError as exc:  # a refused upload may be cut while it sends: record how
        flood.record(flood.errors, f"{type(exc).__name__}: {exc}")
        if len(flood.first) + len(flood.errors) >= expected:
            flood.answered.set()


def _slow_headers(flood: Flood, source: str, port: int, ca_file: Path) -> None:
    """A request whose headers never end: one more header line every second, until traefik closes."""
    try:
        with _connect(source, port, ca_file, timeout=READ_TIMEOUT * 4) as sock:
            started = time.monotonic()
            sock.sendall(f"POST /upload HTTP/1.1\r\nHost: {HUB}\r\n".encode())
            sock.settimeout(1.0)
            for line in range(int(READ_TIMEOUT * 4)):
                try:
                    if sock.recv(65536) == b"":
                        break  # closed by traefik
                except TimeoutError:
                    pass
                except OSError:
                    break  # reset by traefik
                try:
                    sock.sendall(f"X-Slow-{line}: {line}\r\n".encode())
                except OSError:
                    break
            flood.record(flood.header_cut_after, time.monotonic() - started)
    except OSError as exc:
        flood.record(flood.errors, f"slow headers: {type(exc).__name__}: {exc}")


@dataclass
class Watch:
    """traefik's pid and spool, and the other routes' answers, sampled while the flood lasts."""

    pids: set[int] = field(default_factory=set)
    peak_spool: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def _watch_traefik(watch: Watch, member: Member) -> None:
    traefik = member.sandbox.dataplane()["traefik"]
    spool_dir = Path(traefik["spool"]["dir"])
    while not watch.stop.is_set():
        traefik = member.sandbox.dataplane()["traefik"]
        if traefik["pid"]:
            watch.pids.add(int(traefik["pid"]))
            watch.peak_spool = max(watch.peak_spool, spool_bytes(int(traefik["pid"]), spool_dir))
        time.sleep(0.02)


def _watch_routes(watch: Watch, member: Member) -> None:
    trust = _probe.Trust(str(member.sandbox.ca_file))
    others = [route for route in member.routes if route.host != HUB]
    while not watch.stop.is_set():
        for route in others:
            started = time.monotonic()
            answer = _probe.request(LB_ADDRESS, member.websecure, route.host, route.path, trust, timeout=5)
            watch.latencies.append(time.monotonic() - started)
            if not route_ready(route, answer):
                watch.failures.append(f"{route.host}{route.path}: {answer.status} {answer.error}")


def _flood(member: Member, clients: list[threading.Thread], watch: Watch) -> None:
    watchers = [
        threading.Thread(target=_watch_traefik, args=(watch, member)),
        threading.Thread(target=_watch_routes, args=(watch, member)),
    ]
    for thread in watchers + clients:
        thread.start()
    try:
        for thread in clients:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a flood client did not end within a minute"
    finally:
        watch.stop.set()
        for thread in watchers:
            thread.join(timeout=30)


def test_a_flood_from_one_address_is_held_to_its_share(flood_limits: Member) -> None:
    m = flood_limits
    pid = m.sandbox.dataplane()["traefik"]["pid"]
    flood, watch = Flood(), Watch()
    uploads = [
        threading.Thread(target=_upload, args=(flood, UPLOADS, FLOOD_ADDRESS, m.websecure, m.sandbox.ca_file))
        for _ in range(UPLOADS)
    ]
    slow = [
        threading.Thread(target=_slow_headers, args=(flood, FLOOD_ADDRESS, m.websecure, m.sandbox.ca_file))
        for _ in range(SLOW_HEADERS)
    ]

    def release_when_all_hold() -> None:
        # Every upload has its first answer, and every admitted one has sent all but its end; a
        # moment more for traefik to read what is in the sockets. The sampler sees the peak meanwhile.
        flood.answered.wait(30)
        deadline = time.monotonic() + 30
        while len(flood.holding) < flood.first.count(100) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        flood.release.set()

    releaser = threading.Thread(target=release_when_all_hold)
    _flood(m, [*uploads, *slow, releaser], watch)
    print(
        f"\nN={UPLOADS} uploads of {HUB_MAX_BODY} bytes, M={SLOW_HEADERS} slow-header clients from {FLOOD_ADDRESS}:"
        f" first answers {sorted(flood.first)}, final {sorted(flood.final)}, errors {flood.errors};"
        f" peak spool {watch.peak_spool} bytes (cap {CAP});"
        f" headers cut after {min(flood.header_cut_after, default=0):.1f}-{max(flood.header_cut_after, default=0):.1f} s;"
        f" other routes: {len(watch.latencies)} answers, slowest {max(watch.latencies, default=0):.3f} s"
    )
    assert watch.pids == {pid}, "traefik was restarted during the flood"
    assert watch.peak_spool <= CAP
    # The address gets its share and no more: the others are refused before sending their body.
    assert sorted(flood.first) == [100] * PER_CLIENT + [429] * (UPLOADS - PER_CLIENT), flood.errors
    assert flood.final == [200] * PER_CLIENT
    # Both were held at once (what the sockets still hold aside).
    assert watch.peak_spool >= PER_CLIENT * (HUB_MAX_BODY - 8 * 2**20)
    # Headers that never end hold a connection for the read timeout, and no longer.
    assert len(flood.header_cut_after) == SLOW_HEADERS, flood.errors
    assert max(flood.header_cut_after) < READ_TIMEOUT + 1.5
    assert not watch.failures
    assert watch.latencies and max(watch.latencies) < 1.0
    # And a notebook save of the largest size still goes through afterwards.
    answer = upload(HUB, "/upload", m.websecure, m.sandbox.ca_file, HUB_MAX_BODY)
    assert (answer.status, answer.json()["body_bytes"]) == (200, HUB_MAX_BODY)


def test_a_flood_from_many_addresses_stops_at_the_spools_cap(flood_limits: Member) -> None:
    m = flood_limits
    traefik = m.sandbox.dataplane()["traefik"]
    # The data plane caps traefik's /tmp as the kubelet does the pod's (a tmpfs of sizeLimit).
    assert (traefik["spool"]["memory"], traefik["spool"]["size_limit"], traefik["spool"]["capped"]) == (
        True,
        CAP,
        True,
    )
    flood, watch = Flood(), Watch()
    expected = PER_CLIENT * len(CROWD)
    uploads = [
        threading.Thread(target=_upload, args=(flood, expected, source, m.websecure, m.sandbox.ca_file))
        for source in CROWD
        for _ in range(PER_CLIENT)
    ]
    flood.release.set()  # no holding back: each sends its whole body
    _flood(m, uploads, watch)
    answers = sorted(flood.first + flood.final)
    print(
        f"\n{expected} uploads of {HUB_MAX_BODY} bytes from {len(CROWD)} addresses: answers {answers},"
        f" errors {flood.errors}; peak spool {watch.peak_spool} bytes (cap {CAP});"
        f" other routes: {len(watch.latencies)} answers, slowest {max(watch.latencies, default=0):.3f} s"
    )
    assert watch.pids == {traefik["pid"]}, "traefik was restarted during the flood"
    assert watch.peak_spool <= CAP
    # Every address is within its share (no 429); together they are more than the spool holds, so
    # some are refused (500: no space left in /tmp). Nothing else is answered.
    assert 429 not in answers
    assert set(answers) <= {100, 200, 500}
    assert flood.final.count(500) + len(flood.errors) >= 1
    assert not watch.failures
    assert watch.latencies and max(watch.latencies) < 1.0
