"""Every file in tests/bad_specs/ is refused with one clear, located message and exit status 2.

Expectations sit in the file's header comments (or a `.expect` sidecar for
JSON and empty files):

    # expect: <fragment of the message>      (repeatable: several problems in one file)
    # hint: <fragment of the hint>
    # at: LINE:COL [field.path]
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

import archspec
from archspec.cli import main

BAD = sorted(p for p in (ROOT / "tests" / "bad_specs").iterdir() if p.suffix in (".yaml", ".json"))
_HEADER = re.compile(r"^# (expect|hint|at): (.*)$", re.M)


def expectations(path: Path) -> dict[str, list[str]]:
    sidecar = path.with_name(path.name + ".expect")
    text = sidecar.read_text() if sidecar.exists() else path.read_text()
    found: dict[str, list[str]] = {"expect": [], "hint": [], "at": []}
    for key, value in _HEADER.findall(text):
        found[key].append(value.strip())
    return found


def test_there_are_many_bad_specs():
    assert len(BAD) >= 40


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_spec_is_refused_with_location(path, capsys):
    want = expectations(path)
    assert want["expect"], f"{path.name} states no expected message"
    with pytest.raises(archspec.SpecError) as caught:
        archspec.shapes(path)
    err = caught.value
    text = str(err)
    for fragment in want["expect"]:
        assert fragment in text
    for fragment in want["hint"]:
        assert any(fragment in (p.hint or "") for p in err.problems), text
    assert all(p.file == str(path) for p in err.problems)
    for at in want["at"]:
        position, _, field = at.partition(" ")
        line, col = map(int, position.split(":"))
        assert (err.line, err.column) == (line, col), text
        if field:
            assert err.path == field, text

    # The CLI prints the same, without a traceback, and exits 2.
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr()
    assert "Traceback" not in out.err and want["expect"][0] in out.err
    assert f"{path}" in out.err


def test_python_tag_is_never_executed(tmp_path):
    marker = Path("/tmp/archspec-pwned")
    marker.unlink(missing_ok=True)
    with pytest.raises(archspec.SpecError):
        archspec.load(ROOT / "tests" / "bad_specs" / "python_tag.yaml")
    assert not marker.exists()


def test_missing_file_exits_2(capsys, tmp_path):
    assert main(["shapes", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
