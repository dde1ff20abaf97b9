"""The static shape engine against built Keras models, node by node.

Parametrised over every spec in specs/ and tests/specs/: a new spec is tested
by being added. Static shapes must equal Keras' output shapes for the layer
of the same name, and static parameter counts must equal count_params().
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import ROOT, SPECS, TEST_SPECS

import archspec
from archspec.graph.report import Report

# The zoo's large networks, and those with a keras.applications reference (MobileNet, 2.5M+), are built
# in tests/test_zoo.py (each network once); here the small ones and the test specs.
SMALL = [p for p in SPECS if archspec.shapes(p).total_params < 2_000_000] + TEST_SPECS


def assert_agrees(report: Report, model: keras.Model) -> None:
    names = {layer.name for layer in model.layers}
    for info in report.layers:
        assert info.name in names, f"node {info.name} has no Keras layer"
        layer = model.get_layer(info.name)
        assert tuple(layer.output.shape[1:]) == info.output_shape, info.name
        assert layer.count_params() == info.params, info.name
        assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == info.trainable_params, info.name
    assert model.count_params() == report.total_params
    assert len(model.layers) == len(report.layers) + len(report.inputs)  # + the Input layers: one Keras layer per node


@pytest.mark.parametrize("path", SMALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_static_shapes_equal_keras(path):
    report = archspec.shapes(path)
    model = archspec.build(path)
    assert_agrees(report, model)
    rng = np.random.default_rng(0)
    batch = {k: rng.normal(size=(2, *shape)).astype("float32") for k, shape in report.inputs.items()}
    out = model(batch if isinstance(model.input, dict) else batch["input"], training=False)
    out = out if isinstance(out, dict) else {next(iter(report.outputs)): out}
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (2, *shape) for k, shape in report.output_shapes.items()}


def test_layer_names_are_node_names():
    g = archspec.graph_of(ROOT / "specs" / "lenet.yaml")
    model = archspec.build(ROOT / "specs" / "lenet.yaml")
    assert [layer.name for layer in model.layers] == [n.name for n in g.nodes]
