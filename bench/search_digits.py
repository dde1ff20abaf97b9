"""`archspec search` on MNIST digits: a network a quarter of LeNet's size, as accurate, found with static pruning.

    .venv/bin/python bench/search_digits.py                      # 20 trained trials of 3 epochs, both searches
    .venv/bin/python bench/search_digits.py --trials 8 --epochs 2 --no-compare

Data: the MNIST IDX files in --mnist (default ../shared/data/mnist, the t10k set). The first 8,000 digits are the
search's: 6,400 train each trial, 1,600 validate it (what the sampler sees); the last 2,000 are held out, read only
to score the best network at the end, and LeNet (specs/lenet.yaml, 63,802 parameters, 28x28 digits padded to 32x32)
is trained on the same 6,400 with the same recipe (Adam 1e-3, batch 32, the same epochs, seed 1) and scored on the
same 2,000.

The space (SPACE below): two or three convolutions of 4 to 32 filters and kernels 3 to 7, an optional hidden dense
layer, under a budget of a quarter of LeNet's parameters. The search is `archspec.search` (TPE, the median pruner,
static rejection of every candidate over the budget); then the same space is searched with static pruning switched
off (each candidate built in Keras and rejected by count_params, as KerasTuner's max_model_size does) to the same
number of trained trials. Everything runs in this one process: CPU time is this process's (user + system).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from _proc import ROOT, add_mnist_option, machine_note, mnist_or_skip, target

sys.path.insert(0, str(ROOT))

LENET_PARAMS = 63_802
SPACE = f"""
name: digits_small
input: [28, 28, 1]
variables: {{c1: 8, c2: 16, c3: 0, k1: 3, k2: 3, fc: 32}}
layers:
  - conv: {{filters: $c1, kernel: $k1, padding: same, activation: relu}}
  - pool: {{kind: max, size: 2}}
  - conv: {{filters: $c2, kernel: $k2, padding: same, activation: relu}}
  - pool: {{kind: max, size: 2}}
  - conv: {{filters: $c3, kernel: 3, activation: relu, when: $c3 > 0}}
  - flatten
  - dense: {{units: $fc, activation: relu, when: $fc > 0}}
  - dense: {{units: 10, activation: softmax}}
search:
  c1: {{choice: [4, 8, 12, 16]}}
  c2: {{int: [8, 32], step: 8}}
  c3: {{choice: [0, 16, 32]}}
  k1: {{choice: [3, 5, 7]}}
  k2: {{choice: [3, 5]}}
  fc: {{choice: [0, 16, 32, 64]}}
budget: {{max_params: {LENET_PARAMS // 4}}}
objectives: [val_accuracy max]
training: {{seed: 1, batch_size: 32, learning_rate: 0.001, optimizer: adam}}
"""
RECIPE = {"seed": 1, "batch_size": 32, "learning_rate": 1e-3, "optimizer": "adam"}


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mnist_option(parser)
    parser.add_argument("--trials", type=int, default=20, help="trained trials of each search")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1, help="the sampler's seed")
    parser.add_argument("--no-compare", action="store_true", help="skip the search without static pruning")
    args = parser.parse_args()
    what = "search: a net <= 1/4 of LeNet's parameters, held-out accuracy >= LeNet's (MNIST 8,000 / 2,000)"
    mnist = mnist_or_skip(args.mnist, what)
    if mnist is None:
        return 0
    import archspec
    from archspec.study.run import search

    train, val, held = f"idx:{mnist}[:6400]", f"idx:{mnist}[6400:8000]", f"idx:{mnist}[8000:]"
    print(machine_note())
    print(f"MNIST {mnist}: search on 6,400 + 1,600 (validation), held out 2,000; {args.epochs} epochs, Adam 1e-3")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "digits_small.yaml"
        spec.write_text(SPACE)
        started = time.perf_counter()
        lenet = archspec.train(
            str(ROOT / "specs" / "lenet.yaml"), train, val=val, epochs=args.epochs, training=RECIPE,
            run_dir=Path(tmp) / "lenet", verbose=0, log=None,
        )  # fmt: skip
        lenet_held = archspec.evaluate(lenet.run_dir, held).accuracy
        print(
            f"LeNet: {LENET_PARAMS:,} params, val accuracy {lenet.metrics['val_accuracy']:.4f}, held-out "
            f"{lenet_held:.4f} ({time.perf_counter() - started:.0f} s)"
        )
        runs = {}
        for static in (True, False) if not args.no_compare else (True,):
            name = "static" if static else "keras"
            wall, cpu0 = time.perf_counter(), cpu()
            study = search(
                str(spec), train, val=val, trials=args.trials, epochs=args.epochs, study_dir=Path(tmp) / name,
                static=static, seed=args.seed, log=lambda line, name=name: print(f"  [{name}] {line}", flush=True),
            )  # fmt: skip
            runs[name] = (time.perf_counter() - wall, cpu() - cpu0, study)
        wall, cpu_s, study = runs["static"]
        best = study.best
        assert best is not None
        trial = Path(tmp) / "static" / "trials" / f"trial-{best['trial']:04d}"
        best_held = archspec.evaluate(trial, held).accuracy
        rejected = sum(study.rejected.values())
        print(
            f"search (static pruning): {args.trials} trained trials, {rejected} rejected statically "
            f"(median {study.rejection_ms or 0:.1f} ms each), {study.repeated} proposed again after training (not "
            f"retrained), wall {wall / 60:.1f} min, CPU {cpu_s / 60:.1f} min"
        )
        print(
            f"best: trial {best['trial']}, "
            + ", ".join(f"{k} {best[k]}" for k in ("c1", "c2", "c3", "k1", "k2", "fc"))
            + f", {int(best['params']):,} params ({int(best['params']) / LENET_PARAMS:.1%} of LeNet), "
            f"{int(best['macs']):,} MACs, val {float(best['val_accuracy']):.4f}, held-out {best_held:.4f} "
            f"(LeNet {lenet_held:.4f})"
        )
        if study.census is not None:
            print(f"space: {study.census.points:,} networks, {study.census.feasible:,} within the budget")
        ok = int(best["params"]) * 4 <= LENET_PARAMS and best_held >= lenet_held
        target(
            what,
            f"{int(best['params']):,} params ({int(best['params']) / LENET_PARAMS:.0%} of LeNet), held-out "
            f"{best_held:.4f} vs LeNet {lenet_held:.4f}",
            f"{args.trials} trials x {args.epochs} epochs; {rejected} candidates rejected statically, median "
            f"{study.rejection_ms or 0:.1f} ms; search {cpu_s / 60:.1f} CPU-min, {wall / 60:.1f} min wall",
            ok,
        )
        if "keras" in runs:
            k_wall, k_cpu, k_study = runs["keras"]
            k_rejected = sum(k_study.rejected.values())
            print(
                f"search without static pruning (Keras build + count_params): {args.trials} trained trials, "
                f"{k_rejected} rejected after a build (median {k_study.rejection_ms or 0:.0f} ms each), wall "
                f"{k_wall / 60:.1f} min, CPU {k_cpu / 60:.1f} min"
            )
            census = study.census.seconds if study.census is not None else 0.0
            print(
                f"rejecting, all together: {study.rejection_seconds:.2f} s static (+ {census:.1f} s judging the "
                f"whole space first) vs {k_study.rejection_seconds:.2f} s building in Keras; the same seed proposes "
                "the same candidates to both, so the rest of the wall time is the same trainings under the load of "
                "the moment"
            )
            target(
                "... wall time to the same trained trials, static pruning vs Keras build + count_params",
                f"{wall / 60:.1f} vs {k_wall / 60:.1f} min",
                f"{rejected} vs {k_rejected} rejections at median {study.rejection_ms or 0:.1f} vs "
                f"{k_study.rejection_ms or 0:.0f} ms",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
