"""build -> save -> load gives the same model and outputs, custom layers included."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import ROOT

import archspec

SPECS = [
    ROOT / "specs" / "lenet.yaml",
    ROOT / "tests" / "specs" / "every_primitive.yaml",
    ROOT / "tests" / "specs" / "every_block.yaml",
]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_save_load_same_outputs(path, tmp_path):
    model = archspec.build(path)
    x = np.random.default_rng(3).normal(size=(2, *model.input_shape[1:])).astype("float32")
    expected = model.predict(x, verbose=0)
    target = archspec.save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(target)  # plain Keras: custom layers were registered by archspec
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_failed_save_leaves_nothing(tmp_path):
    class Broken:
        def save(self, path):
            with open(path, "w") as f:
                f.write("half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        archspec.save_model(Broken(), tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []
