"""The Keras emitter: IR -> a Keras 3 functional model whose layer names are the node names.

Each primitive's emitter lives beside its schema in ``kinds/``; this module
only walks the graph. Keras is imported when a model is built, not before.
"""

from __future__ import annotations

from typing import Any

from ..graph import graph_of
from ..graph.infer import MAX_ACTIVATIONS, MAX_PARAMS, infer
from ..graph.ir import INPUT, Graph
from ..kinds.registry import OPS
from ..spec.loading import SpecLike
from .backend import deep_recursion, keras as import_keras


def to_keras(graph: Graph) -> Any:
    keras = import_keras()
    from . import custom  # noqa: F401  (registers archspec's custom layers; imports Keras)

    tensors: dict[str, Any] = {INPUT: keras.Input(shape=graph.input_shape, name=INPUT)}
    for node in graph.nodes[1:]:
        tensors[node.name] = OPS[node.op].emit(node, [tensors[i] for i in node.inputs], keras)
    with deep_recursion(4 * len(graph.nodes) + 1000):
        return keras.Model(tensors[INPUT], tensors[graph.output], name=graph.name)


def build(spec: SpecLike, *, max_params: int | None = MAX_PARAMS, max_activations: int | None = MAX_ACTIVATIONS, **overrides: Any) -> Any:
    """A Keras model (``keras.Model``) for the spec. Shapes are checked first, before Keras allocates."""
    graph = graph_of(spec, **overrides)
    infer(graph, max_params=max_params, max_activations=max_activations)
    return to_keras(graph)
