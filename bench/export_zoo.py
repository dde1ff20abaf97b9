"""Export every zoo spec and check each artifact computes what the Keras model computes.

    .venv/bin/python bench/export_zoo.py                          # savedmodel and tflite, all specs
    .venv/bin/python bench/export_zoo.py --formats onnx --max-params 30e6

Too slow and memory-hungry for CI (ONNX conversion of ResNet-50 alone takes ~30 s and ~7 GB):
CI checks LeNet, ResNet-20 and the every-block test spec in all formats. Each spec runs in its own
process so memory is returned between them. Prints, per spec and format, the time, the largest
output difference on a seeded batch of 2, and ok / refused (with the reason) / FAILED.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import ROOT, machine_note, target

CHILD = """
import json, sys, tempfile, numpy as np, archspec
from archspec.keras_side.export import export_model, run_exported
spec, fmt = sys.argv[1], sys.argv[2]
model = archspec.build(spec)
x = np.random.default_rng(0).normal(size=(2, *model.input_shape[1:])).astype("float32")
suffix = {"savedmodel": "_sm", "onnx": ".onnx", "tflite": ".tflite"}[fmt]
try:
    out = export_model(model, tempfile.mkdtemp() + "/m" + suffix, fmt)
except archspec.SpecError as exc:
    print(json.dumps({"refused": exc.message})); sys.exit(0)
diff = float(np.abs(run_exported(out, x) - model.predict(x, verbose=0)).max())
print(json.dumps({"diff": diff}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default="savedmodel,tflite")
    parser.add_argument("--max-params", type=float, default=None)
    args = parser.parse_args()
    import archspec

    print(f"export of every zoo spec; {machine_note()}")
    failed = exported = refused = 0
    for spec in sorted((ROOT / "specs").glob("*.yaml")):
        params = archspec.shapes(spec).total_params
        if args.max_params and params > args.max_params:
            continue
        for fmt in args.formats.split(","):
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, str(spec), fmt], capture_output=True, text=True, cwd=ROOT
            )
            took = time.perf_counter() - start
            lines = proc.stdout.strip().splitlines()
            if proc.returncode or not lines:
                failed += 1
                print(f"{spec.stem:<16} {fmt:<10} {took:6.1f} s  FAILED: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            result = json.loads(lines[-1])
            if "refused" in result:
                refused += 1
                print(f"{spec.stem:<16} {fmt:<10} {took:6.1f} s  refused: {result['refused']}")
            else:
                ok = result["diff"] < 1e-4
                failed += not ok
                exported += ok
                print(
                    f"{spec.stem:<16} {fmt:<10} {took:6.1f} s  max |diff| {result['diff']:.1e}  "
                    f"{'ok' if ok else 'FAILED'}"
                )
    print("result:", "all exports faithful" if not failed else f"{failed} FAILED")
    limit = f" up to {args.max_params:,.0f} parameters" if args.max_params else ""
    target(
        f"every zoo spec{limit} exports ({args.formats}) and computes what its Keras model computes (max |diff| < "
        "1e-4)",
        "all faithful" if not failed else f"{failed} FAILED",
        f"{exported} exports, {refused} refused with a reason",
        not failed,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
