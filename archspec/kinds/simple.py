"""The parameter-free element-wise and reshaping layers: flatten, dropout, activation."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field

from .base import Activation, LayerSpec, Unsupported, keras_activation, keras_channel_axis
from .registry import Primitive, Shape, register


class Flatten(LayerSpec):
    """Feature map (H, W, C) to a vector of H*W*C values. Written as a bare name: `- flatten`."""


class Dropout(LayerSpec):
    """Randomly zero a fraction of values while training."""

    short: ClassVar[str | None] = "rate"
    rate: float = Field(ge=0, lt=1, description="Fraction of values dropped during training.")


class ActivationLayer(LayerSpec):
    """An activation as its own layer."""

    short: ClassVar[str | None] = "fn"
    fn: Activation = Field(description="relu, tanh, sigmoid, softmax, ...")


def _same(a: Any, inputs: list[Shape]) -> Shape:
    return inputs[0]


def _flat(a: Any, inputs: list[Shape]) -> Shape:
    return (math.prod(inputs[0]),)


def dropout_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    if getattr(layer, "noise_shape", None) is not None:
        raise Unsupported("noise_shape")
    return {"rate": float(layer.rate)}


def activation_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    """Activation, ReLU (plain or capped at 6) and Softmax layers are all `activation` nodes."""
    cls = type(layer).__name__
    if cls == "ReLU":
        slope, threshold, cap = float(layer.negative_slope), float(layer.threshold), layer.max_value
        if slope or threshold or cap not in (None, 6, 6.0):
            raise Unsupported("ReLU with negative_slope, threshold or a max_value other than 6")
        return {"fn": "relu" if cap is None else "relu6"}
    if cls == "Softmax":
        if not keras_channel_axis(layer.axis, rank):
            raise Unsupported(f"Softmax over axis {layer.axis!r}")
        return {"fn": "softmax"}
    return {"fn": keras_activation(layer.activation) or "linear"}


PRIMITIVES = [
    Primitive(
        kind="flatten",
        schema=Flatten,
        infer=_flat,
        emit=lambda n, x, k: k.layers.Flatten(name=n.name)(x[0]),
        window=lambda a, i: "global",
        summary="to a vector",
        keras_classes=("Flatten",),
        color="#a9a9a9",
        passes_values=True,
    ),
    Primitive(
        kind="dropout",
        schema=Dropout,
        infer=_same,
        emit=lambda n, x, k: k.layers.Dropout(n.attrs.rate, name=n.name)(x[0]),
        summary="dropout",
        keras_classes=("Dropout",),
        from_keras=dropout_from_keras,
        color="#b9b9b9",
        passes_values=True,
    ),
    Primitive(
        kind="activation",
        schema=ActivationLayer,
        infer=_same,
        emit=lambda n, x, k: k.layers.Activation(n.attrs.fn, name=n.name)(x[0]),
        aliases=("act",),
        summary="activation function",
        label=lambda a: a.fn,
        keras_classes=("Activation", "ReLU", "Softmax"),
        from_keras=activation_from_keras,
        color="#f2d36b",
        passes_values=True,
    ),
]
for _p in PRIMITIVES:
    register(_p)
