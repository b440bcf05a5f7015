# Copyright: binder.ingress developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private: write a set of files into one directory, never through a link (docs: plugins/modules/write_files.py).

The one copy of the rules the write_files action and the doctor module's reports share: every file
is written to a temporary file in the same directory (``O_EXCL``, ``O_NOFOLLOW``) and renamed over
its name; a symlink, FIFO or device where a file is to go is replaced, never opened or written
through; nothing is written before the whole set has been checked and planned.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Change",
    "WriteFilesError",
    "apply",
    "check_files",
    "diff",
    "parse_mode",
    "plan",
]


class WriteFilesError(Exception):
    """A refusal with a message for the user: ``key`` is the argument at fault (``dest``, ``files``,
    ``mode``), so a caller that calls it something else can say so."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Change:
    name: str
    action: str  # "write" (create or replace), "chmod" (same content, other mode) or "remove"
    old_mode: int | None  # None when the file does not exist yet
    old_kind: str = "file"  # what is there now: "file", or the kind of non-regular entry to replace
    inode: tuple[int, int] | None = None  # (st_dev, st_ino) of the regular file the plan read


# Every entry of dest is opened without following a final symlink and without blocking on a FIFO or
# a device, then checked with fstat: what is read, compared and chmod'ed is the very inode checked.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

_KINDS = (
    (stat.S_ISLNK, "symbolic link"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def kind_of(st_mode: int) -> str:
    if stat.S_ISREG(st_mode):
        return "file"
    return next((kind for test, kind in _KINDS if test(st_mode)), "special file")


def open_regular(path: Path) -> int | None:
    """A read-only descriptor of path if it is a regular file itself (no link followed), else None."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        # ELOOP: path is a symlink; ENXIO: a socket or a FIFO/device without the other end.
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            return None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def read_fd(fd: int, limit: int) -> bytes:
    """At most limit bytes of an open file, from its start."""
    chunks = []
    size = 0
    while size < limit:
        chunk = os.pread(fd, min(limit - size, 1 << 20), size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def parse_mode(value: object) -> int:
    # YAML reads an unquoted 0644 as the integer 420, which already is the intended mode.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o777:
        return value
    if isinstance(value, str) and re.fullmatch(r"0?[0-7]{3}", value):
        return int(value, 8)
    raise WriteFilesError("mode", f"expected permission bits in octal such as '0644', got {value!r}")


def check_files(files: dict[Any, Any]) -> dict[str, bytes]:
    """The files as name -> encoded content; every name must stay a plain entry of dest."""
    encoded: dict[str, bytes] = {}
    for name, content in files.items():
        if (
            not isinstance(name, str)
            or not name
            or "/" in name
            or "\0" in name
            or ".." in name
            or name[0] == "."
        ):
            raise WriteFilesError(
                "files", f"{name!r} is not a plain file name (no '/', no '..', no leading '.')"
            )
        if not isinstance(content, str):
            raise WriteFilesError(
                "files", f"the content of {name!r} must be a string, got {type(content).__name__}"
            )
        encoded[name] = content.encode("utf-8")
    return encoded


def plan(dest: Path, files: dict[str, bytes], mode: int, exclusive: bool) -> list[Change]:
    """What must change in dest, without touching it: the same list drives check mode, diff and the writes."""
    if dest.exists() and not dest.is_dir():
        raise WriteFilesError("dest", f"{dest} exists and is not a directory")
    changes = []
    for name, content in sorted(files.items()):
        try:
            st = (dest / name).lstat()
        except FileNotFoundError:
            changes.append(Change(name, "write", None))
            continue
        if stat.S_ISDIR(st.st_mode):
            raise WriteFilesError("files", f"{dest / name} is a directory and cannot be replaced by a file")
        # A symlink or special file in the way is replaced by a regular file, never opened or written
        # through. A regular file is compared through a descriptor that does not follow links, so an
        # entry swapped since the lstat is never read through either.
        fd = open_regular(dest / name) if stat.S_ISREG(st.st_mode) else None
        if fd is None:
            changes.append(Change(name, "write", stat.S_IMODE(st.st_mode), kind_of(st.st_mode)))
            continue
        try:
            st = os.fstat(fd)
            same = st.st_size == len(content) and read_fd(fd, len(content) + 1) == content
        finally:
            os.close(fd)
        if not same:
            changes.append(Change(name, "write", stat.S_IMODE(st.st_mode)))
        elif stat.S_IMODE(st.st_mode) != mode:
            changes.append(Change(name, "chmod", stat.S_IMODE(st.st_mode), inode=(st.st_dev, st.st_ino)))
    if exclusive and dest.is_dir():
        # Only regular files directly in dest: subdirectories and symlinks are never the set's own output.
        stale = sorted(
            (e for e in os.scandir(dest) if e.name not in files and e.is_file(follow_symlinks=False)),
            key=lambda e: e.name,
        )
        changes += [
            Change(e.name, "remove", stat.S_IMODE(e.stat(follow_symlinks=False).st_mode)) for e in stale
        ]
    return changes


def read_text(path: Path, cap: int) -> tuple[str, dict[str, Any]]:
    """The text of an existing regular file for a diff, or an empty text and the reason it is left out.

    Anything but a regular file (a symlink above all) is never opened: its target may be a file the
    user never meant to show.
    """
    fd = open_regular(path)
    if fd is None:
        return "", {}
    try:
        if os.fstat(fd).st_size > cap:
            return "", {"dst_larger": cap}
        data = read_fd(fd, cap + 1)
    finally:
        os.close(fd)
    if len(data) > cap:
        return "", {"dst_larger": cap}
    try:
        return data.decode("utf-8"), {}
    except UnicodeDecodeError:
        return "", {"dst_binary": 1}


def diff(dest: Path, files: dict[str, bytes], mode: int, change: Change, cap: int) -> dict[str, Any]:
    path = dest / change.name
    if change.action == "chmod":
        return {"prepared": f"{path}: mode {change.old_mode:04o} -> {mode:04o}\n"}
    # A symlink or special file that is replaced is never opened: its target is not the set's to show.
    before, entry = read_text(path, cap) if change.old_kind == "file" else ("", {})
    after = ""
    if change.action == "write":
        content = files[change.name]
        if len(content) > cap:
            entry["src_larger"] = cap
        else:
            after = content.decode("utf-8")
    if change.old_mode is None:
        old = "absent"
    elif change.old_kind != "file":
        old = f"{change.old_kind}, not read"
    else:
        old = f"{change.old_mode:04o}"
    new = "absent" if change.action == "remove" else f"{mode:04o}"
    # Size-capped sides are left empty: the callback prints why instead of the text.
    return entry | {
        "before": before,
        "after": after,
        "before_header": f"{path} ({old})",
        "after_header": f"{path} ({new})",
    }


def write_atomically(path: Path, content: bytes, mode: int) -> None:
    # A hidden temp file in the same directory, so os.replace is a rename on one file system and a
    # reader sees the old file or the new one, never half of it. Names with a leading dot are refused
    # in files, so the temp file never collides with one; `exclusive` clears any left by a crash.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def chmod_planned(path: Path, content: bytes, mode: int, inode: tuple[int, int] | None) -> None:
    """Change the mode of the file the plan compared, and of nothing else.

    chmod on a path follows a symlink, and a hard link shares its inode with another file: if the entry
    is no longer that regular file (swapped since the plan), it is replaced by a fresh file instead.
    """
    fd = open_regular(path)
    if fd is not None:
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == inode and st.st_nlink == 1:
                os.fchmod(fd, mode)
                return
        finally:
            os.close(fd)
    write_atomically(path, content, mode)


def apply(
    dest: Path, files: dict[str, bytes], mode: int, changes: list[Change], dir_mode: int = 0o755
) -> None:
    """Make the planned changes; dest is created (with dir_mode, less the umask) if it is missing."""
    dest.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    for change in changes:
        path = dest / change.name
        if change.action == "write":
            write_atomically(path, files[change.name], mode)
        elif change.action == "chmod":
            chmod_planned(path, files[change.name], mode, change.inode)
        else:
            path.unlink(missing_ok=True)
