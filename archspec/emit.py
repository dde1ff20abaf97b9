"""The Keras emitter: IR -> a Keras 3 functional model whose layer names are the node names.

This is the only module on the build path that imports Keras, and it does so
when called. Each primitive's emitter lives beside its schema in
``kinds/``; this module only walks the graph.
"""

from __future__ import annotations

from typing import Any

from .backend import deep_recursion
from .ir import INPUT, Graph
from .kinds.registry import OPS


def to_keras(graph: Graph) -> Any:
    from .backend import keras as import_keras

    keras = import_keras()
    from . import layers  # noqa: F401  (registers archspec's custom layers)

    tensors: dict[str, Any] = {INPUT: keras.Input(shape=graph.input_shape, name=INPUT)}
    for node in graph.nodes[1:]:
        tensors[node.name] = OPS[node.op].emit(node, [tensors[i] for i in node.inputs], keras)
    with deep_recursion(4 * len(graph.nodes) + 1000):
        return keras.Model(tensors[INPUT], tensors[graph.output], name=graph.name)
