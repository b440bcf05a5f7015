"""binder.ingress.write_files: driven through its ActionModule with a real Task and a stub connection.

The action never uses its connection (it writes on the controller), so the stub only carries what
ActionBase.run looks at. One test runs it from a playbook, the four-step way: check, real, check, real.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ansible import constants
from write_files_support import run

ROOT = Path(__file__).resolve().parents[4]
FILES = {"a.yaml": "---\na: 1\n", "b.md": "# b\n"}


def listing(path: Path) -> dict[str, tuple[str, int]]:
    """Every entry of path (hidden ones too) as name -> (text, permission bits)."""
    return {
        p.name: (p.read_text(encoding="utf-8"), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(path.iterdir())
    }


def test_writes_every_file_then_is_idempotent(tmp_path: Path) -> None:
    dest = tmp_path / "out" / "member"
    first = run({"dest": str(dest), "files": FILES})
    assert first["changed"] is True and "failed" not in first
    assert first["written"] == ["a.yaml", "b.md"] and first["removed"] == []
    assert first["dest"] == str(dest)
    assert listing(dest) == {"a.yaml": ("---\na: 1\n", 0o644), "b.md": ("# b\n", 0o644)}
    again = run({"dest": str(dest), "files": FILES})
    assert again["changed"] is False
    assert again["written"] == [] and again["removed"] == []


def test_check_mode_reports_and_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "member"
    result = run({"dest": str(dest), "files": FILES}, check=True)
    assert result["changed"] is True
    assert result["written"] == ["a.yaml", "b.md"]
    assert not dest.exists()

    run({"dest": str(dest), "files": FILES})
    (dest / "stale.yaml").write_text("old\n", encoding="utf-8")
    changed = dict(FILES, **{"b.md": "# b, new\n"})
    result = run({"dest": str(dest), "files": changed, "exclusive": True}, check=True)
    assert result["changed"] is True
    assert result["written"] == ["b.md"] and result["removed"] == ["stale.yaml"]
    assert listing(dest)["b.md"] == ("# b\n", 0o644)
    assert (dest / "stale.yaml").exists()


def test_an_empty_set_still_creates_dest(tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    assert run({"dest": str(dest), "files": {}}, check=True)["changed"] is True
    assert not dest.exists()
    assert run({"dest": str(dest), "files": {}})["changed"] is True
    assert dest.is_dir()
    assert run({"dest": str(dest), "files": {}})["changed"] is False


def test_diff_shows_each_changed_file(tmp_path: Path) -> None:
    run({"dest": str(tmp_path), "files": FILES, "mode": "0600"})
    (tmp_path / "gone.txt").write_text("bye\n", encoding="utf-8")
    os.chmod(tmp_path / "gone.txt", 0o640)
    files = {"a.yaml": "---\na: 2\n", "b.md": "# b\n", "c.txt": "new\n"}
    result = run({"dest": str(tmp_path), "files": files, "mode": "0600", "exclusive": True}, diff=True)
    by_header = {d["before_header"]: d for d in result["diff"]}
    assert by_header[f"{tmp_path}/a.yaml (0600)"] == {
        "before": "---\na: 1\n",
        "after": "---\na: 2\n",
        "before_header": f"{tmp_path}/a.yaml (0600)",
        "after_header": f"{tmp_path}/a.yaml (0600)",
    }
    assert by_header[f"{tmp_path}/c.txt (absent)"]["after"] == "new\n"
    assert by_header[f"{tmp_path}/c.txt (absent)"]["before"] == ""
    gone = by_header[f"{tmp_path}/gone.txt (0640)"]
    assert (gone["before"], gone["after"], gone["after_header"]) == (
        "bye\n",
        "",
        f"{tmp_path}/gone.txt (absent)",
    )
    # b.md is unchanged: no diff entry for it.
    assert len(result["diff"]) == 3


def test_diff_of_a_mode_change_alone_is_one_line(tmp_path: Path) -> None:
    run({"dest": str(tmp_path), "files": FILES})
    os.chmod(tmp_path / "a.yaml", 0o600)
    result = run({"dest": str(tmp_path), "files": FILES}, diff=True)
    assert result["written"] == ["a.yaml"]
    assert result["diff"] == [{"prepared": f"{tmp_path}/a.yaml: mode 0600 -> 0644\n"}]
    assert stat.S_IMODE((tmp_path / "a.yaml").stat().st_mode) == 0o644


def test_diff_leaves_out_sides_above_the_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "MAX_FILE_SIZE_FOR_DIFF", 8)
    (tmp_path / "big.txt").write_text("0123456789\n", encoding="utf-8")
    (tmp_path / "bin.dat").write_bytes(b"\xff\xfe")
    result = run({"dest": str(tmp_path), "files": {"big.txt": "small\n", "bin.dat": "x"}}, diff=True)
    big, binary = result["diff"][0], result["diff"][1]
    assert (big["dst_larger"], big["before"], big["after"]) == (8, "", "small\n")
    assert (binary["dst_binary"], binary["before"], binary["after"]) == (1, "", "x")
    result = run({"dest": str(tmp_path / "new"), "files": {"big.txt": "0123456789\n"}}, diff=True)
    assert (result["diff"][0]["src_larger"], result["diff"][0]["after"]) == (8, "")


def test_content_and_mode_changes_are_applied(tmp_path: Path) -> None:
    run({"dest": str(tmp_path), "files": FILES})
    result = run({"dest": str(tmp_path), "files": dict(FILES, **{"a.yaml": "x\n"}), "mode": "0640"})
    assert result["changed"] is True and result["written"] == ["a.yaml", "b.md"]
    assert listing(tmp_path) == {"a.yaml": ("x\n", 0o640), "b.md": ("# b\n", 0o640)}


@pytest.mark.parametrize(("mode", "bits"), [("0600", 0o600), ("755", 0o755), (0o640, 0o640)])
def test_mode_accepts_octal_strings_and_yaml_integers(tmp_path: Path, mode: object, bits: int) -> None:
    run({"dest": str(tmp_path), "files": {"f": "x"}, "mode": mode})
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == bits


@pytest.mark.parametrize("mode", ["644x", "0999", "u+rw", "01644", 0o1777, True])
def test_a_bad_mode_fails_and_writes_nothing(tmp_path: Path, mode: object) -> None:
    result = run({"dest": str(tmp_path / "d"), "files": FILES, "mode": mode})
    assert result["failed"] is True
    assert result["msg"].startswith("write_files: mode:")
    assert not (tmp_path / "d").exists()


def test_exclusive_removes_only_unlisted_regular_files_directly_in_dest(tmp_path: Path) -> None:
    dest = tmp_path / "member"
    run({"dest": str(dest), "files": FILES})
    (dest / "old.yaml").write_text("old\n", encoding="utf-8")
    (dest / ".a.yaml.x1.tmp").write_text("left by a crash\n", encoding="utf-8")
    (dest / "sub").mkdir()
    (dest / "sub" / "keep.yaml").write_text("keep\n", encoding="utf-8")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside\n", encoding="utf-8")
    (dest / "link").symlink_to(outside)
    result = run({"dest": str(dest), "files": FILES, "exclusive": True})
    assert result["changed"] is True
    assert result["written"] == [] and result["removed"] == [".a.yaml.x1.tmp", "old.yaml"]
    assert sorted(p.name for p in dest.iterdir()) == ["a.yaml", "b.md", "link", "sub"]
    assert (dest / "sub" / "keep.yaml").exists() and outside.read_text(encoding="utf-8") == "outside\n"


def test_without_exclusive_other_files_stay(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("mine\n", encoding="utf-8")
    result = run({"dest": str(tmp_path), "files": FILES})
    assert result["removed"] == []
    assert (tmp_path / "other.txt").read_text(encoding="utf-8") == "mine\n"


@pytest.mark.parametrize(
    "name", ["", "sub/f.yaml", "../escape", "..", "a..b", ".hidden", "/etc/passwd", "nul\0"]
)
def test_names_that_leave_dest_or_hide_are_refused_before_anything_is_written(
    tmp_path: Path, name: str
) -> None:
    dest = tmp_path / "member"
    result = run({"dest": str(dest), "files": {"good.yaml": "x", name: "y"}})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == (
        f"write_files: files: {name!r} is not a plain file name (no '/', no '..', no leading '.')"
    )
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_content_must_be_a_string(tmp_path: Path) -> None:
    result = run({"dest": str(tmp_path), "files": {"a.yaml": "x", "n.txt": 3}})
    assert result["failed"] is True
    assert result["msg"] == "write_files: files: the content of 'n.txt' must be a string, got int"
    assert list(tmp_path.iterdir()) == []


def test_a_directory_in_the_way_fails_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "b.md").mkdir()
    result = run({"dest": str(tmp_path), "files": FILES})
    assert result["failed"] is True
    assert "is a directory and cannot be replaced by a file" in result["msg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.md"]


def test_dest_that_is_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x", encoding="utf-8")
    result = run({"dest": str(tmp_path / "f"), "files": FILES})
    assert result["failed"] is True
    assert result["msg"] == f"write_files: dest: {tmp_path / 'f'} exists and is not a directory"


def test_a_symlink_in_the_way_is_replaced_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "target.txt"
    target.write_text("---\na: 1\n", encoding="utf-8")
    dest = tmp_path / "member"
    dest.mkdir()
    (dest / "a.yaml").symlink_to(target)
    result = run({"dest": str(dest), "files": {"a.yaml": "---\na: 1\n"}})
    assert result["written"] == ["a.yaml"]
    assert not (dest / "a.yaml").is_symlink()
    assert target.read_text(encoding="utf-8") == "---\na: 1\n"


def test_unknown_and_missing_options_fail(tmp_path: Path) -> None:
    unknown = run({"dest": str(tmp_path), "files": {}, "owner": "root"})
    assert unknown["failed"] is True and "owner" in unknown["msg"]
    missing = run({"files": {}})
    assert missing["failed"] is True and "dest" in missing["msg"]


def test_a_failed_replace_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run({"dest": str(tmp_path), "files": FILES})

    def refuse(src: str, dst: object) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    result = run({"dest": str(tmp_path), "files": dict(FILES, **{"a.yaml": "new\n"})})
    assert result["failed"] is True
    assert result["msg"] == f"write_files: [Errno 13] Permission denied: '{tmp_path}/a.yaml'"
    assert listing(tmp_path) == {"a.yaml": ("---\na: 1\n", 0o644), "b.md": ("# b\n", 0o644)}


PLAYBOOK = """
- name: Write a set
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the files
      binder.ingress.write_files:
        dest: "{{ dest }}"
        files: {a.yaml: "---\\na: 1\\n", b.md: "# b\\n"}
        exclusive: true
"""


@pytest.mark.slow
def test_from_a_playbook_check_real_check_real(tmp_path: Path) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    dest = tmp_path / "out"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    changed = []
    for check in (True, False, True, False):
        command = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-e", f"dest={dest}"]
        result = subprocess.run(
            [*command, *(["--check"] if check else [])],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        changed.append("changed=1" in result.stdout)
        # The first check run reports a change but must not even create dest.
        assert dest.exists() == (len(changed) > 1)
    assert changed == [True, True, False, False]
    assert listing(dest) == {"a.yaml": ("---\na: 1\n", 0o644), "b.md": ("# b\n", 0o644)}
