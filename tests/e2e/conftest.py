"""The session's sandbox serving the local member (see e2e_member.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from e2e_member import INVENTORY, Member

from sandbox.demo import Sandbox, converge, render, rendered_objects, route_ready, routes, wait_served


@pytest.fixture(scope="session")
def member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Member]:
    work = tmp_path_factory.mktemp("e2e")
    member_dir = render(INVENTORY, work / "render")
    objects = rendered_objects(member_dir)
    values_file = work / "traefik-values.yaml"
    shutil.copyfile(member_dir / "traefik-values.yaml", values_file)
    sandbox = Sandbox(work / "sandbox")
    try:
        sandbox.up(values_file)
        converge(sandbox, objects)
        member_routes = routes(objects)
        results = wait_served(sandbox, member_routes)
        not_ready = [
            f"{r.host}{r.path}: {results[r]}" for r in member_routes if not route_ready(r, results[r])
        ]
        assert not not_ready, "routes not served:\n" + "\n".join(not_ready)
        yield Member(sandbox, member_dir, objects, member_routes, values_file, values_file.read_text())
    finally:
        sandbox.down()
