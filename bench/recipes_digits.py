"""LeNet on 8,000 MNIST digits: the suite's plain recipe against the best recipe of issue 29's tools.

    .venv/bin/python bench/recipes_digits.py                      # 6 epochs, seeds 1 2 3 (about 20 min here)
    .venv/bin/python bench/recipes_digits.py --epochs 2 --seeds 1 # a quick look

Data: the MNIST IDX files in --mnist (default ../shared/data/mnist, the t10k set): the first 8,000
digits train, the last 2,000 are held out (the validation data of each run, never trained on).
`specs/lenet.yaml` is trained with both recipes, the same epochs, batch and seeds, each run in a
fresh process:

- plain: the suite's recipe (bench/train_lenet.py's): Adam 1e-3, batch 32, constant rate, no
  augmentation;
- better: the same optimizer and batch with a one-cycle schedule (peak 3e-3), label smoothing 0.1,
  an EMA of the weights (0.995, what is evaluated and saved), and augmentation: shifts of up to
  2 px (the fast path), Keras' RandomRotation (10 degrees) and RandomZoom (10 %).

Reported: held-out accuracy (mean and spread over the seeds), its error, and the wall time of each
run (process start to exit). Target (issue 29): the better recipe's held-out error at most 0.8 of the
plain one's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from _proc import ROOT, add_mnist_option, machine_note, mnist_or_skip, run_child, target

RECIPES: dict[str, dict[str, object]] = {
    "plain": {"batch_size": 32, "learning_rate": 1e-3, "optimizer": "adam"},
    "better": {
        "batch_size": 32,
        "learning_rate": 3e-3,
        "optimizer": "adam",
        "schedule": {"kind": "one_cycle"},
        "label_smoothing": 0.1,
        "ema": {"decay": 0.995},
        "data.augment": {"translate": 2, "rotate": 10, "zoom": 0.1},
    },
}

CHILD = """
import json, tempfile
import archspec
with tempfile.TemporaryDirectory() as tmp:
    r = archspec.train({spec!r}, data="idx:{mnist}[:8000]", val="idx:{mnist}[8000:]", epochs={epochs},
                       training={{"seed": {seed}, **{recipe!r}}}, run_dir=tmp + "/run", verbose=0, log=None)
    print("RESULT", json.dumps({{"val_accuracy": r.metrics["val_accuracy"]}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mnist_option(parser)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    what = "LeNet on 8,000 MNIST digits: held-out error of the better recipe / the plain one"
    mnist = mnist_or_skip(args.mnist, what)
    if mnist is None:
        return 0
    spec = str(ROOT / "specs" / "lenet.yaml")
    print(machine_note())
    print(f"LeNet ({spec}), MNIST {mnist}: train [:8000], held out [8000:], {args.epochs} epochs, seeds {args.seeds}")
    errors: dict[str, float] = {}
    for name, recipe in RECIPES.items():
        accuracies, walls = [], []
        for seed in args.seeds:
            code = CHILD.format(spec=spec, mnist=mnist, epochs=args.epochs, seed=seed, recipe=recipe)
            wall, _rss, out = run_child([sys.executable, "-c", code], capture=True)
            accuracies.append(json.loads(out.split("RESULT", 1)[1])["val_accuracy"])
            walls.append(wall)
            print(f"  {name} seed {seed}: held-out accuracy {accuracies[-1]:.4f}, {wall:.0f} s", flush=True)
        mean = statistics.fmean(accuracies)
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        errors[name] = 1 - mean
        print(
            f"{name:>7}: held-out accuracy {mean:.4f} ± {spread:.4f} (error {1 - mean:.2%}, min {min(accuracies):.4f}, "
            f"max {max(accuracies):.4f}), wall {statistics.fmean(walls):.0f} s a run; recipe {json.dumps(recipe)}"
        )
    ratio = errors["better"] / errors["plain"]
    print(f"held-out error better / plain: {ratio:.2f} (target <= 0.80)")
    judged = len(args.seeds) >= 3 and args.epochs >= 6  # a shorter look (make bench's quick mode) has no verdict
    target(
        what,
        f"{ratio:.2f}",
        f"{args.epochs} epochs, seeds {' '.join(map(str, args.seeds))}: error {errors['better']:.2%} vs "
        f"{errors['plain']:.2%}" + ("" if judged else "; too short for a verdict (the full run: 6 epochs, 3 seeds)"),
        ok=ratio <= 0.8 if judged else None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
