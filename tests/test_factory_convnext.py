"""ConvNeXt without its head is keras.applications' include_top=False network: the stages, ``pooling`` when
given, then the layer norm keras.applications keeps (graph/backbone.py ``features_norm``), with the same weights
giving the same numbers."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import archspec


@pytest.mark.slow
@pytest.mark.parametrize("pooling", [None, "avg"])
def test_headless_convnext_is_keras_applications(tmp_path: Path, pooling: str | None) -> None:
    ref = keras.applications.ConvNeXtTiny(weights=None, include_top=False, pooling=pooling, input_shape=(32, 32, 3))
    rng = np.random.default_rng(0)
    for w in ref.weights:  # weights=None leaves the layer norms at 1 and 0: random ones make the order matter
        w.assign(rng.normal(size=w.shape).astype("float32") * 0.1)
    saved = archspec.save_model(ref, tmp_path / "notop.keras")
    ours = archspec.create_model(
        "convnext_tiny", include_top=False, pooling=pooling, input_shape=(32, 32, 3), weights=saved
    )
    assert ours.count_params() == ref.count_params() == 27_820_128
    assert ours.transfer.text().startswith("transferred 180 of 180 weight tensors")
    assert ours.layers[-1].name == "convnext_tiny_head_layernorm"
    x = rng.uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_the_norm_follows_the_pooling() -> None:
    """Pooled: the norm reads the pooled vector; not pooled: the feature map (as keras.applications has it)."""
    plain = archspec.shapes("convnext_tiny", include_top=False)
    pooled = archspec.shapes("convnext_tiny", include_top=False, pooling="max")
    assert [(info.name, info.output_shape) for info in plain.layers[-2:]] == [
        ("convnext_tiny_stage_3_block_2_add", (7, 7, 768)),
        ("convnext_tiny_head_layernorm", (7, 7, 768)),
    ]
    assert [(info.name, info.inputs, info.output_shape) for info in pooled.layers[-2:]] == [
        ("max_pool", ("convnext_tiny_stage_3_block_2_add",), (768,)),
        ("convnext_tiny_head_layernorm", ("max_pool",), (768,)),
    ]
    assert plain.total_params == pooled.total_params == 27_820_128
