"""Constant and learned per-channel scaling: in-model preprocessing (`rescaling`,
`normalization`), ConvNeXt's `layer_scale`, and `stochastic_depth` (drop path).

None of them changes a shape. `rescaling` is also what the importer makes of
Keras arithmetic between a tensor and a number (`x + 3.0`, `x * (1 / 6)`: the
pieces of MobileNetV3's hard sigmoid), so such a network imports exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from .base import ConstantOp, LayerSpec, PositiveNumbers, Unsupported, custom_layer, keras_channel_axis
from .registry import EmittedNode, Primitive, Shape, ShapeError, register

Numbers = float | list[float]
"""One value for every channel, or one per channel."""


class Rescaling(LayerSpec):
    """y = x * scale + offset, with constants: pixels to [0, 1] (`scale: 1/255`) or to [-1, 1]
    (`scale: 1/127.5, offset: -1`), as EfficientNet and MobileNetV3 carry in the model."""

    short: ClassVar[str | None] = "scale"
    scale: Numbers = Field(1.0, description="Factor: one value, or one per channel.")
    offset: Numbers = Field(0.0, description="Added after scaling: one value, or one per channel.")


class Normalization(LayerSpec):
    """y = (x - mean) / sqrt(variance), per channel. Without `mean` and `variance` the
    statistics are stored in the model (non-trainable, 2C+1 values, as Keras' adaptable
    Normalization: EfficientNet); given, they are constants (ConvNeXt's ImageNet statistics)."""

    mean: Numbers | None = Field(
        None, description="Per-channel mean (one value, or one per channel); none: stored weights."
    )
    variance: PositiveNumbers | None = Field(
        None, description="Per-channel variance (above zero), given together with `mean`."
    )


class LayerScale(LayerSpec):
    """A learned factor per channel, y = gamma * x (ConvNeXt; Touvron et al. 2021, CaiT)."""

    short: ClassVar[str | None] = "init"
    init: float = Field(1e-6, description="Initial value of every factor.")


class StochasticDepth(LayerSpec):
    """Drop path (Huang et al. 2016): while training, each example's whole input is zeroed with
    probability `rate` (and the rest scaled by 1/(1 - rate)); the identity at inference."""

    short: ClassVar[str | None] = "rate"
    rate: float = Field(ge=0, lt=1, description="Probability of dropping the path while training.")


def _same(a: Any, inputs: list[Shape]) -> Shape:
    return inputs[0]


def _per_channel(kind: str, values: Any, inputs: list[Shape]) -> None:
    if isinstance(values, list) and len(values) not in (1, inputs[0][-1]):
        raise ShapeError(f"{kind} has {len(values)} values for {inputs[0][-1]} channels")


def rescaling_infer(a: Rescaling, inputs: list[Shape]) -> Shape:
    _per_channel("scale", a.scale, inputs)
    _per_channel("offset", a.offset, inputs)
    return inputs[0]


def normalization_infer(a: Normalization, inputs: list[Shape]) -> Shape:
    if (a.mean is None) != (a.variance is None):
        raise ShapeError("give both `mean` and `variance`, or neither (stored statistics)")
    _per_channel("mean", a.mean, inputs)
    _per_channel("variance", a.variance, inputs)
    return inputs[0]


def normalization_params(a: Normalization, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    return (0, 0) if a.mean is not None else (0, 2 * inputs[0][-1] + 1)  # mean, variance, count


def layer_scale_params(a: LayerScale, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    return inputs[0][-1], 0


def elementwise_macs(a: Any, inputs: list[Shape], out: Shape) -> int:
    n = 1
    for d in out:
        n *= d
    return n


def rescaling_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    """Keras' Rescaling layer, or arithmetic between a tensor and a number."""
    if isinstance(layer, ConstantOp):
        c = layer.constant
        scale, offset = {
            "Add": (1.0, c),
            "Multiply": (c, 0.0),
            "Subtract": (-1.0, c) if layer.constant_first else (1.0, -c),
        }.get(layer.op, (None, None))
        if layer.op in ("Divide", "TrueDivide") and not layer.constant_first:
            scale, offset = 1.0 / c, 0.0
        if scale is None:
            raise Unsupported(f"{layer.op} with the number as its left operand")
    else:
        scale, offset = _plain(layer.scale), _plain(layer.offset)
    s: dict[str, Any] = {}
    if scale != 1.0:
        s["scale"] = scale
    if offset != 0.0:
        s["offset"] = offset
    return s


def _plain(value: Any) -> Any:
    """A Keras constant (number, list or array) as a spec number or list of numbers; one number where every
    channel has the same (the emitter may have repeated a spec's one value to match the other setting's list)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        flat = [float(v) for v in _flatten(value)]
        return flat[0] if len(set(flat)) == 1 else flat
    return float(value)


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    return [value]


def normalization_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    if not keras_channel_axis(layer.axis, rank) or getattr(layer, "invert", False):
        raise Unsupported(f"axis={layer.axis!r} or invert=True (archspec normalises each channel)")
    if layer.input_mean is None:
        return {}
    return {"mean": _plain(layer.input_mean), "variance": _plain(layer.input_variance)}


def layer_scale_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    init = getattr(layer, "init_values", getattr(layer, "init", None))
    return {} if init is None or float(init) == 1e-6 else {"init": float(init)}


def stochastic_depth_from_keras(layer: Any, rank: int) -> dict[str, Any]:
    """Keras' drop path: ConvNeXt's StochasticDepth, or EfficientNet's Dropout with one draw per example."""
    if type(layer).__name__ == "Dropout":
        shape = tuple(layer.noise_shape or ())
        if len(shape) != rank or any(d != 1 for d in shape[1:]):
            raise Unsupported(f"Dropout with noise_shape={layer.noise_shape!r}")
        return {"rate": float(layer.rate)}
    return {"rate": float(layer.drop_path_rate)}


def rescaling_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: Rescaling = node.attrs
    return keras.layers.Rescaling(a.scale, a.offset, name=node.name)(inputs[0])


def normalization_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    a: Normalization = node.attrs
    mean, variance = _one_shape(a.mean, a.variance)
    return keras.layers.Normalization(axis=-1, mean=mean, variance=variance, name=node.name)(inputs[0])


def _one_shape(*settings: Any) -> list[Any]:
    """Per-channel settings in one shape: Keras' Normalization refuses a mean and a variance of different shapes
    (one value beside one per channel), which a spec may write; a single value is repeated for every channel."""
    lists = [v for v in settings if isinstance(v, list)]
    if not lists:
        return list(settings)
    n = max(len(v) for v in lists)
    return [v * n if isinstance(v, list) and len(v) == 1 else v if isinstance(v, list) else [v] * n for v in settings]


def layer_scale_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    return custom_layer(keras, "LayerScale")(node.attrs.init, name=node.name)(inputs[0])


def stochastic_depth_emit(node: EmittedNode, inputs: list[Any], keras: Any) -> Any:
    """Keras' Dropout with one draw per example (EfficientNet's own way of writing drop path)."""
    rank = len(inputs[0].shape)
    return keras.layers.Dropout(node.attrs.rate, noise_shape=(None,) + (1,) * (rank - 1), name=node.name)(inputs[0])


def _numbers(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else "[" + ", ".join(f"{x:g}" for x in v) + "]"


for _p in (
    Primitive(
        kind="rescaling",
        schema=Rescaling,
        infer=rescaling_infer,
        emit=rescaling_emit,
        macs=elementwise_macs,
        summary="constant scale and offset",
        label=lambda a: (
            f"rescale x{_numbers(a.scale)}"
            + (
                f" {'+' if isinstance(a.offset, list) or a.offset >= 0 else '-'}"
                f"{_numbers(a.offset if isinstance(a.offset, list) else abs(a.offset))}"
                if a.offset != 0.0
                else ""
            )
        ),
        keras_classes=(
            "Rescaling",
            *(f"ops.{c}:constant" for c in ("Add", "Subtract", "Multiply", "Divide", "TrueDivide")),
        ),
        from_keras=rescaling_from_keras,
        color="#d9d9a0",
    ),
    Primitive(
        kind="normalization",
        schema=Normalization,
        infer=normalization_infer,
        emit=normalization_emit,
        params=normalization_params,
        macs=elementwise_macs,
        summary="per-channel standardisation",
        keras_classes=("Normalization",),
        from_keras=normalization_from_keras,
        color="#b8d9a0",
    ),
    Primitive(
        kind="layer_scale",
        schema=LayerScale,
        infer=_same,
        emit=layer_scale_emit,
        params=layer_scale_params,
        macs=elementwise_macs,
        summary="learned per-channel factor",
        keras_classes=("LayerScale",),
        from_keras=layer_scale_from_keras,
        color="#a0d9c0",
    ),
    Primitive(
        kind="stochastic_depth",
        schema=StochasticDepth,
        infer=_same,
        emit=stochastic_depth_emit,
        aliases=("drop_path",),
        summary="drop path",
        keras_classes=("StochasticDepth", "Dropout"),
        from_keras=stochastic_depth_from_keras,
        color="#b9b9b9",
        passes_values=True,
    ),
):
    register(_p)
