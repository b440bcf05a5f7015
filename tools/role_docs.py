"""Write each role README's entry-point and variable tables from its meta/argument_specs.yml.

    python -m tools.role_docs           # rewrite the tables in roles/*/README.md
    python -m tools.role_docs --check   # exit 1, naming the READMEs, if any table is stale

The tables sit between the two marker lines below; the prose around them is written by hand.
tests/unit/roles/test_role_docs.py fails when a README's tables differ from what this writes,
so an argument_specs edit without a regenerated README does not pass the unit tests.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = ROOT / "roles"
BEGIN = "<!-- BEGIN argument_specs tables: written by `python -m tools.role_docs`, do not edit -->"
END = "<!-- END argument_specs tables -->"

# Ansible's doc markup (ansible-doc's "semantic markup") and how Markdown shows it.
_CODE = re.compile(r"\b(?:C|O|V|RV|E|M)\(([^()]*)\)")
_ITALIC = re.compile(r"\bI\(([^()]*)\)")
_BOLD = re.compile(r"\bB\(([^()]*)\)")
_LINK = re.compile(r"\bL\(([^(),]*),\s*([^()]*)\)")
_URL = re.compile(r"\bU\(([^()]*)\)")


class RoleDocsError(RuntimeError):
    """A README cannot take the generated tables (no markers, or markers out of order)."""


def markdown(text: str) -> str:
    """Ansible doc markup as Markdown, on one line, safe inside a table cell."""
    text = _LINK.sub(r"[\1](\2)", text)
    text = _URL.sub(r"<\1>", text)
    text = _CODE.sub(r"`\1`", text)
    text = _ITALIC.sub(r"*\1*", text)
    text = _BOLD.sub(r"**\1**", text)
    return " ".join(text.split()).replace("|", "\\|")


def _description(spec: dict[str, Any]) -> str:
    text = spec.get("description") or ""
    return markdown(" ".join(text) if isinstance(text, list) else str(text))


def _code(value: str) -> str:
    return f"``{value}``" if "`" in value else f"`{value}`"


def default_cell(option: dict[str, Any]) -> str:
    if option.get("required"):
        return "**required**"
    if "default" not in option:
        return "—"
    value = option["default"]
    if value == "":
        return '`""`'
    if isinstance(value, str):
        return _code(value)
    flow = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()
    if flow.endswith("\n..."):  # how PyYAML ends a lone scalar
        flow = flow[: -len("\n...")]
    return _code(flow).replace("|", "\\|")


def type_cell(option: dict[str, Any]) -> str:
    kind = str(option.get("type", "str"))
    if option.get("elements"):
        kind = f"{kind} of {option['elements']}"
    if option.get("choices"):
        kind += ": " + ", ".join(_code(str(choice)) for choice in option["choices"])
    return kind.replace("|", "\\|")


def _options(specs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
    """Every option of every entry point, once, in the order they are first written (main first),
    with the entry points that take it."""
    seen: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for entry_point, spec in specs.items():
        for name, option in (spec.get("options") or {}).items():
            seen.setdefault(name, (option, []))[1].append(entry_point)
    for name, (option, entry_points) in seen.items():
        yield name, option, entry_points


def tables(specs: dict[str, Any]) -> str:
    """The entry-point table and the variable table of one role's argument_specs."""
    lines = ["| entry point | what it does |", "|---|---|"]
    for entry_point, spec in specs.items():
        lines.append(f"| `{entry_point}` | {markdown(str(spec.get('short_description', '')))} |")
    every = list(specs)
    lines += ["", "| variable | type | default | meaning |", "|---|---|---|---|"]
    for name, option, entry_points in _options(specs):
        meaning = _description(option)
        if entry_points != every:
            meaning += f" (entry points: {', '.join(f'`{e}`' for e in entry_points)})"
        lines.append(f"| `{name}` | {type_cell(option)} | {default_cell(option)} | {meaning} |")
    return "\n".join(lines)


def role_specs(role: Path) -> dict[str, Any]:
    with (role / "meta" / "argument_specs.yml").open(encoding="utf-8") as handle:
        specs: dict[str, Any] = yaml.safe_load(handle)["argument_specs"]
    return specs


def render(readme_text: str, specs: dict[str, Any], name: str = "README.md") -> str:
    """The README with the text between its markers replaced by the generated tables."""
    begin, end = readme_text.find(BEGIN), readme_text.find(END)
    if begin < 0 or end < 0 or end < begin:
        raise RoleDocsError(f"{name}: needs the lines {BEGIN!r} and {END!r}, in that order")
    return readme_text[: begin + len(BEGIN)] + "\n\n" + tables(specs) + "\n\n" + readme_text[end:]


def roles(root: Path = ROLES) -> list[Path]:
    return sorted(path for path in root.iterdir() if (path / "meta" / "argument_specs.yml").is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.role_docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale READMEs (exit 1 if any)")
    args = parser.parse_args(argv)
    stale = []
    for role in roles():
        readme = role / "README.md"
        text = readme.read_text(encoding="utf-8")
        try:
            new = render(text, role_specs(role), str(readme.relative_to(ROOT)))
        except RoleDocsError as exc:
            print(exc, file=sys.stderr)
            return 2
        if new != text:
            stale.append(readme.relative_to(ROOT))
            if not args.check:
                readme.write_text(new, encoding="utf-8")
    for path in stale:
        print(f"{path}: {'stale' if args.check else 'rewritten'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
