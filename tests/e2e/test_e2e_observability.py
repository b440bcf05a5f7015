"""traefik's metrics, access log and ping, as the role's values configure them."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import yaml
from harness import Member, local_member, probe

HOST = local_member()["binder_ingresses_components"]["binderhub"]["hosts"][0]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_ping_answers(member: Member) -> None:
    assert _get(f"http://127.0.0.1:{member.sandbox.dataplane()['traefik']['api']}/ping") == (200, "OK")


def test_prometheus_metrics_carry_the_labels_the_role_asks_for(member: Member) -> None:
    prometheus = yaml.safe_load(member.traefik_values)["metrics"]["prometheus"]
    assert probe(HOST, "/metrics-probe", member.websecure, member.sandbox.ca_file).status == 200
    status, text = _get(f"http://127.0.0.1:{member.sandbox.dataplane()['traefik']['metrics']}/metrics")
    assert status == 200
    entrypoint_series = 'traefik_entrypoint_requests_total{code="200",entrypoint="websecure"'
    assert (entrypoint_series in text) == bool(prometheus.get("addEntryPointsLabels"))
    assert ("traefik_service_requests_total{" in text) == bool(prometheus.get("addServicesLabels"))


def test_the_access_log_records_requests(member: Member) -> None:
    values = yaml.safe_load(member.traefik_values)
    assert values["accessLog"]["enabled"] is True
    path = "/access-log-probe-" + str(time.time_ns())
    assert probe(HOST, path, member.websecure, member.sandbox.ca_file).status == 200
    access_log = Path(member.sandbox.dataplane()["traefik"]["access_log"])
    deadline = time.monotonic() + 10
    while path not in access_log.read_text():
        assert time.monotonic() < deadline, f"{path} not in {access_log}"
        time.sleep(0.2)
