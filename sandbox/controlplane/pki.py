"""The local cluster's PKI: one CA, kube-apiserver's serving certificate, one client
certificate per component, and the service-account signing key pair."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# The components that authenticate with a client certificate: file stem -> (user, groups).
# system:masters keeps RBAC out of the way of the controllers; the names keep them apart in
# the audit log.
CLIENTS: dict[str, tuple[str, str]] = {
    "controller-manager": ("system:kube-controller-manager", "system:masters"),
    "scheduler": ("system:kube-scheduler", "system:masters"),
    "kwok": ("system:kwok", "system:masters"),
    "dataplane": ("sandbox:dataplane", "system:masters"),
}
# The ClusterIP of the `kubernetes` Service in the service range kube-apiserver is given.
SERVICE_RANGE = "127.96.0.0/16"
KUBERNETES_SERVICE_IP = "127.96.0.1"


@dataclass(frozen=True)
class Pki:
    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def server_key(self) -> Path:
        return self.dir / "apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "pki" / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "pki" / "sa.pub"

    @property
    def pebble_cert(self) -> Path:
        return self.dir / "pebble.crt"

    @property
    def pebble_key(self) -> Path:
        return self.dir / "pebble.key"

    def client(self, name: str) -> tuple[Path, Path]:
        return self.dir / "pki" / f"{name}.crt", self.dir / "pki" / f"{name}.key"

    def files(self) -> list[Path]:
        out = [self.ca_cert, self.ca_key, self.server_cert, self.server_key, self.sa_key, self.sa_pub]
        out += [self.pebble_cert, self.pebble_key]
        for name in CLIENTS:
            out.extend(self.client(name))
        return out


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)


def remove(directory: Path) -> None:
    """Remove the PKI of `directory`: its private keys must not outlive the cluster (down)."""
    pki = Pki(directory)
    for path in pki.files():
        path.unlink(missing_ok=True)
    # The components' kubeconfigs and whatever else kube-apiserver's --cert-dir holds.
    shutil.rmtree(directory / "pki", ignore_errors=True)


def ensure(directory: Path) -> Pki:
    """Create the PKI in `directory`, or reuse a complete one there (a running cluster's)."""
    pki = Pki(directory)
    if all(p.exists() for p in pki.files()):
        return pki
    ca = trustme.CA(organization_name="binder.ingress sandbox", organization_unit_name="sandbox CA")
    _write(pki.ca_cert, ca.cert_pem.bytes(), 0o644)
    # The data plane signs its stand-in certificates with this key, so it is kept, privately.
    _write(pki.ca_key, ca.private_key_pem.bytes(), 0o600)
    server = ca.issue_cert(
        "127.0.0.1",
        "localhost",
        "::1",
        KUBERNETES_SERVICE_IP,
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        common_name="kube-apiserver",
    )
    _write(pki.server_cert, b"".join(blob.bytes() for blob in server.cert_chain_pems), 0o644)
    _write(pki.server_key, server.private_key_pem.bytes(), 0o600)
    # Pebble's directory and management API (sandbox/controlplane/pebble.py).
    pebble = ca.issue_cert("127.0.0.1", "localhost", common_name="pebble")
    _write(pki.pebble_cert, b"".join(blob.bytes() for blob in pebble.cert_chain_pems), 0o644)
    _write(pki.pebble_key, pebble.private_key_pem.bytes(), 0o600)
    for name, (user, group) in CLIENTS.items():
        # kube-apiserver takes the user from CN and the groups from O.
        leaf = ca.issue_cert(f"{name}.sandbox.test", common_name=user, organization_name=group)
        cert, key = pki.client(name)
        _write(cert, b"".join(blob.bytes() for blob in leaf.cert_chain_pems), 0o644)
        _write(key, leaf.private_key_pem.bytes(), 0o600)
    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write(
        pki.sa_key,
        signer.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        0o600,
    )
    _write(
        pki.sa_pub,
        signer.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        0o644,
    )
    return pki
