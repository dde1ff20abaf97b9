"""Graph nodes: add and concat join named inputs, so any topology can be written."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from .base import LayerSpec, Unsupported, keras_channel_axis
from .registry import Primitive, Shape, ShapeError, register


class Merge(LayerSpec):
    """Joins named layers."""

    short: ClassVar[str | None] = "inputs"
    inputs: list[str] = Field(min_length=2, description="Names of the layers to join (`input` is the model input).")


class Add(Merge):
    """Element-wise sum of inputs of identical shape (residual connections)."""


class Concat(Merge):
    """Concatenation along the channel axis of inputs with the same spatial size."""


def _named(names: list[str], shapes: list[Shape]) -> str:
    return ", ".join(f"{n} {'x'.join(map(str, s))}" for n, s in zip(names, shapes))


def add_infer(a: Add, inputs: list[Shape]) -> Shape:
    if len(set(inputs)) != 1:
        raise ShapeError(f"add needs inputs of the same shape; got {_named(a.inputs, inputs)}")
    return inputs[0]


def concat_infer(a: Concat, inputs: list[Shape]) -> Shape:
    ranks = {len(s) for s in inputs}
    if len(ranks) != 1 or len({s[:-1] for s in inputs}) != 1:
        raise ShapeError(f"concat needs inputs with the same spatial size; got {_named(a.inputs, inputs)}")
    return (*inputs[0][:-1], sum(s[-1] for s in inputs))


def lower(a: Merge, ctx, path: tuple) -> str:
    kind = "add" if isinstance(a, Add) else "concat"
    sources = ctx.resolve_all(a.inputs, path + ("inputs",))
    base = ctx.name_for(a, kind)
    return ctx.alias(base, ctx.add(base, kind, a.model_copy(update={"name": None, "input": None}), sources, path))


def concat_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    if not keras_channel_axis(layer.axis, rank):
        raise Unsupported(f"Concatenate over axis {layer.axis!r} (archspec concatenates channels)")
    return {}


ADD = register(Primitive("add", Add, add_infer, lambda n, x, k: k.layers.Add(name=n.name)(x), lower=lower, inputs=(2, None), summary="element-wise sum",
                        keras_classes=("Add",), color="#e07b7b"))
CONCAT = register(Primitive("concat", Concat, concat_infer, lambda n, x, k: k.layers.Concatenate(axis=-1, name=n.name)(x), lower=lower, inputs=(2, None),
                           summary="channel concatenation", keras_classes=("Concatenate",), from_keras=concat_from_keras, color="#e07b7b"))
