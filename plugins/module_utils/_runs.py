# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the collection's cluster modules do, given a module: their argument specs and their runs.

Each ``run_*`` takes what it uses of an ``AnsibleK8SModule``: ``params``, ``check_mode``, ``_diff``,
``warn``, ``fail_json`` and ``exit_json`` (which never return), ``no_log_values`` on ``_module``, and
what ``get_api_client`` reads. Two callers give it one:

- the module's ``main()`` (plugins/modules), for a run in a module process of its own;
- the action plugin of the same name (plugins/action, through plugin_utils/_inprocess.py), which runs
  it inside the worker process Ansible has already started for the task, with the kubernetes client
  imported once per ``ansible-playbook``: a member's converge starts no Python process per step.
"""

from __future__ import annotations

import base64
import copy
import socket
import time
import traceback
from contextlib import suppress
from typing import Any

from ansible_collections.binder.ingress.plugins.module_utils import _names
from ansible_collections.binder.ingress.plugins.module_utils._apply_set import (
    ApplySetError,
    SetApplier,
    api_message,
    owner_of,
    retrying,
)
from ansible_collections.binder.ingress.plugins.module_utils._chart import ChartError, read_chart
from ansible_collections.binder.ingress.plugins.module_utils._helm_pending import PendingError, forget_pending
from ansible_collections.binder.ingress.plugins.module_utils._member_lock import (
    LockError,
    MemberLock,
    holder_alive,
    shown,
)
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client


def _with_auth(**options: Any) -> dict[str, Any]:
    args: dict[str, Any] = copy.deepcopy(AUTH_ARG_SPEC)
    args.update(options)
    return args


def _client(module: Any, retries: int) -> Any:
    """The kubernetes.core client of the module's kubeconfig. Discovery talks to the API server: it
    is retried like every other request."""
    # The context the member gave (module_defaults: binder_context), so an unreachable cluster names
    # it. Not the kubeconfig's path: kubernetes.core marks that option no_log, so it is masked anyway.
    context = module.params.get("context")
    where = f" of context {context}" if context else ""
    return retrying(lambda: get_api_client(module), f"connecting to the API server{where}", retries=retries)


# apply_set


def apply_set_spec() -> dict[str, Any]:
    return _with_auth(
        set=dict(type="str"),
        member=dict(type="str"),
        namespace=dict(type="str"),
        create_namespace=dict(type="bool", default=False),
        objects=dict(type="list", elements="dict", required=True),
        adopt=dict(type="list", elements="str", default=[]),
        adopt_variable=dict(type="str", default="adopt"),
        ownership_only=dict(type="bool", default=False),
        parallel=dict(type="int", default=8),
        retries=dict(type="int", default=5),
        request_timeout=dict(type="float", default=30.0),
        prune_kinds=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(kind=dict(type="str", required=True), api_version=dict(type="str", default="v1")),
        ),
    )


def hide_secret_values(no_log_values: set[str], objects: list[Any]) -> None:
    """Make every value of the Secrets in ``objects`` a no_log value: Ansible then masks it wherever
    the result shows it, the invocation's copy of O(objects) at -vvv included (diffs mask their own)."""
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("kind") != "Secret":
            continue
        for key in ("data", "stringData"):
            values = obj.get(key)
            for value in values.values() if isinstance(values, dict) else []:
                if not isinstance(value, str) or not value:
                    continue
                no_log_values.add(value)
                if key == "stringData":  # as the API returns it, in data
                    no_log_values.add(base64.b64encode(value.encode()).decode())
                else:
                    with suppress(ValueError):  # not base64 or not text: nothing else to hide
                        no_log_values.add(base64.b64decode(value, validate=True).decode())


def run_apply_set(module: Any) -> None:
    # AnsibleK8SModule keeps no no_log values of its own: the AnsibleModule it wraps does.
    hide_secret_values(module._module.no_log_values, module.params["objects"])
    params = module.params
    limits = {
        "parallel": (params["parallel"] >= 1, "at least 1"),
        "retries": (params["retries"] >= 0, "0 or more"),
        "request_timeout": (params["request_timeout"] > 0, "more than 0"),
    }
    for key, (good, want) in limits.items():
        if not good:
            module.fail_json(msg=f"apply_set: {owner_of(params)}: {key} must be {want}, got {params[key]}")
    applier = None
    try:
        client = _client(module, params["retries"])
        applier = SetApplier(client, params, check_mode=module.check_mode, diff=module._diff)
        result = applier.run()
    except ApplySetError as e:
        owner = applier.owner if applier else owner_of(params)
        module.fail_json(msg=f"apply_set: {owner}: {e}", **e.result)
    except Exception as e:  # the kubeconfig, the connection, the API: one place turns them into a failure
        owner = applier.owner if applier else owner_of(params)
        module.fail_json(msg=f"apply_set: {owner}: {api_message(e)}", exception=traceback.format_exc())
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


# forget_pending


def forget_pending_spec() -> dict[str, Any]:
    return _with_auth(
        release=dict(type="str", required=True),
        namespace=dict(type="str", required=True),
        timeout=dict(type="str", required=True),
        retries=dict(type="int", default=5),
        chart_path=dict(type="path"),
        values=dict(type="dict", default={}),
    )


def run_forget_pending(module: Any) -> None:
    params = module.params
    what = f"forget_pending: release {params['namespace']}/{params['release']}"
    try:
        timeout = _names.duration_seconds(params["timeout"])
    except ValueError as e:
        module.fail_json(msg=f"{what}: timeout {params['timeout']!r}: {e}")
    if params["retries"] < 0:
        module.fail_json(msg=f"{what}: retries must be 0 or more, got {params['retries']}")
    chart = None
    if params["chart_path"]:
        try:
            chart = read_chart(params["chart_path"])
        except ChartError as e:
            module.fail_json(msg=f"{what}: chart_path {e}")
    try:
        result = forget_pending(
            _client(module, params["retries"]),
            release=params["release"],
            namespace=params["namespace"],
            timeout=timeout,
            timeout_text=params["timeout"],
            check_mode=module.check_mode,
            retries=params["retries"],
            chart=chart,
            values=params["values"],
        )
    except PendingError as e:
        module.fail_json(msg=f"forget_pending: {e}")
    except Exception as e:  # the kubeconfig, the connection, the API: one place turns them into a failure
        module.fail_json(msg=f"{what}: {api_message(e)}", exception=traceback.format_exc())
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=bool(result["forgotten"]), **result)


# member_lock


def member_lock_spec() -> dict[str, Any]:
    return _with_auth(
        member=dict(type="str", required=True),
        namespace=dict(type="str", default="kube-system"),
        state=dict(type="str", choices=["acquired", "released"], default="acquired"),
        holder=dict(type="str"),
        duration=dict(type="int", default=3600),
        wait=dict(type="int", default=0),
        retries=dict(type="int", default=5),
    )


def _release(module: Any, lock: MemberLock) -> dict[str, Any]:
    """Give the lock back. A failure here must not hide the converge's own result (the API that
    failed a step is often still down): it warns, and the lock lasts until it expires, or until a
    later converge on this controller finds its holder gone and takes it over."""
    try:
        return lock.release()
    except Exception as e:
        module.warn(
            f"member {lock.member}: could not give back its lock ({lock.where}): {api_message(e)}. It expires "
            f"{shown(time.time() + lock.duration)} at the latest; a later converge on this controller takes it "
            "over at once"
        )
        return lock.result(None, acquired=False, released=False)


def run_member_lock(module: Any) -> None:
    params = module.params
    member = params["member"]
    if not params["holder"]:
        module.fail_json(msg=f"member_lock: member {member}: holder is empty (the action plugin names it)")
    for key, good, want in (
        ("duration", params["duration"] >= 1, "at least 1"),
        ("wait", params["wait"] >= 0, "0 or more"),
        ("retries", params["retries"] >= 0, "0 or more"),
    ):
        if not good:
            module.fail_json(msg=f"member_lock: member {member}: {key} must be {want}, got {params[key]}")
    lock = None
    try:
        lock = MemberLock(
            _client(module, params["retries"]),
            member=member,
            namespace=params["namespace"],
            holder=params["holder"],
            duration=params["duration"],
            wait=params["wait"],
            check_mode=module.check_mode,
            retries=params["retries"],
            alive=lambda holder: holder_alive(holder, socket.gethostname()),
        )
        if params["state"] == "acquired":
            result = lock.acquire()
        elif module.check_mode:  # nothing was taken
            result = lock.result(None, acquired=False, released=False)
        else:
            result = _release(module, lock)
    except LockError as e:
        module.fail_json(msg=str(e), **(lock.result(None) if lock else {}))
    except Exception as e:  # the kubeconfig, the connection, the API: one place turns them into a failure
        message = api_message(e)  # a request that kept failing names the lock already
        if not message.startswith("lock of member "):
            message = f"lock of member {member}: {message}"
        module.fail_json(msg=f"member_lock: {message}", exception=traceback.format_exc())
    for warning in lock.warnings if lock else []:  # fail_json exits: lock is set here
        module.warn(warning)
    module.exit_json(changed=False, **result)
