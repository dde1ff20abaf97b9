"""What the documentation tells people to type exists."""

from __future__ import annotations

import re

from conftest import ROOT
from docpages import pages

from archspec.cli import cli
from archspec.tools.reference import reference

# `archspec WORD` in backticks, or an indented command line (a code block, a --help example).
COMMAND = re.compile(r"(?:`|^[ \t]+(?:\$ )?)archspec ([a-z][\w-]*)", re.M)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


def indented_code(markdown: str) -> str:
    """Markdown with its fenced blocks' lines indented, as --help examples are."""
    return FENCE.sub(lambda m: "\n".join("    " + line for line in m.group(1).splitlines()) + "\n", markdown)


def texts() -> dict[str, str]:
    found = {where: indented_code(text) for where, text in pages().items()}
    found["archspec reference"] = reference()
    found.update({str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / "archspec").rglob("*.py"))})
    return found


def test_every_command_the_docs_name_exists():
    named = {(where, word) for where, text in texts().items() for word in COMMAND.findall(text)}
    assert len(named) > 20  # the pattern finds the documented commands
    assert not [f"{where}: archspec {word}" for where, word in sorted(named) if word not in cli.list_commands(None)]
