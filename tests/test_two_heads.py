"""Two heads on real MNIST: specs/lenet_two_heads.yaml names which digit an image is (classification) and how
much ink it has (regression: its pixels above 127), trained through the CLI on the first 8,000 digits of
MNIST's test set and judged on the last 2,000.

The data is an .npz file with an array named after the input and each output (`input`, `digit`, `ink`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from archspec.cli import main
from archspec.training import data as D

SPEC = str(ROOT / "specs" / "lenet_two_heads.yaml")
INK_MAE = 6.0
"""The ink head's target: a mean absolute error under 6 pixels (the areas run from about 40 to 300, std about 40)."""


def ink(images: np.ndarray) -> np.ndarray:
    return (images > 127).sum(axis=(1, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def two_heads(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("two_heads")
    images = D.read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = D.read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    for name, part in (("train", slice(0, 8000)), ("test", slice(8000, 10000))):
        np.savez(folder / f"{name}.npz", input=images[part], digit=labels[part], ink=ink(images[part]))
    run = folder / "run"
    started = time.perf_counter()
    # the spec's recipe (batch 64, Adam at 3e-3 with a one-epoch warmup and a cosine decay) over 5 of its 8 epochs:
    # digit accuracy 0.9865 and 0.9835, ink MAE 4.63 and 4.83 px for seeds 7 and 1 (8 epochs: 0.987, 4.25 px; 3 s per
    # epoch)
    code = main(
        [
            "train",
            SPEC,
            "--data",
            str(folder / "train.npz"),
            "--run-dir",
            str(run),
            "--seed",
            "7",
            "--quiet",
            "--epochs",
            "5",
        ]
    )
    assert code == 0
    return folder, run, time.perf_counter() - started


def test_both_heads_reach_their_targets_on_the_last_2000_digits(two_heads, capsys):
    folder, run, seconds = two_heads
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(folder / "test.npz"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    digit, area = result["outputs"]["digit"], result["outputs"]["ink"]
    print(
        f"two heads: digit accuracy {digit['accuracy']:.4f}, ink MAE {area['mae']:.2f} px (RMSE {area['rmse']:.2f}); "
        f"training {seconds:.0f} s"
    )
    assert result["count"] == 2000
    assert digit["task"] == "classification" and digit["accuracy"] >= 0.97
    assert (
        area["task"] == "regression" and area["mae"] <= INK_MAE
    )  # in pixels: the targets' own units, not the standardised ones
    assert np.trace(np.asarray(digit["confusion"])) == round(digit["accuracy"] * 2000)
    # the run folder records each head, and the ink head's scaling from the training data
    network = json.loads((run / "run.json").read_text())["network"]
    assert network["outputs"]["ink"]["task"] == "regression"
    areas = np.load(folder / "train.npz")["ink"]
    assert network["outputs"]["ink"]["scale"]["mean"][0] == pytest.approx(float(areas.mean()), rel=1e-5)
    assert network["outputs"]["ink"]["scale"]["std"][0] == pytest.approx(float(areas.std()), rel=1e-5)


def test_predict_prints_both_heads(two_heads, mnist_dir, tmp_path, capsys):
    _folder, run, _ = two_heads
    images = D.read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[9990:9995]
    labels = D.read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[9990:9995]
    np.save(tmp_path / "five.npy", images)
    capsys.readouterr()
    assert main(["predict", str(run), str(tmp_path / "five.npy"), "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert len(answers) == 5
    assert sum(a["outputs"]["digit"]["top"][0]["class"] == label for a, label in zip(answers, labels, strict=True)) >= 4
    areas = [a["outputs"]["ink"]["values"][0] for a in answers]
    assert np.abs(np.asarray(areas) - ink(images)).mean() <= 3 * INK_MAE
    assert main(["predict", str(run), str(tmp_path / "five.npy")]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"{tmp_path / 'five.npy'}[0]: digit ") and "; ink " in line
