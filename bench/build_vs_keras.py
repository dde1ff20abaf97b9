"""archspec.build against the keras.applications constructor for the same network, in one process.

    .venv/bin/python bench/build_vs_keras.py            # ResNet-50, DenseNet-121, VGG-16, MobileNetV2, EfficientNetB0,
                                                        # ConvNeXtTiny; median of 5
    .venv/bin/python bench/build_vs_keras.py -n 9 --nets mobilenet_v2,efficientnet_b0

Both sides build with fresh weights (keras.backend.clear_session() before each build); the spec is
loaded once, as a user would, so the figure is expansion + shape check + emitting, against Keras'
own construction. Target: ratio (archspec / keras) at most 1.10.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import ROOT, machine_note, target

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PAIRS = [
    ("resnet50", "ResNet50"),
    ("densenet121", "DenseNet121"),
    ("vgg16", "VGG16"),
    ("mobilenet_v2", "MobileNetV2"),
    ("efficientnet_b0", "EfficientNetB0"),
    ("convnext_tiny", "ConvNeXtTiny"),
]


def timed(build, n: int) -> list[float]:
    import keras

    out = []
    for _ in range(n):
        keras.backend.clear_session()
        start = time.perf_counter()
        build()
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="repetitions per side (median reported)")
    parser.add_argument("--nets", default=",".join(name for name, _ in PAIRS), help="comma-separated spec names")
    args = parser.parse_args()

    import archspec
    from archspec.keras_side.backend import keras as import_keras

    keras = import_keras()
    print(f"archspec.build vs keras.applications, median of {args.n} (after one warm-up each); {machine_note()}")
    print(f"{'network':<12} {'archspec':>10} {'keras':>10} {'ratio':>7}  params")
    worst = 0.0
    figures = []
    chosen = args.nets.split(",")
    for spec_name, app in [pair for pair in PAIRS if pair[0] in chosen]:
        spec = archspec.load(ROOT / "specs" / f"{spec_name}.yaml")
        constructor = getattr(keras.applications, app)
        mine = lambda spec=spec: archspec.build(spec)
        theirs = lambda constructor=constructor: constructor(weights=None)
        timed(mine, 1), timed(theirs, 1)  # warm-up: first builds pay for tracing and kernels
        a_times, b_times = [], []
        for _ in range(args.n):  # interleave, so drift in machine load hits both sides alike
            a_times += timed(mine, 1)
            b_times += timed(theirs, 1)
        a, b = statistics.median(a_times), statistics.median(b_times)
        same = archspec.build(spec).count_params() == constructor(weights=None).count_params()
        print(f"{spec_name:<12} {a:>9.3f}s {b:>9.3f}s {a / b:>6.2f}x  {'equal' if same else 'DIFFERENT'}")
        figures.append(f"{app} {a / b:.2f}x" + ("" if same else " (parameter counts DIFFER)"))
        worst = max(worst, a / b) if same else float("inf")
    target(
        "`archspec.build` at most 1.10x the keras.applications constructor",
        ", ".join(figures),
        f"median of {args.n}",
        worst <= 1.10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
