"""What the site's build does about the pictures of a trained network (tests/docpictures.py's ``ensure``): it makes
them once and keeps them until archspec's files change, and a machine that lacks what one needs gets a note for it.

Making them for real (training, `archspec inspect`, the live page in Chromium) is tested in test_serve.py, on the
serve tests' own run; here the making is stood in for, so these tests take a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import docpictures
import pytest
from docpictures import LACKING, PICTURES


@pytest.fixture
def maker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """A machine with everything, where making the pictures writes a stand-in for each: the folders made in."""
    calls: list[Path] = []

    def make(out: Path, **means: object) -> list[str]:
        calls.append(out)
        for name in PICTURES:
            (out / name).write_text("made")
        return list(PICTURES)

    monkeypatch.delenv(docpictures.SWITCH, raising=False)
    monkeypatch.setattr(docpictures, "lacking", dict)
    monkeypatch.setattr(docpictures, "trained", lambda mnist, run: run)
    monkeypatch.setattr(docpictures, "digit_png", lambda mnist, folder: (folder / "digit.png", docpictures.LABEL))
    monkeypatch.setattr(docpictures, "make", make)
    return calls


def test_pictures_are_made_once_and_again_when_archspec_changes(maker, monkeypatch, tmp_path):
    said: list[str] = []
    cache = tmp_path / "cache"
    first = docpictures.ensure(said.append, cache)
    assert maker == [cache] and first.files == {name: cache / name for name in PICTURES} and first.missing == {}
    assert "training LeNet for 1 epoch" in said[0]
    again = docpictures.ensure(said.append, cache)
    assert maker == [cache] and again == first and "made from today's files" in said[-1]  # kept, not made again
    monkeypatch.setattr(docpictures, "stamp", lambda: "archspec changed")
    docpictures.ensure(said.append, cache)
    assert maker == [cache, cache]


def test_a_picture_the_maker_did_not_make_fails_the_build(maker, monkeypatch, tmp_path):
    monkeypatch.setattr(docpictures, "make", lambda out, **means: [])
    with pytest.raises(docpictures.Failed, match="made"):
        docpictures.ensure(lambda line: None, tmp_path / "cache")


def test_a_machine_without_chromium_or_the_digits_gets_a_note_for_each_picture(monkeypatch, tmp_path):
    monkeypatch.delenv(docpictures.SWITCH, raising=False)
    monkeypatch.setenv("ARCHSPEC_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setattr(docpictures, "MNIST", tmp_path / "no-digits")
    made = docpictures.ensure(lambda line: None, tmp_path / "cache")
    assert made.files == {}
    assert made.missing == {
        name: LACKING["mnist" if picture.needs == ("mnist",) else "chromium"] for name, picture in PICTURES.items()
    }


def test_no_pictures_when_asked_for_none(monkeypatch, tmp_path):
    monkeypatch.setenv(docpictures.SWITCH, "0")
    made = docpictures.ensure(lambda line: None, tmp_path / "cache")
    assert made.files == {} and set(made.missing) == set(PICTURES) and not (tmp_path / "cache").exists()
