"""Images per second of archspec's training input alone, against keras.utils.image_dataset_from_directory.

    .venv/bin/python bench/input_pipeline.py                 # quick: 400 JPEGs, 3 epochs, 1 round
    BENCH=full .venv/bin/python bench/input_pipeline.py      # 2,000 JPEGs, 3 epochs, 2 rounds
    .venv/bin/python bench/input_pipeline.py --images DIR --count 2000 --rounds 3

Data: a folder of JPEGs in 10 class sub-folders, each image a random size from 224x224 to 288x288
(mixed sizes around 256x256; seeded noise over stripes, quality 90), written once by TensorFlow into
--images (default ``$ARCHSPEC_BENCH_IMAGES``, else ``$XDG_CACHE_HOME/archspec/bench-jpegs-COUNT``, outside
the repository) and reused by later runs.

Both sides make the same batches for a 224x224x3 input: 32 images, pixels / 255, one-hot labels,
random horizontal flip and a random shift of up to 10 % of each side (zeros filled in), a new
order and new augmentation every epoch, and both iterate them the same way (a Python loop that
takes every batch of the epoch, in one fresh process per side and round):

- keras: ``image_dataset_from_directory(image_size=(224, 224))`` (decode and resize every epoch),
  ``.map`` of ``RandomFlip("horizontal")``, ``RandomTranslation(0.1, 0.1, fill_mode="constant",
  interpolation="nearest")`` and ``Rescaling(1/255)`` with ``num_parallel_calls=AUTOTUNE``, ``prefetch(AUTOTUNE)``;
- archspec: what ``archspec train`` does: ``data.load`` (each JPEG's size read from its header),
  ``data.plan``, and ``TrainingInput`` (seeded, so in order): epoch 1 decodes and prepares the images and
  puts them in the cache (memory here) as it makes its batches; later epochs gather from the cache and augment.

Epoch 1 is timed from the call that names the folder (archspec's includes loading the folder and setting
up its pipeline); later epochs from the end of the one before. Printed: images/s per epoch (median over rounds),
the ratios archspec / keras, and archspec's own input meter (``data/meter.py``) for the same epochs.
Targets: epoch 1 at least 1x, epochs 2 onward at least 3x.

Then both again with Keras' augmentation layers on top (``SETS``): RandomZoom 0.1, RandomRotation 10 degrees,
RandomContrast 0.2, RandomErasing on a quarter of the images and MixUp 0.2 on the batch, the same layers on both
sides (archspec's by ``training.data.augment``, keyed by the batch). Target: at least as fast as Keras (1x).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import machine_note, run_child, target

GENERATE = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
root, count = {root!r}, {count}
rng = np.random.default_rng(0)
for i in range(count):
    k = i % 10
    folder = os.path.join(root, f"class{{k}}")
    os.makedirs(folder, exist_ok=True)
    h, w = (int(v) for v in rng.integers(224, 289, 2))
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = np.stack([(xx * (k + 1) * 3) % 256, (yy * 5 + k * 20) % 256, ((xx + yy) * 2) % 256], -1)
    image = np.clip(stripes + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    tf.io.write_file(os.path.join(folder, f"{{i:05d}}.jpg"), tf.io.encode_jpeg(image, quality=90))
"""

CPU = "def cpu():\n    r = resource.getrusage(resource.RUSAGE_SELF)\n    return r.ru_utime + r.ru_stime\n"

KERAS = """
import os, json, resource, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf, keras
{cpu}
t0, c0 = time.perf_counter(), cpu()
ds = keras.utils.image_dataset_from_directory({root!r}, image_size=(224, 224), batch_size=32, label_mode="categorical",
                                              seed=0, verbose=False)
augment = keras.Sequential([keras.layers.RandomFlip("horizontal"),
                            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", interpolation="nearest"),
                            {layers}
                            keras.layers.Rescaling(1 / 255)])
{mix}
def step(x, y):
    x = augment(x, training=True)
    if mix is None:
        return x, y
    out = mix({{"images": x, "labels": y}}, training=True)
    return out["images"], out["labels"]
ds = ds.map(step, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
seconds, cpus, images = [], [], 0
for epoch in range({epochs}):
    for x, y in ds:
        images += int(x.shape[0])
    t1, c1 = time.perf_counter(), cpu()
    seconds.append(t1 - t0)
    cpus.append(c1 - c0)
    t0, c0 = t1, c1
print("RESULT", json.dumps({{"seconds": seconds, "cpu": cpus, "images": images // {epochs}}}))
"""

ARCHSPEC = """
import os, json, resource, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
import archspec
{cpu}
from archspec.training import data as D
spec = archspec.loads("name: bench\\ninput: [224, 224, 3]\\n"
                      "layers: [flatten, {{dense: {{units: 10, activation: softmax}}}}]\\n"
                      "training: {{data: {{augment: {{flip: horizontal, translate: 0.1{augment}}}}}}}\\n")
lines = []
t0, c0 = time.perf_counter(), cpu()
images = D.load({root!r})
plan = D.plan(images, (224, 224, 3), 10, spec.training.data)
source = D.TrainingInput(images, plan, batch_size=32, seed=0, aug=spec.training.data.augment, log=lines.append)
stages = {{"load": [time.perf_counter() - t0, cpu() - c0]}}
batches = iter(source.dataset(0, {epochs}))
stages["setup"] = [time.perf_counter() - t0 - stages["load"][0], cpu() - c0 - stages["load"][1]]
steps = D.steps_per_epoch(images.count, 32, False)
seconds, cpus, meter = [], [], []
for epoch in range({epochs}):
    before = source.meter.read()
    start = time.perf_counter()
    for _ in range(steps):
        x, y = next(batches)
    t1, c1 = time.perf_counter(), cpu()
    seconds.append(t1 - t0)
    cpus.append(c1 - c0)
    meter.append(source.meter.rates(before, source.meter.read(), t1 - start))
    t0, c0 = t1, c1
print("RESULT", json.dumps({{"seconds": seconds, "cpu": cpus, "images": images.count, "meter": meter, "log": lines,
                            "stages": stages}}))
"""


SETS = {
    "flip + translate": {"layers": "", "mix": "mix = None", "augment": ""},
    "+ Keras layers": {
        "layers": 'keras.layers.RandomZoom(0.1, fill_mode="constant"), keras.layers.RandomRotation(10 / 360, '
        'fill_mode="constant"), keras.layers.RandomContrast(0.2), keras.layers.RandomErasing(factor=(0.25, 0.25), '
        "fill_value=0.0),",
        "mix": "mix = keras.layers.MixUp(alpha=0.2)",
        "augment": ", zoom: 0.1, rotate: 10, contrast: 0.2, erase: 0.25, mixup: 0.2",
    },
}
"""The augmentations compared: archspec's fast path alone, and with Keras' layers on top (zoom 10 %, rotation 10
degrees, contrast 0.2, erasing a quarter of the images, MixUp 0.2): the same layers on both sides."""


def default_folder(count: int) -> Path:
    if os.environ.get("ARCHSPEC_BENCH_IMAGES"):
        return Path(os.environ["ARCHSPEC_BENCH_IMAGES"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "archspec" / f"bench-jpegs-{count}"


def child(code: str) -> dict:
    _wall, _rss, out = run_child([sys.executable, "-c", code], capture=True)
    return json.loads(out.split("RESULT", 1)[1])


def measure(folder: Path, epochs: int, rounds: int, augmentation: dict[str, str]) -> tuple[dict, dict, dict]:
    """Each side's runs (fresh processes, alternating), and per epoch its images/s and CPU ms an image (medians)."""
    runs: dict[str, list[dict]] = {"keras": [], "archspec": []}
    for _ in range(rounds):
        for name, template in (("keras", KERAS), ("archspec", ARCHSPEC)):
            runs[name].append(child(template.format(root=str(folder), epochs=epochs, cpu=CPU, **augmentation)))
    rate = {
        name: [statistics.median(r["images"] / r["seconds"][e] for r in results) for e in range(epochs)]
        for name, results in runs.items()
    }
    cpu = {
        name: [statistics.median(r["cpu"][e] / r["images"] * 1000 for r in results) for e in range(epochs)]
        for name, results in runs.items()
    }
    return runs, rate, cpu


def layered(folder: Path, epochs: int, rounds: int, where: str, judged: Any) -> None:
    """The rows for Keras' augmentation layers on top of flip and translate, the same layers on both sides."""
    _runs, rate, cpu = measure(folder, epochs, rounds, SETS["+ Keras layers"])
    print(f"with Keras' layers too ({SETS['+ Keras layers']['augment'].strip(', ')}):")
    for name in ("keras", "archspec"):
        print(
            f"{name:>8}: "
            + "  ".join(f"epoch {e + 1} {rate[name][e]:7.1f} img/s" for e in range(epochs))
            + "   CPU ms/img "
            + ", ".join(f"{cpu[name][e]:.2f}" for e in range(epochs))
        )
    first = rate["archspec"][0] / rate["keras"][0]
    later = min(rate["archspec"][e] / rate["keras"][e] for e in range(1, epochs))
    target(
        "training input with Keras' augmentation layers (zoom, rotation, contrast, erasing, MixUp) on top: epoch 1 "
        "beside `image_dataset_from_directory` + the same layers",
        f"{first:.2f}x ({rate['archspec'][0]:.0f} vs {rate['keras'][0]:.0f} img/s)",
        where,
        ok=judged(first >= 1),
    )
    target(
        "... with the Keras layers, epochs 2 onward",
        ", ".join(f"{rate['archspec'][e] / rate['keras'][e]:.2f}x" for e in range(1, epochs))
        + f" ({', '.join(f'{rate[n][-1]:.0f}' for n in ('archspec', 'keras'))} img/s in the last epoch)",
        where,
        ok=judged(later >= 1),
    )


def main() -> int:
    full = os.environ.get("BENCH") == "full"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--count", type=int, default=2000 if full else 400, help="JPEGs in the folder (BENCH=full: 2,000; else 400)"
    )
    parser.add_argument("--images", type=Path, default=None, help="the folder (made when missing)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2 if full else 1, help="fresh processes per side, alternating")
    args = parser.parse_args()
    folder = (args.images or default_folder(args.count)).expanduser()
    if not folder.is_dir() or sum(1 for _ in folder.rglob("*.jpg")) != args.count:
        print(f"writing {args.count} JPEGs to {folder} (once)")
        run_child([sys.executable, "-c", GENERATE.format(root=str(folder), count=args.count)])
    print(machine_note())
    print(
        f"{args.count} JPEGs (224..288 px a side, 10 classes) in {folder}; 224x224x3, batch 32, flip + translate 0.1; "
        f"{args.epochs} epochs, {args.rounds} round(s)"
    )
    runs, rate, cpu = measure(folder, args.epochs, args.rounds, SETS["flip + translate"])
    for name in ("keras", "archspec"):
        per_round = "; ".join(", ".join(f"{r['images'] / s:.0f}" for s in r["seconds"]) for r in runs[name])
        print(
            f"{name:>8}: "
            + "  ".join(f"epoch {e + 1} {rate[name][e]:7.1f} img/s" for e in range(args.epochs))
            + f"   (rounds: {per_round})"
        )
        print(f"{'':>8}  " + "  ".join(f"        {cpu[name][e]:5.2f} ms CPU/img" for e in range(args.epochs)))
    last = runs["archspec"][-1]
    stages = last["stages"]
    print(
        f"          archspec's epoch 1 (last round): load {stages['load'][0]:.1f} s ({stages['load'][1]:.1f} s CPU), "
        f"pipeline set up {stages['setup'][0]:.1f} s ({stages['setup'][1]:.1f} s CPU; tracing, cache allocated), "
        "then the batches, which fill the cache"
    )
    for line in last["log"]:
        print(f"          archspec said: {line}")
    meter = "  ".join(
        f"epoch {e + 1} input {m['input_images_per_second']:,.0f} img/s, waited {m['input_wait']:.0%}"
        for e, m in enumerate(last["meter"])
    )
    print(f"          archspec's meter (last round): {meter}")
    first = rate["archspec"][0] / rate["keras"][0]
    later = min(rate["archspec"][e] / rate["keras"][e] for e in range(1, args.epochs))
    where = f"{args.count} JPEGs, {args.rounds} round(s)" + (
        "" if full else "; quick mode, no verdict: the fixed start-up weighs on few images"
    )
    judged = (lambda ok: ok) if full else (lambda ok: None)
    target(
        "training input, JPEGs (224-288 px) -> 224x224x3, flip + translate: epoch 1 at least as fast as "
        "`image_dataset_from_directory` + Keras augmentation layers",
        f"{first:.2f}x ({rate['archspec'][0]:.0f} vs {rate['keras'][0]:.0f} img/s)",
        where,
        ok=judged(first >= 1),
    )
    target(
        "... epochs 2 onward at least 3x",
        ", ".join(f"{rate['archspec'][e] / rate['keras'][e]:.2f}x" for e in range(1, args.epochs))
        + " (CPU "
        + ", ".join(f"{cpu['archspec'][e]:.2f}" for e in range(1, args.epochs))
        + " ms an image vs "
        + ", ".join(f"{cpu['keras'][e]:.2f}" for e in range(1, args.epochs))
        + ")",
        where,
        ok=judged(later >= 3),
    )
    layered(folder, args.epochs, args.rounds, where, judged)
    if not full:
        print(
            "quick mode: archspec's fixed start-up (load and set-up above, and the switch to the cache at epoch 2) "
            "weighs on "
            f"{args.count} images; the targets are for BENCH=full"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
