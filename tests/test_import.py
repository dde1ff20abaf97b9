"""archspec import: Keras model -> spec -> model gives the same architecture."""

from __future__ import annotations

import keras
import pytest
from click.testing import CliRunner
from conftest import ROOT, SPECS, TEST_SPECS, without_weights

import archspec
from archspec.cli import cli
from archspec.keras_side.importer import import_model

# Every zoo spec but the families of keras.applications' modern networks: importing each of those
# (from the Keras reference, with weight parity) is tests/test_zoo.py's, and building each again here
# would add minutes.
MODERN = {
    "mobilenet",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet",
    "efficientnet_b0",
    "efficientnet_v2",
    "efficientnet_v2_b0",
    "convnext",
    "convnext_tiny",
    "xception",
    "inception_v3",
    "inception_resnet_v2",
    "nasnet",
    "nasnet_mobile",
    "resnet50_v2",
}
ROUND_TRIP = [p for p in SPECS if p.stem not in MODERN] + TEST_SPECS


def architecture(model) -> list[tuple]:
    return [
        (type(layer).__name__, layer.name, tuple(layer.output.shape[1:]), layer.count_params())
        for layer in model.layers
    ]


@pytest.mark.parametrize("path", ROUND_TRIP, ids=lambda p: p.stem)
def test_round_trip(path):
    with without_weights():  # an import reads the graph, not the weights
        model = archspec.build(path)
        text = import_model(model)
        again = archspec.build(archspec.loads(text))
        assert architecture(again) == architecture(model)
        assert again.count_params() == model.count_params()
        assert import_model(again) == text  # a fixed point: importing the rebuilt model gives the same spec


def test_cli_import_writes_a_spec(tmp_path):
    model = archspec.build(ROOT / "specs" / "lenet.yaml")
    saved = archspec.save_model(model, tmp_path / "lenet.keras")
    out = tmp_path / "lenet.yaml"
    result = CliRunner().invoke(cli, ["import", str(saved), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Imported by `archspec import` from lenet.keras")
    assert "- conv: {filters: 6, kernel: 5, activation: relu, name: conv_1}" in text
    assert archspec.shapes(out).total_params == 63802
    again = CliRunner().invoke(cli, ["import", str(saved), "-o", str(out)])
    assert again.exit_code != 0 and "exists" in str(again.exception)
    printed = CliRunner().invoke(cli, ["import", str(saved)])
    assert printed.output == text


def test_graph_references_and_awkward_names():
    x = inp = keras.Input((16, 16, 3), name="pixels")
    a = keras.layers.Conv2D(4, 3, padding="same", name="yes")(x)  # YAML 1.1 would read `yes` as true
    b = keras.layers.Conv2D(4, 1, name="1")(inp)
    y = keras.layers.Add(name="sum")([a, b])
    y = keras.layers.ReLU(name="r")(y)
    y = keras.layers.Concatenate(name="cat")([y, a])
    y = keras.layers.GlobalAveragePooling2D(name="gap")(y)
    y = keras.layers.Softmax(name="out")(keras.layers.Dense(3, name="d")(y))
    model = keras.Model(inp, y, name="tiny net")
    text = import_model(model)
    assert (
        "name: 'yes'" in text and "name: '1'" in text and "input: input" in text
    )  # quoted: strings, not a bool and an int
    assert "add: {inputs: ['yes', '1'], name: sum}" in text
    again = archspec.build(archspec.loads(text))
    assert [layer.name for layer in again.layers][1:] == [layer.name for layer in model.layers][1:]
    assert again.count_params() == model.count_params() and again.name == "tiny_net"


def test_sequential_model():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="seq",
    )
    again = archspec.build(archspec.loads(import_model(model)))
    shapes = lambda m: [tuple(layer.output.shape[1:]) for layer in m.layers if type(layer).__name__ != "InputLayer"]
    assert shapes(again) == shapes(model) and again.count_params() == model.count_params()


def test_unsupported_layers_are_named():
    inp = keras.Input((16, 16, 3))
    x = keras.layers.UpSampling2D(interpolation="bicubic", name="up")(inp)
    x = keras.layers.LeakyReLU(name="leaky")(x)
    x = keras.layers.Conv2D(4, 3, name="ok")(x)
    x = keras.layers.Concatenate(axis=1, name="rows")([x, x])
    x = 6.0 / x  # an operation with the number on the left: no rescaling writes it
    with pytest.raises(archspec.SpecError) as info:
        import_model(keras.Model(inp, x))
    text = str(info.value)
    lines = {p.message.split(":")[0]: p.message for p in info.value.problems}
    assert "'up'" in lines["Keras class UpSampling2D"] and "bicubic" in lines["Keras class UpSampling2D"]
    assert "'leaky'" in lines["Keras class LeakyReLU"]
    assert "'rows'" in lines["Keras class Concatenate"] and "axis" in lines["Keras class Concatenate"]
    assert "left operand" in lines["Keras class ops.TrueDivide"]
    assert "'ok'" not in text
    assert text.count("supported Keras classes") == len(info.value.problems) == 4  # one problem (and hint) per class


def test_a_class_two_kinds_claim_goes_to_the_one_that_takes_it():
    """Dropout is `dropout`, or `stochastic_depth` when it drops whole examples (EfficientNet's drop path)."""
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Dropout(0.2, noise_shape=(None, 1, 1, 1), name="drop_path")(inp)
    x = keras.layers.Dropout(0.5, name="plain")(x)
    text = import_model(keras.Model(inp, x))
    assert "stochastic_depth: {rate: 0.2, name: drop_path}" in text and "dropout: {rate: 0.5, name: plain}" in text
    odd = keras.layers.Dropout(0.2, noise_shape=(None, 1, 8, 1), name="rows")(inp)
    with pytest.raises(archspec.SpecError) as info:
        import_model(keras.Model(inp, odd))
    assert "noise_shape" in str(info.value) and "'rows'" in str(info.value)


def test_arithmetic_with_numbers_imports_exactly():
    """MobileNetV3's hard sigmoid is written as Keras operations: relu6(x + 3) * (1/6)."""
    import numpy as np

    inp = keras.Input((8, 8, 4))
    gate = keras.layers.ReLU(6.0)(inp + 3.0) * (1.0 / 6.0)
    y = keras.layers.Multiply(name="excite")([inp, gate])
    y = y - 0.5
    model = keras.Model(inp, y)
    text = import_model(model)
    assert (
        "rescaling: {offset: 3.0" in text
        and "rescaling: {scale: 0.16666666666666666" in text
        and "offset: -0.5" in text
    )
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype("float32") * 4
    np.testing.assert_array_equal(archspec.build(archspec.loads(text))(x), model(x))


def test_open_image_size_needs_a_shape():
    inp = keras.Input((None, None, 3))
    model = keras.Model(inp, keras.layers.Conv2D(4, 3, strides=2, name="c")(inp))
    with pytest.raises(archspec.SpecError, match="input-shape"):
        import_model(model)
    text = import_model(model, input_shape=(32, 32, 3))
    assert archspec.shapes(archspec.loads(text)).output_shape == (15, 15, 4)
    with pytest.raises(archspec.SpecError, match="does not fit"):
        import_model(model, input_shape=(32, 32, 1))


def test_nested_models_are_inlined():
    """ConvNeXt's stem and downsampling blocks are Sequential models inside the functional one."""
    stem = keras.Sequential(
        [keras.layers.Conv2D(8, 4, strides=4, name="stem_conv"), keras.layers.LayerNormalization(name="stem_ln")],
        name="stem",
    )
    inp = keras.Input((32, 32, 3))
    x = stem(inp)
    y = keras.layers.Dense(8, name="pw")(x)
    model = keras.Model(inp, keras.layers.Add(name="sum")([x, y]))
    text = import_model(model)
    assert "add: {inputs: [stem_ln, pw], name: sum}" in text
    assert archspec.build(archspec.loads(text)).count_params() == model.count_params()


def test_an_unsupported_class_is_stated_once_with_every_layer():
    inp = keras.Input((16, 16, 3))
    x = inp
    for i in range(3):
        x = keras.layers.LeakyReLU(name=f"leaky{i}")(x)
    with pytest.raises(archspec.SpecError) as info:
        import_model(keras.Model(inp, x))
    (problem,) = info.value.problems
    assert "3 layers affected: 'leaky0', 'leaky1', 'leaky2'" in problem.message


def test_several_inputs_become_named_inputs():
    a, b = keras.Input((8, 8, 1), name="left"), keras.Input((8, 8, 1), name="right")
    text = import_model(keras.Model([a, b], keras.layers.Add(name="sum")([a, b])))
    assert "inputs: {left: [8, 8, 1], right: [8, 8, 1]}" in text and "add: {inputs: [left, right], name: sum}" in text
