# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every input of the collection's roles, in one table, and the one check of a member's inputs.

Each row is a variable as users write it (`binder_namespace`, `traefik_replicas`, ...): its role, type,
default, description and, where a type is not enough, a check. The roles' ``defaults/main.yml``,
``meta/argument_specs.yml`` and the variable tables of their READMEs are generated from it
(``make inputs``; tests/unit/test_inputs.py fails when they differ), so a default or a type is
written here and nowhere else.

``problems`` checks a member's variables against the table, every problem at once, each as
``member <m>: <variable>: <what is wrong and what to write>``: a missing required variable, a wrong
type, a value outside its choices or refused by its row's check, and a variable with a role's prefix
that no row knows (with the name it most likely meant).
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible.module_utils.common.validation import (
    check_type_bool,
    check_type_dict,
    check_type_float,
    check_type_int,
    check_type_list,
    check_type_path,
    check_type_str,
)
from ansible_collections.binder.ingress.plugins.module_utils import _chart, _names
from ansible_collections.binder.ingress.plugins.module_utils.constants import MOZILLA_INTERMEDIATE_CIPHERS
from ansible_collections.binder.ingress.plugins.module_utils.model import (
    Issue,
    Issues,
    MemberError,
    build_member,
    kind,
)

__all__ = [
    "INPUTS",
    "MEMBER_ROLES",
    "OUTPUTS",
    "PREFIXES",
    "ROLES",
    "Input",
    "by_name",
    "issues",
    "problems",
    "setting_names",
    "settings",
]

# A check of one value beyond its type: the problem (what is wrong and what to write), or None.
# It gets the value, converted to the row's type, and every checked variable of the member (for the
# rows that depend on another one).
Check = Callable[[Any, Mapping[str, Any]], "str | None"]

# The roles a member's converge runs, whose variables the binder role checks; k3s_member bootstraps a
# node and is checked on its own.
MEMBER_ROLES = ("binder", "cluster_entrypoint", "traefik", "cert_manager", "binder_ingresses")
# A variable with one of these prefixes is the collection's: one no row knows is a misspelling.
PREFIXES = ("binder_", "cluster_entrypoint_", "traefik_", "cert_manager_")
# Variables with those prefixes that the roles set themselves (their results), not inputs.
OUTPUTS = frozenset(
    {
        "cluster_entrypoint_objects",
        "traefik_chart_values",
        "traefik_objects",
        "cert_manager_chart_values",
        "cert_manager_objects",
        "binder_ingresses_objects",
        "binder_ingresses_state",
        "binder_ingresses_summary",
    }
)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Input:
    """One variable: ``required`` is the argument spec's; ``needed`` ("always", or "cluster": only by the
    entry points that call the cluster) is checked by the binder role, which names the host_vars file;
    an ``inventory_only`` variable is read by no role (an inventory builds other variables from it)."""

    name: str
    role: str
    type: str
    elements: str | None = None
    required: bool = False
    needed: str | None = None
    choices: Sequence[Any] | None = None
    default: Any = UNSET
    entry_points: tuple[str, ...] = ()
    description: str | Sequence[str] = ""
    check: Check | None = None
    inventory_only: bool = False
    # The field of its role's settings builder this variable is (traefik_values, cert_manager_values,
    # entrypoint_service): the render step hands it over under that name (the settings lookup), and
    # the builder's errors name the variable back (chart_values.TRAEFIK_KEYS, ...).
    setting: str | None = None


def _at_least(minimum: int) -> Check:
    def check(value: Any, _values: Mapping[str, Any]) -> str | None:
        return None if value >= minimum else f"is {value}, must be at least {minimum}"

    return check


def _matches(pattern: str, what: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: Any, _values: Mapping[str, Any]) -> str | None:
        return None if compiled.fullmatch(value) else f"{value} is not {what}"

    return check


def _non_empty(value: Any, _values: Mapping[str, Any]) -> str | None:
    return None if len(value) > 0 else "is empty"


def _catalogue_not_empty(value: Any, _values: Mapping[str, Any]) -> str | None:
    return None if len(value) > 0 else "must map at least one component name to its settings"


def _email(value: Any, _values: Mapping[str, Any]) -> str | None:
    """The ACME account e-mail, worded as the ClusterIssuers' builder words it (module_utils.model.Issues)."""
    if not value:
        return "is required: the Let's Encrypt account e-mail address"
    r = Issues("")
    r.valid(value, "", "e-mail address", _names.email)
    return r.items[0].message if r.items else None


def _default_issuer(value: Any, values: Mapping[str, Any]) -> str | None:
    issuers = values.get("cert_manager_cluster_issuers")
    if not isinstance(issuers, Mapping) or value in issuers:
        return None
    return f"{value} is not one of cert_manager_cluster_issuers ({', '.join(map(str, issuers))})"


def _entrypoint_target(value: Any, values: Mapping[str, Any]) -> str | None:
    if value == "custom" and not values.get("cluster_entrypoint_selector"):
        return "is custom: set cluster_entrypoint_selector (the labels of the ingress controller's pods) too"
    return None


_TRAEFIK_CHART = _matches(
    r"41\.[0-9]+\.[0-9]+", "a 41.x chart version; the generated values follow the 41.x values schema"
)
_CERT_MANAGER_CHART = _matches(
    r"v?[0-9]+\.[0-9]+\.[0-9]+",
    "one exact chart version (like v1.20.2); a range would let Helm install whatever is newest",
)
_KUBERNETES_MINOR = _matches(r"1\.[0-9]+", 'a Kubernetes minor version (like "1.33")')


# Each role's entry points: their short description and description (meta/argument_specs.yml).
ROLES: dict[str, dict[str, dict[str, Any]]] = {
    "binder": {
        "main": {
            "short_description": "A federation member's whole HTTPS edge, from its member variables",
            "description": [
                "The one place where a member's variables (C(docs/inventory.md)) become the "
                "inputs of the four roles cluster_entrypoint, traefik, cert_manager and "
                "binder_ingresses. Variables that must agree are one member variable each "
                "(O(binder_namespace), O(binder_entrypoint_name), O(binder_ingress_class), "
                "O(binder_traefik_release), O(binder_tls_min_version), O(binder_hsts_max_age)); "
                "every other input is the role's own variable, set in the inventory where a "
                "member differs from the role's default (C(traefik_replicas), "
                "C(cert_manager_acme_email), ...). Setting a mapped role variable "
                "(C(traefik_namespace), ...) in the inventory is an error.",
                "C(main) checks the member variables, runs C(render), then C(apply): nothing is "
                "written to the cluster before the whole member has been built and validated.",
                "Errors name the member and the variable the user wrote (C(binder_namespace), not "
                "C(traefik_namespace)).",
            ],
        },
        "check": {
            "short_description": "Check every variable of the member, all at once",
            "description": [
                "Checks the variables of the member and of the four roles against the collection's "
                "input table (M(binder.ingress.check_inputs)): a missing one (naming the host_vars "
                "file it belongs in), a wrong type or value, a mapped role variable the inventory sets, "
                "a misspelt one, a local chart that is not the pinned one, and the catalogue's problems.",
                "With the cluster (C(main), C(check), C(apply)) also that O(binder_kubeconfig) has "
                "O(binder_context) and that no K8S_AUTH_* or HELM_KUBE* variable of the controller's "
                "environment would redirect the member's requests. Fails once, with every problem.",
            ],
        },
        "render": {
            "short_description": "Build and validate the whole member, without a cluster",
            "description": [
                "Runs C(check) (not the cluster variables), then the four roles' C(render) entry "
                "points: binder_ingresses first, whose redirect middlewares traefik takes.",
                "Leaves C(cluster_entrypoint_objects), C(traefik_chart_values), "
                "C(cert_manager_chart_values), C(cert_manager_objects), "
                "C(binder_ingresses_objects), C(binder_ingresses_summary) and "
                "C(binder_ingresses_state). Used by C(playbooks/render.yml) and "
                "C(playbooks/verify.yml).",
            ],
        },
        "apply": {
            "short_description": "Write the built member to its cluster",
            "description": [
                "Runs the four roles' C(apply) entry points in order: entrypoint, traefik, "
                "cert-manager, Ingresses (and prune). Run C(render) first.",
                "Before the first write, reads the live objects of every set of the member "
                "(entrypoint Service, ClusterIssuers when their kind is served, Ingresses and "
                "redirector Service) and fails, writing nothing, if any of them is not the "
                "member's and O(binder_adopt) does not name it.",
            ],
        },
    },
    "cluster_entrypoint": {
        "main": {
            "short_description": "The one public LoadBalancer Service of a federation member",
            "description": [
                "Builds the member's C(cluster-entrypoint) Service, type LoadBalancer with "
                "externalTrafficPolicy Local, sending ports 80 and 443 to the ingress "
                "controller's pods, and applies it.",
                "C(main) runs the entry points C(preflight), C(render) and C(apply) in that order "
                "(C(apply) only with O(cluster_entrypoint_apply)). C(render) leaves the Service, "
                "as a one-element list, in C(cluster_entrypoint_objects), which C(apply) writes.",
            ],
        },
        "preflight": {
            "short_description": "Check the inputs of the cluster entrypoint",
            "description": ["Checks the inputs, before anything is built or written."],
        },
        "render": {
            "short_description": "Build the cluster entrypoint Service as data",
            "description": [
                "Builds and validates the role's result; no cluster is called.",
                "Sets C(cluster_entrypoint_objects), a list holding the Service.",
            ],
        },
        "apply": {
            "short_description": "Apply the cluster entrypoint Service",
            "description": [
                "Writes what C(render) built; run C(render) first.",
                "Creates the namespace when it does not exist yet, then applies "
                "C(cluster_entrypoint_objects).",
            ],
        },
    },
    "traefik": {
        "main": {
            "short_description": "The traefik ingress controller of a federation member",
            "description": [
                "Builds the values of the traefik chart 41.x for the member "
                "(C(traefik_chart_values)) and installs or upgrades the release.",
                "The chart's Service is off (the cluster entrypoint replaces it), the "
                "IngressClass is pinned to O(traefik_ingress_class) and is the default class, the "
                "Kubernetes CRD provider is off, the file provider carries the middlewares "
                "C(harbor) (bodies streamed, O(traefik_harbor_max_body_bytes)), C(hub) "
                "(buffering, 64 MB) and C(default) (buffering, 1 MB), C(hsts) and the "
                "C(redirectRegex) middlewares of O(traefik_redirect_middlewares), and the TLS "
                "option C(default).",
                "C(main) runs the entry points C(preflight), C(render) and C(apply) in that order "
                "(C(apply) only with O(traefik_apply)).",
            ],
        },
        "preflight": {
            "short_description": "Check the inputs of the traefik role",
            "description": [
                "Checks the inputs, before anything is built or written.",
                "A local chart (O(traefik_chart_source=path)) is read and checked against the pins.",
            ],
        },
        "render": {
            "short_description": "Build the traefik chart values as data",
            "description": [
                "Builds and validates the role's result; no cluster is called.",
                "Sets C(traefik_chart_values).",
            ],
        },
        "apply": {
            "short_description": "Install or upgrade the traefik release",
            "description": ["Writes what C(render) built; run C(render) first."],
        },
    },
    "cert_manager": {
        "main": {
            "short_description": "cert-manager and the Let's Encrypt ClusterIssuers of a federation member",
            "description": [
                "Builds the cert-manager chart values (C(cert_manager_chart_values)) and the ACME "
                "ClusterIssuers (C(cert_manager_objects)), then installs the chart and applies "
                "the ClusterIssuers.",
                "The chart installs and keeps its CRDs; ingress-shim issues certificates for "
                "Ingresses annotated C(kubernetes.io/tls-acme) from "
                "O(cert_manager_default_issuer).",
                "C(main) runs the entry points C(preflight), C(render) and C(apply) in that order "
                "(C(apply) only with O(cert_manager_apply)).",
            ],
        },
        "preflight": {
            "short_description": "Check the inputs of the cert_manager role",
            "description": [
                "Checks the inputs, before anything is built or written.",
                "A local chart (O(cert_manager_chart_source=path)) is read and checked against the pin.",
            ],
        },
        "render": {
            "short_description": "Build the cert-manager chart values and ClusterIssuers as data",
            "description": [
                "Builds and validates the role's result; no cluster is called.",
                "Sets C(cert_manager_chart_values) and C(cert_manager_objects).",
            ],
        },
        "apply": {
            "short_description": "Install cert-manager and apply the ClusterIssuers",
            "description": ["Writes what C(render) built; run C(render) first."],
        },
    },
    "binder_ingresses": {
        "main": {
            "short_description": "Every Ingress of a federation member, as one validated set",
            "description": [
                "Turns the member's ingress catalogue O(binder_ingresses_components) into its "
                "Ingresses and the selector-less C(redirector) Service, then applies them as one "
                "set and prunes what left it.",
                "The whole member is validated at once; every problem is reported, each naming "
                "the member and the inventory key, and nothing is built if there is any.",
                "C(render) sets C(binder_ingresses_objects) (the Kubernetes objects, in apply "
                "order), C(binder_ingresses_summary) (a markdown table of the routes) and "
                "C(binder_ingresses_state) (the full member state, with C(routes) and "
                "C(redirect_middlewares) for the traefik role).",
                "C(main) runs the entry points C(preflight), C(render) and C(apply) in that order "
                "(C(apply) only with O(binder_ingresses_apply)).",
                "The catalogue's keys and built-in components are described in C(docs/inventory.md).",
            ],
        },
        "preflight": {
            "short_description": "Check the inputs of the binder_ingresses role",
            "description": ["Checks the inputs, before anything is built or written."],
        },
        "render": {
            "short_description": "Build and validate the member's Ingress set as data",
            "description": ["Builds and validates the role's result; no cluster is called."],
        },
        "apply": {
            "short_description": "Apply the member's Ingress set and prune what left it",
            "description": ["Writes what C(render) built; run C(render) first."],
        },
    },
    "k3s_member": {
        "main": {
            "short_description": "Bootstrap a single-node k3s federation member",
            "description": [
                "Turns a fresh Debian or Ubuntu machine with root access into a single-node k3s "
                "server with the bundled traefik disabled, and fetches its kubeconfig to the "
                "controller, rewritten for the federation member.",
                "Idempotent. k3s is installed only when the pinned version is not the one "
                "installed, and restarted only when the version or its configuration changed.",
            ],
            "author": "binder.ingress developers",
        },
    },
}

# Every variable of every role, in the order of its role's argument spec.
INPUTS: tuple[Input, ...] = (
    Input(
        "binder_namespace",
        "binder",
        "str",
        entry_points=("check", "render", "apply"),
        description=[
            "Required. The namespace the member's Ingresses, Services, the traefik release and the entrypoint "
            "Service live in (cluster_entrypoint_namespace, traefik_namespace, binder_ingresses_namespace).",
            "No default, and deliberately not C(required) here: the entry points check it themselves and name the "
            "member and the host_vars file it belongs in (C(<inventory_dir>/host_vars/<member>.yml)), the same "
            "way from C(render.yml) and C(site.yml).",
        ],
        needed="always",
    ),
    Input(
        "binder_ingresses_components",
        "binder",
        "dict",
        entry_points=("check", "render"),
        description=[
            "Required. The member's ingress catalogue (C(docs/inventory.md)); the binder_ingresses role reads it "
            "under this same name.",
            "No default, and deliberately not C(required) here: the entry points check it themselves and name the "
            "member and the host_vars file it belongs in (C(<inventory_dir>/host_vars/<member>.yml)), the same "
            "way from C(render.yml) and C(site.yml).",
        ],
        needed="always",
        check=_catalogue_not_empty,
    ),
    Input(
        "binder_kubeconfig",
        "binder",
        "str",
        entry_points=("check", "apply"),
        description=[
            "Required by C(main), C(check) and C(apply). Path of the member's kubeconfig on the controller. The "
            "playbooks give it to every cluster call through C(module_defaults) (group C(binder.ingress.k8s)).",
            "No default, and deliberately not C(required) here: the entry points check it themselves and name the "
            "member and the host_vars file it belongs in (C(<inventory_dir>/host_vars/<member>.yml)), the same "
            "way from C(render.yml) and C(site.yml).",
        ],
        needed="cluster",
    ),
    Input(
        "binder_context",
        "binder",
        "str",
        entry_points=("check", "apply"),
        description=[
            "Required by C(main), C(check) and C(apply). The context inside O(binder_kubeconfig).",
            "No default, and deliberately not C(required) here: the entry points check it themselves and name the "
            "member and the host_vars file it belongs in (C(<inventory_dir>/host_vars/<member>.yml)), the same "
            "way from C(render.yml) and C(site.yml).",
        ],
        needed="cluster",
    ),
    Input(
        "binder_entrypoint_name",
        "binder",
        "str",
        default="cluster-entrypoint",
        entry_points=("render", "apply"),
        description=(
            "Name of the member's LoadBalancer Service: the cluster entrypoint's name and traefik's "
            "C(publishedService)."
        ),
    ),
    Input(
        "binder_shared_cluster",
        "binder",
        "bool",
        default=False,
        entry_points=("render", "apply"),
        description=[
            "V(true) on every member that shares its cluster with other members (C(docs/inventory.md)). The "
            "member's traefik then reads Ingresses only in O(binder_namespace), with a Role there instead of the "
            "chart's ClusterRole (C(traefik_namespaced)); its IngressClass is its own and not the cluster's "
            "default; its ACME issuers are its own C(Issuer) objects in its namespace "
            "(C(cert_manager_issuer_namespace)), which every Ingress names.",
            "C(apply) first compares the kubeconfigs of every member of the inventory: two members whose contexts "
            "reach the same API server must both set it, or both fail before anything is written, naming both "
            "members.",
        ],
    ),
    Input(
        "binder_ingress_class",
        "binder",
        "str",
        default="{{ 'traefik-' ~ binder_namespace if binder_shared_cluster | bool else 'traefik' }}",
        entry_points=("render", "apply"),
        description=[
            "The one IngressClass: traefik's, every Ingress's C(spec.ingressClassName) and cert-manager's http01 "
            "solver's.",
            "A member alone in its cluster keeps C(traefik), the cluster's default class (its charts' Ingresses "
            "name it). A member with O(binder_shared_cluster) gets its own, C(traefik-<binder_namespace>), which "
            "is not the cluster's default; members of one cluster must not share one.",
        ],
    ),
    Input(
        "binder_traefik_release",
        "binder",
        "str",
        default="traefik",
        entry_points=("render", "apply"),
        description="Helm release of traefik; the cluster entrypoint selects its pods.",
    ),
    Input(
        "binder_tls_min_version",
        "binder",
        "str",
        choices=["1.2", "1.3"],
        default="1.2",
        entry_points=("render",),
        description=[
            "The oldest TLS version the member's HTTPS routes accept (C(traefik_tls_min_version)); C(verify.yml) "
            "fails a route whose host completes an older handshake (C(binder_ingresses_tls_min_version)). TLS 1.0 "
            "and 1.1 are never accepted."
        ],
    ),
    Input(
        "binder_hsts_max_age",
        "binder",
        "int",
        default=31536000,
        entry_points=("render",),
        description=[
            "The C(max-age) of the C(Strict-Transport-Security) header of every HTTPS answer, in seconds, at "
            "least V(31536000) (a year), or V(0) for no header (C(traefik_hsts_max_age)); C(verify.yml) fails a "
            "route without it (C(binder_ingresses_hsts_max_age))."
        ],
    ),
    Input(
        "binder_k3s",
        "binder",
        "bool",
        default=False,
        entry_points=("render", "apply"),
        description=(
            "The member is a single-node k3s cluster: before any write, fail if another LoadBalancer Service "
            "holds port 80 or 443."
        ),
    ),
    Input(
        "binder_lock_namespace",
        "binder",
        "str",
        default="kube-system",
        entry_points=("apply",),
        description=[
            "Namespace of the member's lock, the Lease C(binder-ingress.<member>) that lets one converge of the "
            "member write at a time (C(docs/inventory.md)). It must exist before the member's first write, so not "
            "O(binder_namespace), which the converge creates on a fresh cluster. The member's credentials need "
            "C(get), C(create), C(update) and C(delete) on C(leases.coordination.k8s.io) there."
        ],
    ),
    Input(
        "binder_lock_wait",
        "binder",
        "int",
        default=600,
        entry_points=("apply",),
        description=[
            "Seconds a converge waits for the member's lock while another converge of the member holds it; then "
            "it fails naming the holder and since when it holds the lock, with nothing written. V(0) fails at "
            "once."
        ],
    ),
    Input(
        "binder_lock_duration",
        "binder",
        "int",
        default=3600,
        entry_points=("apply",),
        description=[
            "Seconds the member's lock stays taken (the Lease's C(leaseDurationSeconds)). A converge that dies "
            "without giving the lock back blocks the member's converges until it expires, this long after it was "
            "taken. Keep it longer than a whole converge, Helm timeouts and retries included."
        ],
    ),
    Input(
        "binder_adopt",
        "binder",
        "list",
        elements="str",
        default=[],
        entry_points=("render", "apply"),
        description=[
            "Live objects the member may take over although something else made them (Helm, kubectl, another "
            "member), each as C(Kind/name), for example V(Ingress/jupyterhub), V(Service/cluster-entrypoint) or "
            "V(ClusterIssuer/letsencrypt-prod). Namespaced kinds are in O(binder_namespace).",
            "Without it, a live object with the name of one of the member's that lacks the member's labels, or "
            "carries another member's or set's, fails C(apply) before the member's first write, naming the "
            "object, its owner and this variable. An adopted object gets the member's labels (and is pruned with "
            "its set when it leaves it); only the apply that takes it over forces conflicts with other field "
            "managers.",
            "Each entry must name an object the member writes (C(render) checks it). Sets "
            "C(cluster_entrypoint_adopt), C(cert_manager_adopt) and C(binder_ingresses_adopt).",
        ],
    ),
    Input(
        "binder_kubernetes_version",
        "binder",
        "str",
        check=_KUBERNETES_MINOR,
        inventory_only=True,
        description="The member's Kubernetes minor, like V(1.33): the render tests check its objects against that version's schema. No role reads it.",
    ),
    Input(
        "binder_kubeconfig_dir",
        "binder",
        "path",
        inventory_only=True,
        description="A directory of kubeconfigs that an inventory builds O(binder_kubeconfig) from (as C(inventories/prod) does). No role reads it.",
    ),
    Input(
        "cluster_entrypoint_member",
        "cluster_entrypoint",
        "str",
        default="{{ inventory_hostname }}",
        entry_points=("preflight", "render", "apply"),
        description="The member (inventory host) the Service belongs to; named in labels and errors.",
    ),
    Input(
        "cluster_entrypoint_namespace",
        "cluster_entrypoint",
        "str",
        required=True,
        entry_points=("preflight", "render", "apply"),
        description="Namespace of the Service, the same as the ingress controller's.",
        check=_non_empty,
        setting="namespace",
    ),
    Input(
        "cluster_entrypoint_name",
        "cluster_entrypoint",
        "str",
        default="cluster-entrypoint",
        entry_points=("render", "apply"),
        description="Name of the Service; traefik's C(publishedService) points at it.",
        setting="name",
    ),
    Input(
        "cluster_entrypoint_target",
        "cluster_entrypoint",
        "str",
        choices=["traefik", "ingress-nginx", "custom"],
        default="traefik",
        entry_points=("preflight", "render"),
        description=[
            "Which pods receive the traffic. V(traefik) selects the traefik chart's pods of "
            "O(cluster_entrypoint_release) in O(cluster_entrypoint_namespace); V(ingress-nginx) that chart's "
            "controller pods; V(custom) the pods of O(cluster_entrypoint_selector)."
        ],
        check=_entrypoint_target,
        setting="target",
    ),
    Input(
        "cluster_entrypoint_release",
        "cluster_entrypoint",
        "str",
        default="traefik",
        entry_points=("render",),
        description="Helm release name of the target controller (its pod labels contain it).",
        setting="release",
    ),
    Input(
        "cluster_entrypoint_selector",
        "cluster_entrypoint",
        "dict",
        default={},
        entry_points=("preflight", "render"),
        description="Pod selector (label name to value). Used, and required, when the target is V(custom).",
        setting="selector",
    ),
    Input(
        "cluster_entrypoint_target_ports",
        "cluster_entrypoint",
        "dict",
        default={},
        entry_points=("render",),
        description=[
            "Target ports as a mapping with keys C(http) and C(https), port numbers or container port names.",
            "Empty uses the target's named ports (C(web)/C(websecure) for traefik, C(http)/C(https) for "
            "ingress-nginx) or 80/443 for a custom target.",
        ],
        setting="target_ports",
    ),
    Input(
        "cluster_entrypoint_annotations",
        "cluster_entrypoint",
        "dict",
        default={},
        entry_points=("render",),
        description=[
            "Service annotations (strings), e.g. C(cloud.google.com/l4-rbs) and "
            "C(networking.gke.io/load-balancer-ip-addresses) to keep a GKE static address."
        ],
        setting="annotations",
    ),
    Input(
        "cluster_entrypoint_load_balancer_ip",
        "cluster_entrypoint",
        "str",
        default="",
        entry_points=("render",),
        description="C(spec.loadBalancerIP), for providers that still honour it. Empty leaves it unset.",
        setting="load_balancer_ip",
    ),
    Input(
        "cluster_entrypoint_load_balancer_source_ranges",
        "cluster_entrypoint",
        "list",
        elements="str",
        default=[],
        entry_points=("render",),
        description="C(spec.loadBalancerSourceRanges) (CIDRs allowed to connect). Empty allows all.",
        setting="load_balancer_source_ranges",
    ),
    Input(
        "cluster_entrypoint_apply",
        "cluster_entrypoint",
        "bool",
        default=True,
        entry_points=(),
        description=(
            "Apply the Service after building it. V(false) only builds it (render, and site.yml's "
            "build-everything-first pass)."
        ),
    ),
    Input(
        "cluster_entrypoint_k3s",
        "cluster_entrypoint",
        "bool",
        default=False,
        entry_points=("apply",),
        description=[
            "The member is a single-node k3s cluster.",
            "Before any write, fail if another LoadBalancer Service already holds port 80 or 443 (k3s ServiceLB "
            "gives each port to one Service).",
        ],
    ),
    Input(
        "cluster_entrypoint_keys",
        "cluster_entrypoint",
        "dict",
        default={},
        entry_points=("preflight", "render", "apply"),
        description=[
            "Input field to the name of the variable the user wrote, so that errors name that variable (for "
            "example V({namespace: binder_namespace})). Fields left out are named by this role's own variables.",
            "The C(binder) role sets it from the member variables it maps; fields: C(namespace), C(name), "
            "C(release), C(adopt).",
        ],
    ),
    Input(
        "cluster_entrypoint_adopt",
        "cluster_entrypoint",
        "list",
        elements="str",
        default=[],
        entry_points=("apply",),
        description=[
            "Objects of the cluster entrypoint Service that exist already although something else made them "
            "(Helm, kubectl, another member), which this role may take over, each as C(Kind/name), for example "
            "V(Service/cluster-entrypoint). Namespaced kinds are in O(cluster_entrypoint_namespace).",
            "Without it, such an object is refused before the apply writes anything, naming its owner. An adopted "
            "object gets the set's labels; only the apply that takes it over forces conflicts with other field "
            "managers. Each entry must name an object this role builds.",
            "The C(binder) role sets it from C(binder_adopt).",
        ],
    ),
    Input(
        "traefik_member",
        "traefik",
        "str",
        default="{{ inventory_hostname }}",
        entry_points=("preflight", "render", "apply"),
        description="The member (inventory host) the values are for; named in errors.",
    ),
    Input(
        "traefik_namespace",
        "traefik",
        "str",
        required=True,
        entry_points=("preflight", "render", "apply"),
        description="Namespace of the release and of the cluster entrypoint Service.",
        check=_non_empty,
        setting="namespace",
    ),
    Input(
        "traefik_release_name",
        "traefik",
        "str",
        default="traefik",
        entry_points=("apply",),
        description="Helm release name. The traefik pods are labelled C(<release>-<namespace>).",
    ),
    Input(
        "traefik_chart_source",
        "traefik",
        "str",
        choices=["repo", "oci", "path"],
        default="repo",
        entry_points=("preflight", "apply"),
        description=[
            "Install the chart from the Helm repository (V(repo)), the OCI registry (V(oci)) or a local chart "
            "(V(path), O(traefik_chart_path)), for members that reach no chart repository or registry."
        ],
    ),
    Input(
        "traefik_chart_name",
        "traefik",
        "str",
        default="traefik",
        entry_points=("preflight", "apply"),
        description=[
            "Chart name in the Helm repository.",
            "With O(traefik_chart_source=path), the name the local chart's C(Chart.yaml) must carry.",
        ],
    ),
    Input(
        "traefik_chart_repo_url",
        "traefik",
        "str",
        default="https://traefik.github.io/charts",
        entry_points=("apply",),
        description="Helm repository of the chart.",
    ),
    Input(
        "traefik_chart_oci_ref",
        "traefik",
        "str",
        default="oci://ghcr.io/traefik/helm/traefik",
        entry_points=("apply",),
        description="OCI reference of the chart, used when O(traefik_chart_source=oci).",
    ),
    Input(
        "traefik_chart_path",
        "traefik",
        "str",
        default="",
        entry_points=("preflight", "apply"),
        description=[
            "The chart directory or packaged chart (C(.tgz)) on the host where Helm runs (the controller, for "
            "members with C(ansible_connection=local)), used when O(traefik_chart_source=path). Give an absolute "
            "path, for example built from C(inventory_dir).",
            "Preflight fails, before anything is written to the cluster, unless it is a chart named "
            "O(traefik_chart_name) at version O(traefik_chart_version).",
        ],
    ),
    Input(
        "traefik_chart_version",
        "traefik",
        "str",
        default="41.3.0",
        entry_points=("preflight", "apply"),
        description=[
            "Pinned chart version (41.x; its values schema is what the generated values follow).",
            "Helm ignores the version of a local chart; with O(traefik_chart_source=path), preflight checks that "
            "the chart's C(Chart.yaml) carries this version instead.",
        ],
        check=_TRAEFIK_CHART,
    ),
    Input(
        "traefik_entrypoint_service",
        "traefik",
        "str",
        default="cluster-entrypoint",
        entry_points=("render",),
        description="Name of the member's LoadBalancer Service; C(publishedService.pathOverride) points at it.",
        setting="entrypoint_name",
    ),
    Input(
        "traefik_ingress_class",
        "traefik",
        "str",
        default="traefik",
        entry_points=("render",),
        description="Name of the chart's IngressClass (default class). Ingresses and the http01 solver name it.",
        setting="ingress_class",
    ),
    Input(
        "traefik_replicas",
        "traefik",
        "int",
        default=2,
        entry_points=("preflight", "render"),
        description="Number of traefik pods.",
        check=_at_least(1),
        setting="replicas",
    ),
    Input(
        "traefik_log_level",
        "traefik",
        "str",
        choices=["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC"],
        default="INFO",
        entry_points=("render",),
        description="traefik's log level.",
        setting="log_level",
    ),
    Input(
        "traefik_responding_timeout",
        "traefik",
        "str",
        default="180s",
        entry_points=("render",),
        description=[
            "Read and idle timeout of the websecure entry point (a duration).",
            "The read timeout bounds the request line, headers and body together. traefik 3.7 has no separate "
            "header timeout, so this is also how long a client that never finishes its headers holds a "
            "connection. V(180s) lets a 64 MB notebook save through at about 3 Mbit/s; raise it for slower "
            "uploads.",
            "The idle timeout closes a keep-alive connection that carries no request.",
            "Neither cuts a websocket (a notebook kernel) or a long response once it is under way.",
        ],
        setting="responding_timeout",
    ),
    Input(
        "traefik_client_max_requests",
        "traefik",
        "int",
        default=500,
        entry_points=("render",),
        description=[
            "Requests in flight per client address on the websecure entry point (traefik's C(inFlightReq), the "
            "C(client-limit@file) middleware, first on the entry point); more are answered 429. IPv6 clients "
            "count per /64. The address is the connection's source (never a header the client could set).",
            "An open websocket counts until it closes. V(500) leaves a classroom of about 60 behind one NAT "
            "address room for a few kernels, terminals and page loads each.",
        ],
        setting="client_max_requests",
    ),
    Input(
        "traefik_resources",
        "traefik",
        "dict",
        default={"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        entry_points=("render",),
        description="Resource requests and limits of the traefik container.",
        setting="resources",
    ),
    Input(
        "traefik_tls_min_version",
        "traefik",
        "str",
        choices=["1.2", "1.3"],
        default="1.2",
        entry_points=("render",),
        description=[
            "The oldest TLS version the member's HTTPS routes accept, in traefik's TLS option C(default), which "
            "applies to every router. TLS 1.0 and 1.1 handshakes always fail."
        ],
        setting="tls_min_version",
    ),
    Input(
        "traefik_tls_cipher_suites",
        "traefik",
        "list",
        elements="str",
        default=list(MOZILLA_INTERMEDIATE_CIPHERS),
        entry_points=("render",),
        description=[
            "The TLS 1.2 cipher suites offered, by their Go names (traefik's C(cipherSuites)). The default is "
            "Mozilla's C(intermediate) profile; its DHE suites have no Go implementation. TLS 1.3 suites are not "
            "configurable.",
            "An unknown name fails the member, naming it.",
        ],
        setting="tls_cipher_suites",
    ),
    Input(
        "traefik_harbor_max_body_bytes",
        "traefik",
        "int",
        default=0,
        entry_points=("render",),
        description=[
            "Request bodies to Harbor (the C(harbor@file) middleware). V(0) streams them to Harbor, with no size "
            "limit and nothing spooled to traefik's disk (image layers can be gigabytes).",
            "A number of bytes buffers each body up to that size instead, answering 413 above it. traefik spools "
            "a buffered body beyond its first MiB to C(/tmp), so a large limit lets unauthenticated clients use "
            "that much of traefik's C(/tmp) (memory) per request; it must be below O(traefik_tmp_size_limit), the "
            "cap of all requests together.",
        ],
        setting="harbor_max_body_bytes",
    ),
    Input(
        "traefik_tmp_size_limit",
        "traefik",
        "str",
        default="1Gi",
        entry_points=("render",),
        description=[
            "The size of traefik's C(/tmp) volume (the chart's C(deployment.tmpVolume)), where the buffering "
            "middlewares (C(hub@file), C(default@file)) spool request and response bodies beyond their first MiB.",
            "It is a tmpfs (the C(emptyDir) medium C(Memory)) of that size, so the spool of all clients together "
            "never exceeds it and never reaches the node's disk. A request whose body does not fit is refused "
            "(500) and the pod stays. On disk, the kubelet could not even see the spooled files (traefik unlinks "
            "them).",
            "It counts against C(traefik_resources.limits.memory), which must be at least this plus 256Mi; Go's "
            "memory limit (the chart's C(deployment.goMemLimitPercentage)) is set to 90% of the memory beside it.",
            "It must hold one body of each buffering limit (the hub's 64 MB, O(traefik_harbor_max_body_bytes)).",
        ],
        setting="tmp_size_limit",
    ),
    Input(
        "traefik_ephemeral_storage_limit",
        "traefik",
        "str",
        default="2Gi",
        entry_points=("render",),
        description=[
            "The C(ephemeral-storage) limit of the traefik container (C(resources.limits)), for its writable "
            "layer and logs (C(/tmp) is memory, see O(traefik_tmp_size_limit)). Set here, not in "
            "O(traefik_resources)."
        ],
        setting="ephemeral_storage_limit",
    ),
    Input(
        "traefik_http_redirect",
        "traefik",
        "bool",
        default=True,
        entry_points=("render",),
        description=[
            "Redirect every plain HTTP request to HTTPS, permanently (301, or 308 for methods other than GET), on "
            "the C(web) entry point.",
            "The entry point sets C(allowACMEByPass), so cert-manager's http01 solver Ingresses still answer "
            "C(/.well-known/acme-challenge/) over plain HTTP. The member's own Ingresses are attached to "
            "C(websecure) only (C(binder_ingresses_entrypoints)), so that path of their hosts reaches none of "
            "their backends.",
        ],
        setting="http_redirect",
    ),
    Input(
        "traefik_access_log_headers",
        "traefik",
        "list",
        elements="str",
        default=["User-Agent"],
        entry_points=("render",),
        description=[
            "The request headers traefik's access log records; every other header is dropped.",
            "C(Authorization), C(Proxy-Authorization), C(Cookie), C(Set-Cookie) and C(Referer) are never recorded "
            "(named as dropped in the values, so that no override of the default mode brings them back); listing "
            "one here fails the member.",
        ],
        setting="access_log_headers",
    ),
    Input(
        "traefik_access_log_query",
        "traefik",
        "str",
        choices=["drop", "keep"],
        default="drop",
        entry_points=("render",),
        description=[
            "Whether the access log's request path keeps its query parameters. V(drop) by default, since Jupyter "
            "server tokens travel as C(?token=)."
        ],
        setting="access_log_query",
    ),
    Input(
        "traefik_hsts_max_age",
        "traefik",
        "int",
        default=31536000,
        entry_points=("render",),
        description=[
            "The C(max-age) of the C(Strict-Transport-Security) header that every HTTPS answer carries, in "
            "seconds, at least V(31536000) (one year). V(0) sends no header.",
            "Set by a C(headers) middleware C(hsts@file) on the websecure entry point, so it covers every router "
            "there, whatever middlewares its Ingress names.",
        ],
        setting="hsts_max_age",
    ),
    Input(
        "traefik_hsts_include_subdomains",
        "traefik",
        "bool",
        default=False,
        entry_points=("render",),
        description=[
            "Add C(includeSubDomains) to the header. Off by default, since the hosts of a federation share parent "
            "domains whose other hosts may not serve HTTPS."
        ],
        setting="hsts_include_subdomains",
    ),
    Input(
        "traefik_redirect_middlewares",
        "traefik",
        "dict",
        default={},
        entry_points=("render",),
        description=[
            "The redirect middlewares the member's Ingresses reference, by name, each a C(redirectRegex) "
            "middleware; added to the file provider.",
            "Pass C(redirect_middlewares) of the member state (the P(binder.ingress.member_state#filter) filter, "
            "which the binder_ingresses role runs). Its names are the ones the redirect Ingresses name in their "
            "C(<name>@file) annotation, so building them anywhere else could make the two disagree.",
            "Each name must be a DNS-1123 label other than C(hub), C(harbor), C(default) and C(hsts).",
        ],
        setting="redirect_middlewares",
    ),
    Input(
        "traefik_keys",
        "traefik",
        "dict",
        default={},
        entry_points=("render",),
        description=[
            "For error messages, the variable each input of the values filter really comes from, when a playbook "
            "maps it from another variable, e.g. V(dict(namespace='binder_namespace')) for a O(traefik_namespace) "
            "set from C(binder_namespace).",
            "The inputs are C(namespace), C(entrypoint_name), C(ingress_class), C(replicas), C(log_level), "
            "C(responding_timeout), C(client_max_requests), C(resources), C(tls_min_version), "
            "C(tls_cipher_suites), C(harbor_max_body_bytes), C(tmp_size_limit), C(ephemeral_storage_limit), "
            "C(http_redirect), C(access_log_headers), C(access_log_query), C(hsts_max_age), "
            "C(hsts_include_subdomains), C(redirect_middlewares), C(overrides) and C(member); those not listed "
            "are named by this role's variables.",
        ],
    ),
    Input(
        "traefik_namespaced",
        "traefik",
        "bool",
        default=False,
        entry_points=("render", "apply"),
        description=[
            "V(true) for a member that shares its cluster with other members. traefik's Ingress provider reads "
            "only O(traefik_namespace) (C(providers.kubernetesIngress.namespaces)) and serves only "
            "O(traefik_ingress_class) (C(providers.kubernetesIngress.ingressClass); without it traefik also "
            "serves Ingresses that name no class), its IngressClass is not the cluster's default "
            "(C(ingressClass.isDefaultClass=false)), and the chart makes no RBAC (C(rbac.enabled=false)).",
            "C(render) then also builds O(traefik_namespaced)'s RBAC (the P(binder.ingress.traefik_rbac#filter) "
            "filter) into C(traefik_objects), and C(apply) applies it before the release, pruning it once the "
            "member is alone again. The Role reads Ingresses, Services, EndpointSlices and Secrets in "
            "O(traefik_namespace) only; the ClusterRole reads only IngressClasses and Nodes. (The chart's "
            "C(rbac.namespaced) would turn off traefik's IngressClass lookup, and every Ingress that names a "
            "class would answer 404.)",
        ],
        setting="namespaced",
    ),
    Input(
        "traefik_values_overrides",
        "traefik",
        "dict",
        default={},
        entry_points=("render",),
        description="Chart values deep-merged over the generated ones, last (mappings merge, anything else replaces).",
        setting="overrides",
    ),
    Input(
        "traefik_apply",
        "traefik",
        "bool",
        default=True,
        entry_points=(),
        description="Install or upgrade the release after building its values. V(false) only builds them.",
    ),
    Input(
        "traefik_helm_timeout",
        "traefik",
        "str",
        default="5m0s",
        entry_points=("apply",),
        description="How long Helm waits for the release to become ready before rolling it back.",
    ),
    Input(
        "traefik_helm_retries",
        "traefik",
        "int",
        default=3,
        entry_points=("apply",),
        description=[
            "How many times the release is run again when Helm failed on a passing fault of the Kubernetes API "
            "(the P(binder.ingress.helm_transient#test) test, on a 5xx, a 429 that client-go's own C(Retry-After) "
            "retries did not outlast, a 409 conflict, a dropped connection, an unreachable API). C(--atomic) "
            "rolled the failed attempt back, or it never started, so another attempt is safe.",
            "A chart or values error, or a C(--wait) that ran out of time, is never retried.",
        ],
    ),
    Input(
        "traefik_helm_retry_delay",
        "traefik",
        "int",
        default=10,
        entry_points=("apply",),
        description="Seconds between two attempts of the release (O(traefik_helm_retries)).",
    ),
    Input(
        "cert_manager_member",
        "cert_manager",
        "str",
        default="{{ inventory_hostname }}",
        entry_points=("preflight", "render", "apply"),
        description="The member (inventory host) the values are for; named in labels and errors.",
    ),
    Input(
        "cert_manager_namespace",
        "cert_manager",
        "str",
        default="cert-manager",
        entry_points=("apply",),
        description="Namespace of the cert-manager release.",
    ),
    Input(
        "cert_manager_release_name",
        "cert_manager",
        "str",
        default="cert-manager",
        entry_points=("apply",),
        description="Helm release name.",
    ),
    Input(
        "cert_manager_chart_source",
        "cert_manager",
        "str",
        choices=["oci", "path"],
        default="oci",
        entry_points=("preflight", "apply"),
        description=[
            "Install the chart from the OCI registry (V(oci), O(cert_manager_chart_ref)) or a local chart "
            "(V(path), O(cert_manager_chart_path)), for members that reach no registry."
        ],
    ),
    Input(
        "cert_manager_chart_ref",
        "cert_manager",
        "str",
        default="oci://quay.io/jetstack/charts/cert-manager",
        entry_points=("apply",),
        description="OCI reference of the chart, used when O(cert_manager_chart_source=oci).",
    ),
    Input(
        "cert_manager_chart_path",
        "cert_manager",
        "str",
        default="",
        entry_points=("preflight", "apply"),
        description=[
            "The chart directory or packaged chart (C(.tgz)) on the host where Helm runs (the controller, for "
            "members with C(ansible_connection=local)), used when O(cert_manager_chart_source=path). Give an "
            "absolute path, for example built from C(inventory_dir).",
            "Preflight fails, before anything is written to the cluster, unless it is a chart named "
            "C(cert-manager) at version O(cert_manager_chart_version).",
        ],
    ),
    Input(
        "cert_manager_chart_version",
        "cert_manager",
        "str",
        default="v1.20.2",
        entry_points=("preflight", "apply"),
        description=[
            "Pinned chart version (v1.20 or later, for C(crds.enabled) and C(crds.keep)), as the chart writes it "
            "(V(v1.20.2)).",
            "Helm ignores the version of a local chart; with O(cert_manager_chart_source=path), preflight checks "
            "that the chart's C(Chart.yaml) carries this version instead.",
        ],
        check=_CERT_MANAGER_CHART,
    ),
    Input(
        "cert_manager_acme_email",
        "cert_manager",
        "str",
        required=True,
        entry_points=("preflight", "render"),
        description="The Let's Encrypt account e-mail address.",
        check=_email,
    ),
    Input(
        "cert_manager_default_issuer",
        "cert_manager",
        "str",
        default="letsencrypt-prod",
        entry_points=("preflight", "render"),
        description="ClusterIssuer used by ingress-shim; must be one of O(cert_manager_cluster_issuers).",
        check=_default_issuer,
        setting="default_issuer",
    ),
    Input(
        "cert_manager_cluster_issuers",
        "cert_manager",
        "dict",
        default={
            "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
            "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory",
        },
        entry_points=("preflight", "render"),
        description="ClusterIssuer name to ACME directory URL; each gets an http01 solver.",
    ),
    Input(
        "cert_manager_acme_ca_bundle",
        "cert_manager",
        "str",
        default="",
        entry_points=("preflight", "render"),
        description=[
            "PEM text of the CA certificates that sign a private ACME server's HTTPS certificate (for example a "
            "local Pebble, or an internal ACME CA), set as every ClusterIssuer's C(spec.acme.caBundle).",
            "Only C(CERTIFICATE) blocks are accepted; the ACME directories must still be C(https://) URLs.",
            "Empty trusts the system roots, which Let's Encrypt needs.",
        ],
    ),
    Input(
        "cert_manager_ingress_class",
        "cert_manager",
        "str",
        default="traefik",
        entry_points=("render",),
        description="IngressClass of the http01 solver's temporary Ingresses.",
    ),
    Input(
        "cert_manager_issuer_namespace",
        "cert_manager",
        "str",
        default="",
        entry_points=("render", "apply"),
        description=[
            "Empty (the default) makes the issuers ClusterIssuers, one set shared by every member of the cluster.",
            "A namespace (set by the binder role from C(binder_namespace) for a member with "
            "C(binder_shared_cluster)) makes them the member's own C(Issuer) objects there, labelled with the "
            "member and pruned with it. Their http01 solver names O(cert_manager_ingress_class), the member's own "
            "IngressClass, so a challenge for the member's host is answered through its own traefik; the member's "
            "Ingresses name the Issuer in their C(cert-manager.io/issuer) annotation.",
        ],
    ),
    Input(
        "cert_manager_controller_resources",
        "cert_manager",
        "dict",
        default={"requests": {"cpu": "15m", "memory": "48Mi"}, "limits": {"cpu": "45m", "memory": "144Mi"}},
        entry_points=("render",),
        description="Resource requests and limits of the controller.",
        setting="controller_resources",
    ),
    Input(
        "cert_manager_webhook_resources",
        "cert_manager",
        "dict",
        default={"requests": {"cpu": "15m", "memory": "48Mi"}, "limits": {"cpu": "45m", "memory": "144Mi"}},
        entry_points=("render",),
        description="Resource requests and limits of the webhook.",
        setting="webhook_resources",
    ),
    Input(
        "cert_manager_cainjector_resources",
        "cert_manager",
        "dict",
        default={"requests": {"cpu": "15m", "memory": "48Mi"}, "limits": {"cpu": "45m", "memory": "144Mi"}},
        entry_points=("render",),
        description="Resource requests and limits of the cainjector.",
        setting="cainjector_resources",
    ),
    Input(
        "cert_manager_values_overrides",
        "cert_manager",
        "dict",
        default={},
        entry_points=("render",),
        description="Chart values deep-merged over the generated ones, last.",
        setting="overrides",
    ),
    Input(
        "cert_manager_apply",
        "cert_manager",
        "bool",
        default=True,
        entry_points=(),
        description="Install cert-manager and apply the ClusterIssuers after building them. V(false) only builds them.",
    ),
    Input(
        "cert_manager_helm_enabled",
        "cert_manager",
        "bool",
        default=True,
        entry_points=("preflight", "apply"),
        description=[
            "Install or upgrade the cert-manager release. V(false) for a cluster whose cert-manager is installed "
            "by other means (its CRDs must exist already); only the ClusterIssuers are applied then."
        ],
    ),
    Input(
        "cert_manager_helm_timeout",
        "cert_manager",
        "str",
        default="5m0s",
        entry_points=("apply",),
        description="How long Helm waits for the release to become ready before rolling it back.",
    ),
    Input(
        "cert_manager_helm_retries",
        "cert_manager",
        "int",
        default=3,
        entry_points=("apply",),
        description=[
            "How many times the release is run again when Helm failed on a passing fault of the Kubernetes API "
            "(the P(binder.ingress.helm_transient#test) test, on a 5xx, a 429 that client-go's own C(Retry-After) "
            "retries did not outlast, a 409 conflict, a dropped connection, an unreachable API). C(--atomic) "
            "rolled the failed attempt back, or it never started, so another attempt is safe.",
            "A chart or values error, or a C(--wait) that ran out of time, is never retried.",
        ],
    ),
    Input(
        "cert_manager_helm_retry_delay",
        "cert_manager",
        "int",
        default=10,
        entry_points=("apply",),
        description="Seconds between two attempts of the release (O(cert_manager_helm_retries)).",
    ),
    Input(
        "cert_manager_keys",
        "cert_manager",
        "dict",
        default={},
        entry_points=("render", "apply"),
        description=[
            "Input field to the name of the variable the user wrote, so that errors name that variable (for "
            "example V({namespace: binder_namespace})). Fields left out are named by this role's own variables.",
            "The C(binder) role sets it from the member variables it maps; fields: C(ingress_class), C(adopt).",
        ],
    ),
    Input(
        "cert_manager_adopt",
        "cert_manager",
        "list",
        elements="str",
        default=[],
        entry_points=("apply",),
        description=[
            "Objects of the ClusterIssuers that exist already although something else made them (Helm, kubectl, "
            "another member), which this role may take over, each as C(Kind/name), for example "
            "V(ClusterIssuer/letsencrypt-prod).",
            "Without it, such an object is refused before the apply writes anything, naming its owner. An adopted "
            "object gets the set's labels; only the apply that takes it over forces conflicts with other field "
            "managers. Each entry must name an object this role builds.",
            "The C(binder) role sets it from C(binder_adopt).",
        ],
    ),
    Input(
        "binder_ingresses_member",
        "binder_ingresses",
        "str",
        default="{{ inventory_hostname }}",
        entry_points=("preflight", "render", "apply"),
        description="The member (inventory host) the Ingress set belongs to; named in labels and errors.",
    ),
    Input(
        "binder_ingresses_namespace",
        "binder_ingresses",
        "str",
        required=True,
        entry_points=("preflight", "render", "apply"),
        description="Namespace of the member's Ingresses and backend Services.",
        check=_non_empty,
    ),
    Input(
        "binder_ingresses_components",
        "binder_ingresses",
        "dict",
        required=True,
        entry_points=("preflight", "render"),
        description="The ingress catalogue, component name to settings (see C(docs/inventory.md)); at least one component.",
        check=_catalogue_not_empty,
    ),
    Input(
        "binder_ingresses_tls_acme",
        "binder_ingresses",
        "bool",
        default=True,
        entry_points=("render",),
        description="Annotate every Ingress C(kubernetes.io/tls-acme=true) so cert-manager fills its TLS Secret.",
    ),
    Input(
        "binder_ingresses_entrypoints",
        "binder_ingresses",
        "list",
        elements="str",
        default=["websecure"],
        entry_points=("render",),
        description=[
            "The traefik entry points every Ingress's routers attach to (annotation "
            "C(traefik.ingress.kubernetes.io/router.entrypoints)).",
            "Only V(websecure) by default. A router without the annotation also attaches to C(web), where the "
            "traefik role's C(allowACMEByPass) lets C(/.well-known/acme-challenge/) past the HTTPS redirect, so "
            "that path of every member host would reach the member's own backends in cleartext. Pinned, only "
            "cert-manager's solver Ingresses answer on port 80.",
        ],
    ),
    Input(
        "binder_ingresses_tls_min_version",
        "binder_ingresses",
        "str",
        choices=["1.2", "1.3"],
        default="1.2",
        entry_points=("render",),
        description=[
            "The oldest TLS version the edge accepts (the traefik role's C(traefik_tls_min_version)). Every "
            "route's expectation carries it, so that C(probe_routes) (C(verify.yml)) fails a host that completes "
            "an older handshake."
        ],
    ),
    Input(
        "binder_ingresses_hsts_max_age",
        "binder_ingresses",
        "int",
        default=31536000,
        entry_points=("render",),
        description=[
            "The edge's HSTS C(max-age) (the traefik role's C(traefik_hsts_max_age)); every route's expectation "
            "requires a C(Strict-Transport-Security) header with at least this C(max-age). V(0) expects none."
        ],
    ),
    Input(
        "binder_ingresses_issuer",
        "binder_ingresses",
        "str",
        default="",
        entry_points=("render",),
        description=[
            "Empty (the default) leaves each certificate to cert-manager's default issuer "
            "(C(kubernetes.io/tls-acme)).",
            "The name of the member's own cert-manager C(Issuer) in O(binder_ingresses_namespace) (the binder "
            "role sets it for a member with C(binder_shared_cluster)); every Ingress names it in "
            "C(cert-manager.io/issuer), and a component may then set neither C(cert-manager.io/issuer) nor "
            "C(cert-manager.io/cluster-issuer).",
        ],
    ),
    Input(
        "binder_ingresses_ingress_class",
        "binder_ingresses",
        "str",
        default="traefik",
        entry_points=("render",),
        description="C(spec.ingressClassName) of every Ingress.",
    ),
    Input(
        "binder_ingresses_apply",
        "binder_ingresses",
        "bool",
        default=True,
        entry_points=(),
        description="Apply the set and prune what left it after building it. V(false) only builds it.",
    ),
    Input(
        "binder_ingresses_keys",
        "binder_ingresses",
        "dict",
        default={},
        entry_points=("preflight", "render", "apply"),
        description=[
            "Input field to the name of the variable the user wrote, so that errors name that variable (for "
            "example V({namespace: binder_namespace})). Fields left out are named by this role's own variables.",
            "The C(binder) role sets it from the member variables it maps; fields: C(namespace), "
            "C(ingress_class), C(adopt).",
        ],
    ),
    Input(
        "binder_ingresses_adopt",
        "binder_ingresses",
        "list",
        elements="str",
        default=[],
        entry_points=("apply",),
        description=[
            "Objects of the member's Ingresses and redirector Service that exist already although something else "
            "made them (Helm, kubectl, another member), which this role may take over, each as C(Kind/name), for "
            "example V(Ingress/jupyterhub). Namespaced kinds are in O(binder_ingresses_namespace).",
            "Without it, such an object is refused before the apply writes anything, naming its owner. An adopted "
            "object gets the set's labels; only the apply that takes it over forces conflicts with other field "
            "managers. Each entry must name an object this role builds.",
            "The C(binder) role sets it from C(binder_adopt).",
        ],
    ),
    Input(
        "k3s_member_name",
        "k3s_member",
        "str",
        default="",
        entry_points=(),
        description=(
            "The federation member this node serves (a DNS-1123 label); names the kubeconfig's cluster, user and "
            "context."
        ),
    ),
    Input(
        "k3s_member_public_address",
        "k3s_member",
        "str",
        default="",
        entry_points=(),
        description="The node's public IP address; the kubeconfig's server and a TLS SAN of the API server.",
    ),
    Input(
        "k3s_member_public_name",
        "k3s_member",
        "str",
        default="",
        entry_points=(),
        description="The node's public DNS name; added to the API server's TLS SANs when set.",
    ),
    Input(
        "k3s_member_namespace",
        "k3s_member",
        "str",
        default="{{ k3s_member_name }}",
        entry_points=(),
        description="The default namespace of the kubeconfig's context.",
    ),
    Input(
        "k3s_member_version",
        "k3s_member",
        "str",
        default="v1.34.3+k3s1",
        entry_points=(),
        description="The k3s release to install. Changing it upgrades the node in place.",
    ),
    Input(
        "k3s_member_install_mode",
        "k3s_member",
        "str",
        choices=["download", "airgap"],
        default="download",
        entry_points=(),
        description=(
            "C(download) fetches the installer and binary; C(airgap) copies them and the images archive from "
            "O(k3s_member_airgap_dir)."
        ),
    ),
    Input(
        "k3s_member_release_url",
        "k3s_member",
        "str",
        default="https://github.com/k3s-io/k3s/releases/download",
        entry_points=(),
        description="Base URL of the k3s release assets (C(<url>/<version>/k3s)); C(https://) only.",
    ),
    Input(
        "k3s_member_binary_sha256",
        "k3s_member",
        "dict",
        default={},
        entry_points=(),
        description=[
            "sha256 of the k3s binary by version and architecture (C({v1.34.3+k3s1: {amd64: <64 hex>}})). The "
            "binary runs as root and is checked against this pin in both install modes, never against a checksum "
            "file from the same origin.",
            "Required: the role ships no pins. O(k3s_member_version) must have a pin, checked on the controller "
            "before the node is contacted, and one for the node's architecture when k3s is installed. Take it "
            "from the line of C(k3s) (amd64) or C(k3s-arm64) (arm64) in the release's published "
            "C(sha256sum-<arch>.txt), "
            "C(https://github.com/k3s-io/k3s/releases/download/<version>/sha256sum-amd64.txt) (the version's C(+) "
            "written C(%2B)).",
        ],
    ),
    Input(
        "k3s_member_installer_url",
        "k3s_member",
        "str",
        default="https://raw.githubusercontent.com/k3s-io/k3s/{{ k3s_member_version | urlencode }}/install.sh",
        entry_points=(),
        description="URL of the official k3s installer script; C(https://) only.",
    ),
    Input(
        "k3s_member_installer_sha256",
        "k3s_member",
        "str",
        default="",
        entry_points=(),
        description="sha256 of the installer script (64 hex digits); required in both install modes.",
    ),
    Input(
        "k3s_member_airgap_dir",
        "k3s_member",
        "str",
        default="",
        entry_points=(),
        description=[
            "Absolute controller directory with C(install.sh), C(k3s) (or C(k3s-arm64)) and "
            "C(k3s-airgap-images-<arch>.tar.zst) of O(k3s_member_version); C(airgap) mode only."
        ],
    ),
    Input(
        "k3s_member_airgap_images_sha256",
        "k3s_member",
        "dict",
        default={},
        entry_points=(),
        description=[
            "sha256 of C(k3s-airgap-images-<arch>.tar.zst) by version and architecture (C({v1.34.3+k3s1: {amd64: "
            "<64 hex>}})), from the same C(sha256sum-<arch>.txt) as the binary's pin. The archive is checked "
            "against this pin on the controller and again on the node, never against a checksum file from the "
            "same directory.",
            "Required in C(airgap) mode for O(k3s_member_version).",
        ],
    ),
    Input(
        "k3s_member_config",
        "k3s_member",
        "dict",
        default={},
        entry_points=(),
        description=[
            "Extra C(/etc/rancher/k3s/config.yaml) settings, merged over the role's own.",
            "C(write-kubeconfig), C(write-kubeconfig-mode) and C(write-kubeconfig-group) are refused, since they "
            "would expose the node's admin kubeconfig; use O(k3s_member_write_kubeconfig_mode).",
            "The file is owner-only (V(0600)). When these settings hold a secret (a key or value naming a token, "
            "secret, password, credential, auth, access key, private key or datastore endpoint), the file's diff "
            "is not shown, so that C(--diff) does not print it; vault such values.",
        ],
    ),
    Input(
        "k3s_member_node_labels",
        "k3s_member",
        "dict",
        default={},
        entry_points=(),
        description="Node labels, as a mapping of label to value.",
    ),
    Input(
        "k3s_member_write_kubeconfig_mode",
        "k3s_member",
        "str",
        default="0600",
        entry_points=(),
        description=[
            "File mode of C(/etc/rancher/k3s/k3s.yaml) on the node, in octal (V(0600), V(0400)).",
            "The file holds the cluster's admin key, so the mode must give the group and others nothing.",
        ],
    ),
    Input(
        "k3s_member_max_pods",
        "k3s_member",
        "int",
        default=0,
        entry_points=(),
        description="kubelet maxPods; C(0) means floor(1.75 x the machine's memory in GiB).",
    ),
    Input(
        "k3s_member_image_gc_high_threshold",
        "k3s_member",
        "int",
        default=40,
        entry_points=(),
        description="kubelet imageGCHighThresholdPercent.",
    ),
    Input(
        "k3s_member_image_gc_low_threshold",
        "k3s_member",
        "int",
        default=20,
        entry_points=(),
        description="kubelet imageGCLowThresholdPercent.",
    ),
    Input(
        "k3s_member_sysctl",
        "k3s_member",
        "dict",
        default={"fs.inotify.max_user_instances": 8192, "fs.inotify.max_user_watches": 524288},
        entry_points=(),
        description="Kernel settings written to C(/etc/sysctl.d/90-binder-k3s.conf) and applied.",
    ),
    Input(
        "k3s_member_sysctl_apply",
        "k3s_member",
        "bool",
        default=True,
        entry_points=(),
        description=(
            "Apply the sysctl settings to the running kernel. Off only where the kernel is not the node's own "
            "(the tests' chroot)."
        ),
    ),
    Input(
        "k3s_member_manage_service",
        "k3s_member",
        "bool",
        default=True,
        entry_points=(),
        description=(
            "Enable, start (restart on change) and wait for the k3s service. Off only where there is no systemd "
            "(the tests' chroot)."
        ),
    ),
    Input(
        "k3s_member_ready_timeout",
        "k3s_member",
        "int",
        default=300,
        entry_points=(),
        description="Seconds to wait for the node to become Ready.",
    ),
    Input(
        "k3s_member_required_free_ports",
        "k3s_member",
        "list",
        elements="int",
        default=[80, 443, 6443],
        entry_points=(),
        description="Ports that must be free before k3s is first installed.",
    ),
    Input(
        "k3s_member_min_memory_mb",
        "k3s_member",
        "int",
        default=3584,
        entry_points=(),
        description="Minimum memory of the machine, in MiB.",
    ),
    Input(
        "k3s_member_min_disk_gb",
        "k3s_member",
        "int",
        default=20,
        entry_points=(),
        description="Minimum free disk space under C(/var), in GiB.",
    ),
    Input(
        "k3s_member_fetch_kubeconfig",
        "k3s_member",
        "bool",
        default=True,
        entry_points=(),
        description="Fetch the node's kubeconfig to the controller, rewritten for the member.",
    ),
    Input(
        "k3s_member_kubeconfig_dest",
        "k3s_member",
        "str",
        default="{{ lookup('ansible.builtin.env', 'HOME') }}/.kube/binder/{{ k3s_member_name }}.yaml",
        entry_points=(),
        description="Absolute path of the member's kubeconfig on the controller (written mode 0600).",
    ),
    Input(
        "k3s_member_upgrade_plan",
        "k3s_member",
        "bool",
        default=False,
        entry_points=(),
        description=[
            "Install system-upgrade-controller and a k3s upgrade Plan that installs O(k3s_member_version) (the "
            "Plan's C(version); no channel) within O(k3s_member_upgrade_window), from the image pinned by "
            "O(k3s_member_upgrade_image_digest)."
        ],
    ),
    Input(
        "k3s_member_upgrade_controller_version",
        "k3s_member",
        "str",
        default="v0.17.0",
        entry_points=(),
        description="The system-upgrade-controller release.",
    ),
    Input(
        "k3s_member_upgrade_controller_url",
        "k3s_member",
        "str",
        default="https://github.com/rancher/system-upgrade-controller/releases/download",
        entry_points=(),
        description="Base URL of the system-upgrade-controller release assets; C(https://) only.",
    ),
    Input(
        "k3s_member_upgrade_controller_crd_sha256",
        "k3s_member",
        "str",
        default="",
        entry_points=(),
        description="sha256 of that release's C(crd.yaml); required with O(k3s_member_upgrade_plan).",
    ),
    Input(
        "k3s_member_upgrade_controller_manifest_sha256",
        "k3s_member",
        "str",
        default="",
        entry_points=(),
        description="sha256 of that release's C(system-upgrade-controller.yaml); required with O(k3s_member_upgrade_plan).",
    ),
    Input(
        "k3s_member_upgrade_image_digest",
        "k3s_member",
        "str",
        default="",
        entry_points=(),
        description=[
            "Digest (C(sha256:<64 hex>)) of C(rancher/k3s-upgrade:<tag>), the image the upgrade Plan runs, where "
            "the tag is O(k3s_member_version) with C(+) written C(-) (C(v1.34.3-k3s1)); required with "
            "O(k3s_member_upgrade_plan). The Plan names the image by this digest, so a moved tag changes nothing."
        ],
    ),
    Input(
        "k3s_member_upgrade_window",
        "k3s_member",
        "dict",
        default={"days": ["sunday"], "startTime": "00:00", "endTime": "02:00", "timeZone": "UTC"},
        entry_points=(),
        description="When upgrades may run (the Plan's C(spec.window)).",
    ),
)


def _plain(description: str | Sequence[str]) -> str:
    """The first paragraph of a description, without Ansible's markup (O(x), V(x), C(x) as x)."""
    text = description if isinstance(description, str) else description[0]
    return re.sub(r"\b[OVCIM]\(([^)]*)\)", r"\1", text)


def _missing(row: Input, what: str, host_vars_file: str) -> str:
    if row.needed:
        return f"{what}; expected in {host_vars_file} (is the file named after the member?)"
    return f"{what}, and the {row.role} role has no default: {_plain(row.description)}"


def setting_names(role: str) -> dict[str, str]:
    """The fields of the role's settings builder and the variables they are, in the table's order."""
    return {row.setting: row.name for row in INPUTS if row.role == role and row.setting}


def settings(role: str, value_of: Callable[[str], Any]) -> dict[str, Any]:
    """The role's settings builder's input: each field's variable, by ``value_of(name)``. Integers and
    booleans are converted as the argument spec takes them ("2", "yes"); the builder checks the rest."""
    result = {}
    for row in INPUTS:
        if row.role == role and row.setting:
            value = value_of(row.name)
            if row.type in ("int", "bool") and value is not None:
                with contextlib.suppress(TypeError, ValueError):  # the builder names it
                    value = _convert(row.type, value)
            result[row.setting] = value
    return result


def by_name() -> dict[str, Input]:
    """The table's rows by variable name."""
    return {row.name: row for row in INPUTS}


_TYPES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "str": (lambda value: check_type_str(value, allow_conversion=True), "a string"),
    "int": (check_type_int, "an integer"),
    "float": (check_type_float, "a number"),
    "bool": (check_type_bool, "a boolean (true or false)"),
    "list": (check_type_list, "a list"),
    "dict": (check_type_dict, "a mapping"),
    "path": (check_type_path, "a path"),
    "raw": (lambda value: value, "any value"),
}


def _convert(type_: str, value: Any) -> Any:
    """``value`` as the argument spec would take it for ``type_``; TypeError when it cannot."""
    if type_ in ("str", "path") and isinstance(value, (Mapping, list, tuple)):
        raise TypeError(type_)
    if type_ == "list" and isinstance(value, (str, Mapping)):
        # The argument spec splits a string at commas; a member variable that is a string is a mistake.
        raise TypeError(type_)
    if type_ == "dict" and isinstance(value, str):
        raise TypeError(type_)
    return _TYPES[type_][0](value)


def _check_row(r: Issues, row: Input, value: Any, values: Mapping[str, Any], host_vars_file: str) -> Any:
    """Check one set variable; its converted value, or UNSET when it has a problem."""
    if value is None:
        if row.default is None or row.type == "raw":
            return None
        if row.required or row.needed:
            r.add(row.name, _missing(row, "is null", host_vars_file))
        else:
            r.add(row.name, f"is null; write {_TYPES[row.type][1]}, or remove it for the role's default")
        return UNSET
    try:
        converted = _convert(row.type, value)
    except (TypeError, ValueError):
        r.add(row.name, f"is {kind(value)}, must be {_TYPES[row.type][1]}")
        return UNSET
    if row.type == "list" and row.elements:
        for index, item in enumerate(converted):
            try:
                _convert(row.elements, item)
            except (TypeError, ValueError):
                r.add(
                    f"{row.name}[{index}]",
                    f"is {kind(item)}, must be {_TYPES[row.elements][1]}",
                )
                return UNSET
    if row.choices is not None and converted not in row.choices:
        r.add(row.name, f"is {converted}, must be one of {', '.join(map(str, row.choices))}")
        return UNSET
    if row.check is not None:
        problem = row.check(converted, values)
        if problem:
            r.add(row.name, problem)
            return UNSET
    return converted


def problems(member: str, values: Mapping[str, Any], **options: Any) -> list[str]:
    """Every problem of a member's variables, one line each (``issues``, as text)."""
    return [str(issue) for issue in issues(member, values, **options)]


def issues(
    member: str,
    values: Mapping[str, Any],
    *,
    roles: Collection[str] = MEMBER_ROLES,
    cluster: bool = True,
    mapped: Collection[str] = (),
    host_vars_file: str = "",
) -> list[Issue]:
    """Every problem of a member's variables, each with the variable it is about, in a stable order.

    ``values`` are the member's variables with one of PREFIXES (templated). Rows of ``roles`` are
    checked; a row in ``mapped`` is set by the binder role from member variables, so a value for it is
    refused. ``cluster``: the entry point calls the cluster (the rows needed "cluster" are then
    required). ``host_vars_file`` is named for a missing needed variable.
    """
    r = Issues(member)
    rows = by_name()
    effective = {
        row.name: row.default
        for row in INPUTS
        if row.default is not UNSET and not (isinstance(row.default, str) and "{{" in row.default)
    }
    effective.update(values)
    checked: dict[str, Any] = {}
    for row in INPUTS:
        if row.role not in roles:
            continue
        if row.name in mapped:
            if row.name in values:
                r.add(
                    row.name,
                    "set from the member variables (binder_namespace, binder_entrypoint_name, binder_ingress_class,"
                    " binder_traefik_release, binder_tls_min_version, binder_hsts_max_age, binder_k3s,"
                    " binder_shared_cluster, binder_adopt, binder_ingresses_components; docs/inventory.md);"
                    " remove it from the inventory and set the member variable instead",
                )
            continue
        needed = row.required or row.needed == "always" or (row.needed == "cluster" and cluster)
        if row.name not in values:
            if needed:
                r.add(row.name, _missing(row, "is not set", host_vars_file))
            continue
        checked[row.name] = _check_row(r, row, values[row.name], effective, host_vars_file)
    prefixes = tuple(f"{role}_" for role in roles)
    for name in sorted(values):
        if name in rows or name in OUTPUTS or name in mapped or not name.startswith(prefixes):
            continue
        close = difflib.get_close_matches(name, [row.name for row in INPUTS], n=1, cutoff=0.8)
        hint = (
            f"did you mean {close[0]}?"
            if close
            else "see docs/inventory.md and the roles' READMEs for the variables"
        )
        r.add(name, f"is not a variable of the collection (no role reads it); {hint}")
    _local_charts(r, {**effective, **checked}, roles)
    if "binder" in roles:
        _catalogue(r, member, checked)
    return r.items


# The chart name a local cert-manager chart must carry (no variable holds it: the chart is cert-manager's).
CERT_MANAGER_CHART = "cert-manager"


def _local_charts(r: Issues, values: Mapping[str, Any], roles: Collection[str]) -> None:
    """A local chart (<role>_chart_source: path) is read now and checked against the pins: Helm ignores
    --version for one, so what is on disk would be installed."""
    charts: list[dict[str, Any]] = []
    if "traefik" in roles and values.get("traefik_chart_source") == "path":
        charts.append(
            {
                "path": values.get("traefik_chart_path"),
                "name": values.get("traefik_chart_name"),
                "version": values.get("traefik_chart_version"),
                "variables": {
                    "path": "traefik_chart_path",
                    "name": "traefik_chart_name",
                    "version": "traefik_chart_version",
                },
            }
        )
    if (
        "cert_manager" in roles
        and values.get("cert_manager_helm_enabled") is not False
        and values.get("cert_manager_chart_source") == "path"
    ):
        charts.append(
            {
                "path": values.get("cert_manager_chart_path"),
                "name": CERT_MANAGER_CHART,
                "version": values.get("cert_manager_chart_version"),
                "variables": {
                    "path": "cert_manager_chart_path",
                    "name": "the chart name",
                    "version": "cert_manager_chart_version",
                },
            }
        )
    for params in charts:
        if any(
            value is UNSET or not isinstance(value, str)
            for value in (params["path"], params["name"], params["version"])
        ):
            continue  # reported with its row
        try:
            _chart.check(params)
        except _chart.ChartError as error:
            r.add(params["variables"]["path"], str(error))


_CATALOGUE_KEYS = {
    "components": "binder_ingresses_components",
    "namespace": "binder_namespace",
    "ingress_class": "binder_ingress_class",
    "tls_min_version": "binder_tls_min_version",
    "hsts_max_age": "binder_hsts_max_age",
}


def _catalogue(r: Issues, member: str, checked: Mapping[str, Any]) -> None:
    """The catalogue's own problems, with the others: one run tells every one of them."""
    inputs = {field: checked.get(name, UNSET) for field, name in _CATALOGUE_KEYS.items()}
    if any(value is UNSET for field, value in inputs.items() if field in ("components", "namespace")):
        return
    settings = {
        field: value for field, value in inputs.items() if value is not UNSET and field != "components"
    }
    try:
        build_member(member, inputs["components"], keys=_CATALOGUE_KEYS, **settings)
    except MemberError as error:
        for issue in error.issues:
            r.add(issue.key, issue.message)
