"""The static-versus-Keras consistency check, for built-in and plugin kinds alike.

Builds the model and compares every node's static output shape and parameter
count with what Keras made of it. A kind whose shape rule disagrees with its
emitter is reported by name.
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError
from ..graph import graph_of
from ..graph.infer import infer
from ..graph.ir import Graph
from ..graph.report import Report
from ..spec.loading import SpecLike
from .emitter import to_keras


def compare(graph: Graph, report: Report, model: Any) -> list[str]:
    """Every disagreement between the static report and a built Keras model, as text."""
    wrong = []
    layers = {layer.name: layer for layer in model.layers}
    ops = {node.name: node.op for node in graph.nodes}
    for info in report.layers:
        layer = layers.get(info.name)
        if layer is None:
            wrong.append(f"node {info.name!r} ({ops[info.name]}) has no Keras layer of that name")
            continue
        keras_shape = tuple(layer.output.shape[1:])
        if keras_shape != info.output_shape:
            wrong.append(
                f"node {info.name!r}: kind {ops[info.name]!r} computes shape {list(info.output_shape)} "
                f"but its Keras layer gives {list(keras_shape)}"
            )
        if layer.count_params() != info.params:
            wrong.append(
                f"node {info.name!r}: kind {ops[info.name]!r} counts {info.params:,} parameters "
                f"but its Keras layer has {layer.count_params():,}"
            )
    if model.count_params() != report.total_params:
        wrong.append(
            f"total: {report.total_params:,} static parameters but the Keras model has {model.count_params():,}"
        )
    return wrong


def check_graph(graph: Graph, report: Report) -> Any:
    """Build and compare; returns the model, or raises SpecError listing every disagreement."""
    model = to_keras(graph)
    wrong = compare(graph, report, model)
    if wrong:
        raise SpecError(
            [
                graph.problem(
                    (),
                    f"shape engine and Keras disagree: {w}",
                    "a kind's shape rule or parameter count does not match its emitter",
                )
                for w in wrong
            ]
        )
    return model


def check(spec: SpecLike, **overrides: Any) -> Any:
    """Build the model and verify static shapes and parameter counts against Keras, node by node.

    Returns the model; raises SpecError naming each kind whose shape rule disagrees with its emitter."""
    graph = graph_of(spec, **overrides)
    return check_graph(graph, infer(graph, max_params=None, max_activations=None))
