"""dense (also `fc`): the fully connected layer.

A dense layer fed a feature map (H, W, C) is an error rather than an implicit
flatten: Keras would silently apply it to the channel axis only, and a
reader of the spec should see where the map becomes a vector. Applying it to
the channel axis on purpose (ConvNeXt's pointwise layers) is `pointwise: true`.
"""

from __future__ import annotations

from math import prod
from typing import Any, ClassVar

from pydantic import Field

from .base import Activation, LayerSpec, PosInt, Unsupported, keras_activation
from .registry import EmittedNode, Primitive, Shape, ShapeError, register


class Dense(LayerSpec):
    """Fully connected layer."""

    short: ClassVar[str | None] = "units"
    units: PosInt = Field(description="Number of output neurons.")
    activation: Activation | None = Field(
        None, description="Activation applied to the output (softmax for class probabilities)."
    )
    bias: bool = Field(True, description="Add a learned bias per unit.")
    pointwise: bool = Field(
        False,
        description="Apply to the channel axis of a feature map, each position alike (a 1x1 convolution; ConvNeXt).",
    )
    trainable: bool = Field(True, description="False freezes the weights.")


def infer(a: Dense, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    if a.pointwise:
        return (*inp[:-1], a.units)
    if len(inp) != 1:
        raise ShapeError(
            f"a dense layer needs a vector but its input is a {'x'.join(map(str, inp))} feature map; "
            "add `- flatten` or `- pool: global_avg` before it"
        )
    return (a.units,)


def params(a: Dense, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    n = inputs[0][-1] * a.units + (a.units if a.bias else 0)
    return (n, 0) if a.trainable else (0, n)


def macs(a: Dense, inputs: list[Shape], out: Shape) -> int:
    positions = 1
    for d in inputs[0][:-1]:
        positions *= d
    return positions * inputs[0][-1] * a.units


def emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: Dense = node.attrs
    return keras.layers.Dense(a.units, activation=a.activation, use_bias=a.bias, trainable=a.trainable, name=node.name)(
        inputs[0]
    )


def from_keras(layer: Any, rank: int) -> dict[str, Any]:
    if rank not in (2, 4):
        raise Unsupported(
            f"Dense on a rank-{rank} tensor (archspec's dense takes a vector, or a feature map with pointwise: true)"
        )
    s: dict[str, Any] = {"units": int(layer.units)}
    if rank == 4:
        s["pointwise"] = True
    act = keras_activation(layer.activation)
    if act:
        s["activation"] = act
    if not layer.use_bias:
        s["bias"] = False
    if not layer.trainable:
        s["trainable"] = False
    return s


DENSE = register(
    Primitive(
        kind="dense",
        schema=Dense,
        infer=infer,
        emit=emit,
        params=params,
        macs=macs,
        window=lambda a, i: None if a.pointwise else "global",
        aliases=("fc",),
        summary="fully connected",
        label=lambda a: "dense" + (f" {a.activation}" if a.activation else ""),
        keras_classes=("Dense",),
        from_keras=from_keras,
        color="#a487d8",
        fan_in=lambda a, i: i[0][-1] if a.pointwise else prod(i[0]),
    )
)
