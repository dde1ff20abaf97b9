"""The adversarial corpus: every file in tests/adversarial/ is refused by the CLI with exit status 2,
exactly one located message and no traceback.

Each case is one file. Its expectations sit in its header comments, or in a
`.expect` sidecar for files that cannot hold comments (JSON, models):

    # run: <archspec arguments>   ({path}: the case file, {tmp}: a scratch folder, {root}: the checkout; default
    # `validate {path}`)
    # expect: <fragment of the output>     (repeatable)
    # hint: <fragment of the hint>
    # at: LINE:COL                          (where the message points in the case file)
    # label: <what the message is located at, when it is not the file: `--set`, `{path}/run.json`>

A case may be a folder (a run folder, say), its expectations in the sidecar.

`bench/adversarial.py` times every case (each must take under a second).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import ROOT

from archspec.cli import main

CORPUS = ROOT / "tests" / "adversarial"
CASES = sorted(p for p in CORPUS.iterdir() if p.suffix != ".expect")
_HEADER = re.compile(r"^# (run|expect|hint|at|label): (.*)$", re.M)


def expectations(path: Path) -> dict[str, list[str]]:
    sidecar = path.with_name(path.name + ".expect")
    text = sidecar.read_text() if sidecar.exists() else path.read_text(errors="replace")[:4000]
    found: dict[str, list[str]] = {"run": [], "expect": [], "hint": [], "at": [], "label": []}
    for key, value in _HEADER.findall(text):
        found[key].append(value.strip())
    return found


def arguments(path: Path, tmp: Path) -> list[str]:
    run = expectations(path)["run"]
    args = shlex.split(run[0]) if run else ["validate", "{path}"]
    return [a.replace("{path}", str(path)).replace("{tmp}", str(tmp)).replace("{root}", str(ROOT)) for a in args]


def test_the_corpus_is_large():
    assert len(CASES) >= 60


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_refused_with_one_located_message(path, tmp_path, capsys):
    want = expectations(path)
    assert want["expect"], f"{path.name} states no expected message"
    assert main(arguments(path, tmp_path)) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    messages = [line for line in err.splitlines() if line and not line.startswith(" ")]
    assert len(messages) == 1, err[:3000]
    label = (
        want["label"][0].replace("{path}", str(path)) if want["label"] else str(path)
    )  # {path}/run.json: a file in a case folder
    assert messages[0].startswith(label + ":"), err[:3000]
    assert err.count(str(path)) <= 1, "the file is named once"
    assert len(err) < 2_000, "a message quotes no huge value whole"
    for fragment in want["expect"]:
        assert fragment in err, err[:3000]
    for fragment in want["hint"]:
        assert re.search(r"^  hint: .*" + re.escape(fragment), err, re.M), err[:3000]
    for at in want["at"]:
        assert messages[0].startswith(f"{path}:{at}:"), err[:3000]
