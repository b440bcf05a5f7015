"""The certificate stand-in: what cert-manager's ingress-shim and an issuer would do, locally.

This is a stand-in, not cert-manager: no Certificate or CertificateRequest objects, no
ACME. For every Ingress annotated ``kubernetes.io/tls-acme: "true"`` or
``cert-manager.io/cluster-issuer``, each ``spec.tls[]`` entry gets a ``kubernetes.io/tls``
Secret named by its ``secretName``, holding a certificate for exactly its hosts signed by
the sandbox CA. The Secret is reissued when the hosts change, when it is deleted, and when
less than a third of its lifetime is left (cert-manager's default renewal point).

The lifetime is configurable (``--cert-lifetime`` or ``SANDBOX_CERT_LIFETIME``, e.g.
``90d``, ``12h``, ``3600``), so a test can make a certificate that is close to expiry.
Secrets the stand-in did not write are left alone.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .kube import Kube, Obj, reconcile_loop

log = logging.getLogger(__name__)

LABEL = "sandbox.binder.ingress/cert-standin"
HOSTS_ANNOTATION = "sandbox.binder.ingress/cert-standin-hosts"
ISSUER_ANNOTATION = "sandbox.binder.ingress/cert-standin-issuer"
INGRESS_ANNOTATION = "sandbox.binder.ingress/cert-standin-ingress"
DEFAULT_LIFETIME = dt.timedelta(days=90)
# ingress-shim with `kubernetes.io/tls-acme` uses the chart's default issuer.
DEFAULT_ISSUER = "(default issuer)"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_lifetime(text: str) -> dt.timedelta:
    """``"90d"``, ``"12h"``, ``"30m"``, ``"45s"`` or plain seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(
            f"certificate lifetime {text!r}: expected a number with an optional unit s, m, h or d"
        )
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"certificate lifetime {text!r}: must be positive")
    return dt.timedelta(seconds=seconds)


@dataclass(frozen=True)
class SandboxCA:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @classmethod
    def load(cls, cert_file: Path, key_file: Path) -> SandboxCA:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"{key_file}: the sandbox CA key must be an EC or RSA key")
        return cls(cert=cert, key=key)

    def issue(self, hosts: list[str], lifetime: dt.timedelta) -> tuple[bytes, bytes]:
        """A leaf certificate for ``hosts`` (PEM chain leaf+CA, PEM key)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            # X.509 limits a common name to 64 characters; like Let's Encrypt, leave it out for a
            # longer host (the SANs are what clients check).
            .subject_name(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])] if len(hosts[0]) <= 64 else [])
            )
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + lifetime)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.cert.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        chain = cert.public_bytes(serialization.Encoding.PEM) + self.cert.public_bytes(
            serialization.Encoding.PEM
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return chain, key_pem


def wants_certificate(ingress: Obj) -> str | None:
    """The issuer the Ingress asks for, or None when it asks for no certificate."""
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if annotations.get("cert-manager.io/cluster-issuer"):
        return str(annotations["cert-manager.io/cluster-issuer"])
    if annotations.get("cert-manager.io/issuer"):
        return str(annotations["cert-manager.io/issuer"])
    if str(annotations.get("kubernetes.io/tls-acme", "")).lower() == "true":
        return DEFAULT_ISSUER
    return None


@dataclass(frozen=True)
class Wanted:
    namespace: str
    secret: str
    hosts: tuple[str, ...]
    issuer: str
    ingress: str


def wanted_secrets(ingresses: dict[tuple[str, str], Obj]) -> dict[tuple[str, str], Wanted]:
    """Which TLS Secrets the annotated Ingresses ask for, with their hosts."""
    out: dict[tuple[str, str], Wanted] = {}
    for (namespace, name), ingress in sorted(ingresses.items()):
        issuer = wants_certificate(ingress)
        if issuer is None:
            continue
        for tls in (ingress.get("spec") or {}).get("tls") or []:
            secret, hosts = tls.get("secretName"), tuple(sorted(set(tls.get("hosts") or [])))
            if not secret or not hosts:
                continue
            key = (namespace, str(secret))
            if key in out and out[key].hosts != hosts:
                log.warning(
                    "certificate stand-in: Secret %s/%s is asked for by Ingress %s and %s with different hosts; "
                    "keeping the first (cert-manager would fight over it)",
                    namespace,
                    secret,
                    out[key].ingress,
                    name,
                )
                continue
            out.setdefault(key, Wanted(namespace, str(secret), hosts, issuer, name))
    return out


def _not_after(secret: Obj) -> dt.datetime | None:
    try:
        pem = base64.b64decode((secret.get("data") or {})["tls.crt"])
        return x509.load_pem_x509_certificate(pem).not_valid_after_utc
    except (KeyError, ValueError):
        return None


class CertStandIn:
    """Issues and renews the TLS Secrets of annotated Ingresses."""

    def __init__(self, kube: Kube, ca: SandboxCA, lifetime: dt.timedelta = DEFAULT_LIFETIME) -> None:
        self.kube = kube
        self.ca = ca
        self.lifetime = lifetime
        self._ingresses: dict[tuple[str, str], Obj] = {}
        self._dirty = asyncio.Event()

    async def on_ingresses(self, cache: dict[tuple[str, str], Obj]) -> None:
        self._ingresses = cache
        self._dirty.set()

    async def run(self, resync: float = 10.0) -> None:
        await reconcile_loop("certificate stand-in", self._dirty, self.reconcile, resync)

    def _needs_issue(self, want: Wanted, secret: Obj | None) -> str | None:
        if secret is None:
            return "missing"
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        if annotations.get(HOSTS_ANNOTATION) != ",".join(want.hosts):
            return "hosts changed"
        not_after = _not_after(secret)
        if not_after is None:
            return "unreadable certificate"
        if not_after - dt.datetime.now(dt.UTC) < self.lifetime / 3:
            return "due for renewal"
        return None

    async def reconcile(self) -> None:
        for want in wanted_secrets(self._ingresses).values():
            path = f"/api/v1/namespaces/{want.namespace}/secrets/{want.secret}"
            secret = await self.kube.get(path)
            if (
                secret is not None
                and ((secret.get("metadata") or {}).get("labels") or {}).get(LABEL) != "true"
            ):
                log.warning(
                    "certificate stand-in: Secret %s/%s exists and was not written by the stand-in; left alone",
                    want.namespace,
                    want.secret,
                )
                continue
            reason = self._needs_issue(want, secret)
            if reason is None:
                continue
            chain, key = self.ca.issue(list(want.hosts), self.lifetime)
            body: Obj = {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "kubernetes.io/tls",
                "metadata": {
                    "name": want.secret,
                    "namespace": want.namespace,
                    "labels": {LABEL: "true"},
                    "annotations": {
                        HOSTS_ANNOTATION: ",".join(want.hosts),
                        ISSUER_ANNOTATION: want.issuer,
                        INGRESS_ANNOTATION: want.ingress,
                    },
                },
                "data": {
                    "tls.crt": base64.b64encode(chain).decode(),
                    "tls.key": base64.b64encode(key).decode(),
                    "ca.crt": base64.b64encode(
                        self.ca.cert.public_bytes(serialization.Encoding.PEM)
                    ).decode(),
                },
            }
            if secret is None:
                await self.kube.create(f"/api/v1/namespaces/{want.namespace}/secrets", body)
            else:
                body["metadata"]["resourceVersion"] = secret["metadata"].get("resourceVersion")
                await self.kube.replace(path, body)
            log.info(
                "certificate stand-in: issued Secret %s/%s for %s (%s)",
                want.namespace,
                want.secret,
                ", ".join(want.hosts),
                reason,
            )
