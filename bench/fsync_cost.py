"""What flushing every write to the disk costs: a LeNet epoch and a ResNet-50 save, with fsync and without.

    .venv/bin/python bench/fsync_cost.py                        # 2 LeNet runs per mode, 5 ResNet-50 saves, 3 builds
    .venv/bin/python bench/fsync_cost.py --runs 3 --saves 7 --builds 0 --mnist ../shared/data/mnist

archspec fsyncs each file before renaming it into place and its folder after (``archspec/files.py``).
The baseline is the same code with those two flushes made no-ops (``files.fsync``, ``files.fsync_folder``),
measured in the same invocation, alternating with the real thing so that a change in machine load hits
both sides:

- LeNet: ``archspec.train`` on the first 8,000 MNIST digits (the last 2,000 validate), batch 32, seed 1,
  3 epochs per run, fsync and baseline runs alternating in one process. Epoch 1 (tracing) is dropped.
  Per epoch: the commit (checkpoint with optimizer state, state.json, last/best links, history) and the
  whole epoch (training and validation, as history.json times it, plus the commit).
- ResNet-50 in-process: one model built from specs/resnet50.yaml, saved with ``save_model`` (what
  ``archspec build`` does), alternating, median of --saves each.
- Inside fsync: the time spent in the flushes themselves during the flushing runs, per epoch and per save:
  the direct cost, which a busy machine blurs far less than the difference of two medians.
- ResNet-50 whole command: ``archspec build specs/resnet50.yaml -o ... --force -q`` as a fresh process,
  alternating, median of --builds each (imports and the build included, so the ratio is diluted).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _proc import ROOT, machine_note, run_child

sys.path.insert(0, str(ROOT))

from archspec import files

NO_FSYNC = """
import sys
from archspec import files
files.fsync = files.fsync_folder = lambda path: None
from archspec.cli import run
sys.argv = ["archspec", *sys.argv[1:]]
run()
"""


FLUSHED: list[float] = []
"""Seconds spent inside each fsync call of the flushing runs: the cost itself, which machine noise does not blur."""


@contextmanager
def flushing(on: bool) -> Iterator[None]:
    real = files.fsync, files.fsync_folder

    def timed(flush: Any) -> Any:
        def call(path: Path) -> None:
            t0 = time.perf_counter()
            flush(path)
            FLUSHED.append(time.perf_counter() - t0)

        return call

    files.fsync, files.fsync_folder = (timed(real[0]), timed(real[1])) if on else (lambda path: None, lambda path: None)
    try:
        yield
    finally:
        files.fsync, files.fsync_folder = real


def lenet(mnist: Path, runs: int) -> dict[bool, dict[str, list[float]]]:
    import archspec
    from archspec.training.rundir import RunDir

    commits: list[tuple[float, float]] = []  # (seconds in the commit, seconds of it inside fsync), per epoch
    real_commit = RunDir.commit

    def timed(self: Any, state: Any, save: Any) -> None:
        t0, flushed = time.perf_counter(), len(FLUSHED)
        real_commit(self, state, save)
        commits.append((time.perf_counter() - t0, sum(FLUSHED[flushed:])))

    RunDir.commit = timed
    out: dict[bool, dict[str, list[float]]] = {on: {"commit": [], "epoch": [], "flush": []} for on in (True, False)}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            for on in (True, False):
                commits.clear()
                with flushing(on):
                    result = archspec.train(
                        str(ROOT / "specs" / "lenet.yaml"),
                        data=f"idx:{mnist}[:8000]",
                        val=f"idx:{mnist}[8000:]",
                        epochs=3,
                        training={"seed": 1, "batch_size": 32},
                        run_dir=Path(tmp) / f"run-{i}-{on}",
                        verbose=0,
                    )
                for row, (commit, flushed) in list(zip(result.history, commits, strict=False))[1:]:
                    out[on]["commit"].append(commit)
                    out[on]["epoch"].append(row["seconds"] + commit)
                    out[on]["flush"].append(flushed)
    RunDir.commit = real_commit
    return out


def resnet_saves(saves: int) -> dict[bool, list[float]]:
    import archspec
    from archspec.keras_side.saving import save_model

    model = archspec.build(ROOT / "specs" / "resnet50.yaml")
    out: dict[bool, list[float]] = {True: [], False: [], "flush": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(saves):
            for on in (True, False):
                start = len(FLUSHED)
                with flushing(on):
                    t0 = time.perf_counter()
                    save_model(model, Path(tmp) / "resnet50.keras", force=True)
                    out[on].append(time.perf_counter() - t0)
                if on:
                    out["flush"].append(sum(FLUSHED[start:]))
        size = (Path(tmp) / "resnet50.keras").stat().st_size
    print(f"ResNet-50 file: {size / 2**20:.1f} MiB ({model.count_params():,} parameters)")
    return out


def resnet_builds(builds: int) -> dict[bool, list[float]]:
    out: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        target = str(Path(tmp) / "resnet50.keras")
        for _ in range(builds):
            for on in (True, False):
                prefix = (
                    [sys.executable, "-c", "from archspec.cli import run; run()"]
                    if on
                    else [sys.executable, "-c", NO_FSYNC]
                )
                wall, _, _ = run_child(
                    [*prefix, "build", "specs/resnet50.yaml", "-o", target, "--force", "-q"],
                    env={**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""},
                )
                out[on].append(wall)
    return out


def line(name: str, on: list[float], off: list[float], unit: float = 1.0, fmt: str = "{:.3f} s") -> str:
    a, b = statistics.median(on) * unit, statistics.median(off) * unit
    return (
        f"{name:<34} fsync {fmt.format(a):>10}   no fsync {fmt.format(b):>10}   ratio {a / b:.3f}x   (n={len(on)} each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="LeNet runs per mode (3 epochs each, the first dropped)")
    parser.add_argument("--saves", type=int, default=5, help="ResNet-50 saves per mode")
    parser.add_argument("--builds", type=int, default=3, help="whole `archspec build` processes per mode (0: skip)")
    parser.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(machine_note())
    if args.runs:
        lenet_figures = lenet(args.mnist, args.runs)
        print(
            line(
                "LeNet commit per epoch",
                lenet_figures[True]["commit"],
                lenet_figures[False]["commit"],
                1000,
                "{:.1f} ms",
            )
        )
        flushed, epoch = (
            statistics.median(lenet_figures[True]["flush"]),
            statistics.median(lenet_figures[True]["epoch"]),
        )
        print(
            f"{'  of which inside fsync':<34} {flushed * 1000:.1f} ms per epoch = {100 * flushed / epoch:.2f} % of the "
            "epoch"
        )
        print(line("LeNet epoch (train + val + commit)", lenet_figures[True]["epoch"], lenet_figures[False]["epoch"]))
    if args.saves:
        saves = resnet_saves(args.saves)
        print(line("ResNet-50 save_model", saves[True], saves[False]))
        flushed = statistics.median(saves["flush"])
        print(
            f"{'  of which inside fsync':<34} {flushed:.3f} s per save = "
            f"{100 * flushed / statistics.median(saves[True]):.1f} % of the save"
        )
    if args.builds:
        builds = resnet_builds(args.builds)
        print(line("ResNet-50 `archspec build` process", builds[True], builds[False]))
    print(machine_note())


if __name__ == "__main__":
    main()
