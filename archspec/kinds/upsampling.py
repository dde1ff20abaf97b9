"""Layers that enlarge feature maps, for decoders (U-Net, segmentation heads):
`conv_transpose` (a learned upsampling), `upsample` (repeat or interpolate by a factor)
and `resize` (to a fixed size).

Their shape rules are Keras' own (``arith.transpose_length``); the receptive field of an
enlarging layer is an ``Upscale`` step rather than a sliding window.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from .arith import transpose_length
from .base import (
    Activation,
    LayerSpec,
    NonNegInt,
    Pair,
    PosInt,
    Unsupported,
    ValueNotes,
    keras_activation,
    keras_channels_last,
    keras_pair,
    pair,
)
from .conv import shorthand_lower
from .norm import BatchNorm
from .registry import EmittedNode, Primitive, Shape, ShapeError, Upscale, register

INTERPOLATION_NOTES = {
    "nearest": "each value repeated: the output is blocky, and reads one input position",
    "bilinear": "values interpolated between the two nearest input positions on each axis",
}
Interpolation = Annotated[Literal["nearest", "bilinear"], ValueNotes(notes=INTERPOLATION_NOTES)]


class ConvTranspose(LayerSpec):
    """Transposed convolution ("up-convolution", U-Net's 2x2 up-conv): a learned upsampling to
    `filters` channels, `stride` times larger.

    Output size per axis, Keras' rule (i input, k kernel, s stride, p output_padding):
    `valid` gives (i - 1)s + max(k, s), or (i - 1)s + k + p when p is given; `same` gives
    i·s, or (i - 1)s + (k mod 2) + p when p is given. A 2x2 kernel at stride 2 doubles the size
    either way. p must be smaller than s; with `same`, an even kernel needs p of at least 1
    (TensorFlow refuses p = 0 there). Beside `conv`'s rule (`valid` floor((i - k)/s) + 1, `same`
    ceil(i/s)): the output is a size that the convolution with the same kernel, stride and padding
    brings back to i; when several are, output_padding picks one."""

    short: ClassVar[str | None] = None
    filters: PosInt = Field(description="Output channels.")
    kernel: Pair = Field(description="Window size: k or [kh, kw].", examples=[2, [3, 3]])
    stride: Pair = Field((1, 1), description="Upsampling factor: s or [sh, sw].")
    padding: Literal["valid", "same"] = Field("valid", description="`valid` or `same`; see the output size rule above.")
    output_padding: NonNegInt | tuple[NonNegInt, NonNegInt] | None = Field(
        None,
        description="Extra rows and columns at the far side (p or [ph, pw], each below the stride); none: Keras' "
        "default.",
    )
    bias: bool = Field(True, description="Add a learned bias per filter.")
    activation: Activation | None = Field(
        None, description="Activation applied after the convolution (after `bn` when both are given)."
    )
    bn: bool | BatchNorm = Field(
        False, description="Batch normalisation between convolution and activation: true, or its settings."
    )

    @field_validator("kernel", "stride", "output_padding", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        return pair(v)

    @model_validator(mode="after")
    def _keras_accepts(self) -> ConvTranspose:
        p = self._padding_pair()
        if p is None:
            return self
        if any(p[a] >= self.stride[a] for a in (0, 1)):
            raise ValueError(
                f"output_padding must be smaller than the stride on each axis; got output_padding "
                f"{list(p)} with stride {list(self.stride)}"
            )
        if self.padding == "same" and any(self.kernel[a] % 2 == 0 and p[a] == 0 for a in (0, 1)):
            raise ValueError(
                f"with padding `same`, an even kernel ({self.kernel[0]}x{self.kernel[1]}) needs output_padding of at "
                "least 1: an output of (i - 1)·s is not one the convolution it inverts takes back to i, and "
                "TensorFlow "
                f"refuses it; give output_padding 1, or leave it out for i·s"
            )
        return self

    def _padding_pair(self) -> tuple[int, int] | None:
        """`output_padding` as a pair: `_pair` has made it one (the field's type also names an int, for the schema)."""
        p = self.output_padding
        return (p, p) if isinstance(p, int) else p

    def output_pair(self) -> tuple[int | None, int | None]:
        p = self._padding_pair()
        return (None, None) if p is None else p


def _feature_map(kind: str, inp: Shape) -> None:
    if len(inp) != 3:
        raise ShapeError(
            f"needs a feature map (H, W, C) but its input has shape {list(inp)}; {kind} enlarges height and width"
        )


def transpose_infer(a: ConvTranspose, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    _feature_map("a transposed convolution", inp)
    pad = a.output_pair()
    h, w = (transpose_length(inp[i], a.kernel[i], a.stride[i], a.padding, pad[i]) for i in (0, 1))
    return (h, w, a.filters)


def transpose_params(a: ConvTranspose, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    return a.kernel[0] * a.kernel[1] * inputs[0][2] * a.filters + (a.filters if a.bias else 0), 0


def transpose_macs(a: ConvTranspose, inputs: list[Shape], out: Shape) -> int:
    """Each input position spreads a kernel-sized patch of every filter over the output."""
    h, w, c = inputs[0]
    return h * w * c * a.kernel[0] * a.kernel[1] * a.filters


def transpose_window(a: ConvTranspose, inputs: list[Shape]) -> Upscale:
    return Upscale(reach=(-(-a.kernel[0] // a.stride[0]), -(-a.kernel[1] // a.stride[1])), factor=a.stride)


def transpose_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: ConvTranspose = node.attrs
    return keras.layers.Conv2DTranspose(
        a.filters,
        a.kernel,
        strides=a.stride,
        padding=a.padding,
        output_padding=a.output_padding,
        use_bias=a.bias,
        activation=a.activation,
        name=node.name,
    )(inputs[0])


def transpose_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    keras_channels_last(layer)
    if tuple(layer.dilation_rate) != (1, 1):
        raise Unsupported("dilation_rate other than 1 (archspec's conv_transpose has no dilation)")
    s: dict[str, Any] = {"filters": int(layer.filters), "kernel": keras_pair(layer.kernel_size)}
    if tuple(layer.strides) != (1, 1):
        s["stride"] = keras_pair(layer.strides)
    if layer.padding != "valid":
        s["padding"] = layer.padding
    if layer.output_padding is not None:
        s["output_padding"] = keras_pair(layer.output_padding)
    if not layer.use_bias:
        s["bias"] = False
    act = keras_activation(layer.activation)
    if act:
        s["activation"] = act
    return s


def transpose_label(a: ConvTranspose) -> str:
    stride = str(a.stride[0]) if a.stride[0] == a.stride[1] else f"{a.stride[0]}x{a.stride[1]}"
    text = f"conv_transpose {a.kernel[0]}x{a.kernel[1]}/{stride}" + (" same" if a.padding == "same" else "")
    return text + (f" {a.activation}" if a.activation else "")


class Upsample(LayerSpec):
    """Upsampling by a whole factor per axis, as Keras' UpSampling2D: output = input x `factor`.
    `nearest` repeats each value, `bilinear` interpolates. Short form: `upsample: 2`."""

    short: ClassVar[str | None] = "factor"
    factor: Pair = Field((2, 2), description="Factor per axis: f or [fh, fw].")
    interpolation: Interpolation = Field("nearest", description="nearest (repeat) or bilinear (interpolate).")

    @field_validator("factor", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        return pair(v)


class Resize(LayerSpec):
    """Resizing to a fixed height and width, as Keras' Resizing: any input size becomes `size`
    (aspect ratio not kept). Short form: `resize: [64, 64]`."""

    short: ClassVar[str | None] = "size"
    size: Pair = Field(description="Output height and width: s or [h, w].", examples=[[64, 64]])
    interpolation: Interpolation = Field("bilinear", description="bilinear (interpolate) or nearest (pick).")

    @field_validator("size", mode="before")
    @classmethod
    def _pair(cls, v: Any) -> Any:
        return pair(v)


def upsample_infer(a: Upsample, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    _feature_map("upsample", inp)
    return (inp[0] * a.factor[0], inp[1] * a.factor[1], inp[2])


def resize_infer(a: Resize, inputs: list[Shape]) -> Shape:
    (inp,) = inputs
    _feature_map("resize", inp)
    return (a.size[0], a.size[1], inp[2])


_REACH = {"nearest": 1, "bilinear": 2}
"""Input positions one output position reads, per axis."""


def upsample_window(a: Upsample, inputs: list[Shape]) -> Upscale:
    reach = _REACH[a.interpolation]
    return Upscale(reach=(reach, reach), factor=a.factor)


def resize_window(a: Resize, inputs: list[Shape]) -> Upscale:
    reach = _REACH[a.interpolation]
    return Upscale(reach=(reach, reach), factor=(Fraction(a.size[0], inputs[0][0]), Fraction(a.size[1], inputs[0][1])))


def upsample_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    keras_channels_last(layer)
    if layer.interpolation not in _REACH:
        raise Unsupported(f"interpolation {layer.interpolation!r} (archspec has: nearest, bilinear)")
    s: dict[str, Any] = {}
    if tuple(layer.size) != (2, 2):
        s["factor"] = keras_pair(layer.size)
    if layer.interpolation != "nearest":
        s["interpolation"] = layer.interpolation
    return s


def resize_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    keras_channels_last(layer)
    if layer.interpolation not in _REACH:
        raise Unsupported(f"interpolation {layer.interpolation!r} (archspec has: nearest, bilinear)")
    if getattr(layer, "crop_to_aspect_ratio", False) or getattr(layer, "pad_to_aspect_ratio", False):
        raise Unsupported("crop_to_aspect_ratio / pad_to_aspect_ratio")
    s: dict[str, Any] = {"size": keras_pair((layer.height, layer.width))}
    if layer.interpolation != "bilinear":
        s["interpolation"] = layer.interpolation
    return s


def _factor(value: tuple[int, int]) -> str:
    return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"


register(
    Primitive(
        kind="conv_transpose",
        schema=ConvTranspose,
        infer=transpose_infer,
        emit=transpose_emit,
        params=transpose_params,
        macs=transpose_macs,
        window=transpose_window,
        lower=shorthand_lower("conv_transpose"),
        aliases=("deconv", "upconv"),
        summary="transposed convolution (learned upsampling)",
        label=transpose_label,
        keras_classes=("Conv2DTranspose",),
        from_keras=transpose_from_keras,
        color="#9cc3ec",
        feature_maps=True,
    )
)
register(
    Primitive(
        kind="upsample",
        schema=Upsample,
        infer=upsample_infer,
        emit=lambda n, x, k: k.layers.UpSampling2D(n.attrs.factor, interpolation=n.attrs.interpolation, name=n.name)(
            x[0]
        ),
        window=upsample_window,
        summary="upsampling by a factor",
        label=lambda a: f"upsample x{_factor(a.factor)} {a.interpolation}",
        keras_classes=("UpSampling2D",),
        from_keras=upsample_from_keras,
        color="#f6c995",
        passes_values=True,
    )
)
register(
    Primitive(
        kind="resize",
        schema=Resize,
        infer=resize_infer,
        emit=lambda n, x, k: k.layers.Resizing(*n.attrs.size, interpolation=n.attrs.interpolation, name=n.name)(x[0]),
        window=resize_window,
        summary="resizing to a fixed size",
        label=lambda a: f"resize {a.size[0]}x{a.size[1]} {a.interpolation}",
        keras_classes=("Resizing",),
        from_keras=resize_from_keras,
        color="#e8d29b",
        passes_values=True,
    )
)
