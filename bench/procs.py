"""The machine's processes as /proc gives them, for the benches' memory figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def stats() -> Iterator[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every process; those gone while read are skipped."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # After the command name in parentheses (which may hold spaces): state, ppid, pgrp.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                yield int(entry.name), int(fields[1]), int(fields[2])
            except (OSError, IndexError, ValueError):
                continue
