"""Shell commands as the README and the chart's NOTES.txt give them, read from those texts.

The tests run what a user would copy, so a wrong command in the docs fails a test.
"""

from __future__ import annotations

import re


def shell_commands(text: str) -> list[str]:
    """Commands in the text's indented or fenced shell lines, continuations joined."""
    commands: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if pending:
            pending += " " + line.rstrip("\\").strip()
            if not line.endswith("\\"):
                commands.append(pending)
                pending = ""
            continue
        if re.match(r"^(kubectl|curl|helm)\s", line):
            if line.endswith("\\"):
                pending = line.rstrip("\\").strip()
            else:
                commands.append(line)
    return commands


def first(commands: list[str], pattern: str) -> str:
    found = [c for c in commands if re.search(pattern, c)]
    if not found:
        raise AssertionError(f"no command matching {pattern!r} in {commands}")
    return found[0]


def fenced_section(markdown: str, heading: str) -> str:
    """The text under a `## heading` up to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    if not match:
        raise AssertionError(f"README has no section '## {heading}'")
    return match.group(1)
