"""How long `archspec search` takes to judge one candidate statically, on a ResNet-50-sized space (issue 27's target:
a median under 10 ms per rejection), against `archspec shapes`' own work on the same spec in the same run.

    .venv/bin/python bench/search_judge.py [--spec specs/resnet50.yaml] [-n 30]

Each round judges the spec's own network under a budget it breaks (`max_params: 1000`), so every judgement is a
rejection, as `study.static.judge` makes it for each sampled candidate: validate with the candidate's values,
expand, infer, check. The baseline is `archspec.shapes` of the same spec (read, validate, expand, infer): the
judge should cost no more than that, since it is the same work on text already read. No TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archspec  # noqa: E402 (after the path above: the checkout's package)
from archspec.spec.read import parse  # noqa: E402
from archspec.spec.search import Budget  # noqa: E402
from archspec.study.static import judge  # noqa: E402


def median_ms(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(ROOT / "specs" / "resnet50.yaml"))
    parser.add_argument("-n", type=int, default=30, help="rounds of each (after 3 warm-up rounds)")
    args = parser.parse_args()
    source = parse(Path(args.spec).read_text(), args.spec)
    budget = Budget(max_params=1000)
    candidate = judge(source, {}, budget, {})
    assert candidate.kind == "budget", candidate.reason
    for _ in range(3):
        judge(source, {}, budget, {})
        archspec.shapes(args.spec)
    judged = median_ms(lambda: judge(source, {}, budget, {}), args.n)
    shaped = median_ms(lambda: archspec.shapes(args.spec), args.n)
    print(f"{Path(args.spec).name}: {candidate.figures['params']:,} parameters, rejected: {candidate.reason}")
    print(f"judge a candidate: median {judged:.1f} ms over {args.n} rounds (target under 10 ms)")
    print(f"archspec.shapes of the same spec: median {shaped:.1f} ms; judge / shapes {judged / shaped:.2f}x")
    print("PASS" if judged < 10 else "MISS")


if __name__ == "__main__":
    main()
