"""Cold whole-process time: `archspec shapes SPEC` vs Keras building the same network and printing model.summary().

    .venv/bin/python bench/shapes_vs_keras.py                       # ResNet-152 if specs/resnet152.yaml exists, else ResNet-50
    .venv/bin/python bench/shapes_vs_keras.py --spec specs/resnet50.yaml --keras-app ResNet50 -n 7 -k 3

Every run is a fresh Python process, timed from spawn to exit, output to /dev/null. Both sides are
measured in this one invocation (machines are noisy; compare only figures from the same run).
Targets: shapes < 0.3 s whole process and >= 15x faster than Keras build+summary (on ResNet-152).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from _proc import machine_note, ROOT, archspec_cmd, fmt_times, median, repeat, run_child

# Run the CLI in-process (as the console script would), then say which heavy modules it pulled in.
PROBE = """
import contextlib, io, sys
from archspec.cli import run
sys.argv = ["archspec", "shapes", {spec!r}]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        run()
    except SystemExit as exc:
        code = exc.code
print("exit", code)
print("imported", *[m for m in ("tensorflow", "keras", "jax", "torch", "numpy") if m in sys.modules])
"""

KERAS = """
import keras
model = keras.applications.{app}(weights=None)
model.summary()
print("PARAMS", model.count_params())
"""


def default_spec() -> tuple[str, str]:
    if (ROOT / "specs" / "resnet152.yaml").exists():
        return "specs/resnet152.yaml", "ResNet152"
    return "specs/resnet50.yaml", "ResNet50"


def main() -> int:
    spec0, app0 = default_spec()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", help=f"spec file (default {spec0})")
    ap.add_argument("--keras-app", help=f"keras.applications constructor (default {app0})")
    ap.add_argument("-n", "--repeat", type=int, default=5, help="archspec runs (default 5)")
    ap.add_argument("-k", "--keras-repeat", type=int, default=3, help="Keras runs (default 3)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed first run of each (disk cache, .pyc)")
    args = ap.parse_args()
    if args.spec and not args.keras_app:
        ap.error("--spec needs --keras-app (the equivalent keras.applications model)")
    spec, app = (args.spec, args.keras_app) if args.spec else (spec0, args.keras_app or app0)
    spec = str(Path(spec).resolve())

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")  # same environment for both sides
    shapes_cmd = [*archspec_cmd(), "shapes", spec]
    keras_cmd = [sys.executable, "-c", KERAS.format(app=app)]
    print(f"spec: {os.path.relpath(spec, ROOT)}  vs  keras.applications.{app}(weights=None).summary()")
    print(f"python: {sys.executable}\narchspec: {' '.join(shapes_cmd[:-2])}\n{machine_note()}")

    # Sanity: the two sides describe the same network, and shapes never touched TensorFlow.
    _, _, js = run_child([*archspec_cmd(), "shapes", spec, "--json"], env=env, capture=True)
    a_params = json.loads(js)["total_params"]
    _, _, probe = run_child([sys.executable, "-c", PROBE.format(spec=spec)], env=env, capture=True)
    imported = probe.split("imported", 1)[1].split()

    if not args.no_warmup:
        run_child(shapes_cmd, env=env)
        run_child(keras_cmd, env=env)
    a_times, a_rss = repeat(shapes_cmd, args.repeat, env=env)
    k_times, k_rss = [], []
    k_params = None
    for _ in range(args.keras_repeat):
        t, m, out = run_child(keras_cmd, env=env, capture=True)
        k_times.append(t)
        k_rss.append(m)
        k_params = int(out.rsplit("PARAMS", 1)[1])

    a_med, k_med = median(a_times), median(k_times)
    print()
    print(f"archspec shapes    median {a_med:7.3f} s  (runs: {fmt_times(a_times)})  peak RSS {max(a_rss) / 1024:6.0f} MiB")
    print(f"keras build+summary median {k_med:6.3f} s  (runs: {fmt_times(k_times)})  peak RSS {max(k_rss) / 1024:6.0f} MiB")
    print(f"ratio keras/archspec: {k_med / a_med:.1f}x")
    print(f"parameters: archspec {a_params:,}, keras {k_params:,} -> {'match' if a_params == k_params else 'DIFFER'}")
    heavy = [m for m in imported if m in ("tensorflow", "keras", "jax", "torch")]
    print(f"tensorflow imported by `archspec shapes`: {'yes' if 'tensorflow' in imported else 'no'}"
          f"  (heavy modules loaded: {', '.join(heavy) or 'none'}; numpy: {'yes' if 'numpy' in imported else 'no'})")

    ok_time, ok_ratio = a_med < 0.3, k_med / a_med >= 15
    print(f"targets: < 0.3 s {'PASS' if ok_time else 'FAIL'}; >= 15x {'PASS' if ok_ratio else 'FAIL'};"
          f" no TensorFlow {'PASS' if 'tensorflow' not in imported else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
