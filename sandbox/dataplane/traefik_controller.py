"""traefik as the traefik Helm release in the cluster says: started, restarted, stopped.

The controller watches Helm's release Secrets (label ``owner=helm``, every namespace),
picks the deployed release of the chart ``traefik`` (:func:`sandbox.dataplane.releases.choose`)
and runs one traefik process with that revision's values, on loopback ports that stay the
same for the life of the data plane:

- no traefik release (yet): no traefik runs; the ports are reserved;
- a deployed revision appears (install, upgrade, rollback — a rollback is a new revision):
  its values are translated; a configuration different from the running one restarts
  traefik, an identical one (a rollback to the same values, an upgrade changing only pod
  settings) keeps it running, as an unchanged pod template rolls no pods;
- values the data plane cannot translate: the error (naming the keys) is logged and shown in
  dataplane.json, and the traefik already running keeps running, as the old pods of a
  Deployment whose new pods fail do;
- the release is uninstalled: traefik stops;
- traefik exits on its own: it is started again on the next pass (every few seconds), as
  the kubelet restarts a crashed container.

A release whose traefik is scoped to namespaces (``providers.kubernetesIngress.namespaces``, or
the chart's namespaced RBAC: members that share a cluster) gets a traefik of its own, as each
such release runs its own pods in a cluster: one child controller per release, with its own
ports and files (DIR/traefik-<namespace>-<release>/), started, restarted and stopped by the same
rules. The cluster-wide releases keep the one traefik above (the first, or the one already
served), so a cluster of one traefik release runs exactly one traefik, on the same ports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .kube import ApiAccess, Obj, reconcile_loop
from .releases import Release, ReleaseReader, choose
from .traefik_config import (
    API_ENTRYPOINT,
    ClusterAccess,
    TraefikSetup,
    ValuesError,
    entrypoint_names,
    translate,
)
from .traefik_process import PortReservations, Traefik, TraefikError, serves_ingress, traefik_classes

log = logging.getLogger(__name__)

CHART = "traefik"
# Reserved from the start, so `up` can report them before any release exists.
STANDARD_ENTRYPOINTS = ("web", "websecure", API_ENTRYPOINT, "metrics")


def is_scoped(release: Release) -> bool:
    """Whether the release's traefik reads Ingresses of some namespaces only (its own traefik here)."""
    values = release.values
    ingress = (values.get("providers") or {}).get("kubernetesIngress") or {}
    rbac = values.get("rbac") or {}
    return bool(ingress.get("namespaces")) or bool(rbac.get("enabled") and rbac.get("namespaced"))


class TraefikController:
    """Keeps the one traefik process in step with the deployed traefik release.

    With ``key`` (namespace, release) it is the child that serves that scoped release only.
    """

    def __init__(
        self,
        state_dir: Path,
        access: ApiAccess,
        on_change: Callable[[], None],
        key: tuple[str, str] | None = None,
    ) -> None:
        self.key = key
        if key is not None:
            state_dir = state_dir / f"traefik-{key[0]}-{key[1]}"
            state_dir.mkdir(mode=0o700, exist_ok=True)
        self.access = access
        self.children: dict[tuple[str, str], TraefikController] = {}
        self.state_dir = state_dir
        self.cluster = ClusterAccess(endpoint=access.url, token=access.token, ca_file=access.ca_file)
        self.traefik = Traefik(state_dir)
        self.reservations = PortReservations()
        self.reservations.ensure(STANDARD_ENTRYPOINTS)
        self.reader = ReleaseReader()
        self.secrets: dict[tuple[str, str], Obj] = {}
        self.ingresses: dict[tuple[str, str], Obj] = {}
        self.classes: dict[tuple[str, str], Obj] = {}
        self._synced: set[str] = set()
        self.release: Release | None = None  # the revision served (or being started)
        self.setup: TraefikSetup | None = None
        self.ready = False  # traefik answered ping and its providers synced
        self.error: str | None = None
        self.error_revision: int | None = None
        self.ignored: tuple[str, ...] = ()
        self.restarts = 0
        self.decided = asyncio.Event()  # the first pass over the synced caches is done
        self._rejected: tuple[str, str, int, str] | None = None
        self._failures = 0  # failed starts in a row, for the back-off
        self._retry_at = 0.0
        self._dirty = asyncio.Event()
        self._on_change = on_change

    # --- informer callbacks ------------------------------------------------------------------

    async def on_secrets(self, cache: dict[tuple[str, str], Obj]) -> None:
        self.secrets = cache
        self._synced.add("secrets")
        self._dirty.set()

    async def on_ingresses(self, cache: dict[tuple[str, str], Obj]) -> None:
        self.ingresses = cache
        self._synced.add("ingresses")
        self._dirty.set()

    async def on_classes(self, cache: dict[tuple[str, str], Obj]) -> None:
        self.classes = cache
        self._synced.add("classes")
        self._dirty.set()

    # --- reconcile ---------------------------------------------------------------------------

    async def run(self, resync: float = 5.0) -> None:
        await reconcile_loop("traefik controller", self._dirty, self.reconcile, resync)

    def served_ingresses(self) -> list[tuple[str, str]]:
        """The Ingresses traefik should have routers for, by its provider's rules."""
        if self.setup is None or "kubernetesIngress" not in self.setup.static["providers"]:
            return []
        provider = self.setup.static["providers"]["kubernetesIngress"]
        class_filter = self.setup.ingress_class_filter
        # disableClusterScopeResources: traefik reads no IngressClass, so no Ingress naming one is served.
        classes = (
            set()
            if provider.get("disableClusterScopeResources")
            else traefik_classes(self.classes, class_filter)
        )
        namespaces = set(provider.get("namespaces") or ())
        return [
            key
            for key, ing in sorted(self.ingresses.items())
            if (not namespaces or key[0] in namespaces) and serves_ingress(ing, classes, class_filter)
        ]

    async def reconcile(self) -> None:
        if self._synced != {"secrets", "ingresses", "classes"}:
            return
        releases = self.reader.read(self.secrets)
        await self._serve([r for r in releases if r.chart != CHART or not is_scoped(r)])
        await self._reconcile_children(releases)

    async def _reconcile_children(self, releases: list[Release]) -> None:
        """One child per scoped traefik release (deployed, or still alive under a child)."""
        wanted = {r.key for r in releases if r.chart == CHART and r.status == "deployed" and is_scoped(r)}
        for key in sorted(wanted - set(self.children)):
            log.info("traefik release %s/%s is scoped to namespaces: it gets a traefik of its own", *key)
            self.children[key] = TraefikController(self.state_dir, self.access, self._on_change, key=key)
        for key, child in sorted(self.children.items()):
            child.ingresses, child.classes = self.ingresses, self.classes
            # A release that is no longer scoped leaves the child (the traefik above serves it).
            mine = [r for r in releases if r.key == key and is_scoped(r)]
            await child._serve(mine)
            if child.release is None and not child.traefik.running:
                await child.close()
                del self.children[key]
                self._on_change()

    async def _serve(self, releases: list[Release]) -> None:
        current = self.release.key if self.release else None
        choice = choose(releases, CHART, current)
        if choice.ignored != self.ignored:
            self.ignored = choice.ignored
            if self.ignored:
                log.warning(
                    "more than one deployed traefik release; serving %s only, not %s",
                    choice.release.ref if choice.release else "-",
                    ", ".join(self.ignored),
                )
            self._on_change()
        self.decided.set()
        release = choice.release
        if release is None:
            if self.release is not None and not choice.keep_current:
                log.info("traefik release %s is gone; stopping traefik", self.release.ref)
                await self._stop()
                self.release, self.setup, self.error, self.error_revision = None, None, None, None
                self._on_change()
            elif self.release is None and self.error and not choice.keep_current:
                self.error, self.error_revision, self._rejected = None, None, None  # its release is gone
                self._on_change()
            else:
                await self._restart_if_exited()
            return
        if self.release is not None and self.release.identity == release.identity:
            await self._restart_if_exited()
            return
        if self._rejected == release.identity:
            return  # already reported; wait for another revision
        self._failures = 0
        try:
            setup = self._setup(release)
        except (ValuesError, TypeError, AttributeError) as exc:
            # A value of an unexpected type may break the translation before it can name the key:
            # one bad revision must not take the data plane down either.
            self._rejected = release.identity
            self.error, self.error_revision = f"{release.ref}: {exc}", release.revision
            log.error(
                "traefik release %s: %s; %s",
                release.ref,
                exc,
                f"traefik keeps serving {self.release.ref}" if self.release else "no traefik runs",
            )
            self._on_change()
            return
        previous = self.release
        if (
            self.setup is not None
            and self.traefik.running
            and (setup.static, setup.dynamic) == (self.setup.static, self.setup.dynamic)
        ):
            log.info(
                "traefik release %s configures traefik as %s did; traefik keeps running",
                release.ref,
                previous.ref if previous else "-",
            )
            self.release, self.error, self.error_revision = release, None, None
            self._on_change()
            return
        reason = f"traefik release {release.ref}" + (f" (was {previous.ref})" if previous else "")
        await self._start(setup, release, reason)

    async def _restart_if_exited(self) -> None:
        """Start the served revision's traefik again if it exited (with a back-off, as the kubelet)."""
        if self.release is None or self.setup is None or self.traefik.running:
            return
        if asyncio.get_running_loop().time() < self._retry_at:
            return
        await self._start(self.setup, self.release, "traefik is not running; starting it again")

    def _setup(self, release: Release) -> TraefikSetup:
        ports = self.reservations.ensure(entrypoint_names(release.values))
        return translate(
            release.values,
            ports=ports,
            cluster=self.cluster,
            state_dir=self.state_dir,
            release=release.name,
            release_namespace=release.namespace,
        )

    async def _stop(self) -> None:
        await self.traefik.stop()
        self.ready = False
        self.reservations.hold()

    async def _start(self, setup: TraefikSetup, release: Release, reason: str) -> None:
        """(Re)start traefik with ``setup``; ``release`` is served from then on, started or not."""
        log.info("%s: starting traefik", reason)
        restart = self.traefik.running or self.release is not None
        await self._stop()
        self.release, self.setup = release, setup
        self.reservations.unhold()
        try:
            await self.traefik.start(setup)
            await self.traefik.wait_ready(self.served_ingresses)
        except (TraefikError, OSError) as exc:
            await self._stop()
            self._failures += 1
            delay = min(60.0, 5.0 * 2 ** (self._failures - 1))
            self._retry_at = asyncio.get_running_loop().time() + delay
            self.error, self.error_revision = f"{release.ref}: {exc}", release.revision
            log.error(
                "traefik for release %s did not start (trying again in %.0f s): %s", release.ref, delay, exc
            )
        else:
            self.ready = True
            self._failures = 0
            self.error, self.error_revision = None, None
            log.info("traefik serves release %s", release.ref)
        if restart:
            self.restarts += 1
        self._on_change()

    async def close(self) -> None:
        for child in self.children.values():
            await child.close()
        await self.traefik.stop()
        self.reservations.unhold()

    def controllers(self) -> list[TraefikController]:
        """This controller and its children: every traefik the data plane runs."""
        return [self, *(self.children[key] for key in sorted(self.children))]

    # --- dataplane.json ----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        ports = dict(self.reservations.ports)
        setup = self.setup
        static = setup.static if setup else {}
        metrics_entry = str(
            ((static.get("metrics") or {}).get("prometheus") or {}).get("entryPoint") or "metrics"
        )
        release = self.release
        return {
            "started": self.ready and self.traefik.running,
            "pid": self.traefik.pid,
            "release": release.name if release else None,
            "namespace": release.namespace if release else None,
            "revision": release.revision if release else None,
            "chart": f"{release.chart}-{release.chart_version}" if release else None,
            "error": self.error,
            "error_revision": self.error_revision,
            "ignored_releases": list(self.ignored),
            "web": ports.get("web"),
            "websecure": ports.get("websecure"),
            "api": ports.get(API_ENTRYPOINT),
            "metrics": ports.get(metrics_entry),
            "entrypoints": ports,
            "serving": sorted(setup.entrypoints) if setup and self.ready else [],
            "log": str(self.traefik.log_file),
            "access_log": (static.get("accessLog") or {}).get("filePath"),
            "static_config": str(self.traefik.static_file),
            "restarts": self.restarts,
            # The traefiks of scoped releases (namespace/release -> the same description).
            **(
                {}
                if self.key
                else {
                    "scoped": {
                        f"{ns}/{name}": c.describe() for (ns, name), c in sorted(self.children.items())
                    }
                }
            ),
            # traefik's TMPDIR (the pod's /tmp), where its buffering middlewares spool bodies; the
            # files there are unlinked at once (sandbox.dataplane.traefik_process.spool_bytes counts them).
            "spool": {
                "dir": str(self.traefik.spool.path),
                "size_limit": setup.spool.size_limit if setup else None,
                "memory": setup.spool.memory if setup else False,
                "capped": self.traefik.spool.mounted,
            },
        }
