"""`archspec search`: the spec's search sections, the static judge, and a study run by two worker processes, one of
them killed mid-trial and the study resumed (one shared fixture: each worker process imports TensorFlow once)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT

import archspec
from archspec.cli import main
from archspec.errors import SpecError
from archspec.spec.loading import loads
from archspec.study.static import census, judge, unreachable

TINY = """
name: tiny
input: [28, 28, 1]
variables: {w: 4, k: 3}
layers:
  - conv: {filters: $w, kernel: $k, stride: 2, activation: relu}
  - pool: {kind: max, size: 2}
  - flatten
  - dense: {units: 10, activation: softmax}
search:
  w: {choice: [2, 4, 6]}
  k: {choice: [3, 29, 31]}
  training.learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
budget: {max_params: 2k}
"""
"""Of its 9 networks, the 3 with a 3x3 kernel are networks at all (29 and 31 are larger than the 28x28 input), and
the widest of those is over the budget: 2 feasible."""
TRIALS = 3
ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}


def test_the_sections_are_validated_and_ignored_by_other_commands(capsys) -> None:
    spec = loads(TINY)
    assert spec.search.root["k"].points() == [3, 29, 31]
    assert spec.budget.max_params == 2000  # `2k`
    without = loads(TINY.split("search:")[0])
    assert archspec.shapes(spec).total_params == archspec.shapes(without).total_params == 1_490
    with pytest.raises(SpecError, match=r"(?s)search.training.optimiser.*did you mean 'optimizer'\?"):
        loads(TINY.replace("training.learning_rate", "training.optimiser"))
    with pytest.raises(SpecError, match=r"low 0.1 is above high 0.01"):
        loads(TINY.replace("[1.0e-3, 1.0e-2]", "[0.1, 0.01]"))


def test_a_candidate_is_judged_statically() -> None:
    spec = loads(TINY)
    source, budget = spec._source, spec.budget
    fine = judge(source, {"w": 4, "k": 3}, budget, {})
    assert fine.feasible and fine.figures["params"] == 1_490
    invalid = judge(source, {"w": 4, "k": 29}, budget, {})
    assert invalid.kind == "invalid" and "larger than its" in invalid.reason
    over = judge(source, {"w": 6, "k": 3}, budget, {})
    assert over.kind == "budget" and "2,000" in over.reason and over.violation > 0
    counted = census(source, spec.search.root, budget, {})
    assert (counted.points, counted.feasible, counted.whole) == (9, 2, True)
    tight = spec.budget.model_copy(update={"max_params": 500})
    error = unreachable(census(source, spec.search.root, tight, {}), tight, source)
    assert error is not None and "the smallest has 750 parameters" in str(error)


def _worker(spec: Path, folder: Path, mnist_dir: Path, log: Path) -> subprocess.Popen[str]:
    args = [
        sys.executable, "-c", "from archspec.cli import run; run()", "search", str(spec), *_options(mnist_dir),
        "--study-dir", str(folder),
    ]  # fmt: skip
    with log.open("w") as out:  # the child holds its own copy of the descriptor
        return subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT, text=True)


def _options(mnist_dir: Path) -> list[str]:
    return [
        "--data", f"idx:{mnist_dir}[:1000]", "--val", f"idx:{mnist_dir}[9000:9200]",
        "--trials", str(TRIALS), "--epochs", "1",
    ]  # fmt: skip


def _training(folder: Path, pid: int | None) -> list[Path]:
    """Run folders of trials being trained (started, not finished), by process `pid` (None: by any other)."""
    found = []
    for claim in (folder / "trials").glob("*.claim"):
        run = claim.with_suffix("")
        held = claim.read_text().strip()
        mine = held == str(pid) if pid is not None else held != str(os.getpid())
        if mine and (run / "run.json").is_file() and not (run / "model.keras").exists():
            found.append(run)
    return found


def _finished_here(folder: Path) -> int:
    """Trials this process has trained to the end."""
    return sum(
        1
        for claim in (folder / "trials").glob("*.claim")
        if claim.read_text().strip() == str(os.getpid()) and (claim.with_suffix("") / "model.keras").exists()
    )


@pytest.fixture(scope="module")
def study(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two workers on one study: a process of its own, and this one (TensorFlow is imported once more, not twice).
    The other process is killed while it trains, once this one has started a trial too; `--resume` then continues."""
    tmp = tmp_path_factory.mktemp("search")
    spec = tmp / "tiny.yaml"
    spec.write_text(TINY)
    folder = tmp / "study"
    other = _worker(spec, folder, mnist_dir, tmp / "other.log")
    while not (folder / "study.json").is_file() and other.poll() is None:  # both would write it: let one
        time.sleep(0.05)
    killed: list[bool] = []

    def kill_when_both_trained() -> None:
        while other.poll() is None:
            here = _training(folder, os.getpid()) or _finished_here(folder)
            if here and _training(folder, other.pid):
                other.send_signal(signal.SIGKILL)
                killed.append(True)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_when_both_trained, daemon=True)
    watcher.start()
    here: list[str] = []
    archspec.search(str(spec), **_keywords(mnist_dir), study_dir=folder, log=here.append)
    other.wait(timeout=120)
    watcher.join(timeout=5)
    lines: list[str] = []
    result = archspec.search(None, resume=folder, log=lines.append)
    return {
        "folder": folder, "result": result, "killed": bool(killed), "lines": lines, "here": here,
        "other": (tmp / "other.log").read_text(),
    }  # fmt: skip


def _keywords(mnist_dir: Path) -> dict[str, object]:
    return {
        "data": f"idx:{mnist_dir}[:1000]",
        "val": f"idx:{mnist_dir}[9000:9200]",
        "trials": TRIALS,
        "epochs": 1,
    }


def test_workers_share_the_total_and_resume_loses_nothing(study: dict[str, object]) -> None:
    folder = study["folder"]
    assert isinstance(folder, Path)
    assert study["killed"], "the first worker was meant to be killed mid-trial"
    with (folder / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    trained = [r for r in rows if r["state"] in ("complete", "pruned")]
    assert len(trained) == TRIALS, rows  # the study's total, across both workers and the resume
    assert len({r["trial"] for r in trained}) == TRIALS
    assert not [r for r in rows if r["state"] == "running"]
    assert any("resuming" in line for line in study["lines"])
    runs = sorted(p.name for p in (folder / "trials").iterdir() if p.is_dir())
    assert runs == sorted(f"trial-{int(r['trial']):04d}" for r in trained)  # one run folder per trained trial
    for run in runs:
        history = json.loads((folder / "trials" / run / "history.json").read_text())
        assert [row["epoch"] for row in history] == [1]  # the killed trial's epoch counted once
    rejected = [r for r in rows if r["state"] == "rejected"]
    assert rejected and all(r["reason"] for r in rejected)  # 7 of the 9 networks are rejected statically
    assert all(int(r["params"]) <= 2000 for r in trained)
    assert "space: 9 networks, 2 feasible" in str(study["other"])
    assert any("rejected (" in line for line in [*study["here"], *study["other"].splitlines()])


def test_the_results(study: dict[str, object], mnist_dir: Path, tmp_path: Path) -> None:
    folder = study["folder"]
    assert isinstance(folder, Path)
    result = study["result"]
    best = result.best
    assert best is not None and best["state"] == "complete"
    svg = (folder / "plot.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<circle") == 2 * TRIALS and "#d62728" in svg
    spec = archspec.load(str(folder / "best.yaml"))
    assert spec.search is None and spec.budget is None  # a plain spec of one network
    assert spec.variables == {"w": int(best["w"]), "k": int(best["k"])}
    code = main(["train", str(folder / "best.yaml"), "--data", f"idx:{mnist_dir}[:200]", "--epochs", "1", "--quiet",
                 "--run-dir", str(tmp_path / "run")])  # fmt: skip
    assert code == 0 and (tmp_path / "run" / "model.keras").is_file()


def test_a_network_trained_before_is_told_again_not_trained(tmp_path: Path) -> None:
    """The sampler proposes a point already trained: it is told that trial's outcome, and nothing is trained."""
    import optuna

    from archspec.study.run import _Worker

    one = TINY.replace("[2, 4, 6]", "[4]").replace("[3, 29, 31]", "[3]")
    spec = loads(one.replace("  training.learning_rate: {float: [1.0e-3, 1.0e-2], log: true}\n", ""))
    main = optuna.create_study(direction="maximize")
    slots = optuna.create_study()
    space = {
        "w": optuna.distributions.CategoricalDistribution([4]),
        "k": optuna.distributions.CategoricalDistribution([3]),
    }
    earlier = optuna.trial.create_trial(params={"w": 4, "k": 3}, distributions=space, value=0.9, user_attrs={"slot": 0})
    main.add_trial(earlier)
    (tmp_path / "trials").mkdir()
    lines: list[str] = []
    config = {"trials": 1, "variables": {}}
    objectives = [("val_accuracy", "max")]
    args = (optuna, main, slots, tmp_path, config, spec.search.root, None, objectives, spec._source, True)
    worker = _Worker(*args, lines.append)
    worker.max_in_a_row = 3
    worker.run()
    again = main.trials[1:]
    assert worker.repeated == 3 and len(again) == 3
    assert all(t.value == 0.9 and t.user_attrs["repeat_of"] == 0 for t in again)
    assert not list((tmp_path / "trials").glob("trial-*/")) and not slots.trials  # nothing trained, no slot taken
    assert "not trained again" in lines[0] and "stopping" in lines[-1]


def test_each_trained_trial_line_shows_the_study_s_progress() -> None:
    from archspec.study.run import progress

    assert progress(0, 20) == "[....................]  0/20"
    assert progress(7, 20) == "[#######.............]  7/20"
    assert progress(20, 20) == "[####################] 20/20"
    assert progress(3, 3, width=6) == "[######] 3/3"
