"""The data plane process refuses values it cannot translate before starting anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme

from sandbox.dataplane.main import main
from sandbox.dataplane.traefik_process import free_port


def _state_dir(tmp_path: Path) -> Path:
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    authority.private_key_pem.write_to_path(str(tmp_path / "ca.key"))
    (tmp_path / "token").write_text("t")
    # Nothing listens there: reaching the API would be a bug in this test.
    (tmp_path / "state.json").write_text(json.dumps({"api_url": f"https://127.0.0.1:{free_port()}"}))
    return tmp_path


def test_unknown_values_key_stops_the_data_plane(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state_dir = _state_dir(tmp_path)
    values = tmp_path / "traefik-values.yaml"
    values.write_text("ports:\n  web:\n    port: 80\n    hostNetwork: true\n")
    assert main(["--dir", str(state_dir), "--traefik-values", str(values)]) == 1
    assert "ports.web.hostNetwork" in caplog.text
    assert not (state_dir / "dataplane.json").exists()


def test_a_bad_certificate_lifetime_is_refused(tmp_path: Path) -> None:
    assert main(["--dir", str(_state_dir(tmp_path)), "--cert-lifetime", "forever"]) == 2
