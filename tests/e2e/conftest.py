"""The session's local cluster serving the local member, as ``make demo`` serves it (tests/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import INVENTORY, Member

from sandbox.demo import served_member


@pytest.fixture(scope="session")
def member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Member]:
    with served_member(INVENTORY, tmp_path_factory.mktemp("e2e")) as served:
        yield Member.of(served)
