"""Helm v3 releases as Helm stores them in the cluster, read back as the data plane needs them.

Helm's default storage driver keeps every revision of a release as one Secret
``sh.helm.release.v1.<release>.v<revision>`` in the release's namespace, of type
``helm.sh/release.v1``, labelled ``owner=helm``, ``name=<release>``, ``status=<status>``
and ``version=<revision>``. Its ``data.release`` is, once the Secret's own base64 is
undone, base64 of gzip of the release as JSON; that JSON holds the chart (``chart.metadata``,
``chart.values``: the chart's defaults), ``config`` (the values the user passed),
``manifest`` (the rendered objects), ``info.status`` and ``version``.

The values a chart's templates see are ``config`` coalesced over the chart's defaults:
:func:`coalesce` does that as Helm does. :func:`choose` picks the release of one chart the
data plane should serve from all release Secrets. Nothing here talks to the API.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import json
import logging
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

log = logging.getLogger(__name__)

__all__ = [
    "LABEL_SELECTOR",
    "RELEASE_TYPE",
    "Choice",
    "Release",
    "ReleaseError",
    "ReleaseReader",
    "choose",
    "coalesce",
    "decode_release",
    "pod_template_labels",
]

RELEASE_TYPE = "helm.sh/release.v1"
LABEL_SELECTOR = "owner=helm"
_GZIP_MAGIC = b"\x1f\x8b\x08"
# Statuses after which a release's objects are gone or going (helm uninstall).
_GONE = frozenset({"uninstalled", "uninstalling"})


class ReleaseError(ValueError):
    """A release Secret that cannot be read as a Helm release."""


def decode_release(data: str) -> dict[str, Any]:
    """The release JSON from a release Secret's ``data.release`` (as the API returns it).

    Like Helm's ``decodeRelease``: base64, then gunzip when the bytes are gzip (Helm has
    always compressed, but reads uncompressed releases too), then JSON.
    """
    try:
        encoded = base64.b64decode(data, validate=True)  # the Secret's own encoding
        blob = base64.b64decode(encoded, validate=True)  # Helm's
        if blob[:3] == _GZIP_MAGIC:
            blob = gzip.decompress(blob)
        release = json.loads(blob)
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError) as exc:
        raise ReleaseError(f"not a Helm release: {exc}") from exc
    if not isinstance(release, dict):
        raise ReleaseError(f"not a Helm release: a JSON {type(release).__name__}, not an object")
    return release


def coalesce(defaults: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` over ``defaults`` as Helm coalesces a release's values (chartutil.CoalesceValues).

    Mappings present on both sides are coalesced key by key; any other value given in
    ``values`` wins whatever the default's type; a key set to null in ``values`` removes the
    default (and stays null where there is no default); defaults fill what ``values`` lacks.
    Neither argument is changed.
    """
    out: dict[str, Any] = copy.deepcopy(dict(values))
    for key, default in defaults.items():
        if key not in out:
            out[key] = copy.deepcopy(default)
        elif out[key] is None:
            del out[key]
        elif isinstance(out[key], Mapping) and isinstance(default, Mapping):
            out[key] = coalesce(default, out[key])
    return out


def pod_template_labels(manifest: str) -> list[dict[str, str]]:
    """The pod template labels of every workload in a rendered release manifest."""
    labels: list[dict[str, str]] = []
    try:
        documents = list(yaml.safe_load_all(manifest or ""))
    except yaml.YAMLError as exc:
        log.warning("release manifest unreadable, no pod labels taken from it: %s", exc)
        return labels
    for doc in documents:
        if not isinstance(doc, Mapping):
            continue
        if doc.get("kind") not in ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"):
            continue
        template = ((doc.get("spec") or {}).get("template") or {}).get("metadata") or {}
        found = template.get("labels") or {}
        if isinstance(found, Mapping):
            labels.append({str(k): str(v) for k, v in found.items()})
    return labels


@dataclass(frozen=True)
class Release:
    """One revision of a release, with the values its templates saw."""

    namespace: str
    name: str
    revision: int
    status: str
    chart: str
    chart_version: str
    values: dict[str, Any] = field(repr=False)
    pod_labels: tuple[tuple[tuple[str, str], ...], ...] = field(default=(), repr=False)
    # The release Secret's uid: tells a reinstall from the revision of the same number before.
    uid: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def identity(self) -> tuple[str, str, int, str]:
        return (self.namespace, self.name, self.revision, self.uid)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name} revision {self.revision}"

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> Release:
        """Read a release Secret; raises :class:`ReleaseError` when it is not one."""
        meta = secret.get("metadata") or {}
        where = f"Secret {meta.get('namespace')}/{meta.get('name')}"
        if secret.get("type") != RELEASE_TYPE:
            raise ReleaseError(f"{where}: type {secret.get('type')!r}, not {RELEASE_TYPE}")
        data = (secret.get("data") or {}).get("release")
        if not isinstance(data, str):
            raise ReleaseError(f"{where}: no data.release")
        try:
            body = decode_release(data)
        except ReleaseError as exc:
            raise ReleaseError(f"{where}: {exc}") from exc
        labels = meta.get("labels") or {}
        chart = body.get("chart") or {}
        metadata = chart.get("metadata") or {}
        try:
            revision = int(body.get("version") or labels.get("version") or 0)
        except (TypeError, ValueError) as exc:
            raise ReleaseError(f"{where}: revision {body.get('version')!r} is not a number") from exc
        defaults = chart.get("values") or {}
        config = body.get("config") or {}
        if not isinstance(defaults, Mapping) or not isinstance(config, Mapping):
            raise ReleaseError(f"{where}: chart.values and config must be objects")
        return cls(
            namespace=str(body.get("namespace") or meta.get("namespace") or ""),
            name=str(body.get("name") or labels.get("name") or ""),
            revision=revision,
            # Helm keeps the label and info.status in step; the label is what `helm list` filters on.
            status=str(labels.get("status") or (body.get("info") or {}).get("status") or ""),
            chart=str(metadata.get("name") or ""),
            chart_version=str(metadata.get("version") or ""),
            values=coalesce(defaults, config),
            pod_labels=tuple(
                tuple(sorted(labels.items()))
                for labels in pod_template_labels(str(body.get("manifest") or ""))
            ),
            uid=str(meta.get("uid") or ""),
        )

    def selected_by(self, selector: Mapping[str, str]) -> bool:
        """Whether a Service with this selector selects the release's pods."""
        if not selector:
            return False
        return any(all(dict(labels).get(k) == v for k, v in selector.items()) for labels in self.pod_labels)


class ReleaseReader:
    """Decodes release Secrets once per resourceVersion (a watch replays the whole cache)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[str, Release | None]] = {}

    def read(self, secrets: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[Release]:
        releases: list[Release] = []
        seen: set[tuple[str, str]] = set()
        for key, secret in secrets.items():
            seen.add(key)
            version = str((secret.get("metadata") or {}).get("resourceVersion") or "")
            cached = self._cache.get(key)
            if cached is None or cached[0] != version or not version:
                try:
                    release: Release | None = Release.from_secret(secret)
                except ReleaseError as exc:
                    log.warning("%s; ignored", exc)
                    release = None
                cached = (version, release)
                self._cache[key] = cached
            if cached[1] is not None:
                releases.append(cached[1])
        for key in set(self._cache) - seen:
            del self._cache[key]
        return releases


@dataclass(frozen=True)
class Choice:
    """What to serve: ``release`` (a deployed revision), else keep or stop what runs."""

    release: Release | None
    keep_current: bool
    ignored: tuple[str, ...] = ()


def choose(releases: Iterable[Release], chart: str, current: tuple[str, str] | None) -> Choice:
    """The deployed release of ``chart`` to serve, given the one served now (if any).

    - A deployed revision exists: serve it (the current release if it is among several;
      otherwise the first by namespace and name; the others are named in ``ignored``).
    - None is deployed, but the current release still has revisions that are not
      uninstalled: keep what runs. That is an upgrade or rollback in flight (Helm marks the
      old revision superseded before the new one deployed) or a failed one (the old
      revision stays deployed, so this does not arise), as pods keep running meanwhile.
    - Otherwise (never installed, uninstalled, its Secrets deleted): serve nothing.
    """
    mine = [r for r in releases if r.chart == chart]
    deployed: dict[tuple[str, str], Release] = {}
    for release in mine:
        if release.status != "deployed":
            continue
        # Two deployed revisions only in the instant between Helm's two writes: the newer one.
        if release.key not in deployed or deployed[release.key].revision < release.revision:
            deployed[release.key] = release
    if deployed:
        keys = sorted(deployed)
        pick = current if current in deployed else keys[0]
        ignored = tuple(f"{ns}/{name}" for ns, name in keys if (ns, name) != pick)
        return Choice(release=deployed[pick], keep_current=False, ignored=ignored)
    alive = any(r.key == current and r.status not in _GONE for r in mine)
    return Choice(release=None, keep_current=alive)
