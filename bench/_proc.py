"""Shared helpers for the benchmarks: run a child process, time it, read its peak memory, report a target."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROWS_ENV = "ARCHSPEC_BENCH_ROWS"
"""Set by bench/run.py (`make bench`): the file each target() call appends its row to."""


def child_env(env: Mapping[str, str] | None = None, checkout: Path = ROOT) -> dict[str, str]:
    """The environment of a timed child: this checkout's archspec first on the path, bytecode caching on.

    With PYTHONDONTWRITEBYTECODE set, every run would compile archspec's modules again, which a
    pip-installed archspec never does; the console script of an editable install made from another
    checkout would import that checkout's code."""
    out = dict(os.environ if env is None else env)
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(checkout), out.get("PYTHONPATH")]))
    return out


def archspec_cmd() -> list[str]:
    """The `archspec` console script next to this interpreter (or in the repo's .venv), else a -c shim."""
    for candidate in (Path(sys.executable).parent / "archspec", ROOT / ".venv" / "bin" / "archspec"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    return [sys.executable, "-c", "from archspec.cli import run; run()"]


def run_child(
    cmd: list[str], *, env: Mapping[str, str] | None = None, capture: bool = False, checkout: Path = ROOT
) -> tuple[float, int, str]:
    """Run `cmd` to completion. Returns (wall seconds, peak RSS in KiB of that child alone, stdout); see run_usage."""
    wall, _, rss, stdout = run_usage(cmd, env=env, capture=capture, checkout=checkout)
    return wall, rss, stdout


def run_usage(
    cmd: list[str], *, env: Mapping[str, str] | None = None, capture: bool = False, checkout: Path = ROOT
) -> tuple[float, float, int, str]:
    """Run `cmd` to completion. Returns (wall seconds, CPU seconds (user + system), peak RSS in KiB of
    that child alone, stdout).

    os.wait4 gives the rusage of this one child (RUSAGE_CHILDREN would be a running maximum
    over every child so far). Its CPU time is what the process itself did: on a shared machine the
    wall time also holds the time it waited for a core, the CPU time far less. Output goes to files
    (stdout to /dev/null unless capture=True), so neither a terminal nor a pipe adds to the time.
    The child runs `checkout`'s archspec (see child_env).
    """
    env = child_env(env, checkout)
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out if capture else subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)  # reap it ourselves: Popen.wait would not give rusage
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr.decode(errors='replace')[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, stdout.decode(errors="replace")


def repeat(cmd: list[str], n: int, *, env: Mapping[str, str] | None = None) -> tuple[list[float], list[int]]:
    times, rss = [], []
    for _ in range(n):
        t, m, _ = run_child(cmd, env=env)
        times.append(t)
        rss.append(m)
    return times, rss


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_times(xs: list[float]) -> str:
    return ", ".join(f"{x:.3f}" for x in xs)


def machine_note() -> str:
    """Load average and CPU count: a busy machine inflates every figure (the ratios less so)."""
    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    warn = "  WARNING: machine busy, figures inflated/noisy" if load > 0.75 * cpus else ""
    return f"load average {load:.2f} on {cpus} CPUs{warn}"


def target(what: str, value: str, note: str = "", ok: bool | None = None) -> None:
    """Print one target's figure; under `make bench` also record it as a row of BENCHMARKS.md's table.

    `ok` None: a figure without a pass/fail threshold (or one that could not be measured)."""
    verdict = {True: "PASS", False: "FAIL", None: ""}[ok]
    print(f"target: {what}: {value}{f' ({note})' if note else ''}{f' -> {verdict}' if verdict else ''}")
    rows = os.environ.get(ROWS_ENV)
    if rows:
        with open(rows, "a", encoding="utf-8") as f:
            f.write(json.dumps({"target": what, "value": value, "note": note, "ok": ok}) + "\n")


def add_mnist_option(parser: argparse.ArgumentParser) -> None:
    """--mnist DIR: the genuine MNIST test set (IDX files) the digit benchmarks read."""
    parser.add_argument(
        "--mnist", default=str(ROOT.parent / "shared" / "data" / "mnist"), help="folder with t10k-*-ubyte.gz"
    )


def mnist_or_skip(folder: str, what: str) -> Path | None:
    """The MNIST folder, resolved; None (said, and recorded as target `what` not measured) when its files are absent."""
    mnist = Path(folder).resolve()
    if (mnist / "t10k-images-idx3-ubyte.gz").is_file():
        return mnist
    print(f"skipped: the MNIST IDX files are not in {mnist} (give --mnist DIR)")
    target(what, "not measured", f"no MNIST in {mnist}")
    return None
