#!/usr/bin/python

# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: member_lock
short_description: Take or give back the lock that lets one converge of a member run at a time
version_added: 0.3.0
author:
  - binder.ingress contributors (@binder-ingress)
description:
  - The lock of a member is a C(coordination.k8s.io/v1) Lease named C(binder-ingress.<member>) in
    O(namespace) of the member's cluster. Its C(holderIdentity) names the converge that holds it by the
    controller's user and host and the pid of its C(ansible-playbook) process (C(alice@ctl pid 4242)).
  - With O(state=acquired), the lock is taken when it is free (no Lease, no holder, a Lease whose
    holder did not renew it within its C(leaseDurationSeconds), or a holder on this same
    controller host whose C(ansible-playbook) process no longer runs), or when this converge holds it
    already (it is then renewed). The Lease is created, or updated bound to the resourceVersion it was
    read at, so of two converges that try at once only one wins. Held by another converge, it is read
    again every 2 seconds for up to O(wait) seconds; then the task fails naming the member, the holder,
    since when it holds the lock and when it expires.
  - With O(state=released), the Lease is deleted, bound to its uid and resourceVersion, if this converge
    still holds it. A lock that another converge holds by then (this one's expired while it ran) is left
    alone, with a warning. A release that fails (the API is down) warns and does not fail the task, so
    that it never hides the converge's own failure; the lock then lasts until it expires, or until a later
    converge on this controller takes it over.
  - The lock is bookkeeping of the run, not a change of the member; the module never reports C(changed).
  - A request that fails in a way a second try can cure is sent again up to O(retries) times, as
    M(binder.ingress.apply_set) does.
options:
  member:
    description:
      - The member the lock is for; the Lease is C(binder-ingress.<member>) (a member name that is no
        valid object name is made one, ending with a hash of the name).
    type: str
    required: true
  namespace:
    description:
      - Where the Lease lives. It must exist before the member's first write, so not the member's own
        namespace, which a converge creates on a fresh cluster.
    type: str
    default: kube-system
  state:
    description: V(acquired) takes (or renews) the lock, V(released) gives it back.
    type: str
    choices: [acquired, released]
    default: acquired
  holder:
    description:
      - Who holds the lock. The action plugin sets it to the controller's user, host and the pid of
        its C(ansible-playbook) process; give it only to hold one lock across several runs.
    type: str
  duration:
    description:
      - Seconds the lock stays taken after it was taken or renewed (the Lease's C(leaseDurationSeconds)).
        A converge that dies leaves the lock taken for at most this long. Long enough for a whole converge.
    type: int
    default: 3600
  wait:
    description:
      - Seconds to wait for a lock that another converge holds before failing. V(0) fails at once.
    type: int
    default: 0
  retries:
    description: How many more times a request that failed transiently is sent.
    type: int
    default: 5
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    description:
      - Only reads the Lease, and warns when another converge holds it. Writes nothing, waits for nothing.
  diff_mode:
    support: none
    description: Shows no diff; the lock is not a change of the member.
  action:
    support: full
    description:
      - The action plugin names the holder on the controller, then runs the module's code inside the
        worker Ansible starts for the task.
seealso:
  - name: Leases
    description: Kubernetes' Lease objects, used for leader election and locks.
    link: https://kubernetes.io/docs/concepts/architecture/leases/
"""

EXAMPLES = r"""
- name: Converge the member while holding its lock
  block:
    - name: Take the member's lock
      binder.ingress.member_lock:
        member: "{{ inventory_hostname }}"
        wait: 600
      register: __lock

    - name: Write the member
      ansible.builtin.debug:
        msg: the member's writes go here
  always:
    - name: Give back the member's lock
      binder.ingress.member_lock:
        member: "{{ inventory_hostname }}"
        state: released
      when: __lock.acquired | default(false)
"""

RETURN = r"""
lock:
  description: The Lease as the module left it (for V(released), as it was before its deletion).
  returned: always
  type: dict
  contains:
    namespace:
      description: Namespace of the Lease.
      type: str
      sample: kube-system
    name:
      description: Name of the Lease.
      type: str
      sample: binder-ingress.gesis
    holder:
      description: Its holder; null when there is no Lease.
      type: str
      sample: alice@ctl pid 4242
    acquire_time:
      description: When the holder took it.
      type: str
      sample: "2026-12-07T17:12:21.123456Z"
    renew_time:
      description: When the holder last renewed it.
      type: str
      sample: "2026-12-07T17:12:21.123456Z"
    lease_duration_seconds:
      description: Seconds after RV(lock.renew_time) at which it expires.
      type: int
      sample: 3600
acquired:
  description: This converge holds the lock now (never in check mode).
  returned: always
  type: bool
waited:
  description: Seconds waited for another converge's lock (V(state=acquired)).
  returned: when state is acquired
  type: float
released:
  description: The Lease was deleted (V(state=released)).
  returned: when state is released
  type: bool
"""

from ansible_collections.binder.ingress.plugins.module_utils._runs import member_lock_spec, run_member_lock
from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule


def main() -> None:
    # The action plugin of the same name runs run_member_lock inside Ansible's worker; this is the module
    # process's way in (ansible-doc, validate-modules, a run without the action).
    run_member_lock(
        AnsibleK8SModule(
            module_class=AnsibleModule, argument_spec=member_lock_spec(), supports_check_mode=True
        )
    )


if __name__ == "__main__":
    main()
