# Copyright: binder.ingress contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the apply_set module: dry run, diff, apply what differs, prune (private).

One labelled set of objects goes through one client (kubernetes.core's K8SClient, so one
discovery): a server-side dry run of every object tells which ones the apply would change,
only those are applied, and objects that carry the set's labels but are no longer desired are
deleted once every apply succeeded. Nothing here imports Ansible: the module turns
:class:`ApplySetError` into a failure.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from ansible_collections.binder.ingress.plugins.module_utils.adoption import adoption_problems, ref
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    LABEL_MANAGED_BY,
    LABEL_MEMBER,
    LABEL_SET,
    MANAGED_BY,
)

# The module reports a missing kubernetes library before any of these names is used.
with suppress(ImportError):
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError, ResourceNotFoundError

__all__ = ["MASK", "ApplySetError", "SetApplier", "masked", "shown"]

JSON = dict[str, Any]
MASK = "********"
# Server bookkeeping: not what the inventory asked for, so neither compared nor shown.
BOOKKEEPING = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")
# Requests in flight at once when the module's `parallel` is not given.
PARALLEL = 8
# A request that failed in a way a second try can cure (see transient()) is sent again, at most
# RETRIES more times, after BACKOFF, 2*BACKOFF, ... seconds (at most BACKOFF_CAP, a quarter of
# jitter on top), or after the server's Retry-After (at most RETRY_AFTER_CAP).
RETRIES = 5
BACKOFF = 0.5
BACKOFF_CAP = 8.0
RETRY_AFTER_CAP = 30.0
# Seconds one request may take (connect and read) before it counts as lost and is tried again.
REQUEST_TIMEOUT = 30.0
# What a retried request returns.
T = TypeVar("T")
# Statuses kube-apiserver answers when it cannot serve the request now, whatever the request:
# throttled (429), an internal error (500), its proxy or load balancer (502), overloaded or
# starting (503), a timeout (504).
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# What Helm writes on every object of a release (helm.sh/helm/v3/pkg/action: its ownership check).
HELM_RELEASE_NAME = "meta.helm.sh/release-name"
HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"


class ApplySetError(Exception):
    """The set cannot be (fully) applied; ``result`` holds what was done before the failure."""

    def __init__(self, problems: Iterable[str], result: JSON | None = None) -> None:
        self.problems = list(problems)
        self.result = result or {}
        super().__init__("; ".join(self.problems))


def api_message(error: BaseException) -> str:
    """kube-apiserver's own words for a refused request (its Status message), else the error."""
    summary = getattr(error, "summary", None)
    return str(summary()) if callable(summary) else str(error)


class Unreachable(ApplySetError):
    """The API server kept failing a request after every retry: it is down, or too sick to use."""


def status_of(error: BaseException) -> int | None:
    status = getattr(error, "status", None)
    return status if isinstance(status, int) else None


def transport_error(error: BaseException) -> bool:
    """True for a request that got no HTTP answer at all: refused, reset, cut off, timed out."""
    if status_of(error) is not None:
        return False
    with suppress(ImportError):
        import urllib3.exceptions

        if isinstance(error, urllib3.exceptions.HTTPError):
            return True
    return isinstance(error, (ConnectionError, TimeoutError, OSError))


def unserved(error: BaseException) -> bool:
    """True for kube-apiserver's 404 for a path it serves nothing on (its body is plain text, not a
    Status). A CRD that was just created is in discovery a moment before its handler serves it, so
    a request sent in between gets this; another try a moment later gets through. A missing object
    is a 404 with a Status body, never this."""
    if status_of(error) != 404:
        return False
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return not (isinstance(body, str) and json.loads(body).get("kind") == "Status")
    except (ValueError, AttributeError):
        return True


def field_conflicts(error: BaseException) -> list[tuple[str, str]]:
    """(manager, field) of each conflict with another field manager that kube-apiserver gave as the
    reason of a refused server-side apply (a 409 whose Status details have causes of type
    FieldManagerConflict, as kube-apiserver sends them); empty for any other failure."""
    if status_of(error) != 409:
        return []
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        causes = ((json.loads(body or "") or {}).get("details") or {}).get("causes") or []
    except (TypeError, ValueError, AttributeError):
        return []
    found = []
    for cause in causes if isinstance(causes, list) else []:
        # A StatusCause's type is "reason" in JSON (Go's field Type is tagged json:"reason").
        if isinstance(cause, dict) and cause.get("reason") == "FieldManagerConflict":
            manager = re.search(r'conflict with "([^"]*)"', str(cause.get("message", "")))
            found.append(
                (manager.group(1) if manager else str(cause.get("message", "")), str(cause.get("field", "")))
            )
    return found


def transient(error: BaseException, conflict: bool = False) -> bool:
    """Whether sending the same request again can succeed. Every request this module sends is
    safe to repeat: reads, server-side applies (declarative: the same body gives the same object)
    and deletes bound to a uid and resourceVersion. A 409 is transient only where ``conflict``:
    for an apply whose object changed under it (kube-apiserver's optimistic concurrency, cured by
    trying again), never for a conflict with another field manager (the same apply meets the same
    owner again), nor for a delete whose preconditions no longer hold. A kind just installed but
    not yet served (see :func:`unserved`) is transient too."""
    status = status_of(error)
    return (
        transport_error(error)
        or status in TRANSIENT_STATUSES
        or (conflict and status == 409 and not field_conflicts(error))
        or unserved(error)
    )


def retry_after(error: BaseException) -> float | None:
    """The server's Retry-After, in seconds, if it gave one."""
    headers = getattr(error, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return min(RETRY_AFTER_CAP, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def problem(error: BaseException) -> str:
    """What went wrong, in a line: kube-apiserver's words, or what the connection did."""
    if not transport_error(error):
        return api_message(error)
    reason = getattr(error, "reason", None) or error  # urllib3's MaxRetryError wraps the cause
    cause = getattr(reason, "args", None)
    text = str(reason)
    if isinstance(reason, Exception) and cause and len(cause) > 1:
        text = f"{cause[0]} ({cause[-1]!r})"  # ProtocolError('Connection aborted.', RemoteDisconnected(...))
    return f"no answer from the API server: {text}"


def retrying(
    call: Callable[[], T],
    what: str,
    *,
    retries: int = RETRIES,
    conflict: bool = False,
    sleep: Callable[[float], None] | None = None,
    stop: Callable[[BaseException], bool] | None = None,
) -> T:
    """``call()``, sent again after a backoff while it fails transiently, at most ``retries`` more
    times; then :class:`Unreachable` naming ``what`` and the last failure. Any other failure, and one
    for which ``stop`` is true, is raised as it is."""
    started = time.monotonic()
    for attempt in range(retries + 1):
        try:
            return call()
        except Exception as e:
            if not transient(e, conflict) or (stop is not None and stop(e)):
                raise
            if attempt == retries:
                raise Unreachable(
                    [
                        f"{what}: {problem(e)} (tried {attempt + 1} times in {time.monotonic() - started:.1f} s)"
                    ]
                ) from e
            wait = retry_after(e)
            if wait is None:
                wait = min(BACKOFF_CAP, BACKOFF * 2**attempt)
                wait += random.uniform(0, wait / 4)  # spreads the retries of parallel requests
            (sleep or time.sleep)(wait)
    raise AssertionError("unreachable")  # the loop returns or raises


def masked(obj: JSON) -> JSON:
    """``obj`` with its Secret values masked, for results and diffs.

    A shallow copy: what it shares with ``obj`` must not be changed (nothing here does).
    """
    out: JSON = dict(obj)
    if out.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(out.get(key), dict):
                out[key] = dict.fromkeys(out[key], MASK)
    return out


def _bare(obj: JSON) -> JSON:
    """The object without server bookkeeping and status: what a write can change."""
    out = dict(obj)
    out.pop("status", None)
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k not in BOOKKEEPING}
    return out


def shown(obj: JSON) -> JSON:
    """The object as a diff shows it: masked, without server bookkeeping and status."""
    return masked(_bare(obj))


def _json(response: Any) -> JSON:
    """The body of a request sent with serialize=False: plain JSON, not the dynamic client's
    ResourceInstance, which wraps every field in an object (a third of a large set's time)."""
    out: JSON = json.loads(response.data)
    return out


def _ownership(obj: JSON) -> list[tuple[str, str, str, str]]:
    """Who owns which fields, without the timestamps: a forced apply that takes over a field
    another manager set changes this and nothing else, and is a write all the same."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    return sorted(
        (
            str(e.get("manager", "")),
            str(e.get("operation", "")),
            str(e.get("subresource", "")),
            json.dumps(e.get("fieldsV1"), sort_keys=True),
        )
        for e in entries
    )


def owned_by(obj: JSON) -> str:
    """Who the live object says owns it: a Helm release (the annotations and label Helm writes), the
    collection's labels it carries, and the field managers of its managedFields."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    parts = []
    release = annotations.get(HELM_RELEASE_NAME)
    if release or labels.get(LABEL_MANAGED_BY) == "Helm":
        namespace = annotations.get(HELM_RELEASE_NAMESPACE)
        name = f"{namespace}/{release}" if namespace and release else release or "(no release annotation)"
        parts.append(f"Helm release {name}")
    shown_labels = [f"{k}={labels[k]}" for k in (LABEL_MANAGED_BY, LABEL_SET, LABEL_MEMBER) if k in labels]
    parts.append(f"labels {', '.join(shown_labels)}" if shown_labels else "none of the set's labels")
    managers: list[str] = []
    for entry in meta.get("managedFields") or []:
        how = ", ".join(str(entry[k]) for k in ("operation", "subresource") if entry.get(k))
        manager = f"{entry.get('manager', '')} ({how})" if how else str(entry.get("manager", ""))
        if manager not in managers:
            managers.append(manager)
    parts.append(f"field managers {', '.join(managers)}" if managers else "no field managers")
    return "; ".join(parts)


def differs(live: JSON, after: JSON) -> bool:
    # Unmasked: a Secret whose values alone changed is a write too.
    return _bare(live) != _bare(after) or _ownership(live) != _ownership(after)


@dataclass(frozen=True, order=True)
class Key:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass
class Item:
    """One desired object and what the dry run found for it."""

    key: Key
    api_version: str
    definition: JSON
    resource: Any = None  # None: the server does not serve the kind (yet)
    verdict: str = ""  # created | updated | unchanged
    before: JSON = field(default_factory=dict)
    after: JSON = field(default_factory=dict)
    checked: bool = True  # False: reported from the definition alone, without a dry run
    adopt: bool = False  # named in the adoption list: may be taken over from another owner
    force: bool = False  # applied with force_conflicts: an adopted object taken over in this run

    def entry(self) -> JSON:
        return {
            "kind": self.key.kind,
            "api_version": self.api_version,
            "namespace": self.key.namespace or None,
            "name": self.key.name,
        }


def set_of(params: JSON) -> str:
    """The set named by the objects' own set label, when ``set`` is not given."""
    found = {
        str(((o.get("metadata") or {}).get("labels") or {}).get(LABEL_SET) or "")
        for o in params["objects"]
        if isinstance(o, dict)
    }
    if len(found) == 1 and "" not in found:
        return found.pop()
    if not found:
        raise ApplySetError(
            [f"set: give the set's name: there are no objects whose {LABEL_SET} label names it"]
        )
    raise ApplySetError(
        [
            f"set: not given, and the objects do not all carry one {LABEL_SET} label to take it from "
            f"(found {', '.join(repr(v) if v else 'none' for v in sorted(found))})"
        ]
    )


def owner_of(params: JSON) -> str:
    """The set and whose it is, as every message names them."""
    member = params.get("member")
    owner = f"member {member}" if member else "the members of the cluster"
    name = params.get("set")
    if not name:
        try:
            name = set_of(params)
        except ApplySetError:
            name = "(not given)"
    return f"set {name} of {owner}"


class SetApplier:
    """Applies one labelled set through a kubernetes.core K8SClient and prunes what left it.

    ``params`` are the module's: ``set``, ``member`` (None: a set the members of a cluster share),
    ``namespace``, ``create_namespace``, ``objects``, ``adopt``, ``adopt_variable``, ``ownership_only``,
    ``prune_kinds``, ``parallel``, ``retries``, ``request_timeout``.

    A live object of the set's kind and name that does not carry the set's labels, or carries another
    set's or member's, is refused before anything is written, unless ``adopt`` names it. Only the
    apply that takes an adopted object over forces conflicts with other field managers.

    Every request goes through :meth:`_call`: one that fails transiently is sent again (see
    :func:`retrying`); once one has failed after every retry, the API server counts as gone and
    no further request is sent.
    """

    def __init__(self, client: Any, params: JSON, *, check_mode: bool, diff: bool) -> None:
        self.client = client
        self.params = params = dict(params, set=params.get("set") or set_of(params))
        self.check_mode = check_mode
        self.diff = diff
        self.warnings: list[str] = []
        self.labels: dict[str, str] = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_SET: params["set"]}
        if params.get("member"):
            self.labels[LABEL_MEMBER] = params["member"]
        self.done: dict[str, list[JSON]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
        self.diffs: list[JSON] = []
        retries = params.get("retries")
        self.retries = RETRIES if retries is None else int(retries)
        self.timeout = float(params.get("request_timeout") or REQUEST_TIMEOUT)
        self.gone: Unreachable | None = None
        self.adopt = params.get("adopt") or []
        # The variable the user names objects for adoption in, as messages name it.
        self.adopt_variable = str(params.get("adopt_variable") or "adopt")

    # -- naming -------------------------------------------------------------------------

    @property
    def owner(self) -> str:
        return owner_of(self.params)

    def _call(
        self,
        what: str,
        call: Callable[[], T],
        conflict: bool = False,
        stop: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """One request, retried while it fails transiently (but for ``stop``); none once the API server
        is gone."""
        if self.gone is not None:
            raise self.gone
        try:
            return retrying(call, what, retries=self.retries, conflict=conflict, stop=stop)
        except Unreachable as e:
            self.gone = self.gone or e
            raise

    def _resource(self, kind: str, api_version: str) -> Any:
        """The served resource, or None if the server does not serve that kind."""
        try:
            return self._call(
                f"discovery of {api_version} {kind}", lambda: self.client.resource(kind, api_version)
            )
        except ResourceNotFoundError:
            return None

    # -- 1. what is desired ---------------------------------------------------------------

    def desired(self) -> list[Item]:
        """Every object of the set, labelled and placed, checked before anything is sent."""
        problems: list[str] = []
        namespace = self.params.get("namespace") or ""
        items: list[Item] = []
        seen: set[Key] = set()
        for index, given in enumerate(self.params["objects"]):
            where = f"objects[{index}]"
            # Only the metadata is changed below: a shallow copy of it is enough.
            obj: JSON = dict(given) if isinstance(given, dict) else {}
            meta = obj["metadata"] = dict(obj["metadata"]) if isinstance(obj.get("metadata"), dict) else None
            if (
                not obj.get("kind")
                or not obj.get("apiVersion")
                or not isinstance(meta, dict)
                or not meta.get("name")
            ):
                problems.append(f"{where}: needs apiVersion, kind and metadata.name")
                continue
            where = f"{where} ({obj['kind']} {meta['name']})"
            resource = self._resource(obj["kind"], obj["apiVersion"])
            namespaced = (
                resource.namespaced if resource is not None else bool(meta.get("namespace") or namespace)
            )
            if namespaced:
                meta.setdefault("namespace", namespace)
                if not meta["namespace"]:
                    problems.append(
                        f"{where}: is namespaced, and neither metadata.namespace nor namespace is given"
                    )
                    continue
                if namespace and meta["namespace"] != namespace:
                    problems.append(
                        f"{where}: is in namespace {meta['namespace']}, not in the set's namespace {namespace}"
                    )
                    continue
            elif meta.get("namespace"):
                problems.append(f"{where}: is cluster-scoped and must not name a namespace")
                continue
            labels = meta["labels"] = dict(meta.get("labels") or {})
            for label, value in self.labels.items():
                if labels.setdefault(label, value) != value:
                    problems.append(
                        f"{where}: label {label} is {labels[label]!r}, but the set's is {value!r}"
                    )
            if LABEL_MEMBER not in self.labels and LABEL_MEMBER in labels:
                problems.append(
                    f"{where}: carries the label {LABEL_MEMBER}, but this set is shared by the members of "
                    "the cluster: every member would relabel it on every run"
                )
            key = Key(
                resource.kind if resource is not None else obj["kind"],
                meta.get("namespace", ""),
                meta["name"],
            )
            if key in seen:
                problems.append(f"{where}: {key} is given twice")
            seen.add(key)
            items.append(Item(key, obj["apiVersion"], obj, resource, adopt=ref(obj) in self.adopt))
        problems += adoption_problems(
            self.adopt, [i.definition for i in items], self.adopt_variable, "the set"
        )
        if problems:
            raise ApplySetError(problems)
        return items

    def prune_resources(self) -> list[Any]:
        kinds = self.params.get("prune_kinds") or []
        if not kinds:
            return []
        problems: list[str] = []
        if LABEL_MEMBER not in self.labels:
            problems.append(
                "prune_kinds: a set the members of a cluster share is never pruned (another member may still "
                "need its objects); give member"
            )
        resources = []
        for spec in kinds:
            if spec["kind"] == "Namespace":
                problems.append("prune_kinds: Namespace is never pruned")
                continue
            resource = self._resource(spec["kind"], spec["api_version"])
            if resource is None:
                continue  # no object of a kind the server does not serve: nothing to prune
            if resource.namespaced and not self.params.get("namespace"):
                problems.append(
                    f"prune_kinds: {spec['kind']} is namespaced: give namespace (never every namespace)"
                )
            resources.append(resource)
        if problems:
            raise ApplySetError(problems)
        return resources

    # -- 2. the namespace ---------------------------------------------------------------------

    def namespace_item(self, items: list[Item]) -> tuple[Item | None, bool]:
        """The Namespace to create (or None), and whether the set's namespace exists now."""
        namespace = self.params.get("namespace")
        if not namespace or not (self.params.get("create_namespace") or any(i.key.namespace for i in items)):
            return None, True
        resource = self._resource("Namespace", "v1")
        try:
            self._call(
                f"Namespace {namespace}: read",
                lambda: self.client.get(resource, name=namespace, _request_timeout=self.timeout),
            )
            return None, True
        except NotFoundError:
            pass
        if self.params.get("create_namespace"):
            # Created bare and never labelled, changed or pruned: a running member's namespace
            # exists already (its BinderHub lives there) and is left exactly as it is.
            definition = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            return Item(Key("Namespace", "", namespace), "v1", definition, resource), False
        if not self.check_mode:
            raise ApplySetError(
                [f"namespace {namespace} does not exist: create it first, or set create_namespace"]
            )
        self.warnings.append(
            f"{self.owner}: namespace {namespace} does not exist yet, so the objects in it are shown as given, "
            "not validated by the server (a real run needs it created first, as the cluster entrypoint does)"
        )
        return None, False

    # -- 3. dry run ---------------------------------------------------------------------------

    def _apply(self, item: Item, dry_run: bool) -> JSON:
        params: JSON = dict(
            body=item.definition,
            name=item.key.name,
            namespace=item.key.namespace or None,
            field_manager=MANAGED_BY,
            # Never take fields over from another manager, except in the apply that adopts an object
            # the inventory names (force is only ever set then).
            force_conflicts=item.force,
            serialize=False,
            _request_timeout=self.timeout,
        )
        if dry_run:
            params["dry_run"] = "All"
        return _json(
            self._call(
                f"{item.key}: {'dry run' if dry_run else 'apply'}",
                lambda: item.resource.server_side_apply(**params),
                conflict=True,
            )
        )

    def _each(self, work: Callable[[Item], None], items: list[Item]) -> None:
        """``work`` for every item, ``parallel`` requests at a time; the results keep the items' order
        because each lands on its own item."""
        workers = max(1, min(int(self.params.get("parallel") or PARALLEL), len(items)))
        if workers == 1:
            for item in items:
                work(item)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # list(): wait for every item, and raise here what a worker raised unexpectedly.
            list(pool.map(work, items))

    def _list(
        self,
        resource: Any,
        namespace: str | None,
        label_selector: str | None = None,
        stop: Callable[[BaseException], bool] | None = None,
    ) -> list[JSON]:
        """The objects of one kind (in ``namespace``, or cluster-wide), as plain JSON."""
        where = f" in namespace {namespace}" if namespace else ""
        listing = _json(
            self._call(
                f"list of {resource.kind}{where}",
                lambda: self.client.get(
                    resource,
                    namespace=namespace,
                    label_selector=label_selector,
                    serialize=False,
                    _request_timeout=self.timeout,
                ),
                stop=stop,
            )
        )
        return list(listing.get("items") or [])

    def _listed(self, items: list[Item], item: Item) -> list[JSON]:
        """The live objects of ``item``'s kind and namespace. kubernetes.core keeps discovery in a
        cache file per API server URL and user, which can name a kind the server does not serve (its
        CRD was removed, or another cluster once had the same address): kube-apiserver then answers
        the list with its plain 404. Discovery is then read afresh, once: a kind it no longer names
        has no live objects (every item of that kind is then treated as not served); one it still
        names is being installed, and its list is retried as any transient failure."""
        namespace = item.key.namespace or None
        try:
            return self._list(item.resource, namespace, stop=unserved)
        except DynamicApiError as e:
            if not unserved(e):
                raise
        invalidate = getattr(getattr(self.client, "resources", None), "invalidate_cache", None)
        if callable(invalidate):
            self._call("discovery", invalidate)
        resource = self._resource(item.key.kind, item.api_version)
        for same in items:
            if (same.key.kind, same.api_version) == (item.key.kind, item.api_version):
                same.resource = resource
        return [] if resource is None else self._list(resource, namespace)

    def live(self, items: list[Item]) -> dict[Key, JSON]:
        """The objects of the set's kinds as they are, one list per kind and namespace."""
        found: dict[Key, JSON] = {}
        listed: set[tuple[str, str, str]] = set()
        for item in items:
            if item.resource is None:
                continue
            scope = (item.api_version, item.key.kind, item.key.namespace)
            if scope in listed:
                continue
            listed.add(scope)
            for obj in self._listed(items, item):
                meta = obj.get("metadata") or {}
                obj.setdefault("kind", item.key.kind)
                obj.setdefault("apiVersion", item.api_version)
                found[Key(item.key.kind, meta.get("namespace") or "", meta["name"])] = obj
        return found

    def foreign(self, obj: JSON) -> bool:
        """Whether a live object is not the set's: it lacks one of the set's labels, or carries
        another set's or member's (a member label on an object of a set the members share)."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in self.labels.items()):
            return True
        return LABEL_MEMBER not in self.labels and LABEL_MEMBER in labels

    def owned(self, items: list[Item], current: dict[Key, JSON]) -> None:
        """Refuse every desired object whose live namesake is not the set's, unless it is adopted;
        an adopted one is taken over (forced) by this run. Read-only: nothing is sent."""
        problems = []
        for item in items:
            live = current.get(item.key)
            if live is None or not self.foreign(live):
                continue
            if item.adopt:
                item.force = True
                continue
            problems.append(
                f"{item.key}: exists and is not the set's ({owned_by(live)}); it is left as it is. "
                f"To let the set take it over, add {ref(item.definition)} to {self.adopt_variable}"
            )
        if problems:
            raise ApplySetError([*problems, "nothing of the set was written"])

    def refusal(self, item: Item, error: BaseException) -> str:
        """Why the server refused an apply, naming the field managers of a conflict."""
        conflicts = field_conflicts(error)
        if not conflicts:
            return f"{item.key}: {api_message(error)}"
        managers = ", ".join(sorted({conflict[0] for conflict in conflicts}))
        fields = ", ".join(sorted({conflict[1] for conflict in conflicts if conflict[1]}))
        return (
            f"{item.key}: conflicts with field manager {managers} over {fields or 'fields the set sets'}: "
            "the set never takes fields over from another manager. Undo that change, or add "
            f"{ref(item.definition)} to {self.adopt_variable} to take the fields over"
        )

    def dry_run(
        self, items: list[Item], namespace_exists: bool, current: dict[Key, JSON] | None = None
    ) -> None:
        """Decide created/updated/unchanged for every item, with the server's answer as `after`."""
        if current is None:
            current = self.live([i for i in items if namespace_exists or not i.key.namespace])
        problems: dict[Key, str] = {}
        unserved: set[str] = set()
        sent: list[Item] = []
        for item in items:
            if item.resource is None or (item.key.namespace and not namespace_exists):
                if item.resource is None:
                    if not self.check_mode:
                        problems[item.key] = (
                            f"{item.key}: the API server does not serve {item.api_version} {item.key.kind} "
                            "(is its CRD installed?)"
                        )
                        continue
                    unserved.add(f"{item.api_version} {item.key.kind}")
                item.verdict, item.after, item.checked = "created", item.definition, False
            else:
                sent.append(item)

        def check(item: Item) -> None:
            try:
                try:
                    item.after = self._apply(item, dry_run=True)
                except DynamicApiError as e:
                    # An adopted object whose fields another manager holds: adopting it takes them.
                    if not (item.adopt and not item.force and field_conflicts(e)):
                        raise
                    item.force = True
                    item.after = self._apply(item, dry_run=True)
            except Unreachable:
                return  # self.gone says it once, below
            except (DynamicApiError, ValueError) as e:
                problems[item.key] = self.refusal(item, e)
                return
            before = current.get(item.key)
            if before is None:
                item.verdict = "created"
            else:
                item.before = before
                item.verdict = "updated" if differs(before, item.after) else "unchanged"

        self._each(check, sent)
        if self.gone is not None:
            raise ApplySetError([*self.gone.problems, "nothing of the set was written"])
        if problems:
            raise ApplySetError([problems[i.key] for i in items if i.key in problems])
        if unserved:
            self.warnings.append(
                f"{self.owner}: the API server does not serve {', '.join(sorted(unserved))} yet, so those "
                "objects are shown as given, not validated by the server (check mode: an earlier task, such as "
                "a chart that installs the CRD, would install it)"
            )

    # -- 4. apply and prune ------------------------------------------------------------------

    def result(self) -> JSON:
        changed = any(self.done[k] for k in ("created", "updated", "deleted"))
        out: JSON = dict(changed=changed, **self.done)
        if self.diff:
            out["diff"] = self.diffs
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    def _record(self, verdict: str, item: Item) -> None:
        self.done[verdict].append(item.entry())
        if self.diff and verdict != "unchanged":
            header = str(item.key) + ("" if item.checked else " (not validated by the server)")
            self.diffs.append(
                dict(
                    before=_yaml(shown(item.before)) if item.before else "",
                    after=_yaml(shown(item.after)) if item.after else "",
                    before_header=header,
                    after_header=header,
                )
            )

    def write(self, items: list[Item]) -> None:
        """One server-side apply of each object that differs. Every one is tried (the dry run
        accepted them all); if any is refused, the others stay applied and nothing is pruned."""
        refused: dict[Key, str] = {}

        def apply(item: Item) -> None:
            try:
                self._apply(item, dry_run=False)
            except Unreachable:
                refused[item.key] = f"{item.key}: not applied"
            except (DynamicApiError, ValueError) as e:
                refused[item.key] = self.refusal(item, e)

        if not self.check_mode:
            self._each(apply, [i for i in items if i.verdict != "unchanged"])
        for item in items:
            if item.key not in refused:
                self._record(item.verdict, item)
        if refused:
            problems = [refused[i.key] for i in items if i.key in refused]
            gone = self.gone.problems if self.gone is not None else []
            applied = any(i.verdict != "unchanged" and i.key not in refused for i in items)
            others = "the other objects were applied" if applied else "no object was written"
            raise ApplySetError([*gone, *problems, f"{others}; nothing was pruned"], self.result())

    def prune(self, resources: list[Any], items: list[Item]) -> None:
        from ansible_collections.kubernetes.core.plugins.module_utils.selector import LabelSelectorFilter

        keep = {i.key for i in items}
        terms = [f"{k}={v}" for k, v in sorted(self.labels.items())]
        selector = LabelSelectorFilter(terms)

        def ours(obj: JSON) -> bool:
            """Carries the set's labels and is not on its way out: a candidate, and still one after a 409."""
            return bool(selector.isMatching(obj)) and not (obj.get("metadata") or {}).get("deletionTimestamp")

        namespace = self.params.get("namespace")
        candidates: list[tuple[Any, Item]] = []
        for resource in resources:
            listed = self._list(resource, namespace if resource.namespaced else None, ",".join(terms))
            for obj in listed:
                meta = obj.get("metadata") or {}
                obj.setdefault("kind", resource.kind)
                obj.setdefault("apiVersion", resource.group_version)
                key = Key(resource.kind, meta.get("namespace") or "", meta["name"])
                # The server filtered already; checking again keeps an unlabelled or another
                # member's object safe even from a server that ignored the selector.
                if key in keep or not ours(obj):
                    continue
                candidates.append((resource, Item(key, resource.group_version, obj, resource, before=obj)))

        for resource, item in sorted(candidates, key=lambda c: c[1].key):
            try:
                deleted = self._delete(resource, item, ours)
            except Unreachable as e:
                raise ApplySetError([*e.problems, "the rest was not pruned"], self.result()) from e
            if deleted:
                self._record("deleted", item)

    def _delete(self, resource: Any, item: Item, ours: Callable[[JSON], bool]) -> bool:
        """Delete one object, bound to the uid and resourceVersion it was listed with. If it changed
        since (409), it is read again and deleted as it is now, as long as it is still the set's."""
        meta = item.definition["metadata"]
        where = dict(name=item.key.name, namespace=item.key.namespace or None)
        for _attempt in range(self.retries + 1):
            body: JSON = {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "propagationPolicy": "Background",
                "preconditions": {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]},
            }
            params: JSON = dict(where, body=body, _request_timeout=self.timeout)
            if self.check_mode:
                # In the body: kube-apiserver takes DeleteOptions from the body when there is one and
                # then ignores the query, so a dryRun=All in the query alone would delete for real.
                body["dryRun"] = ["All"]
                params["dry_run"] = "All"
            try:
                self._call(f"prune: {item.key}", partial(self.client.delete, resource, **params))
                return True
            except NotFoundError:
                return False
            except DynamicApiError as e:
                if status_of(e) != 409:
                    raise ApplySetError([f"prune: {item.key}: {api_message(e)}"], self.result()) from e
            try:
                now = _json(
                    self._call(
                        f"prune: {item.key}: read",
                        lambda: self.client.get(
                            resource, serialize=False, _request_timeout=self.timeout, **where
                        ),
                    )
                )
            except NotFoundError:
                return False
            now.setdefault("kind", item.key.kind)
            now.setdefault("apiVersion", item.api_version)
            if not ours(now):
                self.warnings.append(
                    f"{self.owner}: {item.key} changed while it was pruned and no longer carries the set's "
                    "labels: left as it is"
                )
                return False
            meta = now["metadata"]
        raise ApplySetError(
            [f"prune: {item.key}: changed again every time it was deleted ({self.retries + 1} times)"],
            self.result(),
        )

    def run(self) -> JSON:
        items = self.desired()
        prune = self.prune_resources()
        # Before anything is written: a namespace that does not exist yet lists nothing.
        current = self.live(items)
        self.owned(items, current)
        if self.params.get("ownership_only"):
            return self.result()
        namespace, exists = self.namespace_item(items)
        if namespace is not None:
            # The objects can only be validated inside their namespace, so a real run creates it
            # first: an empty namespace is all that a refused object below leaves behind.
            self.dry_run([namespace], namespace_exists=True)
            self.write([namespace])
            exists = not self.check_mode
        self.dry_run(items, exists, current)
        self.write(items)
        # Only now: a failed apply above leaves every object of the set in place.
        self.prune(prune, items)
        return self.result()


def _yaml(obj: JSON) -> str:
    # PyYAML is there whenever a module runs (AnsibleK8SModule requires it), not for ansible-test's import check.
    import yaml

    return str(yaml.safe_dump(obj, default_flow_style=False, sort_keys=True))
