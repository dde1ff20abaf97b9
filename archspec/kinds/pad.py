"""zeropad: zeros around the border, the primer's 'wide convolution' made explicit."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from .base import LayerSpec, NonNegInt, explicit_padding_before, keras_channels_last
from .registry import EmittedNode, Primitive, Shape, ShapeError, register


class ZeroPad(LayerSpec):
    """Zero padding: p (all sides), [ph, pw] or [[top, bottom], [left, right]]."""

    short: ClassVar[str | None] = "padding"
    json_alternatives: ClassVar[dict[str, list[dict[str, Any]]]] = {
        "padding": [
            {"type": "integer", "minimum": 0},
            {"type": "array", "prefixItems": [{"type": "integer", "minimum": 0}] * 2, "minItems": 2, "maxItems": 2},
        ]
    }
    padding: tuple[tuple[NonNegInt, NonNegInt], tuple[NonNegInt, NonNegInt]] = Field(
        description="p, [ph, pw] or [[top, bottom], [left, right]]", examples=[3, [1, 2], [[0, 1], [0, 1]]]
    )

    @field_validator("padding", mode="before")
    @classmethod
    def _explicit(cls, v: Any) -> Any:
        return explicit_padding_before(v)


def infer(a: ZeroPad, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    if len(inp) != 3:
        raise ShapeError(f"needs a feature map (H, W, C) but its input has shape {list(inp)}")
    (top, bottom), (left, right) = a.padding
    return (inp[0] + top + bottom, inp[1] + left + right, inp[2])


def emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    return keras.layers.ZeroPadding2D(padding=node.attrs.padding, name=node.name)(inputs[0])


def from_keras(layer: Any, rank: int) -> dict[str, Any]:
    keras_channels_last(layer)
    (top, bottom), (left, right) = (tuple(int(v) for v in p) for p in layer.padding)
    return {"padding": top if top == bottom == left == right else [[top, bottom], [left, right]]}


ZEROPAD = register(
    Primitive(
        kind="zeropad",
        schema=ZeroPad,
        infer=infer,
        emit=emit,
        summary="zero padding",
        keras_classes=("ZeroPadding2D",),
        from_keras=from_keras,
        color="#c9c9c9",
        passes_values=True,
        border=lambda a: a.padding,
    )
)
