"""The `archspec shapes` transcripts the documentation shows are what the command prints today.

A fenced block line `$ archspec shapes specs/...` is a command on a spec in this checkout; the
lines after it, up to the next `$ ` line or the block's end, are its output. Only `shapes` (pure
Python, fast) is replayed here; commands on files the page writes itself are left alone.
"""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import ROOT
from docpages import pages

from archspec.cli.group import main

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


def transcripts() -> list[tuple[str, str, str]]:
    """(page, command, output as shown) for each replayable `$ archspec shapes specs/...` line."""
    found = []
    for page, markdown in pages().items():
        for block in FENCE.findall(markdown):
            parts = re.split(r"^\$ ", block, flags=re.M)[1:]
            for part in parts:
                command, _, shown = part.partition("\n")
                words = shlex.split(command.split("  #")[0])
                if words[:2] == ["archspec", "shapes"] and words[2].startswith("specs/") and (ROOT / words[2]).exists():
                    found.append((page, command, shown))
    return found


CASES = transcripts()


def test_the_docs_show_shapes_transcripts():
    assert len(CASES) >= 4


@pytest.mark.parametrize("page,command,shown", CASES, ids=[f"{p}:{c}" for p, c, _ in CASES])
def test_transcript_is_current(page, command, shown, monkeypatch, capsys):
    """As the `archspec` command runs it (main() turns an input error into its message, exit 2)."""
    monkeypatch.chdir(ROOT)
    main(shlex.split(command.split("  #")[0])[1:])
    out, err = capsys.readouterr()
    printed = [line.rstrip() for line in (out + err).strip("\n").splitlines()]
    assert printed == [line.rstrip() for line in shown.strip("\n").splitlines()], (
        f"{page}: `{command}` prints today:\n{out}{err}"
    )
