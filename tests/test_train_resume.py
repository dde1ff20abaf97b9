"""Crash safety: a run killed at any moment resumes with no completed epoch lost and none recorded twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

import archspec
from archspec.cli import main
from archspec.files import temporary_name
from archspec.training import rundir
from archspec.training.callbacks import TIMING
from archspec.training.rundir import RunDir

LENET = str(ROOT / "specs" / "lenet.yaml")


# The run to be killed: archspec's CLI, with a Keras callback that marks the 11th step of the second
# epoch (a file) and then holds the process there, so the kill lands mid-epoch however loaded the
# machine is: the test waits for the marker, not for a guessed number of seconds.
HELD_MID_EPOCH = """
import os, sys, time, keras

class HoldMidEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch >= 10:  # batch: the last step of a call, several steps per call (execution.py)
            open(os.environ["ARCHSPEC_TEST_MARKER"], "w").close()
            time.sleep(3600)

fit = keras.Model.fit
keras.Model.fit = lambda self, *a, callbacks=None, **k: fit(
    self, *a, callbacks=[*(callbacks or []), HoldMidEpoch()], **k
)
from archspec.cli import run
sys.argv = ["archspec", *sys.argv[1:]]
run()
"""


def test_sigkill_mid_epoch_then_resume(mnist_dir, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    marker = tmp_path / "in-epoch-2"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    args = [
        LENET,
        "--data",
        f"idx:{mnist_dir}[:2000]",
        "--val",
        f"idx:{mnist_dir}[9000:9500]",
        "--epochs",
        "4",
        "--seed",
        "5",
        "--run-dir",
        str(run),
        "--plain",
    ]
    first = subprocess.Popen(
        [sys.executable, "-c", HELD_MID_EPOCH, "train", *args],
        cwd=ROOT,
        env={**env, "ARCHSPEC_TEST_MARKER": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not marker.exists():  # the run is now held inside its second epoch
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, "the run never reached its second epoch"
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    done_before = json.loads((run / "state.json").read_text())["epoch"]
    assert done_before == 1, "killed in epoch 2: epoch 1 is committed, epoch 2 is not"
    assert not (run / "model.keras").exists()

    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--plain"]) == 0  # in this process: only the kill needs its own
    assert f"resuming after epoch {done_before} of 4" in capsys.readouterr().out
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert (run / "history.csv").read_text().count("\n") == 5
    state = json.loads((run / "state.json").read_text())
    assert state["finished"] and state["epoch"] == 4
    from archspec.training import recipe  # noqa: F401  (checkpoints hold archspec's schedule: register it)

    model = archspec.load_model(run / "model.keras")
    assert model.count_params() == 63_802
    last = archspec.load_model(run / "checkpoints" / "last.keras")
    assert last.optimizer.iterations.numpy() == 4 * 63  # every step of every epoch (2,000 / 32), once
    assert not list(run.rglob(".*tmp*"))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.keras", "epoch-0004.keras", "last.keras"]


class Crash(Exception):
    pass


def _commit_killed_at(tmp_path: Path, step: int) -> tuple[RunDir, int]:
    """Commit epochs 1..3 with a fake checkpoint writer; 'kill' the process at the step-th file operation."""
    run = RunDir(tmp_path)
    calls = {"n": 0}
    real_replace, real_link = os.replace, os.link

    def counting(fn):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == step:
                raise Crash()
            return fn(*args, **kwargs)

        return wrapper

    def save(path: Path) -> None:
        tmp = temporary_name(path)  # named as every archspec writer names its temporaries
        tmp.write_text(f"weights after {path.stem}")
        os.replace(tmp, path)

    history = []
    committed = 0
    os.replace, os.link = counting(real_replace), counting(real_link)
    try:
        for epoch in (1, 2, 3):
            history.append({"epoch": epoch, "loss": 1.0 / epoch})
            run.commit(
                {
                    "epoch": epoch,
                    "history": list(history),
                    "best": {"epoch": epoch, "monitor": "loss", "value": 1.0 / epoch},
                },
                save,
            )
            committed = epoch
    except Crash:
        pass
    finally:
        os.replace, os.link = real_replace, real_link
    return run, committed


@pytest.mark.parametrize("step", range(1, 25))
def test_commit_protocol_survives_a_kill_at_every_file_operation(tmp_path, step) -> None:
    _run, committed = _commit_killed_at(tmp_path, step)
    state = RunDir(tmp_path).repair()
    if state is None:  # killed before the first commit: nothing recorded, nothing to resume
        assert committed == 0 and not (tmp_path / "state.json").exists()
        return
    epoch = state["epoch"]
    assert epoch in (committed, committed + 1)  # the commit in flight either happened or not
    assert [row["epoch"] for row in state["history"]] == list(range(1, epoch + 1))
    assert json.loads((tmp_path / "history.json").read_text()) == state["history"]
    assert (tmp_path / state["checkpoint"]).read_text() == f"weights after epoch-{epoch:04d}"
    assert (tmp_path / "checkpoints" / "last.keras").read_text() == f"weights after epoch-{epoch:04d}"
    assert (tmp_path / "checkpoints" / "best.keras").read_text() == f"weights after epoch-{epoch:04d}"
    assert not list(tmp_path.rglob(".*tmp*"))
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("epoch-*")) == [f"epoch-{epoch:04d}.keras"]


def test_history_csv_has_every_column() -> None:
    text = rundir.history_csv([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25, "val_loss": 0.3}])
    assert text.splitlines() == ["epoch,loss,val_loss", "1,0.5,", "2,0.25,0.3"]


def test_a_run_folder_written_before_the_preprocessing_plan_resumes_exactly(tmp_path) -> None:
    """`fixtures/legacy-run` was written by archspec 0.1 before the data plan was recorded (validation_split 0.25,
    seed 3, 2 of 3 epochs); `legacy-run-expected.json` is the same run trained for 3 epochs without a stop.
    Resumed now, it keeps its validation examples (the last quarter, as that version split) and its figures."""
    import shutil

    fixtures = Path(__file__).parent / "fixtures"
    run = tmp_path / "run"
    shutil.copytree(fixtures / "legacy-run", run)
    resumed = archspec.train(None, resume=run, data=str(fixtures / "legacy-run-data.npz"), epochs=3, verbose=0)
    expected = json.loads((fixtures / "legacy-run-expected.json").read_text())
    got = [{k: v for k, v in row.items() if k not in TIMING} for row in resumed.history]
    assert [row["epoch"] for row in got] == [1, 2, 3] and resumed.resumed_from == 2
    assert got[:2] == expected[:2]  # the recorded epochs are kept as they were
    for row, want in zip(got[2:], expected[2:], strict=True):
        assert row == pytest.approx(want, rel=1e-5)
    assert resumed.metrics["train_examples"] == 36 and resumed.metrics["val_examples"] == 12
