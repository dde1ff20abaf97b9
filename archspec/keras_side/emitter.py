"""The Keras emitter: IR -> a Keras 3 functional model whose layer names are the node names.

Each primitive's emitter lives beside its schema in ``kinds/``; this module
only walks the graph. Keras is imported when a model is built, not before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..graph import checked
from ..graph.infer import MAX_ACTIVATIONS, MAX_PARAMS
from ..graph.ir import Graph
from ..kinds.registry import OPS
from ..spec.loading import SpecLike
from .backend import deep_recursion
from .backend import keras as import_keras
from .weights import with_weights


def to_keras(graph: Graph) -> Any:
    """The functional model of a graph. One input and one output are plain tensors, as Keras models
    usually have; named inputs (the spec's `inputs`) and named outputs (`outputs`) are mappings by name,
    so `fit`, `predict` and exported signatures address each by its name."""
    keras = import_keras()
    from . import custom  # noqa: F401  (registers archspec's custom layers; imports Keras)

    tensors: dict[str, Any] = {name: keras.Input(shape=shape, name=name) for name, shape in graph.inputs.items()}
    inputs = dict(tensors) if graph.named_inputs else tensors[graph.nodes[0].name]
    for node in graph.layers:
        tensors[node.name] = OPS[node.op].emit(node, [tensors[i] for i in node.inputs], keras)
    outputs = {name: tensors[node] for name, node in graph.outputs.items()} if graph.outputs else tensors[graph.output]
    with deep_recursion(4 * len(graph.nodes) + 1000):
        model = keras.Model(inputs, outputs, name=graph.name)
    frozen = {node.name for node in graph.nodes if node.frozen}
    if frozen:
        set_frozen(model, frozen, frozen)
    return model


def set_frozen(model: Any, frozen: set[str], names: set[str]) -> None:
    """Of the layers named in `names`, freeze those in `frozen` and unfreeze the others.

    A frozen BatchNormalization also runs in inference mode (Keras ties the two together). Change it between
    fits only with a recompile after."""
    for layer in model.layers:
        if layer.name in names:
            layer.trainable = layer.name not in frozen


def build(
    spec: SpecLike,
    *,
    weights: Any = None,
    strict_weights: bool = False,
    weights_by_shape: bool = False,
    freeze: Sequence[str] | None = None,
    freeze_bn: bool | None = None,
    max_params: int | None = MAX_PARAMS,
    max_activations: int | None = MAX_ACTIVATIONS,
    include_top: bool = True,
    pooling: str | None = None,
    features: Sequence[str] | None = None,
    **overrides: Any,
) -> Any:
    """A Keras model (``keras.Model``) for the spec. Every static check runs first (``graph.checked``, as
    `validate`), before Keras allocates.

    ``weights``: a source of pretrained weights (see ``weights.py``); the model's ``transfer`` attribute is then
    the report of what moved. ``freeze``/``freeze_bn`` replace the spec's ``training.freeze``/``freeze_bn``."""
    graph, _ = checked(
        spec,
        include_top=include_top,
        pooling=pooling,
        features=features,
        max_params=max_params,
        max_activations=max_activations,
        freeze=freeze,
        freeze_bn=freeze_bn,
        **overrides,
    )
    return with_weights(lambda: to_keras(graph), weights, strict=strict_weights, by_shape=weights_by_shape)
