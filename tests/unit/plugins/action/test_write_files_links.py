"""binder.ingress.write_files never reads, chmods or writes through a link or a special file.

A symlink or a special file where a file of the set is to go is replaced by a regular file and never
opened, so diff mode cannot print a file the user never meant to show. A mode change touches only the
very file the plan compared, so an entry swapped for a link (or a hard link) between the plan and the
write is replaced, never followed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.binder.ingress.plugins.action import write_files
from write_files_support import run

SECRET = "token: do-not-show-me\n"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("check", [True, False])
def test_diff_never_reads_through_a_symlink(tmp_path: Path, secret: Path, check: bool) -> None:
    dest = tmp_path / "member"
    dest.mkdir()
    (dest / "a.yaml").symlink_to(secret)
    result = run({"dest": str(dest), "files": {"a.yaml": "a: 1\n"}}, check=check, diff=True)
    assert "failed" not in result, result
    assert "do-not-show-me" not in repr(result)
    assert result["written"] == ["a.yaml"]
    assert result["diff"] == [
        {
            "before": "",
            "after": "a: 1\n",
            "before_header": f"{dest}/a.yaml (symbolic link, not read)",
            "after_header": f"{dest}/a.yaml (0644)",
        }
    ]
    assert secret.read_text(encoding="utf-8") == SECRET and mode_of(secret) == 0o600
    assert (dest / "a.yaml").is_symlink() == check


def test_a_fifo_in_the_way_is_replaced_without_being_opened(tmp_path: Path) -> None:
    # Opening a FIFO for reading blocks until a writer comes: the run would hang, so it is never opened.
    os.mkfifo(tmp_path / "a.yaml")
    result = run({"dest": str(tmp_path), "files": {"a.yaml": "a: 1\n"}}, diff=True)
    assert "failed" not in result, result
    assert result["diff"][0]["before_header"] == f"{tmp_path}/a.yaml (FIFO, not read)"
    assert (tmp_path / "a.yaml").read_text(encoding="utf-8") == "a: 1\n"


def swap_after_plan(monkeypatch: pytest.MonkeyPatch, swap: Any) -> None:
    """Run swap() between the plan (what to change) and the writes, as another process could."""
    original = write_files.apply

    def apply(*args: Any, **kwargs: Any) -> None:
        swap()
        original(*args, **kwargs)

    monkeypatch.setattr(write_files, "apply", apply)


def test_a_mode_change_never_follows_a_symlink_swapped_in_after_the_plan(
    tmp_path: Path, secret: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "member"
    run({"dest": str(dest), "files": {"a.yaml": SECRET}, "mode": "0600"})

    def swap() -> None:
        (dest / "a.yaml").unlink()
        (dest / "a.yaml").symlink_to(secret)

    swap_after_plan(monkeypatch, swap)
    result = run({"dest": str(dest), "files": {"a.yaml": SECRET}, "mode": "0644"})
    assert "failed" not in result, result
    assert result["written"] == ["a.yaml"]
    assert mode_of(secret) == 0o600
    assert not (dest / "a.yaml").is_symlink()
    assert (dest / "a.yaml").read_text(encoding="utf-8") == SECRET and mode_of(dest / "a.yaml") == 0o644


def test_a_mode_change_never_reaches_a_hard_link_swapped_in_after_the_plan(
    tmp_path: Path, secret: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "member"
    run({"dest": str(dest), "files": {"a.yaml": SECRET}, "mode": "0600"})

    def swap() -> None:
        (dest / "a.yaml").unlink()
        os.link(secret, dest / "a.yaml")

    swap_after_plan(monkeypatch, swap)
    run({"dest": str(dest), "files": {"a.yaml": SECRET}, "mode": "0644"})
    assert mode_of(secret) == 0o600
    assert (dest / "a.yaml").stat().st_ino != secret.stat().st_ino
    assert mode_of(dest / "a.yaml") == 0o644


def test_a_symlink_to_a_file_with_the_right_content_is_still_replaced(tmp_path: Path, secret: Path) -> None:
    dest = tmp_path / "member"
    dest.mkdir()
    (dest / "a.yaml").symlink_to(secret)
    result = run({"dest": str(dest), "files": {"a.yaml": SECRET}, "mode": "0600"})
    assert result["written"] == ["a.yaml"]
    assert not (dest / "a.yaml").is_symlink() and mode_of(secret) == 0o600
