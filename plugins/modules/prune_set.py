#!/usr/bin/python

# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: prune_set
short_description: Delete the labelled objects of a set that are no longer desired
version_added: 0.1.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - Lists the objects of the given O(kinds) in O(namespace) that match O(label_selectors), and deletes every
    one of them that is not in O(desired). This is the prune step that M(kubernetes.core.k8s) lacks.
  - An object is only ever deleted if it carries the labels the selector asks for. The selector must contain
    at least one requirement that needs a label to be present (V(key=value), V(key==value), a set-based
    C(in) requirement, or a bare V(key)), so an unlabelled object can never match; each listed object is checked again against the
    selector before it is deleted, so a server that ignored the selector cannot widen the set.
  - Run it only after the whole desired set was applied without error, so that a failed apply never
    leaves the member with fewer objects than before.
  - Each deletion carries the listed object's uid as a precondition, so an object re-created under the same
    name in the meantime is not deleted.
options:
  namespace:
    description:
      - Namespace whose objects are pruned.
    type: str
    required: true
  label_selectors:
    description:
      - Label requirements that identify the set, one per element, all of which must hold.
      - For example V(app.kubernetes.io/managed-by=binder.ingress), V(binder.ingress/member=gesis),
        V(binder.ingress/set=ingresses).
    type: list
    elements: str
    required: true
  kinds:
    description:
      - The kinds of object the set is made of. Objects of other kinds are never touched.
    type: list
    elements: dict
    required: true
    suboptions:
      kind:
        description: Kind of the objects, for example V(Ingress).
        type: str
        required: true
      api_version:
        description: API version of the kind, for example V(networking.k8s.io/v1).
        type: str
        default: v1
  desired:
    description:
      - The objects that must be kept, as full definitions or as stubs with only C(kind) and
        C(metadata.name) (and C(metadata.namespace) when it is not O(namespace)).
      - An object is kept when its kind, namespace and name match an element of this list.
      - An empty list prunes the whole set.
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description: Sends each deletion with C(dryRun=All), so the API server validates it and stores nothing.
  diff_mode:
    support: full
    description: One diff per deleted object; C(before) is the object, C(after) is empty.
seealso:
  - module: kubernetes.core.k8s
  - module: kubernetes.core.k8s_info
notes:
  - The values of Secret objects are masked in the diff and the result.
"""

EXAMPLES = r"""
- name: Prune the Ingresses and Services of the member's set that are no longer desired
  binder.ingress.prune_set:
    kubeconfig: ~/.kube/gesis
    context: gesis
    namespace: gesis
    label_selectors:
      - app.kubernetes.io/managed-by=binder.ingress
      - binder.ingress/member=gesis
      - binder.ingress/set=ingresses
    kinds:
      - kind: Ingress
        api_version: networking.k8s.io/v1
      - kind: Service
    desired: "{{ binder_ingresses_objects }}"

- name: Keep only two Ingresses of the set, given by name
  binder.ingress.prune_set:
    namespace: gesis
    label_selectors: [binder.ingress/set=ingresses, binder.ingress/member=gesis]
    kinds: [{kind: Ingress, api_version: networking.k8s.io/v1}]
    desired:
      - {kind: Ingress, metadata: {name: binderhub}}
      - {kind: Ingress, metadata: {name: jupyterhub}}
"""

RETURN = r"""
deleted:
  description:
    - The objects deleted, or that would be deleted in check mode, sorted by kind, namespace and name.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
      sample: Ingress
    api_version:
      description: API version the object was listed with.
      type: str
      sample: networking.k8s.io/v1
    namespace:
      description: Namespace of the object.
      type: str
      sample: gesis
    name:
      description: Name of the object.
      type: str
      sample: redirector-old-example-org
    uid:
      description: Uid of the deleted object.
      type: str
  sample:
    - {kind: Ingress, api_version: networking.k8s.io/v1, namespace: gesis, name: grafana, uid: 5f0c...}
kept:
  description: Number of listed objects of the set that are desired and were left alone.
  returned: always
  type: int
  sample: 7
"""

import copy
from contextlib import suppress
from typing import Any

from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
from ansible_collections.kubernetes.core.plugins.module_utils.selector import LabelSelectorFilter

# AnsibleK8SModule reports a missing kubernetes library before any of these names are used.
with suppress(ImportError):
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError, ResourceNotFoundError

MASK = "********"


def argspec() -> dict[str, Any]:
    args: dict[str, Any] = copy.deepcopy(AUTH_ARG_SPEC)
    args.update(
        namespace=dict(type="str", required=True),
        label_selectors=dict(type="list", elements="str", required=True),
        kinds=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(kind=dict(type="str", required=True), api_version=dict(type="str", default="v1")),
        ),
        desired=dict(type="list", elements="dict", required=True),
    )
    return args


def is_positive(requirement: str) -> bool:
    """True if the requirement can only hold on an object that carries the label."""
    text = requirement.strip()
    negative = text.startswith("!") or "!=" in text or " notin " in f" {text} "
    return bool(text) and not negative


def check_selector(label_selectors: list[str]) -> None:
    if not any(is_positive(r) for r in label_selectors):
        raise CoreException(
            "label_selectors must contain a requirement that needs a label to be present "
            f"(key=value, key in (...), or key); got {label_selectors!r}, which could match unlabelled objects"
        )


def desired_keys(desired: list[dict[str, Any]], namespace: str) -> set[tuple[str, str, str]]:
    keys = set()
    for index, obj in enumerate(desired):
        meta = obj.get("metadata") or {}
        if not obj.get("kind") or not meta.get("name"):
            raise CoreException(f"desired[{index}] needs kind and metadata.name")
        keys.add((obj["kind"], meta.get("namespace") or namespace, meta["name"]))
    return keys


def masked(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as shown in results and diffs: no managedFields noise, no Secret values."""
    shown: dict[str, Any] = copy.deepcopy(obj)
    shown.get("metadata", {}).pop("managedFields", None)
    if shown.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(shown.get(field), dict):
                shown[field] = dict.fromkeys(shown[field], MASK)
    return shown


def api_message(error: Exception) -> str:
    summary = getattr(error, "summary", None)
    return str(summary()) if callable(summary) else str(error)


class SetPruner:
    """Lists a labelled set and deletes what is not desired, through a kubernetes.core K8SClient."""

    def __init__(self, client: Any, params: dict[str, Any], check_mode: bool, diff: bool) -> None:
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.selector = LabelSelectorFilter(params["label_selectors"])

    def candidates(self) -> tuple[list[tuple[Any, str, dict[str, Any]]], int]:
        """Every listed object of the set that is not desired, and how many desired ones were found."""
        namespace = self.params["namespace"]
        keep = desired_keys(self.params["desired"], namespace)
        found: list[tuple[Any, str, dict[str, Any]]] = []
        kept = 0
        for spec in self.params["kinds"]:
            try:
                resource = self.client.resource(spec["kind"], spec["api_version"])
            except ResourceNotFoundError as e:
                raise CoreException(
                    f"kinds: the API server does not serve {spec['api_version']}/{spec['kind']}"
                ) from e
            listing = self.client.get(
                resource, namespace=namespace, label_selector=",".join(self.params["label_selectors"])
            ).to_dict()
            for item in listing.get("items") or []:
                meta = item.get("metadata") or {}
                item.setdefault("kind", spec["kind"])
                item.setdefault("apiVersion", spec["api_version"])
                # The server already filtered; this second check keeps an unlabelled or foreign object
                # safe even from a server that ignored the selector.
                if not self.selector.isMatching(item):
                    continue
                if (spec["kind"], meta.get("namespace") or namespace, meta["name"]) in keep:
                    kept += 1
                else:
                    found.append((resource, spec["api_version"], item))
        found.sort(
            key=lambda c: (c[2]["kind"], c[2]["metadata"].get("namespace", ""), c[2]["metadata"]["name"])
        )
        return found, kept

    def delete(self, resource: Any, item: dict[str, Any]) -> bool:
        """Delete one object; False if it was already gone."""
        meta = item["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
            "preconditions": {"uid": meta["uid"]},
        }
        params: dict[str, Any] = dict(name=meta["name"], namespace=meta.get("namespace"), body=body)
        if self.check_mode:
            # In the body: kube-apiserver reads DeleteOptions from the body when there is one and then
            # ignores the query, so the dryRun=All that K8SClient adds to the query alone would delete
            # for real. The query keeps it too, for a server that reads only the query.
            body["dryRun"] = ["All"]
            params["dry_run"] = "All"
        try:
            self.client.delete(resource, **params)
        except NotFoundError:
            return False
        except DynamicApiError as e:
            raise CoreException(
                f"Failed to delete {item['kind']} {meta.get('namespace')}/{meta['name']}: {api_message(e)}"
            ) from e
        return True

    def run(self) -> dict[str, Any]:
        check_selector(self.params["label_selectors"])
        found, kept = self.candidates()
        deleted = []
        diffs = []
        for resource, api_version, item in found:
            if not self.delete(resource, item):
                continue
            meta = item["metadata"]
            deleted.append(
                dict(
                    kind=item["kind"],
                    api_version=api_version,
                    namespace=meta.get("namespace"),
                    name=meta["name"],
                    uid=meta.get("uid"),
                )
            )
            if self.diff:
                header = f"{item['kind']} {meta.get('namespace')}/{meta['name']}"
                diffs.append(dict(before=masked(item), after={}, before_header=header, after_header=header))
        result: dict[str, Any] = dict(changed=bool(deleted), deleted=deleted, kept=kept)
        if self.diff:
            result["diff"] = diffs
        return result


def main() -> None:
    module = AnsibleK8SModule(module_class=AnsibleModule, argument_spec=argspec(), supports_check_mode=True)
    try:
        client = get_api_client(module)
        result = SetPruner(client, module.params, module.check_mode, module._diff).run()
    except (CoreException, DynamicApiError) as e:
        module.fail_json(msg=f"prune_set in namespace {module.params['namespace']}: {api_message(e)}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
