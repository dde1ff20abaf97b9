"""How `archspec draw` grows with the number of layers: near-linear is the target (issue 33).

    .venv/bin/python bench/draw_scale.py                       # 1,000, 2,000 and 10,000 layers
    .venv/bin/python bench/draw_scale.py --before main         # and the same drawings by main's tree, in the same run

Synthetic specs (written to a temporary directory): N layers as a flat list of 1x1 convolutions, and the same N
layers as one `repeat` block (the page draws a block's children in one unit, so both shapes of graph are timed).
Each drawing is `archspec draw SPEC -o out.html` as a whole process; wall time and CPU time (user + system, from
`os.wait4`: a busy machine inflates it less) are printed, with the ratio of each size's CPU time to the smallest
size's: about N / N0 is linear, (N / N0)^2 quadratic. With --before REF the same commands run from REF's tree
(`git archive`) up to --before-max layers (the quadratic code takes minutes past that), and the speed-up is printed.
Target: 10,000 layers drawn in a few seconds of CPU, growth at most 1.5x linear.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _proc import ROOT, archspec_cmd, child_env, machine_note, target
from startup import checkout_of


def write_specs(folder: Path, sizes: list[int]) -> dict[tuple[str, int], Path]:
    out = {}
    for n in sizes:
        flat = folder / f"flat{n}.yaml"
        flat.write_text("name: flat\ninput: [8, 8, 4]\nlayers:\n" + "  - conv: {depth: 4, kernel: 1}\n" * n)
        block = folder / f"block{n}.yaml"
        block.write_text(
            "name: block\ninput: [8, 8, 4]\nlayers:\n  - repeat: "
            f"{{times: {n}, layers: [{{conv: {{depth: 4, kernel: 1}}}}]}}\n"
        )
        out["flat", n], out["block", n] = flat, block
    return out


def draw(spec: Path, checkout: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `archspec draw` by `checkout`'s archspec."""
    cmd = (
        [
            sys.executable,
            "-c",
            "import sys; from archspec.cli import main; sys.exit(main(sys.argv[1:]))",
            "draw",
            str(spec),
            "-o",
            str(out),
            "--force",
        ]
        if checkout != ROOT
        else [*archspec_cmd(), "draw", str(spec), "-o", str(out), "--force"]
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=child_env(None, checkout), cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,2000,10000")
    ap.add_argument("--before", metavar="REF", help="also draw with this git commit's tree")
    ap.add_argument("--before-max", type=int, default=2000, help="largest size drawn with --before's tree")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(machine_note())
    with tempfile.TemporaryDirectory(prefix="archspec-draw-scale-") as tmp:
        folder = Path(tmp)
        specs = write_specs(folder, sizes)
        old = checkout_of(args.before, folder / "before") if args.before else None
        now: dict[tuple[str, int], tuple[float, float]] = {}
        for (shape, n), spec in specs.items():
            now[shape, n] = draw(spec, ROOT, folder / "out.html")
            line = f"{shape:5} {n:6,} layers: {now[shape, n][0]:7.2f} s wall, {now[shape, n][1]:7.2f} s CPU"
            if old is not None and n <= args.before_max:
                then = draw(spec, old, folder / "out.html")
                line += (
                    f"   | {args.before}: {then[0]:7.2f} s wall, {then[1]:7.2f} s CPU "
                    f"({then[1] / now[shape, n][1]:.1f}x the CPU)"
                )
            print(line, flush=True)
        small, big = sizes[0], sizes[-1]
        for shape in ("flat", "block"):
            growth = now[shape, big][1] / now[shape, small][1]
            linear = big / small
            print(
                f"{shape}: CPU({big:,}) / CPU({small:,}) = {growth:.1f} (linear {linear:.0f}, quadratic "
                f"{linear**2:.0f})"
            )
        worst = max(now["flat", big][1], now["block", big][1])
        ratio = max(now[s, big][1] / now[s, small][1] for s in ("flat", "block")) / (big / small)
        target(
            f"archspec draw, {big:,} layers (CPU)",
            f"{worst:.1f} s, growth {ratio:.2f}x linear",
            ok=worst < 10 and ratio <= 1.5,
        )


if __name__ == "__main__":
    main()
