"""Training recipes of issue 29: EMA of weights, one_cycle and reduce_on_plateau schedules, class weights.

Each is checked by what it does to a tiny real run (300 MNIST digits, a dense network, 1 to 3 epochs) or, for the
one-cycle formula, on the schedule itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import archspec
from archspec.errors import SpecError
from archspec.keras_side.custom import ONE_CYCLE_START, EpochSchedule
from archspec.keras_side.saving import load_model
from archspec.training import weighting
from archspec.training.data import sources

SPEC = """
name: tiny
input: [28, 28, 1]
layers:
  - flatten
  - dense: {units: 16, activation: relu}
  - dense: {units: 10, activation: softmax}
"""
RECIPE = {"epochs": 1, "batch_size": 50, "learning_rate": 0.01, "seed": 3, "precise_bn": False}


def _train(mnist_dir: Path, folder: Path, **overrides):
    return archspec.train(
        archspec.loads(SPEC),
        data=f"idx:{mnist_dir}[:300]",
        val=f"idx:{mnist_dir}[9000:9200]",
        run_dir=folder,
        verbose=0,
        log=lambda line: None,
        training={**RECIPE, **overrides},
    )


def _weights(path: Path) -> list[np.ndarray]:
    return [np.asarray(w) for w in load_model(path).get_weights()]


@pytest.fixture(scope="module")
def plain(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    return _train(mnist_dir, tmp_path_factory.mktemp("plain") / "run")


# ----------------------------------------------------------------------------- EMA


def test_ema_weights_are_what_is_saved_and_differ_from_the_raw_ones(plain, mnist_dir: Path, tmp_path: Path) -> None:
    ema = _train(mnist_dir, tmp_path / "ema", ema={"decay": 0.9})
    saved = _weights(ema.paths["model"])
    raw = _weights(plain.paths["model"])  # the same seed and steps without EMA: the raw weights of the EMA run
    assert any(not np.allclose(a, b) for a, b in zip(saved, raw, strict=True))
    checkpoint = load_model(ema.paths["last"])
    optimizer = checkpoint.optimizer
    assert optimizer.use_ema and math.isclose(optimizer.ema_momentum, 0.9)
    averages = [np.asarray(v) for v in optimizer._model_variables_moving_average]
    assert len(averages) == len(saved)
    for a, b in zip(saved, averages, strict=True):  # model.keras holds the tracked averages
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(_weights(ema.paths["last"]), saved, strict=True):  # and so does the checkpoint validation ran on
        np.testing.assert_allclose(a, b)
    run = json.loads((ema.run_dir / "run.json").read_text())
    assert run["ema"] == {"decay": 0.9}


# ----------------------------------------------------------------------------- schedules


def test_one_cycle_follows_its_formula() -> None:
    peak, low, spe, epochs, at = 0.1, 0.001, 10, 2, 0.25  # 20 steps, the peak at step 5
    for anneal in ("cosine", "linear"):
        s = EpochSchedule(peak, spe, epochs, kind="one_cycle", min_learning_rate=low, peak_at=at, anneal=anneal)
        start = peak / ONE_CYCLE_START
        for step in range(5):
            assert math.isclose(s.value_at(step), start + (peak - start) * step / 5, rel_tol=1e-5)
        for step in range(5, 20):
            f = (step - 5) / 14
            shape = 0.5 * (1 + math.cos(math.pi * f)) if anneal == "cosine" else 1 - f
            assert math.isclose(s.value_at(step), low + (peak - low) * shape, rel_tol=1e-5), (anneal, step)
        assert math.isclose(s.value_at(19), low, rel_tol=1e-5)


def test_reduce_on_plateau_lowers_the_rate_after_a_plateau(mnist_dir: Path, tmp_path: Path) -> None:
    # At 1e-7 the weights barely move, so val_loss cannot improve by Keras' min_delta: the plateau starts at once.
    run = _train(
        mnist_dir,
        tmp_path / "plateau",
        epochs=3,
        learning_rate=1e-7,
        schedule={"kind": "reduce_on_plateau", "factor": 0.5, "patience": 1, "monitor": "val_loss"},
    )
    rates = [row["learning_rate"] for row in run.history]
    assert rates[0] == pytest.approx(1e-7) and rates[1] == pytest.approx(1e-7)
    assert rates[2] == pytest.approx(5e-8), rates


# ----------------------------------------------------------------------------- class weights


def test_balanced_weights_are_n_over_k_count() -> None:
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    weights = weighting.balanced(labels, 4)  # class 3 has no examples: weight 1, and not counted in k
    assert weights == pytest.approx({0: 100 / (3 * 60), 1: 100 / (3 * 30), 2: 100 / (3 * 10), 3: 1.0})


def test_balanced_class_weights_change_training(plain, mnist_dir: Path, tmp_path: Path) -> None:
    weighted = _train(mnist_dir, tmp_path / "balanced", class_weight="balanced")
    run = json.loads((weighted.run_dir / "run.json").read_text())
    counts = np.bincount(sources.load(f"idx:{mnist_dir}[:300]").y, minlength=10)
    assert counts.min() > 0 and counts.max() > counts.min()  # skewed, every class present
    assert run["class_weight"] == pytest.approx({str(i): 300 / (10 * c) for i, c in enumerate(counts)}, rel=1e-5)
    assert weighted.history[0]["loss"] != pytest.approx(plain.history[0]["loss"], rel=1e-6)


def test_a_class_weight_name_the_data_lacks_is_a_located_error(mnist_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        _train(mnist_dir, tmp_path / "bad", class_weight={"seven": 2.0})
    text = str(caught.value)
    assert "class_weight names class 'seven'" in text and "training.class_weight" in text


BN_SPEC = """
name: tinybn
input: [28, 28, 1]
defaults:
  conv: {bn: true, activation: relu}
layers:
  - conv: {filters: 8, kernel: 3}
  - pool: max
  - flatten
  - dense: {units: 10, activation: softmax}
"""


def test_batch_norm_is_recalibrated_with_the_averaged_weights(mnist_dir: Path, tmp_path: Path) -> None:
    import keras

    from archspec.training import precise_bn
    from archspec.training.data import pipeline, read_idx

    run = archspec.train(
        archspec.loads(BN_SPEC),
        data=f"idx:{mnist_dir}[:300]",
        run_dir=tmp_path / "bn",
        verbose=0,
        log=lambda line: None,
        training={**RECIPE, "precise_bn": True, "ema": 0.9},
    )
    model = archspec.load_model(run.paths["model"])
    layers = precise_bn.updating(model)
    saved = [keras.ops.convert_to_numpy(v) for layer in layers for v in (layer.moving_mean, layer.moving_variance)]
    x = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:300, :, :, None].astype("float32") / 255
    order = pipeline.calibration_order(300, 50, 100, seed=3)
    precise_bn.recalibrate(model, [x[order[i : i + 50]] for i in range(0, len(order), 50)])
    again = [keras.ops.convert_to_numpy(v) for layer in layers for v in (layer.moving_mean, layer.moving_variance)]
    for a, b in zip(saved, again, strict=True):  # the saved statistics are those of the saved (averaged) weights
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def test_a_plateau_reduction_survives_a_resume(mnist_dir: Path, tmp_path: Path) -> None:
    common = {
        "learning_rate": 1e-7,
        "schedule": {"kind": "reduce_on_plateau", "factor": 0.5, "patience": 1, "monitor": "val_loss"},
    }
    _train(mnist_dir, tmp_path / "part", epochs=2, **common)  # reduced at epoch 2's end
    resumed = archspec.train(None, resume=tmp_path / "part", epochs=3, verbose=0, log=lambda line: None)
    assert resumed.history[2]["learning_rate"] == pytest.approx(5e-8), resumed.history
