"""Batch norm after a short run (issue 24): the moving statistics recomputed at each epoch's end (``precise_bn``).

The network here has batch normalisations at Keras' momentum 0.99. Trained for 141 steps on 3,000 real MNIST digits,
its moving averages still hold 0.99^141 = 24 % of their starting values (mean 0, variance 1). Without recalibration,
inference-mode accuracy on held-out digits is about 0.2 against 0.97 in training. With the defaults it is about 0.95.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import archspec
from archspec.training import callbacks, config, precise_bn
from archspec.training.data import pipeline

SPEC = """
name: bnnet
input: [28, 28, 1]
defaults:
  conv: {bn: true, activation: relu}
layers:
  - conv: {filters: 32, kernel: 3}
  - pool: max
  - conv: {filters: 32, kernel: 3}
  - pool: max
  - flatten
  - dense: {units: 10, activation: softmax}
"""
RECIPE = {"epochs": 3, "batch_size": 64, "learning_rate": 3e-3, "schedule": "cosine", "seed": 1}


def mnist(mnist_dir: Path, part: str) -> str:
    return f"idx:{mnist_dir}{part}"


def _train(mnist_dir: Path, folder: Path, **overrides) -> tuple[archspec.training.run.TrainResult, list[str]]:
    lines: list[str] = []
    result = archspec.train(
        archspec.loads(SPEC),
        data=mnist(mnist_dir, "[:3000]"),
        val=mnist(mnist_dir, "[9000:]"),
        run_dir=folder,
        verbose=2,
        log=lines.append,
        training={**RECIPE, **overrides},
    )
    return result, lines


@pytest.fixture(scope="module")
def runs(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The same run with the defaults and with recalibration off."""
    root = tmp_path_factory.mktemp("precise_bn")
    return {"on": _train(mnist_dir, root / "on"), "off": _train(mnist_dir, root / "off", precise_bn=False)}


# ----------------------------------------------------------------------------- a short run on real MNIST


def test_a_short_bn_run_predicts_well_with_the_defaults(runs, mnist_dir: Path) -> None:
    result, lines = runs["on"]
    assert result.metrics["val_accuracy"] >= 0.93, result.history
    assert all(row["val_accuracy"] >= 0.85 for row in result.history), result.history  # every epoch, not only the last
    evaluation = archspec.evaluate(result.run_dir, mnist(mnist_dir, "[9000:]"))  # the saved model, as a user asks it
    assert evaluation.accuracy == pytest.approx(result.metrics["val_accuracy"], abs=1e-4)
    best = archspec.evaluate(result.paths["best"], mnist(mnist_dir, "[9000:]"), spec=result.paths["spec"])
    assert best.accuracy >= 0.93
    assert any("statistics of 2 layers are recomputed from 2,944 training images" in line for line in lines), lines
    assert not any("far below" in line for line in lines), lines


def test_recalibration_changes_no_training_step(runs) -> None:
    """It draws no random numbers and runs no training step: the losses are those of the run without it."""
    on, off = runs["on"][0].history, runs["off"][0].history
    assert [row["loss"] for row in on] == [row["loss"] for row in off]
    assert [row["accuracy"] for row in on] == [row["accuracy"] for row in off]


def test_without_recalibration_the_run_says_what_is_wrong(runs) -> None:
    result, lines = runs["off"]
    assert result.metrics["val_accuracy"] < 0.5  # the failure the defaults fix: this is why it is on
    static = [line for line in lines if line.startswith("warning: 2 batch normalisations")]
    assert len(static) == 1, lines
    assert "momentum 0.99: moving averages over about 100 steps, and this run has 141;" in static[0]
    assert "24.24% of their starting values" in static[0] and "train at least 1,000 steps" in static[0]
    assert lines.index(static[0]) < next(
        i for i, line in enumerate(lines) if line.startswith("epoch 1/3")
    )  # before training
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert all(line.endswith("(validation far below training)") for line in epochs), epochs
    gap = [line for line in lines if line.startswith("warning: validation accuracy far below")]
    assert len(gap) == 1, lines  # explained once
    assert "batch normalisations use their moving statistics" in gap[0] and "--precise-bn" in gap[0]


def test_run_json_records_the_setting(runs) -> None:
    on = json.loads(runs["on"][0].paths["run_json"].read_text())
    off = json.loads(runs["off"][0].paths["run_json"].read_text())
    assert on["precise_bn"] == {"enabled": True, "batches": 100, "images": 2944}
    assert off["precise_bn"] == {"enabled": False, "batches": 100, "images": 0}
    spec = runs["off"][0].paths["spec"].read_text()
    assert "precise_bn:" in spec and "enabled: false" in spec  # the resolved recipe, re-runnable as is


def test_a_resumed_run_ends_as_an_uninterrupted_one(mnist_dir: Path, tmp_path: Path) -> None:
    """The checkpoint holds recalibrated statistics and recalibration draws nothing: resuming changes nothing."""
    common = {
        "data": mnist(mnist_dir, "[:640]"),
        "val": mnist(mnist_dir, "[9000:9256]"),
        "training": {"batch_size": 64, "learning_rate": 3e-3, "seed": 2},
        "verbose": 0,
    }
    straight = archspec.train(archspec.loads(SPEC), epochs=2, run_dir=tmp_path / "straight", **common)
    archspec.train(archspec.loads(SPEC), epochs=1, run_dir=tmp_path / "part", **common)
    resumed = archspec.train(None, resume=tmp_path / "part", epochs=2, verbose=0)
    assert [row["val_loss"] for row in resumed.history] == [row["val_loss"] for row in straight.history]
    model = archspec.load_model(resumed.paths["model"])
    for a, b in zip(model.get_weights(), archspec.load_model(straight.paths["model"]).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # what model.keras holds are the statistics of its own weights on the run's calibration images
    from archspec.training.data import read_idx

    x = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:640, :, :, None].astype("float32") / 255
    order = pipeline.calibration_order(640, 64, 100, seed=2)
    saved = _statistics(model)
    precise_bn.recalibrate(model, [x[order[i : i + 64]] for i in range(0, len(order), 64)])
    for a, b in zip(saved, _statistics(model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


# ----------------------------------------------------------------------------- the recalibration itself


def _model(text: str) -> object:
    import keras

    keras.utils.set_random_seed(3)
    return archspec.build(archspec.loads(text))


BN_NET = """
name: two_bn
input: [12, 12, 3]
layers:
  - conv: {filters: 6, kernel: 3, bn: true, activation: relu}
  - conv: {filters: 5, kernel: 3, bn: true, activation: relu}
  - pool: global_avg
  - dense: {units: 4, activation: softmax}
"""


def _batches(seed: int = 0, count: int = 4, size: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 1, (size, 12, 12, 3)).astype("float32") * (1 + i) for i in range(count)]


def _bns(model) -> list:
    return precise_bn.updating(model)


def test_recalibrated_statistics_are_the_average_batch_statistics() -> None:
    import keras

    model = _model(BN_NET)
    batches = _batches()
    first = _bns(model)[0]
    conv = keras.Model(model.input, first.input)  # the first normalisation's input: a convolution, no randomness
    means = [np.asarray(conv(b)).reshape(-1, 6).mean(0) for b in batches]
    variances = [np.asarray(conv(b)).reshape(-1, 6).var(0) for b in batches]

    # Keras' own training step, momentum 0, on a copy: each batch's statistics as the layer computes them
    reference = _model(BN_NET)
    reference.set_weights(model.get_weights())
    for layer in _bns(reference):
        layer.momentum = 0.0
    expected = [[0.0, 0.0] for _ in _bns(reference)]
    for b in batches:
        reference(b, training=True)
        for e, layer in zip(expected, _bns(reference), strict=True):
            e[0] += np.asarray(layer.moving_mean) / len(batches)
            e[1] += np.asarray(layer.moving_variance) / len(batches)

    assert precise_bn.recalibrate(model, batches) == len(batches)
    np.testing.assert_allclose(np.asarray(first.moving_mean), np.mean(means, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(first.moving_variance), np.mean(variances, 0), rtol=1e-4, atol=1e-6)
    for (mean, var), layer in zip(expected, _bns(model), strict=True):
        np.testing.assert_allclose(np.asarray(layer.moving_mean), mean, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(np.asarray(layer.moving_variance), var, rtol=1e-4, atol=1e-6)
    for layer in _bns(model):  # put back as it was: Keras' momentum, the class's own call
        assert layer.momentum == 0.99 and "call" not in vars(layer)
    before = _statistics(model)
    model(batches[0], training=False)  # inference mode after it: nothing moves
    assert all(np.array_equal(a, b) for a, b in zip(before, _statistics(model), strict=True))


def _statistics(model) -> list[np.ndarray]:
    return [np.asarray(v).copy() for layer in _bns(model) for v in (layer.moving_mean, layer.moving_variance)]


def test_other_layers_run_as_in_prediction_and_frozen_ones_keep_theirs() -> None:
    import keras

    text = """
name: dropout_bn
input: [12, 12, 3]
layers:
  - conv: {filters: 6, kernel: 3, bn: true, activation: relu}
  - conv: {filters: 5, kernel: 3}
  - dropout: 0.5
  - bn
  - pool: global_avg
  - dense: {units: 4, activation: softmax}
"""
    model = _model(text)
    frozen, after_dropout = _bns(model)
    frozen.trainable = False
    kept = [np.asarray(frozen.moving_mean).copy(), np.asarray(frozen.moving_variance).copy()]
    batches = _batches(1)
    probe = keras.Model(model.input, after_dropout.input)  # in inference mode: the dropout passes everything through
    inputs = [np.asarray(probe(b, training=False)).reshape(-1, 5) for b in batches]
    precise_bn.recalibrate(model, batches)
    assert _bns(model) == [after_dropout]
    np.testing.assert_array_equal(np.asarray(frozen.moving_mean), kept[0])
    np.testing.assert_array_equal(np.asarray(frozen.moving_variance), kept[1])
    np.testing.assert_allclose(
        np.asarray(after_dropout.moving_mean), np.mean([i.mean(0) for i in inputs], 0), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(after_dropout.moving_variance), np.mean([i.var(0) for i in inputs], 0), rtol=1e-4, atol=1e-6
    )
    again = [np.asarray(after_dropout.moving_mean).copy(), np.asarray(after_dropout.moving_variance).copy()]
    precise_bn.recalibrate(model, batches)  # no random numbers: the same again
    np.testing.assert_array_equal(np.asarray(after_dropout.moving_mean), again[0])


def test_a_failure_midway_leaves_the_model_as_it_was() -> None:
    model = _model(BN_NET)
    before = _statistics(model)

    def broken():
        yield _batches()[0]
        raise RuntimeError("the input broke")

    with pytest.raises(RuntimeError):
        precise_bn.recalibrate(model, broken())
    assert all(np.array_equal(a, b) for a, b in zip(before, _statistics(model), strict=True))
    assert all(layer.momentum == 0.99 and "call" not in vars(layer) for layer in _bns(model))


def test_calibration_order_is_seeded_full_batches_without_repeats() -> None:
    order = pipeline.calibration_order(3000, 64, 100, seed=1)
    assert len(order) == 2944 and len(set(order.tolist())) == 2944  # 46 full batches: one pass at most
    assert np.array_equal(order, pipeline.calibration_order(3000, 64, 100, seed=1))
    assert not np.array_equal(order, pipeline.calibration_order(3000, 64, 100, seed=2))
    assert len(pipeline.calibration_order(100_000, 64, 100, seed=1)) == 6400
    assert len(pipeline.calibration_order(40, 64, 100, seed=1)) == 40  # less than a batch: all of it


# ----------------------------------------------------------------------------- the warnings and the setting


def test_the_static_warning_names_momentum_steps_and_remedies() -> None:
    model = _model(BN_NET.replace("bn: true", "bn: {momentum: 0.999}", 1))
    warnings = precise_bn.momentum_warnings(model, 375)
    assert len(warnings) == 2  # one per momentum
    slow = next(w for w in warnings if "momentum 0.999" in w)
    assert (
        "1 batch normalisation (e.g. conv_1_bn) at momentum 0.999: moving averages over about 1,000 steps, and this "
        "run has 375;" in slow
    )
    assert "68.72% of their starting values" in slow and "lower the momentum to 0.97 or less" in slow
    assert "train at least 10,000 steps" in slow
    assert precise_bn.momentum_warnings(model, 100_000) == []
    assert precise_bn.momentum_warnings(_model(BN_NET.replace("bn: true", "bn: {momentum: 0.9}")), 500) == []
    never = precise_bn.momentum_warnings(_model(BN_NET.replace("bn: true", "bn: {momentum: 1.0}")), 10_000)
    assert len(never) == 1 and "never update" in never[0]


def test_the_epoch_line_flags_validation_far_below_training() -> None:
    entry = {
        "epoch": 1,
        "loss": 0.1,
        "accuracy": 0.97,
        "val_loss": 3.0,
        "val_accuracy": 0.32,
        "learning_rate": 1e-3,
        "seconds": 1.0,
    }
    assert callbacks.accuracy_gaps(entry) == [("accuracy", 0.97, 0.32)]
    assert callbacks.accuracy_gaps({**entry, "val_accuracy": 0.75}) == []  # ordinary overfitting
    assert callbacks.accuracy_gaps({**entry, "accuracy": 0.32, "val_accuracy": 0.1}) == [
        ("accuracy", 0.32, 0.1)
    ]  # chance
    assert callbacks.accuracy_gaps({**entry, "accuracy": 0.15, "val_accuracy": 0.05}) == []  # too little to tell
    heads = {
        "epoch": 1,
        "digit_accuracy": 0.9,
        "val_digit_accuracy": 0.2,
        "size_accuracy": 0.9,
        "val_size_accuracy": 0.85,
    }
    assert callbacks.accuracy_gaps(heads) == [("digit_accuracy", 0.9, 0.2)]
    assert callbacks.accuracy_gaps({"epoch": 1, "accuracy": 0.97}) == []  # no validation data


def test_the_setting_takes_its_short_forms_and_dotted_overrides() -> None:
    spec = archspec.loads(SPEC + "training: {precise_bn: false}\n")
    assert config.resolve_training(spec).precise_bn.enabled is False
    assert config.resolve_training(spec, {"precise_bn.enabled": True}).precise_bn.enabled is True
    assert config.resolve_training(spec, {"precise_bn": 20}).precise_bn.batches == 20
    assert config.resolve_training(archspec.loads(SPEC)).precise_bn.model_dump() == {"enabled": True, "batches": 100}


def test_the_command_line_turns_it_off(mnist_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from archspec.cli import main

    spec = tmp_path / "bnnet.yaml"
    spec.write_text(SPEC)
    code = main(
        [
            "train",
            str(spec),
            "--data",
            mnist(mnist_dir, "[:256]"),
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--no-precise-bn",
            "--run-dir",
            str(tmp_path / "run"),
            "--plain",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert (
        "warning: 2 batch normalisations (e.g. conv_1_bn) at momentum 0.99: moving averages over about 100 steps, and "
        "this run has 4;" in out
    )
    assert json.loads((tmp_path / "run" / "run.json").read_text())["precise_bn"]["enabled"] is False


def test_run_folders_written_before_the_setting_still_resume() -> None:
    """Run folders record the training digest their version computed; fields added since (precise_bn, accumulate,
    log, the augmentation layers' keys) are left out while at their default, so the digests below, recorded by
    commit 9ff98f7 (before accumulate, log and the layers' keys existed), still match; changed, a field counts."""
    from archspec.spec.training import Training
    from archspec.training import provenance

    recorded = {
        "sha256:d1329be959300058559cb6f5eb526b4357ce9f4f5cc456366392b51e6946b7e3": Training(),
        "sha256:0a2cadaa046795bc97590f77b0ba086f5b6013c0e4f3c2801389b699772be920": Training(
            epochs=3, data={"augment": {"flip": "horizontal", "translate": 2}}
        ),
    }
    for digest, training in recorded.items():
        assert provenance.training_digest(training) == digest
    before = next(iter(recorded))
    assert provenance.training_digest(Training(precise_bn=False)) != before
    assert provenance.training_digest(Training(accumulate=2)) != before
    assert provenance.training_digest(Training(data={"augment": {"zoom": 0.1}})) != before
