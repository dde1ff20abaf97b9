"""Training recipes (issue 29): gradient accumulation, the caller's Keras callbacks, MLflow as a logger, several-output
epochs timed like single-output ones, and `predict` through Keras' compiled predict function.

Everything trains tiny networks on a few dozen synthetic examples for one or two epochs; the one MLflow run is a real
one, in a SQLite store under the test's folder, read back with MLflow's own client.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import archspec
from archspec.spec.loading import coerce
from archspec.training import recipe
from archspec.training.config import resolve_training

TWO_OUT = {
    "name": "two_out",
    "input": [8, 8, 1],
    "outputs": {"digit": "digit", "size": "size"},
    "layers": [
        {"conv": {"filters": 2, "kernel": 3, "padding": "same", "activation": "relu", "name": "features"}},
        {"flatten": {"name": "flat"}},
        {"dense": {"units": 3, "activation": "softmax", "name": "digit"}},
        {"dense": {"units": 1, "input": "flat", "name": "size"}},
    ],
    "training": {"heads": {"size": "regression"}, "batch_size": 16, "epochs": 1, "seed": 5, "log": ["mlflow"]},
}

ONE_OUT = {
    "name": "one_out",
    "input": [6, 6, 1],
    "layers": [
        {"conv": {"filters": 2, "kernel": 3, "activation": "relu", "name": "c"}},
        {"flatten": {"name": "f"}},
        {"dense": {"units": 3, "activation": "softmax", "name": "out"}},
    ],
    "training": {"optimizer": "sgd", "learning_rate": 0.5, "schedule": "cosine", "seed": 2, "epochs": 2},
}


def two_out_data(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (n, 8, 8)).astype(np.uint8)
    return {"input": image, "digit": rng.integers(0, 3, n), "size": image.mean(axis=(1, 2))[:, None]}


class Epochs(keras.callbacks.Callback):
    """Records each epoch it is told of, and what the run folder had committed by then."""

    def __init__(self, history: Path) -> None:
        super().__init__()
        self.history_file = history
        self.seen: list[tuple[int, int]] = []

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.seen.append((epoch + 1, len(json.loads(self.history_file.read_text()))))


@pytest.fixture(scope="module")
def two_out(tmp_path_factory: pytest.TempPathFactory):
    """One epoch of a two-output network, logged to MLflow (a SQLite store beside the run folder), with a callback."""
    folder = tmp_path_factory.mktemp("two_out")
    np.savez(folder / "train.npz", **two_out_data(48, 0))
    lines: list[str] = []
    spy = Epochs(folder / "runs" / "run" / "history.json")
    uri = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        result = archspec.train(
            TWO_OUT,
            data=str(folder / "train.npz"),
            run_dir=folder / "runs" / "run",
            verbose=2,
            log=lines.append,
            callbacks=[spy],
        )
    finally:
        if uri is not None:
            os.environ["MLFLOW_TRACKING_URI"] = uri
    return folder, result, lines, spy


def test_the_callers_callbacks_see_each_committed_epoch(two_out):
    _, _, _, spy = two_out
    assert spy.seen == [(1, 1)]  # called for epoch 1, after history.json held it


def test_a_callback_that_is_not_a_keras_callback_is_refused(tmp_path):
    with pytest.raises(archspec.SpecError, match="callbacks\\[0\\] is a str, not a Keras callback"):
        archspec.train(ONE_OUT, data=(np.zeros((4, 6, 6, 1)), np.zeros(4, np.int64)), callbacks=["print"], verbose=0)


def test_several_output_epochs_report_images_per_second(two_out):
    _, result, lines, _ = two_out
    entry = result.history[-1]
    assert entry["images_per_second"] > 0 and entry["input_images_per_second"] > 0 and 0 <= entry["input_wait"] <= 1
    (line,) = [text for text in lines if text.startswith("epoch 1/1")]
    assert " img/s (input " in line
    assert result.metrics["examples_per_second"] > 0


def test_mlflow_holds_the_recipe_every_epoch_and_the_run_folder(two_out):
    from mlflow.tracking import MlflowClient

    folder, result, lines, _ = two_out
    note = json.loads((result.run_dir / "mlflow.json").read_text())
    assert note["tracking_uri"] == f"sqlite:///{folder / 'runs' / 'mlflow.db'}"
    assert any(text == f"mlflow: run {note['run_id']} in {note['tracking_uri']}" for text in lines)
    client = MlflowClient(tracking_uri=note["tracking_uri"])
    run = client.get_run(note["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["training.batch_size"] == "16" and run.data.params["seed"] == "5"
    assert run.data.params["training.heads.size.task"] == "regression"
    (loss,) = client.get_metric_history(note["run_id"], "loss")
    assert loss.step == 1 and loss.value == pytest.approx(result.history[0]["loss"])
    assert run.data.metrics["images_per_second"] == pytest.approx(result.history[0]["images_per_second"])
    assert run.data.tags["final.epochs_completed"] == "1"
    logged = {a.path for a in client.list_artifacts(note["run_id"])}
    assert {"model.keras", "history.csv", "run.json", "spec.yaml", "tensorboard"} <= logged
    assert "checkpoints" not in logged


def test_mlflow_missing_is_one_error_naming_the_extra(tmp_path, monkeypatch):
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else found(name, *a))
    with pytest.raises(archspec.SpecError) as caught:
        archspec.train(TWO_OUT, data=str(tmp_path / "none.npz"), run_dir=tmp_path / "run", verbose=0)
    assert caught.value.problems[0].message == "training.log names mlflow, which is not installed"
    assert "pip install 'archspec[mlflow]'" in (caught.value.hint or "")
    assert not (tmp_path / "run").exists()


def test_predict_goes_through_the_compiled_predict_function(two_out, monkeypatch, recwarn):
    folder, result, _, _ = two_out
    calls: list[int] = []
    original = keras.Model.predict_on_batch

    def counted(self: Any, x: Any) -> Any:
        calls.append(1)
        return original(self, x)

    monkeypatch.setattr(keras.Model, "predict_on_batch", counted)
    np.save(folder / "ask.npy", two_out_data(3, 1)["input"])
    answers = archspec.predict(result.run_dir, folder / "ask.npy")
    assert len(answers) == 3 and len(calls) == 3
    assert not [w for w in recwarn if "structure" in str(w.message)]


# ----------------------------------------------------------------------------- gradient accumulation


def weights(result: Any) -> list[np.ndarray]:
    return [np.asarray(w) for w in result.model.get_weights()]


def test_accumulated_batches_make_the_update_of_one_batch_their_size(tmp_path):
    """16 examples: one batch of 16 per update, or two of 8 accumulated. An update's gradient is then the mean over
    the same 16 examples whatever their order, so both runs end with the same weights (a cosine schedule over 2
    epochs: each update takes the rate of its first batch)."""
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 256, (16, 6, 6, 1)).astype(np.uint8), rng.integers(0, 3, 16))
    common = {"verbose": 0, "data": data}
    whole = archspec.train(ONE_OUT, run_dir=tmp_path / "whole", training={"batch_size": 16}, **common)
    halves = archspec.train(ONE_OUT, run_dir=tmp_path / "halves", training={"batch_size": 8, "accumulate": 2}, **common)
    for a, b in zip(weights(whole), weights(halves), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert [r["learning_rate"] for r in halves.history] == [r["learning_rate"] for r in whole.history]


def test_accumulation_settings_reach_the_optimizer():
    spec = coerce(ONE_OUT)
    training = resolve_training(spec, {"accumulate": 4, "ema": {"decay": 0.9}})
    optimizer = recipe.make_optimizer(training, steps_per_epoch=8)
    assert optimizer.gradient_accumulation_steps == 4
    assert optimizer.ema_momentum == pytest.approx(0.9**0.25)  # 0.9 per update of 4 batches
    assert optimizer._learning_rate.accumulate == 4


def test_the_script_skips_the_teardown_once_tensorflow_is_loaded(monkeypatch, capsys):
    """`archspec train` used to spend seconds after its last epoch in the interpreter's teardown of TensorFlow: the
    script ends with os._exit, its output flushed, once a command has loaded TensorFlow (as here: keras is imported)."""
    from archspec.cli import group

    exits: list[int] = []

    def main() -> int:
        print("last line", end="")  # unflushed until the script flushes it
        return 3

    monkeypatch.setattr(group, "main", main)
    monkeypatch.setattr(os, "_exit", exits.append)
    monkeypatch.setattr(logging, "shutdown", lambda: None)  # pytest's own handlers stay open
    group.run()
    assert exits == [3] and capsys.readouterr().out == "last line"
