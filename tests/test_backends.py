"""The compiled model uses keras.layers/keras.ops only, so it runs on Keras' JAX backend too.

One fresh interpreter with KERAS_BACKEND=jax (a module fixture) runs every spec in turn: build, forward, save, reload
and a short training run, for LeNet and for specs using the custom layers (LRN, sum pooling) and blocks. It prints
one JSON line per spec; each spec's test asserts its own line. One interpreter, not one per spec: importing JAX,
Keras and archspec was a third of each run's CPU, and the three runs share XLA's compiled ops.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

if importlib.util.find_spec("jax") is None:
    if os.environ.get("CI") == "true":  # in CI the test extras are installed: a missing jax is a broken setup
        pytest.fail("jax is missing (it is in the test extras; CI=true requires it)", pytrace=False)
    pytest.skip("the JAX backend needs jax (in the test extras)", allow_module_level=True)

SPECS = ["specs/lenet.yaml", "tests/specs/every_primitive.yaml", "tests/specs/every_block.yaml"]

# argv[1]: a JSON list of [spec, folder to save in]. Each spec starts from a cleared session and the same seed, as
# in an interpreter of its own; an exception ends that spec's run only (its line carries the traceback).
RUN_SPECS = textwrap.dedent("""
    import json, sys, traceback
    import numpy as np, keras, archspec
    assert keras.backend.backend() == "jax"
    for spec, folder in json.loads(sys.argv[1]):
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        try:
            report = archspec.shapes(spec)
            model = archspec.check(spec)            # static shapes equal the JAX-built model's
            x = np.random.default_rng(0).normal(size=(4, *report.input_shape)).astype("float32")
            before = np.asarray(model(x))
            path = archspec.save_model(model, folder + "/m.keras")
            again = keras.saving.load_model(path)
            same = float(np.abs(np.asarray(again(x)) - before).max())
            classes = report.output_shape[-1]
            y = keras.utils.to_categorical(np.arange(4) % classes, classes)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
            history = model.fit(x, y, epochs=5, batch_size=4, verbose=0)
            out = {"same": same, "loss": history.history["loss"], "backend": keras.backend.backend()}
        except Exception:
            out = {"error": traceback.format_exc()}
        print(json.dumps({"spec": spec, **out}), flush=True)
""")


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The interpreter's result and its line for each spec (by spec)."""
    folders = [tmp_path_factory.mktemp(Path(spec).stem) for spec in SPECS]
    # XLA's optimisation passes cost ~2 s per compiled op on CPU (every weight initialiser of a new shape is one);
    # this test asks whether the model runs on JAX, not how fast, so it compiles unoptimised: 2-5x quicker.
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip(),
    }
    argument = json.dumps([[spec, str(folder)] for spec, folder in zip(SPECS, folders, strict=True)])
    result = subprocess.run(
        [sys.executable, "-c", RUN_SPECS, argument], capture_output=True, text=True, cwd=ROOT, env=env
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"spec": ')]
    return result, {line["spec"]: line for line in lines}


@pytest.mark.parametrize("spec", SPECS)
def test_build_save_reload_train_on_jax(spec: str, jax_runs: tuple[subprocess.CompletedProcess[str], Any]) -> None:
    result, by_spec = jax_runs
    assert result.returncode == 0, result.stderr[-3000:]
    assert spec in by_spec, f"no result for {spec}: {result.stdout[-3000:]}"
    out = by_spec[spec]
    assert "error" not in out, out.get("error")
    assert out["backend"] == "jax" and out["same"] < 1e-5
    loss = out["loss"]
    assert len(loss) == 5 and all(math.isfinite(v) for v in loss), loss
    assert loss[-1] < loss[0], f"training on JAX did not lower the loss: {loss}"
