"""The Keras emitter: IR -> a Keras 3 functional model whose layer names are the node names.

Each primitive's emitter lives beside its schema in ``kinds/``; this module
only walks the graph. Keras is imported when a model is built, not before.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..graph import graph_of
from ..graph.freeze import refreeze
from ..graph.infer import MAX_ACTIVATIONS, MAX_PARAMS, infer
from ..graph.ir import INPUT, Graph
from ..kinds.registry import OPS
from ..spec.loading import SpecLike, coerce
from .backend import deep_recursion, keras as import_keras
from .weights import load_weights


def to_keras(graph: Graph) -> Any:
    keras = import_keras()
    from . import custom  # noqa: F401  (registers archspec's custom layers; imports Keras)

    tensors: dict[str, Any] = {INPUT: keras.Input(shape=graph.input_shape, name=INPUT)}
    for node in graph.nodes[1:]:
        tensors[node.name] = OPS[node.op].emit(node, [tensors[i] for i in node.inputs], keras)
    with deep_recursion(4 * len(graph.nodes) + 1000):
        model = keras.Model(tensors[INPUT], tensors[graph.output], name=graph.name)
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


def build(spec: SpecLike, *, weights: Any = None, strict_weights: bool = False, freeze: Sequence[str] | None = None,
          freeze_bn: bool | None = None, max_params: int | None = MAX_PARAMS, max_activations: int | None = MAX_ACTIVATIONS,
          **overrides: Any) -> Any:
    """A Keras model (``keras.Model``) for the spec. Shapes are checked first, before Keras allocates.

    ``weights``: a source of pretrained weights (see ``weights.py``); the model's ``transfer`` attribute is then
    the report of what moved. ``freeze``/``freeze_bn`` replace the spec's ``training.freeze``/``freeze_bn``."""
    loaded = coerce(spec, overrides)
    graph = refreeze(graph_of(loaded), getattr(loaded, "training", None), freeze, freeze_bn)
    infer(graph, max_params=max_params, max_activations=max_activations)
    model = to_keras(graph)
    if weights is not None:
        model.transfer = load_weights(model, weights, strict=strict_weights)
    return model
