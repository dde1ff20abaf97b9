"""The pages' training transcripts have the form the commands print today, and their refusals the words.

A training run's figures differ from run to run and machine to machine, and the full runs take minutes, so
each page's `$ archspec train/evaluate/predict` lines are run here on a few dozen examples made as the page
makes its data (or the MNIST digits themselves, at `../shared/data/mnist` as the pages name them), for one epoch,
in a fresh folder; then every line the page shows must match a printed line once numbers are masked
(`epoch 8/8  loss 0.0675 ...` and `epoch 1/1  loss 2.31 ...` agree) and `...` in a shown line stands for anything.
A line the commands no longer print, or print in another form (a metric renamed, a line added before it), fails
with what they print now. A command that refuses its input (exit 2: data.md's mismatches) must print exactly the
message the page shows.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from docpages import pages
from test_docs_transcripts import PAGES, words

from archspec.cli.group import main
from archspec.training.data import read_idx

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
TRAINING = {"train", "evaluate", "predict"}


def form(line: str) -> str:
    """A line with its numbers masked and its runs of spaces made one (columns align to the numbers' widths)."""
    return re.sub(r" {2,}", " ", NUMBER.sub("N", line.rstrip()))


def pattern(shown: str) -> re.Pattern[str]:
    """A shown line as a pattern over printed lines' forms: numbers are N, `...` is anything."""
    return re.compile(".*".join(re.escape(part) for part in form(shown).split("...")))


def digits(mnist: Path) -> tuple[np.ndarray, np.ndarray]:
    return read_idx(mnist / "t10k-images-idx3-ubyte.gz"), read_idx(mnist / "t10k-labels-idx1-ubyte.gz")


def png(path: Path, image: np.ndarray) -> None:
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    tf.io.write_file(str(path), tf.io.encode_png(image[..., None]))


def two_heads_data(mnist: Path) -> None:
    """docs/tutorials/two-heads.md's arrays, 320 and 32 digits instead of 8,000 and 2,000 (320: 5 batches of 64, so
    the run takes several steps per call, as the page's does, and prints its reason in the same words)."""
    x, y = digits(mnist)
    ink = (x > 127).sum(axis=(1, 2))
    Path("data").mkdir()
    np.savez("data/digits_train.npz", input=x[:320], digit=y[:320], ink=ink[:320])
    np.savez("data/digits_test.npz", input=x[9968:], digit=y[9968:], ink=ink[9968:])
    png(Path("seven.png"), x[9990])


def segmentation_data(mnist: Path) -> None:
    """tests/canvases.py as the page runs it, 32 and 16 canvases instead of 4,000 and 1,000; canvas.png one of them."""
    import canvases

    _, test = canvases.write(mnist, Path("data"), train=32, test=16)
    png(Path("canvas.png"), np.load(test)["input"][0])


def fine_tuning_data(mnist: Path) -> None:
    """docs/tutorials/fine-tuning.md's files: a few of each digit, the predicted image among them."""
    x, y = digits(mnist)
    Path("data").mkdir()
    source = np.flatnonzero(y[:8000] < 5)[:64]
    np.savez("data/digits_0to4.npz", x=x[source], y=y[source])
    for part, indices in {"train": range(200), "test": range(8000, 8100)}.items():  # test/7/08030.png among them
        for i in indices:
            if y[i] >= 5:
                png(Path("my_digits", part, str(y[i]), f"{i:05d}.png"), x[i])


def mismatched_data(mnist: Path) -> None:
    """docs/training/data.md's rgb40.npz: colour images larger than LeNet's input (its refusals read the digits
    themselves)."""
    x, y = digits(mnist)
    rgb = np.repeat(np.pad(x[:8], ((0, 0), (6, 6), (6, 6)))[..., None], 3, axis=-1)
    np.savez("rgb40.npz", x=rgb, y=y[:8])


DATA: dict[str, Callable[[Path], None]] = {
    "docs/tutorials/two-heads.md": two_heads_data,
    "docs/tutorials/segmentation.md": segmentation_data,
    "docs/tutorials/fine-tuning.md": fine_tuning_data,
    "docs/tutorials/lenet.md": lambda mnist: None,  # the digits as they are
    "docs/training/data.md": mismatched_data,
}
"""Each page whose training transcripts show output -> how to make its data, small."""


FEWER = {"mnist[:8000]": "mnist[:640]", "mnist[8000:]": "mnist[-200:]"}
"""The digits a page slices from MNIST itself (the LeNet tutorial), fewer: 640 are 10 batches of 64, so the run takes
several steps per call, as the page's does, and gives its reason in the same words."""


def shortened(argv: list[str]) -> list[str]:
    """One epoch, whatever the page trains for, on fewer of the digits."""
    argv = [next((arg.replace(a, b) for a, b in FEWER.items() if arg.endswith(a)), arg) for arg in argv]
    if argv[0] != "train":
        return argv
    if "--epochs" in argv:
        at = argv.index("--epochs")
        return [*argv[:at], *argv[at + 2 :], "--epochs", "1"]
    return [*argv, "--epochs", "1"]


def test_every_page_showing_training_output_is_run_here():
    showing = {
        page
        for page, found in PAGES.items()
        for step in found
        if step.kind == "run" and words(step.arg)[1] in TRAINING and step.text.strip()
    }
    assert showing == set(DATA)
    assert all(page in pages() for page in DATA)


@pytest.mark.parametrize("page", sorted(DATA))
def test_training_transcript_has_the_form_printed_today(page, mnist_dir, tmp_path, monkeypatch):
    work = tmp_path / "work"  # beside ../shared/data/mnist, as the pages have it
    work.mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "mnist").symlink_to(mnist_dir)
    (work / "specs").symlink_to(ROOT / "specs")
    monkeypatch.chdir(work)
    DATA[page](mnist_dir)
    checked = 0
    runs = [step for step in PAGES[page] if step.kind == "run" and words(step.arg)[1] in TRAINING]
    last_shown = max(i for i, step in enumerate(runs) if step.text.strip())
    for step in runs[: last_shown + 1]:  # those after it show nothing (ImageNet weights: a download)
        argv = words(step.arg)[1:]
        both = io.StringIO()
        with contextlib.redirect_stdout(both), contextlib.redirect_stderr(both):
            code = main(shortened(argv))
        if code == 2:  # refused: the input's mistake, word for word (the same data, the same message)
            assert both.getvalue().strip("\n") == step.text.strip("\n"), (
                f"{page}: `{step.arg}` shows\n{step.text}\nbut prints today:\n{both.getvalue()}"
            )
            checked += len(step.text.strip("\n").splitlines())
            continue
        printed = [form(line) for line in both.getvalue().splitlines()]
        assert code == 0, f"{page}: `{step.arg}` failed:\n{both.getvalue()}"
        for shown in step.text.strip("\n").splitlines():
            if shown.strip() == "...":
                continue
            assert any(pattern(shown).fullmatch(line) for line in printed), (
                f"{page}: `{step.arg}` shows\n{shown}\nbut prints today:\n{both.getvalue()}"
            )
            checked += 1
    assert checked >= 4


PYCON = re.compile(r"^```pycon\n(.*?)^```", re.M | re.S)
SESSIONS = {page: blocks for page, markdown in pages().items() if (blocks := PYCON.findall(markdown))}


def test_the_docs_show_python_sessions():
    assert "docs/tutorials/lenet.md" in SESSIONS


@pytest.mark.parametrize("page", sorted(SESSIONS))
def test_python_sessions_print_what_they_show(page, tmp_path, monkeypatch):
    """A `pycon` block is a doctest, run where the page's files are written (`archspec.build("convolution.yaml")`)."""
    import doctest

    (tmp_path / "specs").symlink_to(ROOT / "specs")
    monkeypatch.chdir(tmp_path)
    for step in PAGES.get(page, []):
        if step.kind == "file":
            (tmp_path / step.arg).write_text(step.text)
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for n, block in enumerate(SESSIONS[page]):
        runner.run(parser.get_doctest(block, {}, f"{page} session {n + 1}", page, 0))
    assert runner.summarize(verbose=False).failed == 0
