"""One static check path (``graph.checked``): whatever `train`, `build` and `serve` would refuse in a spec without
reading data, `validate` refuses, with the same located message.

The bad specs are the corpus' `checks_*` spec cases (tests/adversarial); each is refused by every command, and the
first line of every refusal is the same.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from archspec.cli import main
from archspec.tools.serve.spec_view import SpecView

CASES = sorted(p for p in (ROOT / "tests" / "adversarial").glob("checks_*.yaml") if "# run:" not in p.read_text())
"""The corpus' spec cases (those run as `validate`, the default; the others are about a command's options)."""


def first_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line and not line.startswith(" ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """Data that fits every case's input (8x8 grey, ten classes): no case may be refused for its data."""
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.integers(0, 255, (40, 8, 8, 1), dtype=np.uint8), y=np.arange(40) % 10)
    return path


def test_there_are_cases():
    assert len(CASES) >= 8


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_validate_refuses_what_train_build_and_serve_refuse(path, digits, tmp_path, capsys):
    assert main(["validate", str(path)]) == 2
    validated = first_line(capsys.readouterr().err)
    assert main(["train", str(path), "--data", str(digits), "--run-dir", str(tmp_path / "run")]) == 2
    assert first_line(capsys.readouterr().err) == validated
    assert not (tmp_path / "run").exists()
    assert main(["build", str(path), "-o", str(tmp_path / "m.keras")]) == 2
    assert first_line(capsys.readouterr().err) == validated
    assert not (tmp_path / "m.keras").exists()
    pane = SpecView(path).check(path.read_text(), [])
    assert not pane["ok"] and pane["problems"][0]["message"].splitlines()[0] == validated


def test_the_python_build_refuses_it_too():
    import archspec

    with pytest.raises(archspec.SpecError, match="ends in softmax; a multilabel output needs sigmoid"):
        archspec.build(ROOT / "tests" / "adversarial" / "checks_multilabel_ends_in_softmax.yaml")


def test_without_a_training_section_train_refuses_and_validate_warns(tmp_path, digits, capsys):
    """A spec that does not say how it trains may never be trained (an imported model, a drawing): `validate` warns
    with `train`'s message, and --strict refuses it."""
    path = tmp_path / "scalar.yaml"
    path.write_text("name: scalar\ninput: [8, 8, 1]\nlayers:\n  - flatten\n  - dense: {units: 1}\n")
    assert main(["validate", str(path)]) == 0
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning.startswith(
        f"{path}:5:12: layers[1].dense: warning: output 'dense_1' (dense_1) is 1; a classification output"
    )
    assert main(["train", str(path), "--data", str(digits), "--run-dir", str(tmp_path / "run")]) == 2
    assert first_line(capsys.readouterr().err) == warning.replace("warning: ", "")
    assert main(["validate", "--strict", str(path)]) == 2
    assert "error (--strict): output 'dense_1' (dense_1) is 1" in capsys.readouterr().err
