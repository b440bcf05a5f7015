"""A bad inventory fails render.yml and site.yml with the same messages, before any write.

Both playbooks build the member with the binder role, so they must report the same problems in
the same order; site.yml must stop every bad member before its cluster is written to (the local
cluster's audit log is the witness).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from harness import LOCAL_VARS, REPO, Sandbox, member_inventory

# member -> its variables over inventories/local's (None: the variable is left out)
BAD_MEMBERS: dict[str, dict[str, object]] = {
    # A filter error: the namespace is named by the member variable the user wrote.
    "bad-namespace": {"binder_namespace": "Bad_NS"},
    # Several catalogue problems, reported together.
    "bad-catalogue": {
        "binder_ingresses_components": {
            "jupyterhub": {"hosts": ["Hub.local.test"]},
            "echo": {"hosts": ["echo.local.test"], "service": {"name": "echo", "port": 0}},
        }
    },
    # An input the cert_manager role's filter checks (one rule for the e-mail: _names.email).
    "bad-email": {"cert_manager_acme_email": "binder-team"},
    # The required-variables check names the host_vars file.
    "no-catalogue": {"binder_ingresses_components": None},
    # A role variable the binder role maps may not be set in the inventory.
    "mapped-variable": {"traefik_namespace": "elsewhere"},
}
EXPECTED = {
    "bad-namespace": ["member bad-namespace: binder_namespace: 'Bad_NS'"],
    "bad-catalogue": [
        "member bad-catalogue: binder_ingresses_components.echo.service.port",
        "member bad-catalogue: binder_ingresses_components.jupyterhub.hosts[0]",
    ],
    "bad-email": [
        "member bad-email: cert_manager_acme_email: ",
        "binder-team",
        "is not a valid e-mail address: it is not of the form",
    ],
    "no-catalogue": [
        "member no-catalogue: binder_ingresses_components: is not set; expected in {inventory}/host_vars/no-catalogue.yml"
    ],
    "mapped-variable": ["member mapped-variable: traefik_namespace: set from the member variables"],
}
FATAL = re.compile(r"^fatal: \[([^\]]+)\]: FAILED! =>[^\n]*\n((?:[ \t]+[^\n]*\n|\n)*)", re.M)


def failures(output: str) -> list[tuple[str, str]]:
    """(member, failure text) in the order the run printed them, whitespace normalised."""
    return [(m.group(1), re.sub(r"\s+", " ", m.group(2)).strip()) for m in FATAL.finditer(output)]


def test_render_and_site_report_the_same_problems_before_any_write(sandbox: Sandbox, tmp_path: Path) -> None:
    namespace = sandbox.new_namespace("bad")
    members = {
        name: {"binder_kubeconfig": str(sandbox.kubeconfig), "binder_namespace": namespace, **changes}
        for name, changes in BAD_MEMBERS.items()
    }
    inventory = member_inventory(tmp_path, {name: {} for name in members})
    for name, variables in members.items():
        path = inventory / "host_vars" / f"{name}.yml"
        merged = {**yaml.safe_load(path.read_text()), **variables}
        path.write_text(yaml.safe_dump({k: v for k, v in merged.items() if v is not None}))
    assert "binder_ingresses_components" in LOCAL_VARS

    rendered = sandbox.playbook(
        REPO / "playbooks" / "render.yml",
        inventory=inventory,
        extra_vars={"render_dir": str(tmp_path / "out")},
    )
    converged = sandbox.playbook(REPO / "site.yml", inventory=inventory)

    for run in (rendered, converged):
        assert run.rc != 0
        assert {host for host, counts in run.recap.items() if counts["failed"]} == set(BAD_MEMBERS), (
            run.output[-4000:]
        )
    assert not (tmp_path / "out").exists()
    assert converged.writes() == [], converged.writes()

    # Each member fails once, with the same text (its problems in the same order) in both runs.
    # Members run in parallel, so members failing in the same task may print in either order.
    render_failures = failures(rendered.output)
    assert sorted(host for host, _ in render_failures) == sorted(BAD_MEMBERS)
    assert sorted(failures(converged.output)) == sorted(render_failures)
    by_member = dict(render_failures)
    # A filter's problems are the task's message as they are, not wrapped in Ansible's text.
    assert "Finalization of task args" not in by_member["bad-namespace"], by_member["bad-namespace"]
    for member, messages in EXPECTED.items():
        for message in messages:
            assert message.format(inventory=inventory) in by_member[member], by_member[member]
