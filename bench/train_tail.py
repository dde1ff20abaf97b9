"""The dead time after a run's last epoch: consecutive 1-epoch `archspec train` runs of specs/unet_digits.yaml,
each stdout line timestamped as it arrives.

    .venv/bin/python bench/train_tail.py                       # 10 runs on 320 canvases (about 4 min here)
    .venv/bin/python bench/train_tail.py --runs 4 --before HEAD~1   # and REF's tree, taking turns, same load

Data: 64x64 canvases of genuine MNIST digits (tests/canvases.py, from the t10k IDX files in --mnist), --images of
them, written once to a temporary folder. Each run is `archspec train specs/unet_digits.yaml --data CANVASES.npz
--epochs 1 --seed 1 --plain` in a fresh process (the console script, this checkout's archspec first on the path).
Its stdout is read line by line and each line stamped with time.monotonic() as it arrives; the process's CPU time
(all its threads: /proc/PID/stat) is read when the last epoch line arrives, and again at exit (os.wait4).

Reported per run: the seconds from the last epoch line to each later line ("done: ...") and to the exit, the CPU
seconds the process spent in that tail (the rest of the tail is waiting: for a core on a busy machine, or for a
thread), and whether the run folder held model.keras and run.json at exit. Target (issue 29): every run exits within
2 s of its last epoch line (it was 0-20 s: deleting `fit`'s tf.data iterator waited for the autotuning thread's
sleep; archspec/training/data/tfdata.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _proc import ROOT, add_mnist_option, archspec_cmd, child_env, machine_note, mnist_or_skip, target
from startup import checkout_of

LIMIT = 2.0
"""Seconds from the last epoch line to the exit (issue 29's target)."""
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    exit_after: float
    """Seconds from the last epoch line to the process's exit."""
    cpu: float
    """CPU seconds (user + system, every thread) in that time."""
    later: list[tuple[float, str]] = field(default_factory=list)
    """(seconds after the last epoch line, line) of each line after it."""
    complete: bool = True
    """model.keras and run.json were in the run folder at exit."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process, all its threads (/proc/PID/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def one_run(data: Path, folder: Path, checkout: Path) -> Run:
    """One `archspec train` process, its lines stamped as they arrive."""
    cmd = [*archspec_cmd(), "train", str(ROOT / "specs" / "unet_digits.yaml"), "--data", str(data)]
    cmd += ["--epochs", "1", "--seed", "1", "--plain", "--run-dir", str(folder)]
    env = {**child_env(checkout=checkout), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=ROOT, text=True)
        assert proc.stdout is not None
        lines: list[tuple[float, str]] = []
        last_epoch, cpu_then = None, 0.0
        for line in proc.stdout:
            now = time.monotonic()
            lines.append((now, line.rstrip("\n")))
            if line.startswith("epoch "):
                last_epoch, cpu_then = now, cpu_seconds(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        ended = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        complete = (folder / "model.keras").is_file() and (folder / "run.json").is_file()
        if proc.returncode != 0 or last_epoch is None:
            err.seek(0)
            raise RuntimeError(
                f"{' '.join(cmd)} exited {proc.returncode}:\n{err.read().decode(errors='replace')[-3000:]}"
            )
    later = [(t - last_epoch, text) for t, text in lines if t > last_epoch]
    return Run(ended - last_epoch, usage.ru_utime + usage.ru_stime - cpu_then, later, complete)


def describe(run: Run) -> str:
    steps = "; ".join(f"+{t:.2f} s {text.split(':', 1)[0]}" for t, text in run.later)
    note = "" if run.complete else "; run folder INCOMPLETE at exit"
    return (
        f"exit +{run.exit_after:.2f} s after the last epoch line "
        f"(CPU {run.cpu:.2f} s, waiting {max(run.exit_after - run.cpu, 0.0):.2f} s)"
        f"{'; ' + steps if steps else ''}{note}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mnist_option(parser)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--images", type=int, default=320, help="training canvases (batches of 32)")
    parser.add_argument("--before", metavar="REF", help="also run REF's tree, the two taking turns")
    args = parser.parse_args()
    what = f"unet_digits, {args.runs} consecutive 1-epoch `archspec train` runs: worst seconds from last epoch to exit"
    mnist = mnist_or_skip(args.mnist, what)
    if mnist is None:
        return 0
    sys.path.insert(0, str(ROOT / "tests"))
    import canvases  # the segmentation test's canvases of real digits

    with tempfile.TemporaryDirectory(prefix="archspec-tail-") as tmp:
        folder = Path(tmp)
        data, _ = canvases.write(mnist, folder, train=args.images, test=1)
        trees = {"this tree": ROOT}
        if args.before:
            trees[args.before] = checkout_of(args.before, folder / "before")
        print(machine_note())
        print(f"specs/unet_digits.yaml, {args.images} canvases from {mnist}, 1 epoch, seed 1, {args.runs} runs a tree")
        tails: dict[str, list[Run]] = {name: [] for name in trees}
        for i in range(args.runs):
            for k, (name, tree) in enumerate(trees.items()):
                run = one_run(data, folder / f"run-{i}-{k}", tree)
                tails[name].append(run)
                load = os.getloadavg()[0]
                print(f"  {name} run {i + 1}: {describe(run)} (load {load:.1f})", flush=True)
    for name, runs in tails.items():
        exits = [r.exit_after for r in runs]
        cpu = [r.cpu for r in runs]
        over = sum(x > LIMIT for x in exits)
        print(
            f"{name}: last epoch -> exit median {statistics.median(exits):.2f} s, worst {max(exits):.2f} s, "
            f"{over} of {len(runs)} over {LIMIT:g} s; CPU in the tail median {statistics.median(cpu):.2f} s"
        )
    if args.before:
        ratio = max(r.exit_after for r in tails[args.before]) / max(r.exit_after for r in tails["this tree"])
        print(f"worst tail {args.before} / this tree: {ratio:.1f}x")
    mine = tails["this tree"]
    worst = max(r.exit_after for r in mine)
    complete = all(r.complete for r in mine)
    target(
        what,
        f"{worst:.2f} s",
        f"median {statistics.median(r.exit_after for r in mine):.2f} s, {worst / LIMIT:.2f} of the {LIMIT:g} s limit"
        + ("" if complete else "; a run folder was incomplete at exit"),
        ok=worst <= LIMIT and complete,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
