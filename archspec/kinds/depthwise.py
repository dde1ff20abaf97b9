"""depthwise and separable: the factorised convolutions of MobileNet, Xception and EfficientNet.

`depthwise` filters each input channel on its own (`depth_multiplier` filters per channel,
Keras' DepthwiseConv2D); `separable` is a depthwise convolution followed by a 1x1
convolution to `filters` channels in one layer (Keras' SeparableConv2D, Xception's
building block). Both take the `padding`, `bn` and `activation` shorthands `conv` has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from .base import Activation, LayerSpec, Padding, Pair, PosInt, pair
from .conv import keras_window_settings, shorthand_lower, window_output
from .norm import BatchNorm
from .registry import EmittedNode, Primitive, Shape, Window, register


class _Windowed(LayerSpec):
    """Fields the factorised convolutions share with `conv`."""

    short: ClassVar[str | None] = None
    kernel: Pair = Field(description="Window size: k or [kh, kw].")
    stride: Pair = Field((1, 1), description="Step of the window: s or [sh, sw].")
    padding: Padding = Field(
        "valid", description="`valid`, `same`, p, [ph, pw] or [[top, bottom], [left, right]] zeros."
    )
    dilation: Pair = Field((1, 1), description="Spacing between kernel taps.")
    depth_multiplier: PosInt = Field(1, description="Filters per input channel in the depthwise step.")
    bias: bool = Field(True, description="Add a learned bias per output channel.")
    activation: Activation | None = Field(
        None, description="Activation after the convolution (after `bn` when both are given)."
    )
    bn: bool | BatchNorm = Field(
        False, description="Batch normalisation between convolution and activation: true, or its settings."
    )
    trainable: bool = Field(True, description="False freezes the weights.")

    @field_validator("kernel", "stride", "dilation", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        return pair(v)

    @model_validator(mode="after")
    def _stride_or_dilation(self) -> _Windowed:
        if any(s > 1 for s in self.stride) and any(d > 1 for d in self.dilation):
            raise ValueError("stride > 1 together with dilation > 1 is not supported by Keras")
        return self


class Depthwise(_Windowed):
    """Depthwise convolution: each input channel filtered on its own (MobileNet, EfficientNet).
    Output channels: input channels x `depth_multiplier`."""


class Separable(_Windowed):
    """Depthwise-separable convolution in one layer: a depthwise step, then a 1x1
    convolution to `filters` channels (Xception, NASNet)."""

    filters: PosInt = Field(description="Output channels of the pointwise step.")


def _window(a: _Windowed, inp: Shape) -> tuple[int, int]:
    return window_output("kernel", inp, a.kernel, a.stride, str(a.padding), a.dilation)


def depthwise_infer(a: Depthwise, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    return (*_window(a, inp), inp[2] * a.depth_multiplier)


def depthwise_params(a: Depthwise, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    n = a.kernel[0] * a.kernel[1] * out[2] + (out[2] if a.bias else 0)
    return (n, 0) if a.trainable else (0, n)


def depthwise_macs(a: Depthwise, inputs: list[Shape], out: Shape) -> int:
    return out[0] * out[1] * out[2] * a.kernel[0] * a.kernel[1]


def separable_infer(a: Separable, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    return (*_window(a, inp), a.filters)


def separable_params(a: Separable, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    mid = inputs[0][2] * a.depth_multiplier
    n = a.kernel[0] * a.kernel[1] * mid + mid * a.filters + (a.filters if a.bias else 0)
    return (n, 0) if a.trainable else (0, n)


def separable_macs(a: Separable, inputs: list[Shape], out: Shape) -> int:
    mid = inputs[0][2] * a.depth_multiplier
    return out[0] * out[1] * mid * (a.kernel[0] * a.kernel[1] + a.filters)


def window(a: _Windowed, inputs: list[Shape]) -> Window:
    return a.kernel, a.stride, a.dilation


def _common(a: _Windowed) -> dict[str, Any]:
    return {
        "kernel_size": a.kernel,
        "strides": a.stride,
        "padding": a.padding,
        "dilation_rate": a.dilation,
        "depth_multiplier": a.depth_multiplier,
        "use_bias": a.bias,
        "activation": a.activation,
        "trainable": a.trainable,
    }


def depthwise_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    return keras.layers.DepthwiseConv2D(**_common(node.attrs), name=node.name)(inputs[0])


def separable_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    return keras.layers.SeparableConv2D(node.attrs.filters, **_common(node.attrs), name=node.name)(inputs[0])


def from_keras(layer: Any, rank: int) -> dict[str, Any]:
    return keras_window_settings(layer, {"depth_multiplier": layer.depth_multiplier})


def label(kind: str) -> Callable[[_Windowed], str]:
    def text(a: _Windowed) -> str:
        out = f"{kind} {a.kernel[0]}x{a.kernel[1]}"
        out += (
            f"/{a.stride[0]}"
            if a.stride[0] == a.stride[1] and a.stride[0] > 1
            else ("" if a.stride == (1, 1) else f"/{a.stride[0]}x{a.stride[1]}")
        )
        out += " same" if a.padding == "same" else ""
        return out + (f" {a.activation}" if a.activation else "")

    return text


DEPTHWISE = register(
    Primitive(
        kind="depthwise",
        schema=Depthwise,
        infer=depthwise_infer,
        emit=depthwise_emit,
        params=depthwise_params,
        macs=depthwise_macs,
        window=window,
        lower=shorthand_lower("depthwise"),
        aliases=("dwconv",),
        summary="depthwise convolution",
        label=label("depthwise"),
        keras_classes=("DepthwiseConv2D",),
        from_keras=from_keras,
        color="#8fb6e3",
        feature_maps=True,
    )
)
SEPARABLE = register(
    Primitive(
        kind="separable",
        schema=Separable,
        infer=separable_infer,
        emit=separable_emit,
        params=separable_params,
        macs=separable_macs,
        window=window,
        lower=shorthand_lower("separable"),
        aliases=("sepconv",),
        summary="depthwise-separable convolution",
        label=label("separable"),
        keras_classes=("SeparableConv2D",),
        from_keras=from_keras,
        color="#5d8cc9",
        feature_maps=True,
    )
)
