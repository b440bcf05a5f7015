"""Write each role's meta/argument_specs.yml and defaults/main.yml from the collection's input table.

    python -m tools.inputs           # rewrite them (then `python -m tools.role_docs` for the READMEs)
    python -m tools.inputs --check   # exit 1, naming the files, if any differs from the table

The table is plugins/module_utils/inputs.py: one row per variable, with its role, type, default,
description and check. tests/unit/test_inputs.py fails when a written file differs from what this
writes, so a default or a type is edited in the table and nowhere else (`make inputs` runs both tools).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.binder.ingress.plugins.module_utils.inputs import (  # noqa: E402
    INPUTS,
    ROLES,
    UNSET,
    Input,
)

HEADER = "# Written by `python -m tools.inputs` from plugins/module_utils/inputs.py (make inputs): edit the table there.\n"


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """Block sequences indented under their key, as yamllint wants them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(data: Any, indent: int) -> str:
    text = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True, default_flow_style=False
    )
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(keepends=True))


def _option(row: Input) -> dict[str, Any]:
    option: dict[str, Any] = {
        "description": list(row.description) if not isinstance(row.description, str) else row.description
    }
    option["type"] = row.type
    if row.elements:
        option["elements"] = row.elements
    if row.required:
        option["required"] = True
    if row.choices is not None:
        option["choices"] = list(row.choices)
    if row.default is not UNSET:
        option["default"] = row.default
    return option


def _rows(role: str) -> list[Input]:
    return [row for row in INPUTS if row.role == role and not row.inventory_only]


def argument_specs(role: str) -> str:
    """The role's meta/argument_specs.yml: every option under main (anchored), the entry points' by alias."""
    rows = _rows(role)
    out = ["---\n", HEADER, "argument_specs:\n"]
    for entry_point, doc in ROLES[role].items():
        out.append(f"  {entry_point}:\n")
        out.append(_dump(doc, 4))
        out.append("    options:\n")
        for row in rows:
            if entry_point == "main":
                out.append(f"      {row.name}: &{row.name}\n")
                out.append(_dump(_option(row), 8))
            elif entry_point in row.entry_points:
                out.append(f"      {row.name}: *{row.name}\n")
    return "".join(out)


def defaults(role: str) -> str:
    """The role's defaults/main.yml: every variable with a default; the others named in a comment."""
    out = ["---\n", HEADER, "# What each variable means: meta/argument_specs.yml and README.md.\n"]
    for row in _rows(role):
        if row.default is UNSET:
            out.append(
                f"# {row.name}: no default ({'required' if row.required else 'set by the entry points that need it'})\n"
            )
        else:
            out.append(_dump({row.name: row.default}, 0))
    return "".join(out)


def files(root: Path = ROOT) -> dict[Path, str]:
    """Every file this writes, by path, with its content."""
    result: dict[Path, str] = {}
    for role in ROLES:
        result[root / "roles" / role / "meta" / "argument_specs.yml"] = argument_specs(role)
        result[root / "roles" / role / "defaults" / "main.yml"] = defaults(role)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that differ from the table")
    args = parser.parse_args(argv)
    stale = []
    for path, text in files().items():
        if path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not args.check:
                path.write_text(text, encoding="utf-8")
    verb = "differ from plugins/module_utils/inputs.py" if args.check else "rewritten"
    for path in stale:
        print(f"{path.relative_to(ROOT)}: {verb}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
