"""Layers that only rearrange or cut values: reshape and crop."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import Field, field_validator

from .base import LayerSpec, NonNegInt, PosInt, explicit_padding_before, keras_channels_last
from .registry import Primitive, Shape, ShapeError, register


class Reshape(LayerSpec):
    """The same values in a new shape (no batch axis), e.g. a C vector to 1x1xC."""

    short: ClassVar[str | None] = "shape"
    shape: tuple[PosInt, ...] = Field(min_length=1, max_length=3, description="Target shape, e.g. [1, 1, 64].")


class Crop(LayerSpec):
    """Cut rows and columns off the border: c (all sides), [ch, cw] or [[top, bottom], [left, right]]."""

    short: ClassVar[str | None] = "crop"
    crop: tuple[tuple[NonNegInt, NonNegInt], tuple[NonNegInt, NonNegInt]] = Field(
        description="c, [ch, cw] or [[top, bottom], [left, right]]", examples=[1, [1, 0], [[1, 0], [1, 0]]]
    )
    json_alternatives: ClassVar[dict[str, list[dict[str, Any]]]] = {
        "crop": [
            {"type": "integer", "minimum": 0},
            {"type": "array", "prefixItems": [{"type": "integer", "minimum": 0}] * 2, "minItems": 2, "maxItems": 2},
        ]
    }

    @field_validator("crop", mode="before")
    @classmethod
    def _explicit(cls, v: Any) -> Any:
        return explicit_padding_before(v)


def reshape_infer(a: Reshape, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    if math.prod(inp) != math.prod(a.shape):
        raise ShapeError(
            f"cannot reshape {'x'.join(map(str, inp))} ({math.prod(inp):,} values) "
            f"to {'x'.join(map(str, a.shape))} ({math.prod(a.shape):,} values)"
        )
    return tuple(a.shape)


def crop_infer(a: Crop, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    if len(inp) != 3:
        raise ShapeError(f"needs a feature map (H, W, C) but its input has shape {list(inp)}")
    (top, bottom), (left, right) = a.crop
    out = (inp[0] - top - bottom, inp[1] - left - right, inp[2])
    if min(out[:2]) < 1:
        raise ShapeError(
            f"cropping {top}+{bottom} rows and {left}+{right} columns from {inp[0]}x{inp[1]} leaves nothing"
        )
    return out


def crop_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    keras_channels_last(layer)
    (top, bottom), (left, right) = (tuple(int(v) for v in p) for p in layer.cropping)
    return {"crop": top if top == bottom == left == right else [[top, bottom], [left, right]]}


for _p in (
    Primitive(
        kind="reshape",
        schema=Reshape,
        infer=reshape_infer,
        emit=lambda n, x, k: k.layers.Reshape(n.attrs.shape, name=n.name)(x[0]),
        summary="new shape, same values",
        keras_classes=("Reshape",),
        from_keras=lambda layer, rank: {"shape": [int(d) for d in layer.target_shape]},
        color="#a9a9a9",
        passes_values=True,
    ),
    Primitive(
        kind="crop",
        schema=Crop,
        infer=crop_infer,
        emit=lambda n, x, k: k.layers.Cropping2D(n.attrs.crop, name=n.name)(x[0]),
        summary="border cropping",
        keras_classes=("Cropping2D",),
        from_keras=crop_from_keras,
        color="#c9c9c9",
        passes_values=True,
    ),
):
    register(_p)
