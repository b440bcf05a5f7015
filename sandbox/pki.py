"""The sandbox CA and the API server's serving certificate (127.0.0.1 and localhost)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)


def ensure(directory: Path) -> Pki:
    """Create the CA and serving certificate in `directory`, or reuse the ones there."""
    pki = Pki(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "apiserver.crt",
        server_key=directory / "apiserver.key",
    )
    if all(p.exists() for p in (pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key)):
        return pki
    ca = trustme.CA(organization_name="binder.ingress sandbox", organization_unit_name="sandbox CA")
    cert = ca.issue_cert("127.0.0.1", "localhost", "::1", common_name="kube-apiserver")
    _write(pki.ca_cert, ca.cert_pem.bytes(), 0o644)
    # The data plane signs its stand-in certificates with this key, so it is kept, privately.
    _write(pki.ca_key, ca.private_key_pem.bytes(), 0o600)
    _write(pki.server_cert, b"".join(blob.bytes() for blob in cert.cert_chain_pems), 0o644)
    _write(pki.server_key, cert.private_key_pem.bytes(), 0o600)
    return pki
