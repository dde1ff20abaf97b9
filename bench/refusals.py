"""How fast bad input is refused: every adversarial case (tests/adversarial/) and the hostile
inputs of tests/test_safety.py, each through the CLI in this process.

    .venv/bin/python bench/refusals.py          # median of 3 runs per case
    .venv/bin/python bench/refusals.py -n 5

Keras is imported once, untimed, before anything is measured (the model-file cases load it;
its import is start-up, not refusal). Target: every case refused (exit 2) in under a second;
the 60,000-repeat expansion (refused at 100,000 layers) included.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import test_adversarial as corpus  # noqa: E402  (the corpus' own reading of its cases)
from test_safety import LAUGHS  # noqa: E402  (tests/ is on the path only from the line above)

from archspec.cli import main  # noqa: E402  (the checkout first on the path, above)
from archspec.keras_side.backend import keras  # noqa: E402  (the same)

TARGET = 1.0


def hostile(folder: Path) -> dict[str, list[str]]:
    """test_safety's inputs, written as files, with the CLI arguments that refuse them."""
    files = {
        "billion_laughs.yaml": LAUGHS,
        "deep_lists.yaml": "[" * 10_000 + "]" * 10_000,
        "deep_mappings.yaml": "{a: " * 10_000 + "}" * 10_000,
        "deep_indentation.yaml": "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 1_000)),
        "deep.json": "[" * 10_000 + "]" * 10_000,
        "huge_expansion.json": (
            '{"name": "x", "input": [8, 8, 1], "layers": [{"repeat": {"times": 60000, "layers": '
            '[{"conv": {"filters": 1, "kernel": 1}}, "batchnorm"]}}]}'
        ),
    }
    out = {}
    for name, text in files.items():
        (folder / name).write_text(text)
        out[name] = ["validate", str(folder / name)]
    big = folder / "hundred_megabytes.yaml"
    with open(big, "w") as f:
        f.write("name: x\ninput: [8, 8, 1]\nlayers:\n" + "  - dropout: 0.1\n" * (100 * 1024 * 1024 // 17))
    out[big.name] = ["validate", str(big)]
    return out


def timed(args: list[str]) -> tuple[float, int]:
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    return time.perf_counter() - start, code


def main_() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="runs per case (median)")
    n = parser.parse_args().n
    keras()
    print(f"load average {os.getloadavg()[0]:.2f}; median of {n} runs per case; target < {TARGET:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = {p.name: corpus.arguments(p, folder) for p in corpus.CASES} | hostile(folder)
        rows = []
        for name, args in cases.items():
            runs = [timed(args) for _ in range(n)]
            rows.append((statistics.median(t for t, _ in runs), name, {code for _, code in runs}))
    slow = [r for r in rows if r[0] >= TARGET]
    wrong = [r for r in rows if r[2] != {2}]
    for seconds, name, codes in sorted(rows, reverse=True)[:10]:
        print(f"{seconds * 1000:9.1f} ms  {name}  exit {sorted(codes)}")
    print(
        f"{len(rows)} cases: slowest {max(r[0] for r in rows) * 1000:.1f} ms, median "
        f"{statistics.median(r[0] for r in rows) * 1000:.1f} ms; "
        f"{len(slow)} over {TARGET:.0f} s; {len(wrong)} not exit 2"
    )
    return 1 if slow or wrong else 0


if __name__ == "__main__":
    sys.exit(main_())
