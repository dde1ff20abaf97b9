"""archspec import: Keras model -> spec -> model gives the same architecture."""

from __future__ import annotations

import keras
import pytest
from click.testing import CliRunner

import archspec
from archspec.cli import cli
from archspec.keras_side.importer import import_model
from conftest import ROOT, SPECS, TEST_SPECS

ROUND_TRIP = SPECS + TEST_SPECS  # every zoo spec: all use supported layers


def architecture(model) -> list[tuple]:
    return [(type(l).__name__, l.name, tuple(l.output.shape[1:]), l.count_params()) for l in model.layers]


@pytest.mark.parametrize("path", ROUND_TRIP, ids=lambda p: p.stem)
def test_round_trip(path):
    model = archspec.build(path)
    text = import_model(model)
    again = archspec.build(text)
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
    assert "name: 'yes'" in text and "name: '1'" in text and "input: input" in text  # quoted: strings, not a bool and an int
    assert "add: {inputs: ['yes', '1'], name: sum}" in text
    again = archspec.build(text)
    assert [l.name for l in again.layers][1:] == [l.name for l in model.layers][1:]
    assert again.count_params() == model.count_params() and again.name == "tiny_net"


def test_sequential_model():
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.MaxPooling2D(),
                              keras.layers.Flatten(), keras.layers.Dropout(0.5), keras.layers.Dense(10, activation="softmax")], name="seq")
    again = archspec.build(import_model(model))
    shapes = lambda m: [tuple(l.output.shape[1:]) for l in m.layers if type(l).__name__ != "InputLayer"]  # noqa: E731
    assert shapes(again) == shapes(model) and again.count_params() == model.count_params()


def test_unsupported_layers_are_named():
    inp = keras.Input((16, 16, 3))
    x = keras.layers.DepthwiseConv2D(3, name="dw")(inp)
    x = keras.layers.LeakyReLU(name="leaky")(x)
    x = keras.layers.Conv2D(4, 3, name="ok")(x)
    x = keras.layers.Dense(2, name="dense_on_map")(x)
    with pytest.raises(archspec.SpecError) as info:
        import_model(keras.Model(inp, x))
    text = str(info.value)
    lines = {p.message.split(":")[0]: p.message for p in info.value.problems}
    assert "'dw'" in lines["Keras class DepthwiseConv2D"] and "'leaky'" in lines["Keras class LeakyReLU"]
    assert "'dense_on_map'" in lines["Keras class Dense"] and "feature map" in lines["Keras class Dense"]
    assert "'ok'" not in text
    assert text.count("supported Keras classes") == len(info.value.problems) == 3  # one problem (and hint) per class


def test_an_unsupported_class_is_stated_once_with_every_layer():
    inp = keras.Input((16, 16, 3))
    x = inp
    for i in range(3):
        x = keras.layers.LeakyReLU(name=f"leaky{i}")(x)
    with pytest.raises(archspec.SpecError) as info:
        import_model(keras.Model(inp, x))
    (problem,) = info.value.problems
    assert "3 layers affected: 'leaky0', 'leaky1', 'leaky2'" in problem.message


def test_multiple_inputs_are_refused():
    a, b = keras.Input((8, 8, 1)), keras.Input((8, 8, 1))
    with pytest.raises(archspec.SpecError, match="2 inputs"):
        import_model(keras.Model([a, b], keras.layers.Add()([a, b])))
