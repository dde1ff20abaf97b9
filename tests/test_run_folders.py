"""Run folders no fault can corrupt: one writer, full disks, stale temporaries, a resume that trusts only its record.

Most runs here train a small convolutional network (a 500 KB checkpoint) on the first 64 MNIST digits for 3 epochs.
A kill is either real (SIGKILL in a child process, at a rename the child's `os.replace` / `os.rename` reaches) or, for
the fault-injection matrix, simulated: during one seeded run the folder is copied as it stands at each write point,
before and after the rename (exactly what a SIGKILL there would leave on the disk, temporaries included), and each
copy is resumed and must end as the uninterrupted run did.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

import archspec
from archspec.cli import main
from archspec.training.callbacks import TIMING
from archspec.training.rundir import start_folder
from archspec.training.tensorboard import epoch_scalars, logged

SMALL = ROOT / "tests" / "fixtures" / "small_mnist.yaml"
RECIPE = {"epochs": 3, "batch_size": 32, "seed": 4}
CHILD_ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}

# archspec's CLI in a child process, with two test hooks:
#   KILL_AT=NAME:before|after:N  SIGKILL itself at the N-th rename onto a path named NAME (os.replace or os.rename);
#   HOLD=MARKER:GO               after epoch 1 is committed, create MARKER and wait until GO exists.
CHILD = """
import os, signal, sys, time

kill_at = os.environ.get("KILL_AT")
if kill_at:
    name, when, nth = kill_at.split(":")
    seen = [0]

    def hooked(real):
        def rename(src, dst, *args, **kwargs):
            hit = False
            if os.path.basename(os.fspath(dst)) == name:
                seen[0] += 1
                hit = seen[0] == int(nth)
            if hit and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            real(src, dst, *args, **kwargs)
            if hit and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
        return rename

    os.replace, os.rename = hooked(os.replace), hooked(os.rename)

hold = os.environ.get("HOLD")
if hold:
    import keras
    marker, go = hold.split(":")

    class Hold(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                open(marker, "w").close()
                while not os.path.exists(go):
                    time.sleep(0.05)

    fit = keras.Model.fit
    keras.Model.fit = lambda self, *a, callbacks=None, **k: fit(self, *a, callbacks=[*(callbacks or []), Hold()], **k)

from archspec.cli import run
sys.argv = ["archspec", *sys.argv[1:]]
run()
"""


def child(args: list[str], **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        cwd=ROOT,
        env={**CHILD_ENV, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def train_args(mnist_dir: Path, run: Path, part: str = "[:64]") -> list[str]:
    return [
        "train",
        str(SMALL),
        "--data",
        f"idx:{mnist_dir}{part}",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--seed",
        "4",
        "--run-dir",
        str(run),
        "--plain",
    ]


def figures(history: list[dict]) -> list[dict]:
    """An epoch's figures without its timings (``callbacks.TIMING``: wall time and rates), which no two runs share."""
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


def temporaries(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if ".tmp" in p.name or p.name.endswith(".old"))


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
    """The uninterrupted run, and what a kill at each of WRITE_POINTS would have left of it: the folder copied as it
    stood just before and just after that rename (the matrix below resumes each copy). One run makes them all: a kill
    ends a run at the point where the copy is taken, and the run is seeded, so a run killed there would have written
    exactly what this one had written by then."""
    base = tmp_path_factory.mktemp("reference")
    run, real, seen, left = base / "run", os.replace, Counter[str](), {}

    def replace(src, dst, *args, **kwargs):
        name = next((name for name, _ in WRITE_POINTS if Path(dst) == run / name), None)
        if name is not None:
            seen[name] += 1
        point = None if name is None else f"{name}#{seen[name]}"
        if point in KILL_POINTS:
            left[f"{point}-before"] = shutil.copytree(run, base / f"{len(left)}")
        real(src, dst, *args, **kwargs)
        if point in KILL_POINTS:
            left[f"{point}-after"] = shutil.copytree(run, base / f"{len(left)}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", replace)
        result = archspec.train(str(SMALL), data=f"idx:{mnist_dir}[:64]", run_dir=run, verbose=0, training=RECIPE)
    return result, left


@pytest.fixture(scope="module")
def reference(trained):
    """The uninterrupted run every interrupted one must end up equal to."""
    return trained[0]


def assert_same_as(reference, run: Path) -> None:
    """History, final model, checkpoints and TensorBoard of `run` are those of the uninterrupted run."""
    assert figures(json.loads((run / "history.json").read_text())) == figures(reference.history)
    state = json.loads((run / "state.json").read_text())
    assert state["finished"] and state["epoch"] == 3
    for a, b in zip(archspec.load_model(run / "model.keras").get_weights(), reference.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.keras", "epoch-0003.keras", "last.keras"]
    assert temporaries(run) == []
    counts = logged(run / "tensorboard")
    expected = {(split, tag, row["epoch"]) for row in reference.history for split, tag, _ in epoch_scalars(row)}
    assert set(counts) == expected and set(counts.values()) == {1}, "every epoch's scalars in TensorBoard, once"


# ----------------------------------------------------------------------------- the fault-injection matrix


# the file renamed into place, and which of its renames (3 epochs; state.json's 4th is the finished state)
WRITE_POINTS = [
    ("checkpoints/epoch-0002.keras", 1),
    ("state.json", 2),
    ("checkpoints/last.keras", 2),
    ("checkpoints/best.keras", 2),
    ("history.json", 2),
    ("history.csv", 2),
    ("model.keras", 1),
    ("metrics.json", 1),
    ("state.json", 4),
]


KILL_POINTS = {f"{name}#{nth}" for name, nth in WRITE_POINTS}


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("name,nth", WRITE_POINTS, ids=[f"{n}#{i}" for n, i in WRITE_POINTS])
def test_a_run_killed_at_any_write_point_resumes_to_the_uninterrupted_run(trained, tmp_path, name, nth, when):
    reference, killed = trained
    assert f"{name}#{nth}-{when}" in killed, "the run reached this write point"
    left = shutil.copytree(killed[f"{name}#{nth}-{when}"], tmp_path / "left")
    if when == "before":
        assert temporaries(left), "the kill left its temporary, as a SIGKILL does"
    resumed = archspec.train(None, resume=left, verbose=0)
    assert_same_as(reference, left)
    assert resumed.history == json.loads((left / "history.json").read_text())


def test_a_run_killed_by_sigkill_at_a_write_point_resumes(reference, mnist_dir, tmp_path) -> None:
    """The real thing, once: SIGKILL just before epoch 2's state.json is renamed into place."""
    run = tmp_path / "run"
    first = child(train_args(mnist_dir, run), KILL_AT="state.json:before:2")
    out, _ = first.communicate(timeout=600)
    assert first.returncode == -signal.SIGKILL, out
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    assert [p for p in temporaries(run) if p.startswith(".state.")], "the kill left state.json's temporary"
    archspec.train(None, resume=run, verbose=0)  # the kill released the lock
    assert_same_as(reference, run)


def test_a_run_killed_before_its_folder_is_complete_leaves_no_folder(reference, mnist_dir, tmp_path) -> None:
    """Killed while run.json is being written: no half-made run folder (the old dead end: '--resume: not an archspec
    run folder', 'train: exists and is not empty'); a new train into the same --run-dir works and sweeps the remains."""
    run = tmp_path / "run"
    first = child(train_args(mnist_dir, run), KILL_AT="run.json:before:1")
    out, _ = first.communicate(timeout=600)
    assert first.returncode == -signal.SIGKILL, out
    assert not run.exists()
    assert [p.name for p in tmp_path.iterdir()] == [f".run.{first.pid}.tmp"]
    assert main(train_args(mnist_dir, run)) == 0
    assert_same_as(reference, run)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"], "the killed start's temporary folder is gone"


# ----------------------------------------------------------------------------- one writer


def test_a_second_training_on_a_run_folder_is_refused_while_the_first_runs(
    reference, mnist_dir, tmp_path, capsys
) -> None:
    run, marker, go = tmp_path / "run", tmp_path / "epoch-1-done", tmp_path / "go"
    first = child(train_args(mnist_dir, run), HOLD=f"{marker}:{go}")
    try:
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, "the first run never finished epoch 1"
            time.sleep(0.05)
        capsys.readouterr()
        assert main(["train", "--resume", str(run), "--plain"]) == 2
        assert main(train_args(mnist_dir, run)) == 2
        err = capsys.readouterr().err
        assert err.count(f"in use: process {first.pid} is training in this run folder") == 2, err
        assert "Traceback" not in err
        with pytest.raises(archspec.SpecError, match=f"process {first.pid}"):
            archspec.train(None, resume=run, verbose=0)
    finally:
        go.touch()
        out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out
    assert_same_as(reference, run)


def test_a_new_run_folder_follows_a_symlink_and_is_never_the_current_folder(tmp_path, monkeypatch) -> None:
    disk = tmp_path / "disk" / "x"
    disk.mkdir(parents=True)
    link = tmp_path / "x"
    link.symlink_to(disk)
    made, lock = start_folder(link, tmp_path, "net", lambda folder: (folder.root / "run.json").write_text("{}"))
    lock.release()
    assert link.is_symlink() and made.root == disk and (disk / "run.json").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    with pytest.raises(archspec.SpecError, match="is the current folder"):
        start_folder(Path("."), tmp_path, "net", lambda folder: None)
    assert list(empty.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["disk", "empty", "x"]


# ----------------------------------------------------------------------------- full disks

# Run inside a fresh user + mount namespace with a tmpfs at MNT (or, where namespaces are not allowed, on a plain
# folder with ENOSPC injected at the write helper): build a model on a full disk, train until the disk fills at
# epoch 2's checkpoint, free space, resume. Prints what happened as JSON.
FULL_DISK = """
import contextlib, errno, io, json, os, sys, zipfile
from pathlib import Path
from archspec import files
from archspec.cli import main

mnt, mode, spec, data, checkpoint = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
filler = mnt / "filler"
inject = [None]
fsync = files.fsync

def injected(path):
    if inject[0] and inject[0] in path.name:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    fsync(path)

files.fsync = injected

def leave(free, name):
    filler.unlink(missing_ok=True)
    if mode == "tmpfs":
        st = os.statvfs(mnt)
        size = st.f_bavail * st.f_frsize - free
        fd = os.open(filler, os.O_CREAT | os.O_WRONLY)
        os.posix_fallocate(fd, 0, size)
        os.close(fd)
    else:
        inject[0] = name

def call(args):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(args)
    return rc, err.getvalue()

def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p != filler)

out = {}
leave(100_000, "small")
out["build"] = call(["build", spec, "-o", str(mnt / "models" / "small.keras")])
out["build_left"] = listing(mnt / "models") if (mnt / "models").exists() else []
run = mnt / "run"
leave(checkpoint * 3 // 2, "epoch-0002")
out["train"] = call(["train", spec, "--data", data, "--epochs", "3", "--batch-size", "32", "--seed", "4",
                     "--run-dir", str(run), "--plain"])
out["train_left"] = listing(run)
out["state"] = json.loads((run / "state.json").read_text())["epoch"]
out["keras_files_whole"] = all(zipfile.is_zipfile(p) for p in run.rglob("*.keras"))
filler.unlink(missing_ok=True)
inject[0] = None
out["resume"] = call(["train", "--resume", str(run), "--plain"])
out["history"] = json.loads((run / "history.json").read_text())
out["resumed_left"] = listing(run)
print("RESULT " + json.dumps(out))
"""


def namespaces_work() -> bool:
    try:
        return (
            subprocess.run(
                ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True, timeout=30
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_a_full_disk_is_a_clear_message_leaves_nothing_half_written_and_resumes(reference, mnist_dir, tmp_path) -> None:
    """A real full disk (a small tmpfs in a user namespace) where the machine allows one, else ENOSPC injected."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    checkpoint = (reference.run_dir / "checkpoints" / "last.keras").stat().st_size
    mode = "tmpfs" if namespaces_work() else "injected"
    args = [sys.executable, "-c", FULL_DISK, str(mnt), mode, str(SMALL), f"idx:{mnist_dir}[:64]", str(checkpoint)]
    if mode == "tmpfs":
        script = f'mount -t tmpfs -o size=64m tmpfs {mnt} && exec "$@"'
        args = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", *args]
    done = subprocess.run(args, cwd=ROOT, env=CHILD_ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = json.loads(done.stdout.split("RESULT ", 1)[1])

    rc, err = out["build"]
    assert rc == 74 and "Traceback" not in err, err
    assert f"{mnt}/models/small.keras: cannot write: disk full, no space left on device (nothing half-written" in err
    assert "hint: free space and run the command again" in err
    assert out["build_left"] == []

    rc, err = out["train"]
    assert rc == 74 and "Traceback" not in err, err
    stopped = "stopped at epoch 1 of 3: disk full, no space left on device writing checkpoints/epoch-0002.keras"
    assert f"{mnt}/run: {stopped}" in err, err
    assert f"free space and run `archspec train --resume {mnt}/run`" in err
    assert out["state"] == 1 and out["keras_files_whole"]
    assert [p for p in out["train_left"] if "epoch-0002" in p or ".tmp" in p] == []

    rc, err = out["resume"]
    assert rc == 0, err
    assert figures(out["history"]) == figures(reference.history)
    assert [p for p in out["resumed_left"] if ".tmp" in p] == []


# ----------------------------------------------------------------------------- stale temporaries


def test_a_killed_build_leaves_a_temporary_that_the_next_build_there_removes(tmp_path, capsys) -> None:
    models = tmp_path / "models"
    first = child(["build", str(SMALL), "-o", str(models / "small.keras"), "-q"], KILL_AT="small.keras:before:1")
    out, _ = first.communicate(timeout=600)
    assert first.returncode == -signal.SIGKILL, out
    (stale,) = models.iterdir()
    assert stale.name == f".small.{first.pid}.tmp.keras" and stale.stat().st_size > 100_000
    live = models / f".other.{os.getpid()}.tmp.keras"  # a live writer's temporary is left alone
    live.write_bytes(b"in progress")
    assert main(["build", str(SMALL), "-o", str(models / "small2.keras"), "-q"]) == 0
    assert sorted(p.name for p in models.iterdir()) == [live.name, "small2.keras"]


# ----------------------------------------------------------------------------- a resume trusts only what it recorded


TINY = "name: tiny\ninput: [8, 8, 1]\nlayers: [flatten, {dense: {units: 3, activation: softmax}}]\n"


@pytest.fixture()
def small_run(tmp_path):
    """A tiny network trained for 1 epoch on 40 random 8x8 images from an .npz file."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (40, 8, 8, 1), dtype=np.uint8)
    y = rng.integers(0, 3, 40)
    npz = tmp_path / "digits.npz"
    np.savez(npz, x=x, y=y)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    run = tmp_path / "run"
    archspec.train(str(spec), data=str(npz), epochs=1, run_dir=run, verbose=0, training={"batch_size": 10, "seed": 2})
    return run, npz


def test_resume_refuses_a_network_edited_into_the_run_spec(small_run) -> None:
    run, _ = small_run
    spec = run / "spec.yaml"
    assert "softmax" in spec.read_text()
    spec.write_text(spec.read_text().replace("softmax", "sigmoid"))
    with pytest.raises(archspec.SpecError, match="the network in this file was edited after the run started"):
        archspec.train(None, resume=run, epochs=2, verbose=0)


@pytest.mark.parametrize("edit", [("learning_rate: 0.001", "learning_rate: 0.1"), ("epochs: 1", "epochs: 2")])
def test_resume_refuses_training_settings_edited_into_the_run_spec(small_run, edit) -> None:
    run, _ = small_run
    spec = run / "spec.yaml"
    assert edit[0] in spec.read_text()
    spec.write_text(spec.read_text().replace(*edit))
    with pytest.raises(archspec.SpecError, match="the training settings in this file were edited"):
        archspec.train(None, resume=run, verbose=0)
    # comments and layout are not settings
    spec.write_text(spec.read_text().replace(*reversed(edit)) + "# a note\n")
    assert archspec.train(None, resume=run, epochs=2, verbose=0).history[-1]["epoch"] == 2


def test_resume_with_other_data_records_it_per_epoch(small_run, tmp_path) -> None:
    run, npz = small_run
    other = tmp_path / "more.npz"
    rng = np.random.default_rng(9)
    np.savez(other, x=rng.integers(0, 255, (30, 8, 8, 1), dtype=np.uint8), y=rng.integers(0, 3, 30))
    before = json.loads((run / "run.json").read_text())
    archspec.train(None, resume=run, data=str(other), epochs=2, verbose=0)
    record = json.loads((run / "run.json").read_text())
    (change,) = record["changes"]
    assert change["after_epoch"] == 1
    assert change["data"] == [f"npz:{npz}", f"npz:{other}"] and change["epochs"] == [1, 2]
    assert record["data"] == f"npz:{other}" and record["train_examples"] == 30 and record["epochs"] == 2
    assert record["digests"]["data"] != before["digests"]["data"]
    assert archspec.load(run / "spec.yaml").training.epochs == 2


def test_resume_refuses_data_changed_under_its_name_unless_given(small_run) -> None:
    run, npz = small_run
    with np.load(npz) as arrays:
        x, y = arrays["x"], arrays["y"]
    np.savez(npz, x=x, y=(y + 1) % 3)  # relabelled, same name, same count
    with pytest.raises(archspec.SpecError, match="is not the data this run trained on"):
        archspec.train(None, resume=run, epochs=2, verbose=0)
    archspec.train(None, resume=run, data=str(npz), epochs=2, verbose=0)
    (change,) = json.loads((run / "run.json").read_text())["changes"]
    assert "data" not in change and change["data_digest"][0] != change["data_digest"][1]


def test_resume_records_an_explicit_strategy_and_keeps_the_recorded_one(small_run) -> None:
    run, _npz = small_run
    archspec.train(None, resume=run, strategy="one-device", epochs=2, verbose=0)
    record = json.loads((run / "run.json").read_text())
    assert record["strategy"] == "one-device" and record["changes"][-1]["strategy"] == ["auto", "one-device"]
    result = archspec.train(
        None, resume=run, epochs=3, verbose=0
    )  # no --strategy: the recorded one, no change recorded
    assert "OneDevice" in type(result.model.distribute_strategy).__name__
    assert [
        sorted(k for k in c if k not in ("after_epoch", "at", "training_before"))
        for c in json.loads((run / "run.json").read_text())["changes"]
    ] == [["epochs", "strategy"], ["epochs"]]


def test_a_resume_killed_between_recording_epochs_and_rewriting_the_spec_still_resumes(small_run) -> None:
    run, _ = small_run
    spec_before = (run / "spec.yaml").read_text()
    archspec.train(None, resume=run, epochs=2, verbose=0)
    (run / "spec.yaml").write_text(spec_before)  # run.json recorded epochs 1 -> 2, spec.yaml did not follow
    result = archspec.train(None, resume=run, verbose=0)
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert archspec.load(run / "spec.yaml").training.epochs == 2
