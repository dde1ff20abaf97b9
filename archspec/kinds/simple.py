"""The parameter-free element-wise and reshaping layers: flatten, dropout, activation."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field

from .base import Activation, LayerSpec
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


PRIMITIVES = [
    Primitive("flatten", Flatten, _flat, lambda n, x, k: k.layers.Flatten(name=n.name)(x[0]), window=lambda a, i: "global", summary="to a vector"),
    Primitive("dropout", Dropout, _same, lambda n, x, k: k.layers.Dropout(n.attrs.rate, name=n.name)(x[0]), summary="dropout"),
    Primitive("activation", ActivationLayer, _same, lambda n, x, k: k.layers.Activation(n.attrs.fn, name=n.name)(x[0]), aliases=("act",), summary="activation function", label=lambda a: a.fn),
]
for _p in PRIMITIVES:
    register(_p)
