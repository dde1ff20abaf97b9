"""The transcripts the documentation shows are what the commands print today.

A fenced block line `$ archspec ...` is a command; the lines after it, up to the next `$ ` line or the block's
end, are its output. Each page is replayed in order in a fresh folder: a YAML example whose first line is a
comment naming a file (`# tagger.yaml`) is written there first (one naming a file of the checkout, such as
`# specs/lenet.yaml`, quotes it and is not written), and `specs/` is the checkout's.

Commands that need no TensorFlow (FAST) run in-process and must print exactly what is shown (an input error
as `archspec` prints it: its message, exit 2). The others (training, evaluation, export...) cost seconds to
minutes each and their figures vary from run to run: here each is parsed as the command line would parse it,
so an option the docs use must exist and take the value shown.

To write a new transcript, put the `$ archspec ...` line in the page with no output under it and run this file
with ARCHSPEC_UPDATE_DOCS=1: each FAST command's shown output is replaced by what it prints (then read the diff).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from conftest import ROOT
from docpages import pages

from archspec.cli import cli
from archspec.cli.group import main

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.M | re.S)
FILE_HEADER = re.compile(r"#\s*([\w./-]+\.(?:yaml|yml|json))\b[^\n]*\n")
FAST = {"shapes", "validate", "zoo", "render", "diff", "draw", "reference"}
"""Commands replayed exactly: pure Python, a fraction of a second each."""


@dataclass(frozen=True)
class Step:
    """One thing a page does, in order: writes a file (`text` is its content) or runs a command (`text` is the
    output shown)."""

    kind: str  # "file" or "run"
    arg: str
    text: str


def words(command: str) -> list[str]:
    """The command's words without its trailing `  # comment`."""
    return shlex.split(command.split("  #")[0])


def steps(markdown: str) -> list[Step]:
    found = []
    for lang, block in FENCE.findall(markdown):
        header = FILE_HEADER.match(block)
        if lang.strip() in ("yaml", "json") and header and not (ROOT / header.group(1)).exists():
            found.append(Step("file", header.group(1), block))
            continue
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, shown = part.partition("\n")
            if words(command)[:1] == ["archspec"]:
                found.append(Step("run", command, shown))
    return found


PAGES = {page: found for page, markdown in pages().items() if (found := steps(markdown))}


def test_quoted_specs_are_the_files_they_name():
    """A YAML example headed by a file of the checkout (`# specs/lenet.yaml`) is that file's spec, less at most its
    description and reference fields, so a page cannot show a spec that has since changed."""
    import yaml

    quoted = 0
    for page, markdown in pages().items():
        for lang, block in FENCE.findall(markdown):
            header = FILE_HEADER.match(block)
            if lang.strip() == "yaml" and header and (ROOT / header.group(1)).exists():
                shown, real = yaml.safe_load(block), yaml.safe_load((ROOT / header.group(1)).read_text())
                assert set(real) - set(shown) <= {"description", "reference"}, (page, header.group(1))
                assert shown == {key: real[key] for key in shown}, (page, header.group(1))
                quoted += 1
    assert quoted >= 4


def test_the_docs_show_transcripts_of_several_commands():
    runs = [words(s.arg)[1] for found in PAGES.values() for s in found if s.kind == "run"]
    assert runs.count("shapes") >= 8
    assert {"validate", "train", "evaluate", "predict", "zoo"} <= set(runs)
    assert sum(s.kind == "file" for found in PAGES.values() for s in found) >= 5


def parse(argv: list[str], where: Path) -> None:
    """Parse a command line as `archspec` would, without running it: unknown options, a missing value and a
    value of the wrong type fail; a path that exists only where the page made it (a run folder) is let be."""
    name, *rest = argv
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, f"no command {name!r}"
    try:
        command.make_context(name, rest)
    except click.BadParameter as error:
        if "does not exist" not in str(error):
            raise


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_transcripts_are_current(page, tmp_path, monkeypatch):
    """As the `archspec` command runs it (main() turns an input error into its message, exit 2)."""
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    monkeypatch.chdir(tmp_path)
    for step in PAGES[page]:
        if step.kind == "file":
            target = tmp_path / step.arg
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.text)
            continue
        argv = words(step.arg)[1:]
        if argv[0] not in FAST:
            parse(argv, tmp_path)
            continue
        both = io.StringIO()  # stdout and stderr in the order a terminal shows them
        with contextlib.redirect_stdout(both), contextlib.redirect_stderr(both):
            main(argv)
        out = both.getvalue()
        printed = [line.rstrip() for line in out.strip("\n").splitlines()]
        if os.environ.get("ARCHSPEC_UPDATE_DOCS") and printed != step.text.strip("\n").splitlines():
            source = ROOT / page
            text = source.read_text()
            was = f"$ {step.arg}\n{step.text}"
            assert was in text, step.arg
            source.write_text(text.replace(was, f"$ {step.arg}\n" + "".join(f"{line}\n" for line in printed), 1))
            continue
        assert printed == [line.rstrip() for line in step.text.strip("\n").splitlines()], (
            f"{page}: `{step.arg}` prints today:\n{out}"
        )
