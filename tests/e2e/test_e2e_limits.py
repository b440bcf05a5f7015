"""Request body limits and connection timeouts act in real traefik as the role sets them."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator

import pytest
import yaml
from harness import Member, local_member
from rawhttp import Answer, Connection, trickle, upload

COMPONENTS = local_member()["binder_ingresses_components"]
HUB = COMPONENTS["jupyterhub"]["hosts"][0]
BINDER = COMPONENTS["binderhub"]["hosts"][0]  # default@file
REGISTRY = COMPONENTS["harbor"]["hosts"][0]  # harbor@file, no limit
MB = 1_000_000

# Short stand-ins for the role's 600 s, so the tests take seconds. Different values, so
# a test can tell which of the two closed a connection.
READ_TIMEOUT = 3.0
IDLE_TIMEOUT = 6.0


@pytest.mark.parametrize(
    ("host", "size", "status"),
    [
        (BINDER, 999_000, 200),
        (BINDER, MB + 1, 413),
        (BINDER, 5 * MB, 413),
        (HUB, 5 * MB, 200),
        (HUB, 64 * MB + 1, 413),
        (REGISTRY, 5 * MB, 200),
    ],
    ids=["default-under-1MB", "default-over-1MB", "default-5MB", "hub-5MB", "hub-over-64MB", "harbor-5MB"],
)
def test_request_body_limits(member: Member, host: str, size: int, status: int) -> None:
    answer = upload(host, "/upload", member.websecure, member.sandbox.ca_file, size)
    assert answer.status == status
    if status == 200:
        assert answer.json()["body_bytes"] == size


def test_the_roles_timeouts_reach_traefik(member: Member) -> None:
    # The values the converge gave the traefik release, and what the traefik serving it runs with.
    values = yaml.safe_load(member.traefik_values)
    set_by_role = values["ports"]["websecure"]["transport"]["respondingTimeouts"]
    api = member.sandbox.dataplane()["traefik"]["api"]
    with urllib.request.urlopen(f"http://127.0.0.1:{api}/api/entrypoints/websecure", timeout=5) as response:
        live = json.loads(response.read())["transport"]["respondingTimeouts"]
    assert {key: seconds(live[key]) for key in set_by_role} == {k: seconds(v) for k, v in set_by_role.items()}


_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def seconds(duration: int | str) -> float:
    """A timeout as the chart takes it (int seconds, "600s") or as traefik shows it ("10m0s")."""
    if isinstance(duration, int):
        return float(duration)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(n) * _UNITS[u] for n, u in parts)


@pytest.fixture(scope="module")
def short_timeouts(member: Member) -> Iterator[Member]:
    """The traefik release upgraded with the converge's values, only the websecure timeouts shortened;
    upgraded back to them afterwards."""
    values = yaml.safe_load(member.traefik_values)
    values["ports"]["websecure"]["transport"]["respondingTimeouts"] = {
        "readTimeout": f"{READ_TIMEOUT:g}s",
        "idleTimeout": f"{IDLE_TIMEOUT:g}s",
    }
    member.set_traefik_values(yaml.safe_dump(values))
    try:
        yield member
    finally:
        member.set_traefik_values(member.traefik_values)


def _body_bytes(answer: Answer | str) -> int | None:
    if isinstance(answer, str) or answer.status != 200:
        return None
    value: int = answer.json()["body_bytes"]
    return value


def test_a_body_trickled_within_the_read_timeout_arrives(short_timeouts: Member) -> None:
    m = short_timeouts
    answer = trickle(HUB, "/slow", m.websecure, m.sandbox.ca_file, size=8, interval=READ_TIMEOUT / 32)
    assert _body_bytes(answer) == 8, answer


def test_a_body_trickled_past_the_read_timeout_is_cut_off(short_timeouts: Member) -> None:
    m = short_timeouts
    # 8 bytes over twice the read timeout.
    answer = trickle(HUB, "/slow", m.websecure, m.sandbox.ca_file, size=8, interval=READ_TIMEOUT / 4)
    assert _body_bytes(answer) is None, answer


def test_an_idle_connection_is_closed_after_the_idle_timeout_and_not_before(short_timeouts: Member) -> None:
    m = short_timeouts
    with Connection(BINDER, m.websecure, m.sandbox.ca_file) as conn:
        assert conn.get("/first").status == 200
        # Past the read timeout but within the idle timeout: idle is what governs.
        time.sleep(READ_TIMEOUT + 0.5)
        assert not conn.closed_by_peer()
        assert conn.get("/second").status == 200
        started = time.monotonic()
        while not conn.closed_by_peer():
            assert time.monotonic() - started < IDLE_TIMEOUT + 3, "traefik kept the idle connection open"
            time.sleep(0.1)
        assert time.monotonic() - started > IDLE_TIMEOUT - 1
