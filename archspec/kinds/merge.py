"""Graph nodes: add, multiply and concat join named inputs, so any topology can be written."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from ..errors import SpecPath
from .base import LayerSpec, Unsupported, custom_layer, keras_channel_axis
from .lowering import Lowering
from .registry import EmittedNode, Primitive, Shape, ShapeError, register


class Merge(LayerSpec):
    """Joins named layers."""

    short: ClassVar[str | None] = "inputs"
    inputs: list[str] = Field(min_length=2, description="Names of the layers to join (`input` is the model input).")


class Add(Merge):
    """Element-wise sum of inputs of identical shape (residual connections)."""

    scale: list[float] | None = Field(
        None,
        description="A constant factor per input: `scale: [1, 0.17]` sums x + 0.17 r "
        "(InceptionResNet's residual scaling).",
    )


class Multiply(Merge):
    """Element-wise product; a 1x1xC gate broadcasts over an HxWxC map (squeeze-and-excitation)."""


class Concat(Merge):
    """Concatenation along the channel axis of inputs with the same spatial size."""


def _named(names: list[str], shapes: list[Shape]) -> str:
    return ", ".join(f"{n} {'x'.join(map(str, s))}" for n, s in zip(names, shapes, strict=True))


def add_infer(a: Add, inputs: list[Shape]) -> Shape:
    if len(set(inputs)) != 1:
        raise ShapeError(f"add needs inputs of the same shape; got {_named(a.inputs, inputs)}")
    return inputs[0]


def add_scale_check(a: Add, inputs: list[Shape]) -> Shape:
    if a.scale is not None and len(a.scale) != len(inputs):
        raise ShapeError(f"add has {len(inputs)} inputs but {len(a.scale)} scale factors")
    return add_infer(a, inputs)


def multiply_infer(a: Multiply, inputs: list[Shape]) -> Shape:
    """Broadcasting as in NumPy, within one rank: each axis equal, or 1 in all inputs but one."""
    if len({len(s) for s in inputs}) != 1:
        raise ShapeError(f"multiply needs inputs of the same rank; got {_named(a.inputs, inputs)}")
    out = []
    for sizes in zip(*inputs, strict=True):  # same rank: checked above
        big = {d for d in sizes if d != 1}
        if len(big) > 1:
            raise ShapeError(
                f"multiply needs shapes that broadcast (each axis equal or 1); got {_named(a.inputs, inputs)}"
            )
        out.append(big.pop() if big else 1)
    return tuple(out)


ROUNDED_DOWN = (
    "a size halved by a pooling (or a stride 2) and rounded down comes back one smaller when enlarged again: give an "
    "input "
    "size that divides by 2 at every pooling (2^levels for a U-Net), or crop the larger side"
)


def concat_infer(a: Concat, inputs: list[Shape]) -> Shape:
    ranks = {len(s) for s in inputs}
    if len(ranks) != 1 or len({s[:-1] for s in inputs}) != 1:
        off_by_one = len(ranks) == 1 and any(
            max(sizes) - min(sizes) == 1 for sizes in zip(*(s[:-1] for s in inputs), strict=True)
        )
        raise ShapeError(
            f"concat needs inputs with the same spatial size; got {_named(a.inputs, inputs)}",
            ROUNDED_DOWN if off_by_one else None,
        )
    return (*inputs[0][:-1], sum(s[-1] for s in inputs))


def lower(a: Merge, ctx: Lowering, path: SpecPath) -> str:
    kind = _KIND[type(a)]
    sources = ctx.resolve_all(a.inputs, (*path, "inputs"))
    base = ctx.name_for(a, kind)
    return ctx.alias(base, ctx.add(base, kind, a.model_copy(update={"name": None, "input": None}), sources, path))


def add_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: Add = node.attrs
    if a.scale is None:
        return keras.layers.Add(name=node.name)(inputs)
    return custom_layer(keras, "ScaledAdd")(a.scale, name=node.name)(inputs)


def add_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    """Keras' Add layer and `x + y` between tensors; InceptionResNet's CustomScaleLayer (x + s r)."""
    if getattr(layer, "scales", None) is not None:  # archspec's own ScaledAdd
        return {"scale": [float(v) for v in layer.scales]}
    scale = getattr(layer, "scale", None)
    return {} if scale is None else {"scale": [1.0, float(scale)]}


def concat_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    if not keras_channel_axis(layer.axis, rank):
        raise Unsupported(f"Concatenate over axis {layer.axis!r} (archspec concatenates channels)")
    return {}


ADD = register(
    Primitive(
        kind="add",
        schema=Add,
        infer=add_scale_check,
        emit=add_emit,
        lower=lower,
        inputs=(2, None),
        summary="element-wise sum",
        keras_classes=("Add", "ops.Add", "CustomScaleLayer", "ScaledAdd"),
        from_keras=add_from_keras,
        color="#e07b7b",
    )
)
MULTIPLY = register(
    Primitive(
        kind="multiply",
        schema=Multiply,
        infer=multiply_infer,
        emit=lambda n, x, k: k.layers.Multiply(name=n.name)(x),
        lower=lower,
        inputs=(2, None),
        summary="element-wise product",
        keras_classes=("Multiply", "ops.Multiply"),
        color="#e0a07b",
    )
)
CONCAT = register(
    Primitive(
        kind="concat",
        schema=Concat,
        infer=concat_infer,
        emit=lambda n, x, k: k.layers.Concatenate(axis=-1, name=n.name)(x),
        lower=lower,
        inputs=(2, None),
        summary="channel concatenation",
        keras_classes=("Concatenate",),
        from_keras=concat_from_keras,
        color="#e07b7b",
        passes_values=True,
    )
)

_KIND = {Add: "add", Multiply: "multiply", Concat: "concat"}
