#!/usr/bin/python

# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: apply_set
short_description: Apply a labelled set of Kubernetes objects, writing only what differs, and prune what left it
version_added: 0.1.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - Brings one labelled set of objects (a member's Ingresses, its cluster entrypoint Service, the
    ClusterIssuers of a cluster) to the desired state with one client and one API discovery.
  - Every object gets the set's labels C(app.kubernetes.io/managed-by=binder.ingress),
    C(binder.ingress/set=<set>) and, with O(member), C(binder.ingress/member=<member>). An object whose
    definition carries one of them with another value is refused.
  - The set changes only what it owns. First the objects of the set's kinds are listed (one read per
    kind). An object that already exists under the name of a desired one but lacks the set's labels
    (made by Helm, kubectl or another tool), or carries another set's or another member's, is refused
    unless O(adopt) names it. The task then fails before anything is written, naming each refused
    object, who owns it (its labels, the Helm release of its C(meta.helm.sh/release-name) and
    C(meta.helm.sh/release-namespace) annotations, its field managers) and the variable that adopts it
    (O(adopt_variable)). Refused objects are left exactly as they are.
  - Then a server-side dry run of every object (server-side apply with C(dryRun=All), field manager
    C(binder.ingress)), compared with the object in the cluster. An object is written when the server
    would change it, and only then. Any object the server refuses fails the task before anything is
    written, each refusal named.
  - Conflicts with other field managers are never forced, except to take over an object O(adopt) names.
    A field that another manager (C(kubectl edit), a Helm release, another controller) set to another
    value fails the task, naming the manager and the fields. An adopted object is applied with conflicts
    forced when it is not the set's yet, or when another manager holds fields it sets; from then on it
    carries the set's labels.
  - Then one server-side apply of each object that differs. Every one is sent, even after a refusal
    (the dry run accepted them all, so a refusal here is a race or a fault); the task then fails naming
    each refused object, and nothing is pruned.
  - The dry runs and the applies are sent O(parallel) at a time. A set of hundreds of Ingresses waits
    mostly on the API server, which handles them side by side.
  - Then, only if every apply succeeded and O(prune_kinds) is given, each object of those kinds that
    carries the set's labels and is not in O(objects) is deleted, bound by a precondition to the uid
    and resourceVersion it was listed with. Namespaced kinds are listed in O(namespace) only.
  - With O(create_namespace), a missing O(namespace) is created first, bare (no labels). An existing
    namespace is never changed, and a namespace is never pruned.
  - A request that fails in a way a second try can cure (no answer, a lost connection, a timeout after
    O(request_timeout), or the statuses 429, 500, 502, 503 and 504; for a dry run or an apply also a 409
    of optimistic concurrency, never a conflict with another field manager) is sent again up to
    O(retries) times, after 0.5, 1, 2, 4, 8, 8... seconds or the server's C(Retry-After). Each
    request is safe to repeat (reads, server-side applies, deletions bound to a uid and resourceVersion).
    A deletion refused because the object changed since it was listed reads it again and deletes it as
    it is now, if it still carries the set's labels. Once a request has failed after every retry, the
    module sends nothing more and fails, naming the set, the member, the object and the step; nothing
    is pruned then.
options:
  set:
    description:
      - Name of the set, the value of its label C(binder.ingress/set), for example V(ingresses).
      - When omitted, the value of that label on the objects, which must all carry the same one (the
        collection's filters label what they build). Needed when O(objects) is empty.
    type: str
  member:
    description:
      - The member that owns the set, the value of its label C(binder.ingress/member).
      - Omit it for a set that every member of a shared cluster applies alike, such as the cluster-scoped
        ClusterIssuers. Such a set carries no member label, so members that share a cluster do not
        relabel it in turn; it is never pruned, since another member may still use it.
    type: str
  namespace:
    description:
      - The namespace of the set's namespaced objects. An object without C(metadata.namespace) is put
        there; an object in another namespace is refused.
      - Required for namespaced objects without C(metadata.namespace), and for namespaced O(prune_kinds).
    type: str
  create_namespace:
    description:
      - Create O(namespace) if it does not exist.
      - Without it, a missing namespace fails a real run before any write. In check mode the objects in it
        are reported as created, shown as given (not validated by the server), with a warning.
    type: bool
    default: false
  objects:
    description:
      - The desired objects, full definitions with C(apiVersion), C(kind) and C(metadata.name).
      - An empty list applies nothing (and, with O(prune_kinds), prunes the whole set).
    type: list
    elements: dict
    required: true
  adopt:
    description:
      - Existing objects the set may take over although something else made them, each as C(Kind/name),
        for example V(Ingress/jupyterhub) or V(ClusterIssuer/letsencrypt-prod). A namespaced kind is in
        O(namespace).
      - Each entry must name one of O(objects). An adopted object gets the set's labels, and is pruned
        like the set's other objects once it leaves O(objects).
    type: list
    elements: str
    default: []
  adopt_variable:
    description:
      - The name of the inventory variable that lists the objects to adopt, as messages name it (the
        roles pass theirs, for example V(binder_adopt)).
    type: str
    default: adopt
  ownership_only:
    description:
      - Only list the live objects and refuse those the set does not own (see the description); send no
        dry run and no write, create no namespace, prune nothing. The binder role runs this for every set
        of a member before the member's first write.
    type: bool
    default: false
  prune_kinds:
    description:
      - The kinds of object the set is made of, whose labelled objects are deleted when they are not in
        O(objects). Objects of other kinds are never deleted. A kind the server does not serve has no
        objects to prune. Needs O(member).
    type: list
    elements: dict
    default: []
    suboptions:
      kind:
        description: Kind of the objects, for example V(Ingress). Never V(Namespace).
        type: str
        required: true
      api_version:
        description: API version of the kind, for example V(networking.k8s.io/v1).
        type: str
        default: v1
  parallel:
    description:
      - How many requests the module has in flight at once, for the dry runs and for the applies.
      - V(1) sends them one after another, in the order of O(objects).
    type: int
    default: 8
  retries:
    description:
      - How many more times a request that failed transiently is sent, see the description. V(0) sends
        each request once.
    type: int
    default: 5
  request_timeout:
    description:
      - Seconds one request may take, from connecting to the end of the answer, before it counts as
        lost (and is tried again).
    type: float
    default: 30.0
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description:
      - Runs the dry run and sends each deletion with C(dryRun=All), so the API server validates
        everything and stores nothing, and reports what would be created, updated and deleted.
      - Objects whose namespace or kind does not exist yet (a fresh cluster, a CRD that an earlier task
        of the same run would install) are reported as created from their definition, with a warning.
  diff_mode:
    support: full
    description:
      - One diff per object created, updated or deleted, as YAML, without server bookkeeping
        (C(managedFields), C(resourceVersion), C(generation), C(uid), C(creationTimestamp)) and status.
  action:
    support: full
    description:
      - The action plugin of the same name runs the module's code inside the worker Ansible starts for
        the task, on the controller, with no module process of its own.
seealso:
  - module: kubernetes.core.k8s
  - name: Server-side apply
    description: How the API server merges an applied object and tracks field ownership.
    link: https://kubernetes.io/docs/reference/using-api/server-side-apply/
notes:
  - Changed means that an object was written, or would be in check mode. A run with nothing to do sends
    no write at all, not even a no-op apply.
  - The values of Secret objects are masked in the diff.
"""

EXAMPLES = r"""
- name: Apply the member's Ingresses and redirector Service, and prune the ones no longer desired
  binder.ingress.apply_set:
    kubeconfig: ~/.kube/gesis
    context: gesis
    set: ingresses
    member: gesis
    namespace: gesis
    objects: "{{ binder_ingresses_objects }}"
    prune_kinds:
      - kind: Ingress
        api_version: networking.k8s.io/v1
      - kind: Service

# The set is the objects' own binder.ingress/set label (cluster_entrypoint_objects carry "entrypoint").
- name: Apply the member's entrypoint Service, creating its namespace on a fresh cluster
  binder.ingress.apply_set:
    member: gesis
    namespace: gesis
    create_namespace: true
    objects: "{{ cluster_entrypoint_objects }}"

- name: Apply the ClusterIssuers every member of the cluster shares, taking over one made by hand
  binder.ingress.apply_set:
    objects: "{{ cert_manager_objects }}"
    adopt:
      - ClusterIssuer/letsencrypt-prod
    adopt_variable: cert_manager_adopt

- name: Check, without writing, that the member owns every live object of its Ingress set
  binder.ingress.apply_set:
    set: ingresses
    member: gesis
    namespace: gesis
    objects: "{{ binder_ingresses_objects }}"
    ownership_only: true
"""

RETURN = r"""
created:
  description:
    - The objects created, or that would be created in check mode, in the order applied. The namespace
      is the first of them when this run created it.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: Kind of the object.
      type: str
      sample: Ingress
    api_version:
      description: API version of the object.
      type: str
      sample: networking.k8s.io/v1
    namespace:
      description: Namespace of the object; null for a cluster-scoped object.
      type: str
      sample: gesis
    name:
      description: Name of the object.
      type: str
      sample: binderhub
  sample:
    - {kind: Namespace, api_version: v1, namespace: null, name: gesis}
    - {kind: Ingress, api_version: networking.k8s.io/v1, namespace: gesis, name: binderhub}
updated:
  description: The objects changed, or that would be changed in check mode; same elements as RV(created).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Service, api_version: v1, namespace: gesis, name: cluster-entrypoint}
unchanged:
  description: The desired objects that already were as desired, and were not written; same elements as RV(created).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Ingress, api_version: networking.k8s.io/v1, namespace: gesis, name: jupyterhub}
deleted:
  description:
    - The objects pruned, or that would be pruned in check mode, sorted by kind, namespace and name;
      same elements as RV(created).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Ingress, api_version: networking.k8s.io/v1, namespace: gesis, name: grafana}
"""

from ansible_collections.binder.ingress.plugins.module_utils._runs import apply_set_spec, run_apply_set
from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule


def main() -> None:
    # The action plugin of the same name runs run_apply_set inside Ansible's worker; this is the module
    # process's way in (ansible-doc, validate-modules, a run without the action).
    run_apply_set(
        AnsibleK8SModule(module_class=AnsibleModule, argument_spec=apply_set_spec(), supports_check_mode=True)
    )


if __name__ == "__main__":
    main()
