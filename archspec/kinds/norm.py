"""Normalisation: batchnorm, layernorm (ConvNeXt), and AlexNet's local response normalisation (lrn)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import LayerSpec, PosInt, Unsupported, custom_layer, keras_channel_axis
from .registry import EmittedNode, Primitive, Shape, ShapeError, register


class BatchNorm(LayerSpec):
    """Batch normalisation over the channel axis."""

    epsilon: float = Field(1e-3, gt=0, description="Added to the variance (Keras applications use 1.001e-5).")
    momentum: float = Field(0.99, ge=0, le=1, description="Moving-average momentum.")
    center: bool = Field(True, description="Learn an offset (beta).")
    scale: bool = Field(True, description="Learn a scale (gamma).")


def _same(a: Any, inputs: list[Shape]) -> Shape:
    return inputs[0]


def bn_params(a: BatchNorm, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    c = inputs[0][-1]
    return c * (int(a.center) + int(a.scale)), 2 * c


def bn_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: BatchNorm = node.attrs
    return keras.layers.BatchNormalization(
        epsilon=a.epsilon, momentum=a.momentum, center=a.center, scale=a.scale, name=node.name
    )(inputs[0])


class LayerNorm(LayerSpec):
    """Layer normalisation over the channel axis of each position (Ba et al. 2016; ConvNeXt)."""

    epsilon: float = Field(1e-3, gt=0, description="Added to the variance (ConvNeXt uses 1e-6).")
    center: bool = Field(True, description="Learn an offset (beta).")
    scale: bool = Field(True, description="Learn a scale (gamma).")


def ln_params(a: LayerNorm, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    return inputs[0][-1] * (int(a.center) + int(a.scale)), 0


def ln_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: LayerNorm = node.attrs
    return keras.layers.LayerNormalization(axis=-1, epsilon=a.epsilon, center=a.center, scale=a.scale, name=node.name)(
        inputs[0]
    )


def ln_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    if not keras_channel_axis(layer.axis, rank) or getattr(layer, "rms_scaling", False):
        raise Unsupported(f"axis={layer.axis!r} or rms_scaling (archspec normalises the channel axis)")
    s: dict[str, Any] = {} if float(layer.epsilon) == LayerNorm().epsilon else {"epsilon": float(layer.epsilon)}
    for key in ("center", "scale"):
        if not getattr(layer, key):
            s[key] = False
    return s


class LRN(LayerSpec):
    """Local response normalisation across channels (Krizhevsky et al. 2012, section 3.3):
    b = a / (bias + alpha * sum of a^2 over `size` neighbouring channels) ^ beta."""

    size: PosInt = Field(5, description="Channels in the window (n); odd.")
    alpha: float = Field(1e-4, ge=0, description="Scale of the sum of squares.")
    beta: float = Field(0.75, ge=0, description="Exponent.")
    bias: float = Field(
        2.0, gt=0, description="Additive constant (k), above zero: the power of zero or less is undefined."
    )


def lrn_infer(a: LRN, inputs: list[Shape]) -> Shape:
    if a.size % 2 == 0:
        raise ShapeError(f"lrn size must be odd. Received: size={a.size}")
    return inputs[0]


def lrn_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: LRN = node.attrs
    return custom_layer(keras, "LocalResponseNormalization")(a.size, a.alpha, a.beta, a.bias, name=node.name)(inputs[0])


def bn_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    if not keras_channel_axis(layer.axis, rank):
        raise Unsupported(f"axis={layer.axis!r} (archspec normalises the channel axis)")
    defaults = BatchNorm()
    s: dict[str, Any] = {}
    for key in ("epsilon", "momentum"):
        if float(getattr(layer, key)) != getattr(defaults, key):
            s[key] = float(getattr(layer, key))
    for key in ("center", "scale"):
        if not getattr(layer, key):
            s[key] = False
    return s


def lrn_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    return {"size": int(layer.size), "alpha": float(layer.alpha), "beta": float(layer.beta), "bias": float(layer.bias)}


NORM_MACS = (
    "a normalisation's per-value scale and shift are not counted, as in the papers' MAC figures the zoo is checked "
    "against (batch normalisation folds into the convolution before it)"
)
BATCHNORM = register(
    Primitive(
        kind="batchnorm",
        schema=BatchNorm,
        infer=_same,
        emit=bn_emit,
        params=bn_params,
        aliases=("bn",),
        summary="batch normalisation",
        keras_classes=("BatchNormalization",),
        from_keras=bn_from_keras,
        color="#86c79f",
        macs_none=NORM_MACS,
        batch_statistics=True,
    )
)
LAYERNORM = register(
    Primitive(
        kind="layernorm",
        schema=LayerNorm,
        infer=_same,
        emit=ln_emit,
        params=ln_params,
        aliases=("ln",),
        summary="layer normalisation",
        keras_classes=("LayerNormalization",),
        from_keras=ln_from_keras,
        color="#9fd7b0",
        macs_none=NORM_MACS,
        stays_with_features=True,
    )
)
LRN_KIND = register(
    Primitive(
        kind="lrn",
        schema=LRN,
        infer=lrn_infer,
        emit=lrn_emit,
        summary="local response normalisation",
        keras_classes=("LocalResponseNormalization",),
        from_keras=lrn_from_keras,
        color="#79c6c6",
    )
)
