"""A Secret that passes through binder.ingress.apply_set shows no value, even at -vvv with --diff.

The collection's roles never give apply_set a Secret (cert-manager keeps the ACME account keys and
the certificates' keys in Secrets it writes itself), but the module is public: a play may give it
one. Its create, its update (the diff shows before and after), the check run of that update and its
prune must print the Secret's keys, never their values. The values are base64 in `data` and plain
in `stringData`: both are searched for, in both forms.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import pytest
import secret_search
import yaml
from harness import Run, Sandbox
from kubernetes import client

pytestmark = pytest.mark.slow

FIRST_KEY = "-----BEGIN EC PRIVATE KEY-----\nZmlyc3QtYWNtZS1hY2NvdW50LWtleQ==\n-----END EC PRIVATE KEY-----\n"
SECOND_KEY = (
    "-----BEGIN EC PRIVATE KEY-----\nc2Vjb25kLWFjbWUtYWNjb3VudC1rZXk=\n-----END EC PRIVATE KEY-----\n"
)
PASSWORD = "apply-set-string-data-password-4f1c"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(key: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "acme-account"},
        "type": "Opaque",
        "data": {"tls.key": b64(key)},
        "stringData": {"password": PASSWORD},
    }


def run_apply_set(sandbox: Sandbox, tmp_path: Path, namespace: str, objects: list[Any], *args: str) -> Run:
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Apply the set",
                "binder.ingress.apply_set": {
                    "set": "secrets",
                    "member": "alpha",
                    "namespace": namespace,
                    "create_namespace": True,
                    "objects": objects,
                    "prune_kinds": [{"kind": "Secret"}],
                    "kubeconfig": str(sandbox.kubeconfig),
                    "context": "sandbox",
                },
            }
        ],
    }
    playbook = tmp_path / "apply_secret.yml"
    playbook.write_text(yaml.safe_dump([play]))
    interpreter = f"ansible_python_interpreter={sys.executable}"
    return sandbox.playbook(
        playbook, "-c", "local", "-e", interpreter, "-vvv", "--diff", *args, inventory=Path("localhost,")
    )


def test_secret_values_never_reach_verbose_output_or_the_diff(sandbox: Sandbox, tmp_path: Path) -> None:
    namespace = sandbox.new_namespace("acme")
    # As written (stringData) and as base64 (data), which the search covers.
    values = {"first key": FIRST_KEY, "second key": SECOND_KEY, "password": PASSWORD}

    steps = [
        ("create", [secret(FIRST_KEY)], ()),
        ("update, check", [secret(SECOND_KEY)], ("--check",)),
        ("update", [secret(SECOND_KEY)], ()),
        ("prune", [], ()),
    ]
    stored: dict[str, list[dict[str, str]]] = {}
    for name, objects, args in steps:
        run = run_apply_set(sandbox, tmp_path, namespace, objects, *args)
        assert run.rc == 0, f"{name}: {run.output[-3000:]}"
        assert run.recap["localhost"]["changed"] == 1, f"{name}: {run.recap}"
        assert "task path: " in run.output, f"{name} did not run verbosely"
        # The diff is there, and names the key whose value it hides.
        assert "tls.key" in run.output, f"{name} showed no diff of the Secret"
        assert secret_search.leaks(run.output, values) == [], name
        # The values did reach the cluster: the search above was for what was applied.
        live = client.CoreV1Api(sandbox.api()).list_namespaced_secret(namespace).items
        stored[name] = [{key: str(value) for key, value in (s.data or {}).items()} for s in live]
    assert stored == {
        "create": [{"tls.key": b64(FIRST_KEY), "password": b64(PASSWORD)}],
        "update, check": [{"tls.key": b64(FIRST_KEY), "password": b64(PASSWORD)}],
        # A Secret whose values alone changed is updated (the diff hides both values).
        "update": [{"tls.key": b64(SECOND_KEY), "password": b64(PASSWORD)}],
        "prune": [],
    }
