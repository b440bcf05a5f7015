"""Invalid inventories: each fails, names the member and the inventory key, and writes nothing.

All cases share one inventory (one broken member per case, plus one good member) and one
ansible-playbook run, because each start of ansible-playbook costs seconds. The inventory's
group_vars are the production ones, and render.yml maps the member variables with the binder role,
as site.yml does, so the real mapping is what is tested.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.binder.ingress.plugins.module_utils.constants import (
    MIDDLEWARE_CLIENT_LIMIT,
    MIDDLEWARE_DEFAULT,
    MIDDLEWARE_HARBOR,
    MIDDLEWARE_HSTS,
    MIDDLEWARE_HUB,
)
from ansible_collections.binder.ingress.plugins.module_utils.model import ANNOTATION_MIDDLEWARES
from bad_inventories import CASES, CHARTS, GOOD_COMPONENTS, UNSET, components, echo, redirector
from render_support import ROOT, run_render

# Each test here starts ansible-playbook (seconds each).
pytestmark = pytest.mark.slow


GOOD = "good-member"
# A redirect whose host is valid for the catalogue but too long for `redirect-<host, dashed>` as
# a DNS-1123 label: its middleware name is shortened, and traefik defines the name the Ingress uses.
GOOD_LONG_REDIRECT = "good-long-redirect"
LONG_HOST = "binder-staging-redirect-for-the-old-name.long.example.org"
LONG_REDIRECT_VARS: dict[str, Any] = {
    "binder_ingresses_components": components(
        redirector=redirector({"type": "host", "from": LONG_HOST, "to": "example.org"})
    )
}
# A member installing both releases from the fixture charts, which are the pinned ones: it renders.
GOOD_LOCAL_CHARTS = "good-local-charts"
# One member with several catalogue problems: the model must report all of them in one failure.
SEVERAL = "several-problems"
SEVERAL_VARS: dict[str, Any] = {
    # An invalid e-mail (a role's variable) is reported with the catalogue's problems, not before them.
    "cert_manager_acme_email": "binder-team",
    "binder_ingresses_components": components(
        jupyterhub={"hosts": ["Hub.example.org"]},
        echo=echo(service={"name": "echo", "port": 0}),
        redirector=redirector({"type": "host", "from": "a.example.org", "to": "a.example.org"}),
    ),
}
SEVERAL_KEYS = (
    "cert_manager_acme_email",
    "binder_ingresses_components.jupyterhub.hosts[0]",
    "binder_ingresses_components.echo.service.port",
    "binder_ingresses_components.redirector.redirects[0].to",
)


LOCAL_CHARTS: dict[str, Any] = {
    "traefik_chart_source": "path",
    "traefik_chart_path": str(CHARTS / "traefik"),
    "cert_manager_chart_source": "path",
    "cert_manager_chart_path": str(CHARTS / "cert-manager"),
}


def member_vars(member: str, changes: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "binder_kubeconfig": f"/nonexistent/{member}.yaml",
        "binder_context": member,
        "binder_namespace": "binder",
        "binder_kubernetes_version": "1.33",
        "binder_k3s": False,
        "binder_ingresses_components": copy.deepcopy(GOOD_COMPONENTS),
    }
    variables.update(changes)
    return {name: value for name, value in variables.items() if value is not UNSET}


@dataclass
class Run:
    inventory: Path
    out: Path
    result: subprocess.CompletedProcess[str]
    failures: dict[str, str]


def _failures(stdout: str) -> dict[str, str]:
    """Each failed host's failure text: from its `fatal: [host]` line to the next result or task."""
    failures: dict[str, str] = {}
    blocks = re.split(
        r"^(?=fatal: \[|ok: \[|changed: \[|skipping: \[|included: |TASK \[|PLAY RECAP|\[ERROR\]|\[WARNING\])",
        stdout,
        flags=re.M,
    )
    for block in blocks:
        found = re.match(r"fatal: \[([^\]]+)\]", block)
        if found:
            failures[found.group(1)] = failures.get(found.group(1), "") + block
    return failures


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    inventory = tmp_path_factory.mktemp("invalid-inventory")
    shutil.copytree(ROOT / "inventories" / "prod" / "group_vars", inventory / "group_vars")
    hosts = {
        name: member_vars(name, changes)
        for name, (changes, _) in {
            **CASES,
            GOOD: ({}, ""),
            GOOD_LONG_REDIRECT: (LONG_REDIRECT_VARS, ""),
            GOOD_LOCAL_CHARTS: (LOCAL_CHARTS, ""),
            SEVERAL: (SEVERAL_VARS, ""),
        }.items()
    }
    hosts = {
        "binder_members": {
            "hosts": hosts,
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            },
        }
    }
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False), encoding="utf-8")
    out = tmp_path_factory.mktemp("invalid-out")
    result = run_render("-i", str(inventory), "-e", f"render_dir={out}", timeout=900)
    return Run(inventory, out, result, _failures(result.stdout))


def test_there_are_at_least_25_cases() -> None:
    assert len(CASES) >= 25


def test_the_run_fails(run: Run) -> None:
    assert run.result.returncode != 0


@pytest.mark.parametrize("member", [GOOD, GOOD_LOCAL_CHARTS, GOOD_LONG_REDIRECT])
def test_the_good_members_still_render(run: Run, member: str) -> None:
    assert member not in run.failures, run.failures.get(member)
    assert (run.out / member / "summary.md").is_file()
    assert (run.out / member / "ingress-jupyterhub.yaml").is_file()


@pytest.mark.parametrize(
    ("member", "key"), [(name, key) for name, (_, key) in CASES.items()], ids=list(CASES)
)
def test_case_fails_naming_member_and_key_and_writes_nothing(run: Run, member: str, key: str) -> None:
    assert member in run.failures, f"{member} did not fail:\n{run.result.stdout[-3000:]}"
    failure = run.failures[member]
    # The callback wraps long messages and writes them as YAML single-quoted strings (' as '').
    assert key.format(inventory=run.inventory) in re.sub(r"\s+", " ", failure).replace("''", "'"), failure
    assert not (run.out / member).exists()


def test_a_long_redirect_host_names_the_middleware_traefik_defines(run: Run) -> None:
    assert GOOD_LONG_REDIRECT not in run.failures, run.failures.get(GOOD_LONG_REDIRECT)
    out = run.out / GOOD_LONG_REDIRECT
    ingresses = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(out.glob("ingress-*.yaml"))]
    (redirect,) = [i for i in ingresses if i["spec"]["rules"][0]["host"] == LONG_HOST]
    annotation = redirect["metadata"]["annotations"][ANNOTATION_MIDDLEWARES]
    name, _, provider = annotation.partition("@")
    assert provider == "file"
    # The plain `redirect-<host, dashed>` is longer than a DNS-1123 label: this name is the shortened one.
    assert len("redirect-" + LONG_HOST.replace(".", "-")) > 63
    assert len(name) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
    values = yaml.safe_load((out / "traefik-values.yaml").read_text(encoding="utf-8"))
    middlewares = values["providers"]["file"]["content"]["http"]["middlewares"]
    assert sorted(middlewares) == sorted(
        [
            MIDDLEWARE_HUB,
            MIDDLEWARE_HARBOR,
            MIDDLEWARE_DEFAULT,
            MIDDLEWARE_HSTS,
            MIDDLEWARE_CLIENT_LIMIT,
            name,
        ]
    )
    assert middlewares[name]["redirectRegex"]["replacement"] == "https://example.org${1}"


def test_every_catalogue_problem_is_reported_together(run: Run) -> None:
    failure = run.failures[SEVERAL]
    assert failure.count("fatal: [") == 1, failure
    for key in SEVERAL_KEYS:
        assert f"member {SEVERAL}: {key}" in re.sub(r"\s+", " ", failure), failure
        # Each problem is printed once in the whole run, as written (no YAML quoting around it).
        assert run.result.stdout.count(f"member {SEVERAL}: {key}:") == 1, run.result.stdout
    assert not (run.out / SEVERAL).exists()


def test_errors_from_the_roles_name_the_member_in_the_message(run: Run) -> None:
    # Type errors too: the collection's one check reports them, not Ansible's argument-spec check.
    for member in CASES:
        assert f"member {member}" in run.failures[member], run.failures[member]
