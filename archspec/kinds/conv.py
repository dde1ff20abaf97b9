"""conv: 2-D convolution, with the shorthands people write next to it (padding, bn, activation).

A kernel may be given as a matrix of values (the primer's edge-detect,
sharpen and blur filters); the matrix is then the filter for every input and
output channel, and `trainable: false` keeps it as set.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AliasChoices, Field, field_validator, model_validator

from ..errors import SpecPath
from .arith import conv_length
from .base import (
    Activation,
    LayerSpec,
    Padding,
    Pair,
    PosInt,
    explicit_padding,
    keras_activation,
    keras_channels_last,
    keras_pair,
    pair,
)
from .lowering import Lowering
from .norm import BatchNorm
from .registry import EmittedNode, LowerFn, Primitive, Shape, ShapeError, Window, register

Matrix = tuple[tuple[float, ...], ...]


class Conv(LayerSpec):
    """Convolution: `filters` (or the primer's `depth`) feature maps from a `kernel` window.

    Output size per axis (i input, k kernel, s stride, d dilation): `valid` gives
    floor((i - d(k - 1) - 1)/s) + 1, `same` gives ceil(i/s); explicit padding adds its zeros to i first."""

    short: ClassVar[str | None] = None
    json_alternatives: ClassVar[dict[str, list[dict[str, Any]]]] = {
        "kernel": [
            {
                "type": "array",
                "minItems": 1,
                "items": {"type": "array", "minItems": 1, "items": {"type": "number"}},
                "description": "A hand-set filter: its values, row by row.",
            }
        ]
    }
    filters: PosInt = Field(
        validation_alias=AliasChoices("filters", "depth"),
        description="Number of filters, i.e. the depth of the output feature map (`depth` is accepted too).",
    )
    kernel: Pair = Field(
        description="Window size: k, [kh, kw], or a matrix of values for a hand-set filter.",
        examples=[5, [3, 3], [[1, 0, 1], [0, 1, 0], [1, 0, 1]]],
    )
    values: Matrix | None = Field(None, description="Hand-set filter values (set by giving `kernel` as a matrix).")
    stride: Pair = Field((1, 1), description="Step of the window: s or [sh, sw].")
    padding: Padding = Field(
        "valid",
        description="`valid` (none), `same` (output = ceil(input/stride)), p, [ph, pw] or [[top, bottom], [left, "
        "right]] zeros.",
    )
    dilation: Pair = Field((1, 1), description="Spacing between kernel taps.")
    groups: PosInt = Field(1, description="Grouped convolution: input and output channels split into this many groups.")
    bias: bool = Field(True, description="Add a learned bias per filter.")
    activation: Activation | None = Field(
        None, description="Activation applied after the convolution (after `bn` when both are given)."
    )
    bn: bool | BatchNorm = Field(
        False, description="Batch normalisation between convolution and activation: true, or its settings."
    )
    trainable: bool = Field(True, description="False freezes the weights (for hand-set filters).")

    @field_validator("stride", "dilation", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        return pair(v)

    @model_validator(mode="before")
    @classmethod
    def _matrix_kernel(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        kernel = data.get("kernel")
        if isinstance(kernel, list) and kernel and all(isinstance(r, list) for r in kernel):
            rows = {len(r) for r in kernel}
            if len(rows) != 1:
                raise ValueError("a kernel matrix must be rectangular (every row the same length)")
            data = {**data, "kernel": (len(kernel), rows.pop()), "values": kernel}
        else:
            data = {**data, "kernel": pair(kernel)} if "kernel" in data else data
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Conv:
        if self.values is not None and (len(self.values), len(self.values[0])) != self.kernel:
            raise ValueError(
                f"values are {len(self.values)}x{len(self.values[0])} but kernel is {self.kernel[0]}x{self.kernel[1]}"
            )
        if self.filters % self.groups:
            raise ValueError(
                f"filters must be divisible by groups. Received: filters={self.filters}, groups={self.groups}"
            )
        if any(s > 1 for s in self.stride) and any(d > 1 for d in self.dilation):
            raise ValueError("stride > 1 together with dilation > 1 is not supported by Keras")
        return self


def describe(
    kind: str, inp: Shape, kernel: tuple[int, int], stride: tuple[int, int], padding: str, out: tuple[int, int]
) -> str:
    return (
        f"{inp[0]}x{inp[1]} input, {kernel[0]}x{kernel[1]} {kind}, stride {stride[0]}"
        + (f"x{stride[1]}" if stride[1] != stride[0] else "")
        + f", {padding} padding -> {out[0]}x{out[1]}"
    )


def window_output(
    kind: str,
    inp: Shape,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: str,
    dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int]:
    """Spatial output of a sliding window; a size below one is a ShapeError with the arithmetic."""
    if len(inp) != 3:
        raise ShapeError(
            f"needs a feature map (H, W, C) but its input has shape {list(inp)}; a {kind} cannot follow a flatten or "
            "dense layer"
        )
    out = (
        conv_length(inp[0], kernel[0], stride[0], padding, dilation[0]),
        conv_length(inp[1], kernel[1], stride[1], padding, dilation[1]),
    )
    if min(out) < 1:
        raise ShapeError(
            describe(kind, inp, kernel, stride, padding, out) + ": the window is larger than its (padded) input"
        )
    return out


def infer(a: Conv, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    h, w = window_output("kernel", inp, a.kernel, a.stride, str(a.padding), a.dilation)
    if inp[2] % a.groups:
        raise ShapeError(f"input channels must be divisible by groups. Received: channels={inp[2]}, groups={a.groups}")
    return (h, w, a.filters)


def params(a: Conv, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    n = a.kernel[0] * a.kernel[1] * (inputs[0][2] // a.groups) * a.filters + (a.filters if a.bias else 0)
    return (n, 0) if a.trainable else (0, n)


def macs(a: Conv, inputs: list[Shape], out: Shape) -> int:
    return out[0] * out[1] * a.filters * a.kernel[0] * a.kernel[1] * (inputs[0][2] // a.groups)


def window(a: Conv, inputs: list[Shape]) -> Window:
    return a.kernel, a.stride, a.dilation


def shorthand_lower(op: str) -> LowerFn:
    """The lowering of a windowed kind with `padding`, `bn` and `activation` shorthands:
    [zeropad] -> op -> [bn -> activation], Keras applications' own pattern and names
    (`conv1` becomes `conv1_pad`, `conv1_conv`, `conv1_bn`, `conv1_relu`; a depthwise
    `dw1` becomes `dw1_depthwise`, ...). Later layers refer to the whole as `conv1`."""

    def lower(a: Any, ctx: Lowering, path: SpecPath) -> str:
        from .pad import ZeroPad
        from .simple import ActivationLayer

        pads = explicit_padding(a.padding)
        bn = BatchNorm() if a.bn is True else (a.bn or None)
        bn = ctx.with_defaults("batchnorm", bn) if bn is not None else None
        several = pads is not None or bn is not None
        base = ctx.name_for(a, op)
        x = ctx.source_of(a, path)
        if pads is not None:
            x = ctx.add(f"{base}_pad", "zeropad", ZeroPad(padding=pads), [x], path)
        node = a.model_copy(
            update={
                "padding": "valid" if pads is not None else a.padding,
                "bn": False,
                "activation": None if bn else a.activation,
                "name": None,
                "input": None,
            }
        )
        x = ctx.add(f"{base}_{op}" if several else base, op, node, [x], path)
        if bn is not None:
            x = ctx.add(f"{base}_bn", "batchnorm", bn, [x], path)
            if a.activation:
                x = ctx.add(f"{base}_{a.activation}", "activation", ActivationLayer(fn=a.activation), [x], path)
        return ctx.alias(base, x)

    return lower


lower = shorthand_lower("conv")


def emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: Conv = node.attrs
    layer = keras.layers.Conv2D(
        a.filters,
        a.kernel,
        strides=a.stride,
        padding=a.padding,
        dilation_rate=a.dilation,
        groups=a.groups,
        use_bias=a.bias,
        activation=a.activation,
        trainable=a.trainable,
        name=node.name,
    )
    y = layer(inputs[0])
    if a.values is not None:
        import numpy as np

        kernel = np.broadcast_to(np.asarray(a.values, dtype="float32")[:, :, None, None], layer.kernel.shape)
        layer.kernel.assign(kernel)
        if a.bias:
            layer.bias.assign(np.zeros(layer.bias.shape, dtype="float32"))
    return y


def keras_window_settings(layer: Any, extra: dict[str, int]) -> dict[str, Any]:
    """A Keras convolution's settings as a spec writes them, defaults left out; `extra` holds the kind's own
    integer settings (groups, depth_multiplier), written when not 1. Shared by conv and depthwise."""
    keras_channels_last(layer)
    s: dict[str, Any] = {"filters": int(layer.filters)} if hasattr(layer, "filters") else {}
    s["kernel"] = keras_pair(layer.kernel_size)
    if tuple(layer.strides) != (1, 1):
        s["stride"] = keras_pair(layer.strides)
    if layer.padding != "valid":
        s["padding"] = layer.padding
    if tuple(layer.dilation_rate) != (1, 1):
        s["dilation"] = keras_pair(layer.dilation_rate)
    s.update({key: int(value) for key, value in extra.items() if int(value) != 1})
    if not layer.use_bias:
        s["bias"] = False
    act = keras_activation(layer.activation)
    if act:
        s["activation"] = act
    if not layer.trainable:
        s["trainable"] = False
    return s


def from_keras(layer: Any, rank: int) -> dict[str, Any]:
    return keras_window_settings(layer, {"groups": layer.groups})


def label(a: Conv) -> str:
    text = f"conv {a.kernel[0]}x{a.kernel[1]}"
    text += (
        f"/{a.stride[0]}"
        if a.stride == (a.stride[0],) * 2 and a.stride[0] > 1
        else ("" if a.stride == (1, 1) else f"/{a.stride[0]}x{a.stride[1]}")
    )
    text += " same" if a.padding == "same" else ""
    return text + (f" {a.activation}" if a.activation else "")


CONV = register(
    Primitive(
        kind="conv",
        schema=Conv,
        infer=infer,
        emit=emit,
        params=params,
        macs=macs,
        window=window,
        lower=lower,
        summary="2-D convolution",
        label=label,
        keras_classes=("Conv2D",),
        from_keras=from_keras,
        color="#6f9fd8",
        feature_maps=True,
        window_hint="most of a kernel larger than its input reads padding zeros; "
        "a kernel the size of the input (or smaller) sees the same",
        written_as=(("values", "kernel"),),  # a matrix kernel is how hand-set filters are written
    )
)
