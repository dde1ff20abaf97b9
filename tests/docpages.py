"""The documentation's markdown as the tests read it: the README and every page under docs/.

Tests that check what the documentation shows (commands that exist, YAML examples that validate,
editor diagnostics) read all of it, so moving text between the README and the site never drops a
check. The kind reference is not here: the site generates it from `archspec reference`.
"""

from __future__ import annotations

import re

from conftest import ROOT

DOCS = ROOT / "docs"
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)
MISTAKE = re.compile(r"#[^\n]*\ba mistake\b")


def pages() -> dict[str, str]:
    """Relative path -> markdown, the README first, then docs/ in path order."""
    found = {"README.md": (ROOT / "README.md").read_text()}
    found.update({str(p.relative_to(ROOT)): p.read_text() for p in sorted(DOCS.rglob("*.md"))})
    return found


def yaml_blocks() -> list[tuple[str, int, str]]:
    """Every fenced YAML example: (page, its index on the page, its text), except those that show a mistake on
    purpose and say so on their first line (`# typo.yaml: a mistake`): their transcript shows the message."""
    return [
        (page, n, text)
        for page, md in pages().items()
        for n, text in enumerate(YAML_BLOCK.findall(md))
        if not MISTAKE.match(text)
    ]
