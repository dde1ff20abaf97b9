"""The compiled model uses keras.layers/keras.ops only, so it runs on Keras' JAX backend too.

Each test runs in a fresh interpreter with KERAS_BACKEND=jax: build, forward,
save, reload and a short training run, for LeNet and for specs using the
custom layers (LRN, sum pooling) and blocks.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

if importlib.util.find_spec("jax") is None:
    if os.environ.get("CI") == "true":  # in CI the test extras are installed: a missing jax is a broken setup
        pytest.fail("jax is missing (it is in the test extras; CI=true requires it)", pytrace=False)
    pytest.skip("the JAX backend needs jax (in the test extras)", allow_module_level=True)

SPECS = ["specs/lenet.yaml", "tests/specs/every_primitive.yaml", "tests/specs/every_block.yaml"]


@pytest.mark.parametrize("spec", SPECS)
def test_build_save_reload_train_on_jax(spec, tmp_path):
    code = textwrap.dedent(f"""
        import json, numpy as np, keras, archspec
        assert keras.backend.backend() == "jax"
        keras.utils.set_random_seed(0)
        report = archspec.shapes({spec!r})
        model = archspec.check({spec!r})            # static shapes equal the JAX-built model's
        x = np.random.default_rng(0).normal(size=(4, *report.input_shape)).astype("float32")
        before = np.asarray(model(x))
        path = archspec.save_model(model, {str(tmp_path / "m.keras")!r})
        again = keras.saving.load_model(path)
        same = float(np.abs(np.asarray(again(x)) - before).max())
        classes = report.output_shape[-1]
        y = keras.utils.to_categorical(np.arange(4) % classes, classes)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
        history = model.fit(x, y, epochs=5, batch_size=4, verbose=0)
        print(json.dumps({{"same": same, "loss": history.history["loss"], "backend": keras.backend.backend()}}))
    """)
    # XLA's optimisation passes cost ~2 s per compiled op on CPU (every weight initialiser of a new shape is one);
    # this test asks whether the model runs on JAX, not how fast, so it compiles unoptimised: 2-5x quicker.
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip(),
    }
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["backend"] == "jax" and out["same"] < 1e-5
    loss = out["loss"]
    assert len(loss) == 5 and all(math.isfinite(v) for v in loss), loss
    assert loss[-1] < loss[0], f"training on JAX did not lower the loss: {loss}"
