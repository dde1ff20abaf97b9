"""LeNet on real MNIST: `archspec.train` vs a plain hand-written Keras LeNet trained the same way.

    .venv/bin/python bench/train_lenet.py                 # 5 epochs, seed 1, batch 32
    .venv/bin/python bench/train_lenet.py --epochs 10 --mnist ../shared/data/mnist

Data: the MNIST IDX files in --mnist (default ../shared/data/mnist, the t10k set): the first 8,000
digits train, the last 2,000 validate. Both sides get the same recipe: 28x28 digits zero-padded to
32x32, pixels / 255, one-hot labels, Adam (lr 1e-3), batch 32, categorical cross-entropy, seeded
with op determinism (what a seeded archspec run uses). Each side runs in its own fresh process, in
this one invocation. Per-epoch time includes validation; archspec's also includes its per-epoch
checkpoint commit (model + optimizer state, history, TensorBoard scalars). Epoch 1 (tracing) is
shown apart from the median of the later epochs; the ratio is archspec / keras on that median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from _proc import ROOT, add_mnist_option, machine_note, mnist_or_skip, run_child, target

ARCHSPEC = """
import json, sys, tempfile
import archspec
with tempfile.TemporaryDirectory() as tmp:
    r = archspec.train({spec!r}, data="idx:{mnist}[:8000]", val="idx:{mnist}[8000:]", epochs={epochs},
                       training={{"seed": {seed}, "batch_size": 32, "learning_rate": 1e-3, "optimizer": "adam"}},
                       run_dir=tmp + "/run", verbose=0)
    print("RESULT", json.dumps({{"seconds": [h["seconds"] for h in r.history],
                                "val_accuracy": r.metrics["val_accuracy"], "params": r.model.count_params()}}))
"""

KERAS = """
import gzip, json, time
import numpy as np
import keras, tensorflow as tf

def idx(path):
    raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)

keras.utils.set_random_seed({seed})
tf.config.experimental.enable_op_determinism()
x = idx("{mnist}/t10k-images-idx3-ubyte.gz")
y = idx("{mnist}/t10k-labels-idx1-ubyte.gz")
x = np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None].astype("float32") / 255.0
y = keras.utils.to_categorical(y, 10)
model = keras.Sequential([
    keras.Input((32, 32, 1)),
    keras.layers.Conv2D(6, 5, activation="relu"),
    keras.layers.MaxPooling2D(2, 2),
    keras.layers.Conv2D(16, 5, activation="relu"),
    keras.layers.MaxPooling2D(2, 2),
    keras.layers.Flatten(),
    keras.layers.Dense(120, activation="relu"),
    keras.layers.Dense(100, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy", metrics=["accuracy"])

class Timer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None): self.seconds = []
    def on_epoch_begin(self, epoch, logs=None): self.t0 = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): self.seconds.append(time.perf_counter() - self.t0)

timer = Timer()
h = model.fit(x[:8000], y[:8000], batch_size=32, epochs={epochs}, validation_data=(x[8000:], y[8000:]),
              shuffle=True, verbose=0, callbacks=[timer])
print("RESULT", json.dumps({{"seconds": timer.seconds, "val_accuracy": h.history["val_accuracy"][-1],
                            "params": model.count_params()}}))
"""


def child(code: str) -> tuple[float, dict]:
    wall, _rss, out = run_child([sys.executable, "-c", code], capture=True)
    return wall, json.loads(out.split("RESULT", 1)[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mnist_option(parser)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    mnist = mnist_or_skip(args.mnist, "LeNet on MNIST: `archspec.train` epoch time beside a hand-written Keras LeNet")
    if mnist is None:
        return 0
    spec = str(ROOT / "specs" / "lenet.yaml")
    print(machine_note())
    print(
        f"LeNet, MNIST {mnist}: train 8,000 / validate 2,000, {args.epochs} epochs, batch 32, Adam 1e-3, seed "
        f"{args.seed}"
    )
    results = {}
    for name, template in (("keras", KERAS), ("archspec", ARCHSPEC)):
        wall, result = child(template.format(spec=spec, mnist=mnist, epochs=args.epochs, seed=args.seed))
        later = result["seconds"][1:] or result["seconds"]
        results[name] = (wall, result, statistics.median(later))
        print(
            f"{name:>8}: epoch 1 {result['seconds'][0]:.2f} s, later epochs median {statistics.median(later):.2f} s "
            f"({', '.join(f'{s:.2f}' for s in result['seconds'])}), val accuracy {result['val_accuracy']:.4f}, "
            f"{result['params']:,} params, process {wall:.1f} s"
        )
    ratio = results["archspec"][2] / results["keras"][2]
    print(f"epoch time archspec / keras: {ratio:.2f}x (median of epochs 2..{args.epochs})")
    print(
        "accuracy archspec - keras: "
        f"{results['archspec'][1]['val_accuracy'] - results['keras'][1]['val_accuracy']:+.4f}"
    )
    target(
        "LeNet on MNIST: `archspec.train` epoch time beside a hand-written Keras LeNet",
        f"{ratio:.2f}x",
        f"{args.epochs} epochs; val accuracy {results['archspec'][1]['val_accuracy']:.4f} vs "
        f"{results['keras'][1]['val_accuracy']:.4f}; "
        "archspec's epochs include a checkpoint",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
