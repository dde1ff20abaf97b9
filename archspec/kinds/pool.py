"""pool: max, average or sum over a window (the three kinds the primer lists), or global."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ..errors import SpecPath, closest
from .base import LayerSpec, Padding, Pair, custom_layer, explicit_padding, keras_channels_last, keras_pair, pair
from .conv import window_output
from .lowering import Lowering
from .registry import EmittedNode, Primitive, Shape, ShapeError, Window, register

_SHORT: dict[str, dict[str, str | bool]] = {
    "max": {"kind": "max"},
    "avg": {"kind": "avg"},
    "sum": {"kind": "sum"},
    "global_max": {"kind": "max", "global": True},
    "global_avg": {"kind": "avg", "global": True},
    "global_sum": {"kind": "sum", "global": True},
}
_SHORT_NOTES = {
    "max": "2x2 windows, stride 2: the largest value of each",
    "avg": "2x2 windows, stride 2: the mean of each",
    "sum": "2x2 windows, stride 2: the sum of each",
    "global_max": "the largest value of each feature map: one value per channel",
    "global_avg": "the mean of each feature map: one value per channel",
    "global_sum": "the sum of each feature map: one value per channel",
}


class Pool(LayerSpec):
    """Pooling. Short forms: `pool: max` (2x2, stride 2), `pool: global_avg`."""

    short: ClassVar[str | None] = None
    json_alternatives: ClassVar[dict[str, list[dict[str, Any]]]] = {
        "": [
            {
                "enum": sorted(_SHORT),
                "enumDescriptions": [_SHORT_NOTES[f] for f in sorted(_SHORT)],
                "description": "Named short forms: 2x2 max/avg/sum with stride 2, or global pooling.",
            }
        ]
    }
    kind: Literal["max", "avg", "sum"] = Field("max", description="max, avg (average) or sum.")
    size: Pair = Field((2, 2), description="Window: k or [kh, kw].")
    stride: Pair | None = Field(None, description="Step of the window; defaults to the window size.")
    padding: Padding = Field("valid", description="`valid`, `same`, or explicit zeros as for conv.")
    global_: bool = Field(
        False, alias="global", description="Pool each feature map to one value (output has C values)."
    )
    keepdims: bool = Field(False, description="With `global`: keep the map's axes, giving 1x1xC instead of C.")

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data not in _SHORT:
                near = closest(data, _SHORT)
                raise ValueError(
                    f"unknown pool {data!r}"
                    + (f" (did you mean {near!r}?)" if near else "")
                    + f"; short forms: {', '.join(_SHORT)}"
                )
            return dict(_SHORT[data])
        return data

    @field_validator("size", "stride", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        return pair(v)

    @property
    def step(self) -> tuple[int, int]:
        return self.stride or self.size


def infer(a: Pool, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    if a.global_:
        if len(inp) != 3:
            raise ShapeError(f"global pooling needs a feature map (H, W, C); its input has shape {list(inp)}")
        return (1, 1, inp[2]) if a.keepdims else (inp[2],)
    if a.keepdims:
        raise ShapeError("`keepdims` applies to global pooling only")
    h, w = window_output(f"{a.kind} pool", inp, a.size, a.step, str(a.padding))
    return (h, w, inp[2])


def window(a: Pool, inputs: list[Shape]) -> Window | str:
    return "global" if a.global_ else (a.size, a.step, (1, 1))


def lower(a: Pool, ctx: Lowering, path: SpecPath) -> str:
    """Explicit padding becomes a zeropad node first, as in Keras applications (`pool1_pad`)."""
    from .pad import ZeroPad

    pads = None if a.global_ else explicit_padding(a.padding)
    base = ctx.name_for(a, "pool")
    x = ctx.source_of(a, path)
    if pads is None:
        return ctx.alias(base, ctx.add(base, "pool", a.model_copy(update={"name": None, "input": None}), [x], path))
    x = ctx.add(f"{base}_pad", "zeropad", ZeroPad(padding=pads), [x], path)
    x = ctx.add(
        f"{base}_pool", "pool", a.model_copy(update={"padding": "valid", "name": None, "input": None}), [x], path
    )
    return ctx.alias(base, x)


def emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: Pool = node.attrs
    x = inputs[0]
    if a.kind == "sum":
        if a.global_:
            return custom_layer(keras, "GlobalSumPooling2D")(keepdims=a.keepdims, name=node.name)(x)
        return custom_layer(keras, "SumPooling2D")(a.size, a.step, a.padding, name=node.name)(x)
    if a.global_:
        cls = {"max": keras.layers.GlobalMaxPooling2D, "avg": keras.layers.GlobalAveragePooling2D}[a.kind]
        return cls(keepdims=a.keepdims, name=node.name)(x)
    cls = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[a.kind]
    return cls(pool_size=a.size, strides=a.step, padding=a.padding, name=node.name)(x)


_KERAS_KINDS = {"MaxPooling2D": "max", "AveragePooling2D": "avg", "SumPooling2D": "sum"}
_KERAS_GLOBAL = {"GlobalMaxPooling2D": "max", "GlobalAveragePooling2D": "avg", "GlobalSumPooling2D": "sum"}


def from_keras(layer: Any, rank: int) -> dict[str, Any]:
    keras_channels_last(layer)
    cls = type(layer).__name__
    if cls in _KERAS_GLOBAL:
        return {
            "kind": _KERAS_GLOBAL[cls],
            "global": True,
            **({"keepdims": True} if getattr(layer, "keepdims", False) else {}),
        }
    s: dict[str, Any] = {"kind": _KERAS_KINDS[cls], "size": keras_pair(layer.pool_size)}
    if tuple(layer.strides) != tuple(layer.pool_size):
        s["stride"] = keras_pair(layer.strides)
    if layer.padding != "valid":
        s["padding"] = layer.padding
    return s


def label(a: Pool) -> str:
    if a.global_:
        return f"global {a.kind} pool"
    size = str(a.size[0]) if a.size[0] == a.size[1] else f"{a.size[0]}x{a.size[1]}"
    step = str(a.step[0]) if a.step[0] == a.step[1] else f"{a.step[0]}x{a.step[1]}"
    return f"{a.kind} pool {size}/{step}" + (" same" if a.padding == "same" else "")


POOL = register(
    Primitive(
        kind="pool",
        schema=Pool,
        infer=infer,
        emit=emit,
        window=window,
        lower=lower,
        summary="max / avg / sum pooling",
        label=label,
        keras_classes=(*_KERAS_KINDS, *_KERAS_GLOBAL),
        from_keras=from_keras,
        color="#f0a95b",
        feature_maps=True,
        passes_values=True,
        window_hint="a global pool may be what you mean",
    )
)
