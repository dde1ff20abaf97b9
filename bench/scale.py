"""How `archspec shapes` scales with spec size: 100, 1,000 and 10,000 layers.

    .venv/bin/python bench/scale.py                    # whole-process time and peak memory per size
    .venv/bin/python bench/scale.py --build            # also archspec.build for 100 and 1,000 layers
    .venv/bin/python bench/scale.py --profile          # cProfile archspec.shapes() on the largest spec

Synthetic specs repeat `conv 3x3 same, 16 filters` + `batchnorm` + `activation relu` on a 32x32x3
input, written as YAML to a temporary directory. Each size is run as a fresh process (median of
-n runs); a 1-layer spec measured in the same run gives the fixed cost (interpreter, imports),
so the marginal time per layer, (t(N) - t(1)) / N, shows whether growth is linear.
Targets: 10,000 layers < 2 s whole process; per-layer time flat from 100 to 10,000.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from _proc import archspec_cmd, fmt_times, machine_note, median, run_child, target

LINEAR = 1.5
"""Largest ratio of marginal per-layer times (largest spec vs the next) still read as linear growth."""

UNIT = [
    "  - conv: {filters: 16, kernel: 3, padding: same}",
    "  - batchnorm",
    "  - activation: relu",
]

IN_PROCESS = """
import time, archspec
t0 = time.perf_counter()
report = archspec.shapes({path!r})
t1 = time.perf_counter()
from archspec.tools.table import layer_table as render
render(report)
t2 = time.perf_counter()
print("T", t1 - t0, t2 - t1, len(report.layers))
"""

BUILD = """
import sys, time
if {limit}:
    sys.setrecursionlimit({limit})
t0 = time.perf_counter()
import archspec, keras
t1 = time.perf_counter()
model = archspec.build({path!r})
t2 = time.perf_counter()
print("T", t1 - t0, t2 - t1, len(model.layers))
"""


def write_spec(directory: Path, n: int) -> Path:
    lines = [f"name: synthetic_{n}", "input: [32, 32, 3]", "layers:"]
    lines += [UNIT[i % 3] for i in range(n)]
    path = directory / f"synthetic_{n}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _top(prof: cProfile.Profile, top: int, keys: tuple[str, ...] = ("tottime", "cumulative")) -> None:
    for key in keys:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(key).print_stats(top)
        body = buf.getvalue()
        print(f"--- top {top} by {key} ---")
        print(body[body.index("   ncalls") :].rstrip())


def profile(path: Path, top: int) -> None:
    """Where the time goes on one spec: an unprofiled stage breakdown, then cProfile of shapes() and render()."""
    import archspec

    try:
        from archspec.tools.table import layer_table as render
    except ImportError:  # the table module moved: profile shapes() alone
        render = None
    archspec.shapes(write_spec(path.parent, 10))  # imports and first-call costs out of the way

    stages: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    try:  # parse alone (internal API; skipped if it moves)
        from archspec.spec.read import read

        read(path)
        stages.append(("read (YAML parse + positions)", time.perf_counter() - t0))
    except ImportError:
        pass
    t0 = time.perf_counter()
    spec = archspec.load(path)
    t1 = time.perf_counter()
    archspec.graph_of(spec)
    t2 = time.perf_counter()
    report = archspec.shapes(spec)
    t3 = time.perf_counter()
    stages += [
        ("load = read + validate", t1 - t0),
        ("graph (expand)", t2 - t1),
        ("shapes(model) = expand + infer", t3 - t2),
    ]
    if render is not None:
        render(report)
        stages.append(("render (rich table)", time.perf_counter() - t3))
    print(f"\nstage breakdown on {path.name} (in-process, no profiler):")
    for name, t in stages:
        print(f"  {name:<32} {t:6.3f} s")

    prof = cProfile.Profile()
    prof.enable()
    report = archspec.shapes(path)
    prof.disable()
    print(f"\ncProfile of archspec.shapes({path.name}) (the profiler inflates pure-Python code ~2-3x):")
    _top(prof, top)
    if render is not None:
        prof = cProfile.Profile()
        prof.enable()
        render(report)
        prof.disable()
        print(f"\ncProfile of archspec.tools.table.layer_table(report) for {path.name}:")
        _top(prof, top, ("tottime",))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[100, 1000, 10000],
        help="comma-separated layer counts (default 100,1000,10000)",
    )
    ap.add_argument("-n", "--repeat", type=int, default=3, help="runs per size (default 3)")
    ap.add_argument("--build", action="store_true", help="also time archspec.build for sizes <= 1,000 (imports Keras)")
    ap.add_argument("--profile", action="store_true", help="cProfile archspec.shapes() in-process on the largest size")
    ap.add_argument("--top", type=int, default=20, help="rows of profile output (default 20)")
    args = ap.parse_args()

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    with tempfile.TemporaryDirectory(prefix="archspec-bench-") as tmp:
        d = Path(tmp)
        sizes = sorted(set(args.sizes))
        specs = {n: write_spec(d, n) for n in [1, *sizes]}
        print(f"archspec: {' '.join(archspec_cmd())}; {args.repeat} runs per size, medians; {machine_note()}\n")

        run_child([*archspec_cmd(), "shapes", str(specs[1])], env=env)  # warm-up (.pyc, disk cache)
        rows = {}
        for n, path in specs.items():
            times, rss = [], []
            for _ in range(args.repeat):
                t, m, _ = run_child([*archspec_cmd(), "shapes", str(path)], env=env)
                times.append(t)
                rss.append(m)
            inproc = [
                run_child([sys.executable, "-c", IN_PROCESS.format(path=str(path))], env=env, capture=True)[2]
                for _ in range(args.repeat)
            ]
            parts = [line.split()[1:] for out in inproc for line in out.splitlines() if line.startswith("T ")]
            rows[n] = (
                median(times),
                max(rss),
                times,
                median([float(p[0]) for p in parts]),
                median([float(p[1]) for p in parts]),
            )

        base = rows[1][0]
        print(
            f"{'layers':>7} {'whole process':>14} {'peak RSS':>9} {'per layer':>10} {'marginal/layer':>15} "
            f"{'shapes()':>9} {'render()':>9}  runs"
        )
        for n, (t, rss, times, t_sh, t_re) in rows.items():
            marg = f"{(t - base) / n * 1e3:12.3f} ms" if n > 1 else f"{'(fixed cost)':>15}"
            print(
                f"{n:>7} {t:12.3f} s {rss / 1024:5.0f} MiB {t / n * 1e3:7.3f} ms {marg} {t_sh:7.3f} s {t_re:7.3f} s  "
                f"{fmt_times(times)}"
            )
        ip = {n: rows[n][3] + rows[n][4] for n in rows}
        hi = sizes[-1]
        print()
        growth = {}
        for lo in sizes[:-1]:
            m_lo, m_hi = (rows[lo][0] - base) / lo, (rows[hi][0] - base) / hi
            ip_lo, ip_hi = (ip[lo] - ip[1]) / lo, (ip[hi] - ip[1]) / hi
            growth[lo] = m_hi / m_lo
            print(
                f"per-layer ratio {hi:,} vs {lo:,}: marginal whole-process {m_hi / m_lo:.2f}x, "
                f"marginal in-process shapes()+render() {ip_hi / ip_lo:.2f}x  (1.0 = linear; {hi // lo}x = quadratic)"
            )
        if 10000 in rows:
            t = rows[10000][0]
            target(
                "`archspec shapes` on a 10,000-layer spec under 2 s (whole process)",
                f"{t:.2f} s",
                f"median of {args.repeat}",
                t < 2,
            )
        if growth:
            lo = max(growth)
            target(
                f"... linear growth: marginal time per layer, {hi:,} vs {lo:,} layers, at most {LINEAR}x",
                f"{growth[lo]:.2f}x",
                f"1.0 is linear, {hi // lo}x quadratic",
                growth[lo] <= LINEAR,
            )

        if args.profile:
            profile(specs[sizes[-1]], args.top)

        if args.build:
            print(f"\narchspec.build (fresh process each, median of {args.repeat}):")
            print(f"{'layers':>7} {'whole process':>14} {'peak RSS':>9} {'import':>8} {'build()':>8} {'per layer':>10}")
            built: dict[int, tuple[float, float]] = {}
            for n in [s for s in sizes if s <= 1000]:
                for limit in (0, 20000):  # 0: Python's default recursion limit; retried raised only on failure
                    try:
                        res = [
                            run_child(
                                [sys.executable, "-c", BUILD.format(path=str(specs[n]), limit=limit)],
                                env=env,
                                capture=True,
                            )
                            for _ in range(args.repeat)
                        ]
                    except RuntimeError as exc:
                        last = str(exc).strip().splitlines()[-1]
                        print(f"{n:>7} FAILED: {last}  -> retrying with sys.setrecursionlimit(20000)")
                        continue
                    parts = [
                        line.split()[1:] for _, _, out in res for line in out.splitlines() if line.startswith("T ")
                    ]
                    t_imp, t_b = median([float(p[0]) for p in parts]), median([float(p[1]) for p in parts])
                    note = f"  (recursion limit {limit})" if limit else ""
                    print(
                        f"{n:>7} {median([r[0] for r in res]):12.3f} s {max(r[1] for r in res) / 1024:5.0f} MiB "
                        f"{t_imp:6.2f} s {t_b:6.2f} s {t_b / n * 1e3:7.2f} ms{note}"
                    )
                    built[n] = (t_b, t_imp)
                    break
            if built:
                target(
                    "`archspec.build` of the synthetic specs",
                    ", ".join(f"{n:,} layers {t:.2f} s" for n, (t, _) in built.items()),
                    f"plus {median([i for _, i in built.values()]):.1f} s to import Keras",
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
