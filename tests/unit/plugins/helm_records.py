"""Helm release Secrets as Helm writes them, for the doctor's tests: a record, and the largest gzip bomb one holds."""

from __future__ import annotations

import base64
import gzip
import json
import struct
import zlib
from typing import Any

HELM_RELEASE_TYPE = "helm.sh/release.v1"


def wrap(blob: bytes) -> str:
    """Bytes as the API returns them in a Helm release Secret's data.release: base64 of Helm's base64."""
    return base64.b64encode(base64.b64encode(blob)).decode()


def helm_data(record: Any, compress: bool = True) -> str:
    """A record (JSON, or bytes as they are) as Helm stores it: gzip, unless compress is false."""
    raw = record if isinstance(record, bytes) else json.dumps(record).encode()
    return wrap(gzip.compress(raw) if compress else raw)


def release_secret(
    version: int | str,
    status: str,
    config: dict[str, Any] | None = None,
    *,
    kind: str = HELM_RELEASE_TYPE,
    record: dict[str, Any] | None = None,
    release: str = "traefik",
) -> dict[str, Any]:
    """A Helm release Secret as Helm writes it (record overrides fields of the record it holds)."""
    body = {
        "name": release,
        "namespace": "ns",
        "version": int(version) if str(version).isdigit() else version,
        "info": {"status": status},
        "config": config or {},
        **(record or {}),
    }
    return {
        "metadata": {
            "name": f"sh.helm.release.v1.{release}.v{version}",
            "namespace": "ns",
            "labels": {"owner": "helm", "name": release, "version": str(version), "status": status},
        },
        "type": kind,
        "data": {"release": helm_data(body)},
    }


def secret_sized_bomb() -> tuple[bytes, int]:
    """The largest gzip of zeros a Helm release Secret holds (1 MiB once Helm base64-encodes it), and
    its decompressed size. Built from one deflated MiB, flushed so that it can be repeated, without
    compressing the whole."""
    chunk = bytes(2**20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    count = (3 * 2**20 // 4 - 32) // len(segment)
    crc = 0
    for _block in range(count):
        crc = zlib.crc32(chunk, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (count * len(chunk)) & 0xFFFFFFFF)
    return header + segment * count + packer.flush() + trailer, count * len(chunk)
