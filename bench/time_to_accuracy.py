"""End to end: `archspec train` against the plain Keras script a user would write, to the same held-out accuracy.

    .venv/bin/python bench/time_to_accuracy.py                           # full: LeNet and ResNet-20, 3 seeds each
    .venv/bin/python bench/time_to_accuracy.py --nets lenet --seeds 1 --lenet-epochs 1   # a smoke (quick mode)

Data (written once into --images, default ``$XDG_CACHE_HOME/archspec/bench-mnist-folders``, outside the
repository): the MNIST digits of --mnist (the t10k set) as image folders, one sub-folder per class: the first
8,000 train, the last 2,000 are held out. ``png/``: the 28x28 digits as PNGs; ``jpeg64/``: the same digits
upscaled to 64x64 (bilinear) as JPEGs (quality 90), so that decoding costs something.

Networks: LeNet (``specs/lenet.yaml``, 32x32x1) on the PNGs, padded 28 -> 32 with zeros; ResNet-20
(``specs/resnet20_cifar.yaml``, 32x32x3 as written: the spec has no variable or variant for its input, so the
images are brought to it) on the JPEGs, resized 64 -> 32 and grey repeated to RGB.

Each side is one fresh process, timed from its launch to its exit (imports, reading the folder, building,
training, saving the model): the end-to-end time a user waits for.

- archspec: ``archspec.train(spec, data=TRAIN, val=HELD_OUT, seed=S, epochs=E)``, everything else its defaults
  (Adam 1e-3, batch 32, constant rate, no augmentation, pixels / 255, the fit and channels of the plan, precise_bn on
  for batch norms, a crash-safe checkpoint per epoch with fsync, TensorBoard scalars, jit chosen as `train` chooses).
- keras: the script of the Keras guides: ``keras.utils.image_dataset_from_directory`` (decoded every epoch;
  ``image_size`` and ``color_mode`` for the input, ``label_mode="categorical"``), the preprocessing as Keras layers
  mapped over the dataset (``Rescaling(1/255)``, and ``ZeroPadding2D(2)`` for LeNet) with
  ``num_parallel_calls=AUTOTUNE`` and ``prefetch(AUTOTUNE)``, the same network built from the spec
  (``archspec.build``), ``compile(Adam(1e-3), categorical cross-entropy, accuracy)`` with Keras' defaults, ``fit``
  with the held-out set as ``validation_data``, ``keras.utils.set_random_seed(S)``, and ``model.save`` at the end.

Both sides evaluate the held-out set after every epoch inside the timed run (``validation_data`` on both), so it
costs both the same; each epoch's end is stamped after that evaluation (archspec: when its epoch line is logged,
after the checkpoint; keras: a callback at the end of the list). Seeds run in turn, the sides alternating which goes
first. The target accuracy is the lowest best held-out accuracy of any run (rounded down to 0.001), so every run
reaches it; time to it is from launch to the end of the first epoch at or above it.

Printed per network: per-run epoch times and accuracies, then medians per side: epoch 1, later epochs, the whole
run, final held-out accuracy (and spread), time to the target, and the ratios keras / archspec (above 1: archspec
is faster). Target: archspec at least 1.5x faster end to end (time to the target accuracy) on both networks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import ROOT, add_mnist_option, machine_note, mnist_or_skip, run_child, target

PREPARE = """
import gzip, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf

def idx(path):
    raw = gzip.open(path).read()
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)

x = idx({mnist!r} + "/t10k-images-idx3-ubyte.gz")[..., None]
y = idx({mnist!r} + "/t10k-labels-idx1-ubyte.gz")
root = {root!r}
for kind in ("png", "jpeg64"):
    for i in range(len(x)):
        split = "train" if i < 8000 else "val"
        folder = os.path.join(root, kind, split, str(int(y[i])))
        os.makedirs(folder, exist_ok=True)
        if kind == "png":
            tf.io.write_file(os.path.join(folder, f"{{i:05d}}.png"), tf.io.encode_png(x[i]))
        else:
            big = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(x[i], (64, 64))), 0, 255), tf.uint8)
            tf.io.write_file(os.path.join(folder, f"{{i:05d}}.jpg"), tf.io.encode_jpeg(big, quality=90))
open(os.path.join(root, "complete"), "w").write("10000 digits\\n")
"""

ARCHSPEC = """
import json, os, sys, tempfile, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import archspec

def log(text):
    if text.startswith("epoch "):
        print("EPOCH", json.dumps({{"t": time.time()}}), flush=True)
    print("  archspec| " + text, flush=True)

with tempfile.TemporaryDirectory() as tmp:
    r = archspec.train({spec!r}, data={train!r}, val={val!r}, epochs={epochs}, training={{"seed": {seed}}},
                       run_dir=tmp + "/run", verbose=2, log=log{extra})
    run = json.load(open(tmp + "/run/run.json"))
    print("RESULT", json.dumps({{"val_accuracy": [h["val_accuracy"] for h in r.history],
                                "seconds": [h["seconds"] for h in r.history], "execution": run["execution"]}}),
          flush=True)
"""

KERAS = """
import json, os, tempfile, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, tensorflow as tf
import archspec

keras.utils.set_random_seed({seed})
AUTOTUNE = tf.data.AUTOTUNE
options = dict(label_mode="categorical", color_mode={color!r}, image_size={size!r}, batch_size=32, verbose=False)
train = keras.utils.image_dataset_from_directory({train!r}, seed={seed}, **options)
val = keras.utils.image_dataset_from_directory({val!r}, shuffle=False, **options)
preprocess = keras.Sequential([keras.layers.Rescaling(1 / 255){pad}])
train = train.map(lambda x, y: (preprocess(x), y), num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
val = val.map(lambda x, y: (preprocess(x), y), num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)

model = archspec.build({spec!r})
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])

class Stamp(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        print("EPOCH", json.dumps({{"t": time.time()}}), flush=True)
        print(f"  keras| epoch {{epoch + 1}}: {{time.perf_counter() - self.t0:.1f}} s, "
              f"val_accuracy {{logs['val_accuracy']:.4f}}", flush=True)

history = model.fit(train, validation_data=val, epochs={epochs}, callbacks=[Stamp()], verbose=0)
with tempfile.TemporaryDirectory() as tmp:
    model.save(tmp + "/model.keras")
print("RESULT", json.dumps({{"val_accuracy": history.history["val_accuracy"]}}), flush=True)
"""

NETS = {
    "lenet": {
        "spec": "specs/lenet.yaml",
        "images": "png",
        "color": "grayscale",
        "size": (28, 28),
        "pad": ", keras.layers.ZeroPadding2D(2)",
        "label": "LeNet, 28x28 PNG digits (padded to 32x32x1)",
    },
    "resnet20": {
        "spec": "specs/resnet20_cifar.yaml",
        "images": "jpeg64",
        "color": "rgb",
        "size": (32, 32),
        "pad": "",
        "label": "ResNet-20, 64x64 JPEG digits (resized to 32x32x3)",
    },
}


def images_root(given: str | None) -> Path:
    if given:
        return Path(given)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "archspec" / "bench-mnist-folders"


def prepare(root: Path, mnist: Path) -> None:
    if (root / "complete").is_file():
        return
    print(f"writing the digits as PNG and 64x64 JPEG folders into {root} (once)", flush=True)
    run_child([sys.executable, "-c", PREPARE.format(mnist=str(mnist), root=str(root))])


def one_run(side: str, net: str, root: Path, seed: int, epochs: int, extra: str) -> dict:
    """One side's whole run in a fresh process: its epochs' end stamps from launch, accuracies, process time."""
    setup = NETS[net]
    folder = root / str(setup["images"])
    fields = {
        "spec": str(ROOT / str(setup["spec"])),
        "train": str(folder / "train"),
        "val": str(folder / "val"),
        "epochs": epochs,
        "seed": seed,
    }
    if side == "archspec":
        code = ARCHSPEC.format(**fields, extra=extra)
    else:
        code = KERAS.format(**fields, color=setup["color"], size=setup["size"], pad=setup["pad"])
    launched = time.time()
    wall, _rss, out = run_child([sys.executable, "-c", code], capture=True)
    for line in out.splitlines():
        if line.startswith("  "):
            print(line)
    stamps = [
        json.loads(line.split(" ", 1)[1])["t"] - launched for line in out.splitlines() if line.startswith("EPOCH")
    ]
    result = json.loads(out.split("RESULT", 1)[1].strip().splitlines()[0])
    epoch_seconds = [b - a for a, b in zip([0.0, *stamps], stamps, strict=False)]
    return {"side": side, "seed": seed, "wall": wall, "ends": stamps, "epoch_seconds": epoch_seconds, **result}


def execution(record: dict) -> str:
    """How archspec ran the steps (run.json's ``execution``)."""
    return f"XLA {'on' if record['jit'] else 'off'}, {record['steps_per_execution']} steps/call"


def reached(run: dict, goal: float) -> float | None:
    """Seconds from launch to the end of the first epoch whose held-out accuracy is at least `goal`."""
    for end, accuracy in zip(run["ends"], run["val_accuracy"], strict=False):
        if accuracy >= goal:
            return float(end)
    return None


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def report(net: str, runs: list[dict], epochs: int) -> dict:
    """The per-side medians and ratios of one network, printed; the figures for the target row."""
    goal = int(min(max(r["val_accuracy"]) for r in runs) * 1000) / 1000
    sides: dict[str, dict] = {}
    print(f"\n{NETS[net]['label']}: {epochs} epochs, target held-out accuracy {goal:.3f} (the lowest best of any run)")
    print(
        f"{'side':>9} {'seed':>4} {'epoch 1':>8} {'later':>7} {'run':>7} {'to target':>9}  held-out accuracy by epoch "
        "(epoch 1: from launch, imports and set-up included)"
    )
    for run in runs:
        later = run["epoch_seconds"][1:]
        hit = reached(run, goal)
        print(
            f"{run['side']:>9} {run['seed']:>4} {run['epoch_seconds'][0]:>7.1f}s "
            + (f"{med(later):>6.1f}s " if later else f"{'-':>7} ")
            + f"{run['wall']:>6.1f}s {hit if hit is not None else float('nan'):>8.1f}s  "
            + " ".join(f"{a:.4f}" for a in run["val_accuracy"])
            + (f"  ({execution(run['execution'])})" if "execution" in run else "")
        )
    for side in ("keras", "archspec"):
        mine = [r for r in runs if r["side"] == side]
        final = [r["val_accuracy"][-1] for r in mine]
        hits = [reached(r, goal) for r in mine]
        sides[side] = {
            "epoch1": med([r["epoch_seconds"][0] for r in mine]),
            "later": med([s for r in mine for s in r["epoch_seconds"][1:]]),
            "wall": med([r["wall"] for r in mine]),
            "accuracy": med(final),
            "spread": (min(final), max(final)),
            "to_target": med([h for h in hits if h is not None]),
        }
    for side, s in sides.items():
        print(
            f"{side:>9} median: epoch 1 {s['epoch1']:.1f} s, later epochs {s['later']:.1f} s, "
            f"whole run {s['wall']:.1f} s, to {goal:.3f} {s['to_target']:.1f} s; "
            f"final held-out accuracy {s['accuracy']:.4f} ({s['spread'][0]:.4f}-{s['spread'][1]:.4f})"
        )
    k, a = sides["keras"], sides["archspec"]
    ratios = {
        "epoch1": k["epoch1"] / a["epoch1"],
        "later": k["later"] / a["later"],
        "wall": k["wall"] / a["wall"],
        "to_target": k["to_target"] / a["to_target"],
    }
    print(
        f"keras / archspec: epoch 1 {ratios['epoch1']:.2f}x, later epochs {ratios['later']:.2f}x, whole run "
        f"{ratios['wall']:.2f}x, to the target {ratios['to_target']:.2f}x"
    )
    return {"goal": goal, "sides": sides, "ratios": ratios}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mnist_option(parser)
    parser.add_argument("--images", help="where the image folders are written (once)")
    parser.add_argument("--nets", default="lenet,resnet20")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lenet-epochs", type=int, default=6)
    parser.add_argument("--resnet20-epochs", type=int, default=3)
    parser.add_argument("--archspec", default="", help="extra keyword arguments of archspec.train, as Python source")
    parser.add_argument("--quick", action="store_true", help="a smoke: print figures, no verdict")
    args = parser.parse_args()
    mnist = mnist_or_skip(args.mnist, "end to end: archspec train vs plain Keras, time to the same accuracy")
    if mnist is None:
        return 0
    root = images_root(args.images)
    prepare(root, mnist)
    extra = f", {args.archspec}" if args.archspec else ""
    print(machine_note())
    for net in [n.strip() for n in args.nets.split(",")]:
        epochs = getattr(args, f"{net}_epochs")
        runs = []
        for i, seed in enumerate(range(1, args.seeds + 1)):
            order = ("archspec", "keras") if i % 2 == 0 else ("keras", "archspec")
            for side in order:
                runs.append(one_run(side, net, root, seed, epochs, extra))
        figures = report(net, runs, epochs)
        k, a, r = figures["sides"]["keras"], figures["sides"]["archspec"], figures["ratios"]
        target(
            f"{NETS[net]['label']}: `archspec train` at least 1.5x faster than the plain Keras script to the same "
            "held-out accuracy",
            f"{r['to_target']:.2f}x to {figures['goal']:.3f} ({a['to_target']:.1f} vs {k['to_target']:.1f} s); whole "
            f"run {r['wall']:.2f}x ({a['wall']:.1f} vs {k['wall']:.1f} s)",
            f"{epochs} epochs, median of {args.seeds} seeds; epoch 1 {a['epoch1']:.1f} vs {k['epoch1']:.1f} s, later "
            f"{a['later']:.1f} vs {k['later']:.1f} s; final held-out accuracy {a['accuracy']:.4f} vs "
            f"{k['accuracy']:.4f}" + ("; quick mode, no verdict" if args.quick else ""),
            None if args.quick else r["to_target"] >= 1.5,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
