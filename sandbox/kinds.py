"""The resource registry: which kinds the sandbox serves and how each behaves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Kind:
    """One served resource (a group/version/plural), built in or from a CRD."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    categories: tuple[str, ...] = ()
    # Paths (dotted) that may not change once set, checked on update.
    immutable: tuple[str, ...] = ()
    # True for kinds that come from a CustomResourceDefinition.
    custom: bool = False
    # For custom resources: the openAPIV3Schema of this version.
    crd_schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def resource_key(self) -> str:
        """The storage key: one store per group and plural, whatever the version."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified(self) -> str:
        """How kube-apiserver names the resource in messages, e.g. `ingresses.networking.k8s.io`."""
        return self.resource_key


def _k(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = False,
    immutable: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
) -> Kind:
    return Kind(group, version, kind, plural, namespaced, short, status, categories, immutable)


_ALL = ("all",)

BUILTIN_KINDS: tuple[Kind, ...] = (
    _k("", "v1", "Namespace", "namespaces", False, ("ns",), True),
    _k("", "v1", "Service", "services", True, ("svc",), True, categories=_ALL),
    _k("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    _k("", "v1", "Secret", "secrets"),
    _k("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    _k("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    _k("", "v1", "Event", "events", True, ("ev",)),
    _k("", "v1", "Pod", "pods", True, ("po",), True, categories=_ALL),
    _k("", "v1", "Node", "nodes", False, ("no",), True),
    _k("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), True),
    _k("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _k("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
    _k("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), True),
    _k("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, (), False, ("spec.controller",)),
    _k("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    _k("apps", "v1", "Deployment", "deployments", True, ("deploy",), True, ("spec.selector",), _ALL),
    _k("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), True, ("spec.selector",), _ALL),
    _k("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), True, ("spec.selector",), _ALL),
    _k("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), True, ("spec.selector",), _ALL),
    _k("batch", "v1", "Job", "jobs", True, (), True, ("spec.selector", "spec.template"), _ALL),
    _k("coordination.k8s.io", "v1", "Lease", "leases"),
    _k("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _k("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, (), False, ("roleRef",)),
    _k("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _k(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        False,
        (),
        False,
        ("roleRef",),
    ),
    _k("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), True),
    _k("batch", "v1", "CronJob", "cronjobs", True, ("cj",), True, categories=_ALL),
    _k(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        ("hpa",),
        True,
        (),
        _ALL,
    ),
    _k("", "v1", "LimitRange", "limitranges", True, ("limits",)),
    _k("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",), True),
    _k(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        False,
        ("sc",),
        False,
        ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"),
    ),
    _k("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",), False, ("value",)),
    _k(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
    ),
    _k(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
    ),
    _k(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        True,
        ("spec.scope",),
    ),
)

# Preferred order of groups in discovery, as kube-apiserver lists them.
GROUP_ORDER = (
    "",
    "apps",
    "events.k8s.io",
    "batch",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "autoscaling",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
)


class Registry:
    """The kinds served right now: the built-in ones plus those of Established CRDs."""

    def __init__(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], Kind] = {}
        self._crd_kinds: dict[str, list[Kind]] = {}
        self._preferred: dict[str, str] = {}
        for kind in BUILTIN_KINDS:
            self._by_gvr[(kind.group, kind.version, kind.plural)] = kind

    def lookup(self, group: str, version: str, plural: str) -> Kind | None:
        return self._by_gvr.get((group, version, plural))

    def all(self) -> list[Kind]:
        return list(self._by_gvr.values())

    def groups(self) -> dict[str, list[str]]:
        """Group → served versions (preferred first), for discovery."""
        out: dict[str, list[str]] = {}
        for k in self._by_gvr.values():
            versions = out.setdefault(k.group, [])
            if k.version not in versions:
                versions.append(k.version)
        for group, versions in out.items():
            preferred = self._preferred.get(group)
            if preferred in versions:
                versions.remove(preferred)
                versions.insert(0, preferred)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        return dict(sorted(out.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))

    def storage_version(self, group: str, plural: str) -> Kind | None:
        """The version custom resources are stored in (the CRD's storage version)."""
        for kinds in self._crd_kinds.values():
            for k in kinds:
                if k.group == group and k.plural == plural:
                    return kinds[0]
        for k in BUILTIN_KINDS:
            if k.group == group and k.plural == plural:
                return k
        return None

    def register_crd(self, crd: dict[str, Any]) -> None:
        """Serve the versions of an Established CRD (replacing what it served before)."""
        name = crd["metadata"]["name"]
        self.unregister_crd(name)
        spec = crd["spec"]
        names = spec["names"]
        kinds: list[Kind] = []
        versions = sorted(spec.get("versions", []), key=lambda v: not v.get("storage", False))
        for v in versions:
            if not v.get("served", True):
                continue
            status = "status" in (v.get("subresources") or {})
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            kind = Kind(
                group=spec["group"],
                version=v["name"],
                kind=names["kind"],
                plural=names["plural"],
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                has_status=status,
                categories=tuple(names.get("categories") or ()),
                custom=True,
                crd_schema=schema,
            )
            kinds.append(kind)
            self._by_gvr[(kind.group, kind.version, kind.plural)] = kind
        storage = [v["name"] for v in versions if v.get("storage")]
        if storage:
            self._preferred[spec["group"]] = storage[0]
        self._crd_kinds[name] = kinds

    def unregister_crd(self, name: str) -> None:
        for k in self._crd_kinds.pop(name, []):
            self._by_gvr.pop((k.group, k.version, k.plural), None)
