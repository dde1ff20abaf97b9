"""Fine-tuning on real data: a LeNet trained on MNIST digits 0-4 starts a 5-class LeNet for digits 5-9.

Setting (genuine MNIST test set, as elsewhere): the source trains on the digits 0-4 among the
first 8,000 examples (4,103 of them); the new network fine-tunes on the first 500 examples of
digits 5-9 there and is evaluated on the 964 digits 5-9 among the last 2,000. Transferred and
from-scratch runs have the same recipe, steps and seed; only the starting weights differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

import archspec
from archspec.cli import main
from archspec.errors import SpecError
from archspec.training import data as D
from archspec.training.rundir import RunDir

LENET = str(ROOT / "specs" / "lenet.yaml")

FINE_TUNE = {"epochs": 2, "batch_size": 32, "learning_rate": 1e-3}
"""32 steps of Adam: where starting weights matter (with many more steps both runs approach the same accuracy)."""


@pytest.fixture(scope="module")
def digits(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The three .npz data sets of the experiment (labels of 5-9 shifted to 0-4)."""
    images = D.load(f"idx:{mnist_dir}")
    x, y = images.x, images.y
    first, last = slice(0, 8000), slice(8000, 10000)
    folder = tmp_path_factory.mktemp("digits")
    source = y[first] < 5
    tune = np.flatnonzero(y[first] >= 5)[:500]
    test = y[last] >= 5
    sets = {
        "source": (x[first][source], y[first][source]),
        "tune": (x[first][tune], y[first][tune] - 5),
        "test": (x[last][test], y[last][test] - 5),
    }
    out = {}
    for name, (xs, ys) in sets.items():
        np.savez(folder / f"{name}.npz", x=xs, y=ys)
        out[name] = str(folder / f"{name}.npz")
    assert (len(sets["source"][1]), len(sets["tune"][1]), len(sets["test"][1])) == (4103, 500, 964)
    return out


@pytest.fixture(scope="module")
def source_run(digits, tmp_path_factory):
    """LeNet (10 outputs) trained on digits 0-4: the recipe of test_train's LeNet, for 8 epochs (the margins below
    were measured with this source)."""
    return archspec.train(
        LENET,
        data=digits["source"],
        epochs=8,
        run_dir=tmp_path_factory.mktemp("src") / "run",
        verbose=0,
        training={"seed": 7, "learning_rate": 3e-3, "batch_size": 64, "schedule": {"kind": "cosine", "warmup": 1}},
    )


def test_transferred_lenet_beats_one_trained_from_scratch(source_run, digits, tmp_path) -> None:
    assert source_run.metrics["accuracy"] > 0.98
    transferred, scratch = [], []
    for seed in (1, 2, 3):
        for weights, scores in ((source_run.run_dir, transferred), (None, scratch)):
            run = archspec.train(
                LENET,
                variables={"classes": 5},
                data=digits["tune"],
                weights=weights,
                run_dir=tmp_path / f"{seed}-{weights is not None}",
                verbose=0,
                training={**FINE_TUNE, "seed": seed},
            )
            scores.append(archspec.evaluate(run.run_dir, digits["test"]).accuracy)
            if weights is not None:  # all but the head transfer, and the report says so
                assert run.transfer.text() == (
                    f"transferred 8 of 10 weight tensors from {source_run.run_dir / 'model.keras'} (4 layers by name)\n"
                    "  shape differs: dense_3 (kernel 100x5, bias 5; the source has kernel 100x10, bias 10)\n"
                )
    margins = np.subtract(transferred, scratch)
    print(
        f"digits 5-9 after 32 steps on 500 examples: transferred {np.round(transferred, 3)}, from scratch "
        f"{np.round(scratch, 3)}"
    )
    # Measured on CPU: transferred 0.892, 0.919, 0.888 (mean 0.900); from scratch 0.871, 0.820, 0.837 (mean 0.843).
    assert margins.min() > 0.01 and margins.mean() > 0.03, (transferred, scratch)
    assert min(transferred) > 0.85, transferred


def test_cli_train_with_weights_and_freeze(source_run, digits, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    args = [
        "train",
        LENET,
        "--set",
        "classes=5",
        "--weights",
        str(source_run.run_dir),
        "--freeze",
        "dense_2",
        "--data",
        digits["tune"],
        "--epochs",
        "1",
        "--batch-size",
        "50",
        "--seed",
        "1",
        "--plain",
    ]
    assert main([*args, "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert "transferred 8 of 10 weight tensors" in out and "shape differs: dense_3" in out
    report = json.loads((run / "transfer.json").read_text())
    assert report["tensors_transferred"] == 8 and report["shape_differs"][0]["layer"] == "dense_3"
    assert json.loads((run / "run.json").read_text())["weights"] == str(source_run.run_dir)
    assert archspec.load(run / "spec.yaml").training.freeze == ["dense_2"]
    tuned, source = archspec.load_model(run / "model.keras"), source_run.model
    for name in ("conv_1", "conv_2", "dense_1", "dense_2"):  # frozen: exactly the source's weights
        for a, b in zip(tuned.get_layer(name).get_weights(), source.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    # a bad --freeze name, and --weights with --resume: exit 2, no run folder
    bad = tmp_path / "bad"
    assert main([*args[:7], "dense_7", *args[8:], "--run-dir", str(bad)]) == 2
    assert "cannot freeze 'dense_7'" in capsys.readouterr().err and not bad.exists()
    assert main(["train", "--resume", str(run), "--weights", str(source_run.run_dir)]) == 2
    assert "--weights starts a new run" in capsys.readouterr().err


class Crash(Exception):
    pass


def test_phases_train_in_order_and_resume_across_them(source_run, digits, tmp_path, monkeypatch) -> None:
    """Head alone for an epoch at 1e-2, then everything for two at 1e-3; a run stopped at the phase boundary
    or inside phase 2 resumes to the same weights as one that ran straight through."""
    recipe = {
        "batch_size": 50,
        "seed": 3,
        "phases": [
            {"epochs": 1, "learning_rate": 1e-2, "freeze": ["dense_2"]},
            {"epochs": 2, "learning_rate": 1e-3, "freeze": []},
        ],
    }
    straight = archspec.train(
        LENET,
        variables={"classes": 5},
        data=digits["tune"],
        weights=source_run.run_dir,
        run_dir=tmp_path / "straight",
        verbose=0,
        training=recipe,
    )
    assert [round(row["learning_rate"], 6) for row in straight.history] == [0.01, 0.001, 0.001]
    assert not np.array_equal(
        straight.model.get_layer("conv_1").get_weights()[0], source_run.model.get_layer("conv_1").get_weights()[0]
    )
    assert all(layer.trainable for layer in straight.model.layers)
    with pytest.raises(SpecError, match="the phases add up to 3"):
        archspec.train(
            LENET,
            variables={"classes": 5},
            data=digits["tune"],
            epochs=4,
            run_dir=tmp_path / "no",
            verbose=0,
            training=recipe,
        )

    real_commit = RunDir.commit
    for stop in (1, 2):  # at the boundary, and inside phase 2

        def commit(self, state, save, _stop=stop):
            real_commit(self, state, save)
            if state["epoch"] == _stop:
                raise Crash

        monkeypatch.setattr(RunDir, "commit", commit)
        with pytest.raises(Crash):
            archspec.train(
                LENET,
                variables={"classes": 5},
                data=digits["tune"],
                weights=source_run.run_dir,
                run_dir=tmp_path / f"stop{stop}",
                verbose=0,
                training=recipe,
            )
        monkeypatch.setattr(RunDir, "commit", real_commit)
        if stop == 1:  # phase 1 trained the head alone
            first = archspec.load_model(tmp_path / "stop1" / "checkpoints" / "last.keras")
            np.testing.assert_array_equal(
                first.get_layer("conv_1").get_weights()[0], source_run.model.get_layer("conv_1").get_weights()[0]
            )
        resumed = archspec.train(None, data=digits["tune"], resume=tmp_path / f"stop{stop}", verbose=0)
        assert resumed.resumed_from == stop and [row["epoch"] for row in resumed.history] == [1, 2, 3]
        for a, b in zip(resumed.model.get_weights(), straight.model.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
