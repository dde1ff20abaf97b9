"""archspec export: SavedModel, ONNX and TFLite artifacts compute what the Keras model computes."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT, assert_depends_on_input, lively_batchnorm

import archspec
from archspec.cli import cli
from archspec.keras_side.export import export, export_model, run_exported

LENET = ROOT / "specs" / "lenet.yaml"


def need(*modules: str) -> None:
    """Skip without the converter/runtime, except under CI=true, where they are requirements."""
    for name in modules:
        if os.environ.get("CI") == "true":
            importlib.import_module(name)
        else:
            pytest.importorskip(name)


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    """A saved LeNet (random weights, nothing special about them) and a batch with its outputs."""
    model = archspec.build(LENET)
    path = archspec.save_model(model, tmp_path_factory.mktemp("model") / "lenet.keras")
    x = np.random.default_rng(7).normal(size=(3, 32, 32, 1)).astype("float32")
    return path, x, model.predict(x, verbose=0)


@pytest.mark.parametrize(
    "fmt,name", [("savedmodel", "lenet_savedmodel"), ("onnx", "lenet.onnx"), ("tflite", "lenet.tflite")]
)
def test_export_gives_the_keras_outputs(lenet, tmp_path, fmt, name):
    need(*{"onnx": ("tf2onnx", "onnxruntime"), "tflite": (), "savedmodel": ()}[fmt])
    path, x, expected = lenet
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["export", str(path), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert out.is_dir() == (fmt == "savedmodel")
    np.testing.assert_allclose(run_exported(out, x), expected, rtol=1e-5, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary files left


def test_refuses_to_overwrite_and_replaces_with_force(lenet, tmp_path):
    path, x, expected = lenet
    out = tmp_path / "sm"
    export(path, out, "savedmodel")
    with pytest.raises(archspec.SpecError, match="exists"):
        export(path, out, "savedmodel")
    (out / "marker").write_text("old")
    export(path, out, "savedmodel", force=True)
    assert not (out / "marker").exists()
    np.testing.assert_allclose(run_exported(out, x), expected, rtol=1e-5, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm"]


def test_export_a_spec_by_extension(tmp_path):
    need("tf2onnx", "onnxruntime")
    out = export(LENET, tmp_path / "fresh.onnx")  # format from the extension; fresh weights
    y = run_exported(out, np.zeros((2, 32, 32, 1), "float32"))
    assert y.shape == (2, 10) and np.allclose(y.sum(axis=1), 1, atol=1e-5)


PIXELS = {"tests/specs/every_modern_primitive.yaml", "specs/efficientnet_b0.yaml"}
"""The networks below that take pixels in [0, 255] and rescale them in the model; the others take values near 0 (a
pixel of 255 in every_primitive, which does not rescale, can saturate its sigmoid for every example alike)."""


@pytest.fixture(scope="module")
def modern() -> Callable[[str], tuple[Any, np.ndarray, np.ndarray]]:
    """A network of the test below, with BN statistics under which its outputs depend on its input (random ones
    left EfficientNet-B0's two examples with the same outputs: a wrong conversion of any layer but the last would
    pass), a batch and Keras' outputs: built once for both formats (EfficientNet-B0 takes seconds to build; the
    export leaves the model as it was, ONNX's on a clone)."""
    built: dict[str, tuple[Any, np.ndarray, np.ndarray]] = {}

    def get(spec: str) -> tuple[Any, np.ndarray, np.ndarray]:
        if spec not in built:
            import keras

            keras.utils.set_random_seed(0)  # the same network every run: some draws saturate every_primitive's sigmoid
            model = archspec.build(ROOT / spec)
            rng = np.random.default_rng(3)
            shape = model.input_shape[1:]

            def draw(n: int) -> np.ndarray:  # pixels where the network rescales them itself, else values near 0
                return (
                    rng.uniform(0, 255, (n, *shape)) if spec in PIXELS else rng.standard_normal((n, *shape))
                ).astype("float32")

            lively_batchnorm(model, draw(8), rng)
            x = draw(2)
            built[spec] = model, x, model.predict(x, verbose=0)
        return built[spec]

    return get


@pytest.mark.parametrize(
    "spec",
    [
        "tests/specs/every_primitive.yaml",  # a grouped, dilated convolution (AlexNet's and ResNeXt's kind)
        "tests/specs/every_modern_primitive.yaml",  # depthwise, separable, GELU, ReLU6, normalization, ...
        # a whole modern network: MBConv with SE, swish, explicit padding, rescaling and normalization in the model.
        # MobileNetV2 adds no operation to these (its ReLU6 is in the spec above); bench/export_zoo.py exports the
        # whole zoo in every format
        pytest.param("specs/efficientnet_b0.yaml", marks=pytest.mark.slow),
    ],
)
@pytest.mark.parametrize("fmt,suffix", [("onnx", ".onnx"), ("tflite", ".tflite")])
def test_modern_networks_export_faithfully(spec, fmt, suffix, tmp_path, modern):
    """ONNX gets grouped convolutions as depthwise or per-group convolutions, GELU in its erf form and
    Normalization on constants (what tf2onnx converts); every format computes Keras' outputs."""
    need(*{"onnx": ("tf2onnx", "onnxruntime"), "tflite": ()}[fmt])
    model, x, want = modern(spec)
    assert_depends_on_input(want, 1e-2, f"{spec}'s output")  # outputs worth comparing
    out = export_model(model, tmp_path / f"m{suffix}", fmt)
    np.testing.assert_allclose(run_exported(out, x), want, rtol=1e-4, atol=1e-6)


def test_bad_requests(tmp_path, lenet):
    path, _, _ = lenet
    with pytest.raises(archspec.SpecError, match="format"):
        export(path, None, None)
    with pytest.raises(archspec.SpecError, match="no such file"):
        export(tmp_path / "missing.keras", tmp_path / "m.onnx")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Callable[[str], tuple[Path, np.ndarray, np.ndarray]]:
    """A network of the test below saved as .keras, a batch and Keras' outputs: built and saved once for the three
    formats (each export reads the file afresh)."""
    made: dict[str, tuple[Path, np.ndarray, np.ndarray]] = {}

    def get(spec: str) -> tuple[Path, np.ndarray, np.ndarray]:
        if spec not in made:
            model = archspec.build(ROOT / spec)
            path = archspec.save_model(model, tmp_path_factory.mktemp("saved") / "m.keras")
            x = np.random.default_rng(3).normal(size=(2, *model.input_shape[1:])).astype("float32")
            made[spec] = path, x, model.predict(x, verbose=0)
        return made[spec]

    return get


@pytest.mark.parametrize("spec", ["specs/resnet20_cifar.yaml", "tests/specs/every_block.yaml"])
@pytest.mark.parametrize("fmt,suffix", [("savedmodel", "_sm"), ("onnx", ".onnx"), ("tflite", ".tflite")])
def test_graph_networks_export_faithfully(spec, fmt, suffix, tmp_path, saved):
    """Residual adds, concatenations, batchnorm and sum pooling survive every format."""
    need(*{"onnx": ("tf2onnx", "onnxruntime"), "tflite": (), "savedmodel": ()}[fmt])
    path, x, want = saved(spec)
    out = export(path, tmp_path / f"m{suffix}", fmt)
    np.testing.assert_allclose(run_exported(out, x), want, rtol=1e-4, atol=1e-5)


def test_savedmodel_serve_takes_a_tensor_like_serving_default(tmp_path):
    """A model whose inputs are a list (as `archspec train` saves it: keras.Model(model.inputs, ...))
    must still export a `serve` endpoint called with one tensor, as `serving_default` is."""
    import keras
    import tensorflow as tf

    built = archspec.build(LENET)
    listed = keras.Model(built.inputs, built.outputs, name="lenet")
    path = archspec.save_model(listed, tmp_path / "trained.keras")
    out = export(path, tmp_path / "sm", "savedmodel")
    loaded = tf.saved_model.load(str(out))
    (signature,) = [f.structured_input_signature for f in loaded.serve.concrete_functions]
    assert isinstance(signature[0][0], tf.TensorSpec), signature  # a tensor, not a list holding one
    x = tf.constant(np.random.default_rng(3).normal(size=(2, 32, 32, 1)).astype("float32"))
    by_serve = loaded.serve(x).numpy()
    (by_default,) = loaded.signatures["serving_default"](input=x).values()
    np.testing.assert_allclose(by_serve, by_default.numpy(), rtol=1e-6)
    np.testing.assert_allclose(by_serve, listed.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
