"""The mobile blocks: squeeze-and-excitation (`se`), the inverted residual (`mbconv`: MobileNetV2,
MobileNetV3, EfficientNet) and its fused form (`fused_mbconv`: EfficientNetV2).

One block kind covers the three families; what differs between them is data:
how channels are rounded (`expand_divisor`, `se_divisor`), what the squeeze is a
fraction of (`se_base`), the activations, whether a strided depthwise pads
explicitly (`pad`), and the names Keras gives each node (`names`, which a spec sets
once in `defaults:`). The default names are EfficientNet's (`block2a_expand_conv`).

Several blocks in a row are `repeat: n`: the first takes `stride` and the
input's channels, the others stride 1; `instances` names them (EfficientNet:
`{name}{letter}` gives block2a, block2b, ...), and `drop_rate` grows by
`drop_rate_step` from one to the next (stochastic depth). `drop_schedule` instead spreads one rate over
the whole network as keras.applications' EfficientNets do: block k of the n blocks that take it (counted
over the spec's top-level layers, from 0) drops with rate x k / n, so no spec writes per-stage offsets.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import Field, field_validator

from ..errors import SpecPath, closest
from .arith import same_padding
from .base import Activation, LayerSpec, NamePattern, NodeName, NonNegInt, PosInt
from .blocks import instance_name
from .conv import Conv
from .depthwise import Depthwise
from .lowering import Lowering
from .merge import Add, Multiply
from .norm import BatchNorm
from .pad import ZeroPad
from .pool import Pool
from .registry import Block, register
from .scale import StochasticDepth
from .shape import Reshape
from .simple import ActivationLayer


def make_divisible(value: float, divisor: int) -> int:
    """Channels rounded as MobileNet and EfficientNet round them (see spec.expr.make_divisible);
    a divisor of 1 truncates, as Keras' plain `int(c * ratio)`."""
    if divisor <= 1:
        return max(1, int(value))
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def names_field(defaults: dict[str, str]) -> Any:
    return Field(
        default_factory=dict,
        description="Node names per role, as suffixes of the block's name (defaults: "
        + ", ".join(f"{k}: {v}" for k, v in defaults.items())
        + ").",
    )


class _Named(LayerSpec):
    """Blocks whose nodes are named per role, with defaults a spec may override."""

    NAMES: ClassVar[dict[str, str]] = {}
    if TYPE_CHECKING:  # each subclass declares the field itself, after its own fields (the schema's order)
        names: dict[str, str]

    @field_validator("names", mode="after", check_fields=False)
    @classmethod
    def _known_roles(cls, v: dict[str, str]) -> dict[str, str]:
        for role in v:
            if role not in cls.NAMES:
                near = closest(role, cls.NAMES)
                raise ValueError(
                    f"no node role {role!r}"
                    + (f" (did you mean {near!r}?)" if near else "")
                    + f"; roles: {', '.join(cls.NAMES)}"
                )
        return v

    def name_of(self, role: str) -> str:
        return {**self.NAMES, **self.names}[role]


class _Repeated(_Named):
    """Blocks that can be repeated in a row, each instance named from `instances`."""

    repeat: NonNegInt = Field(
        1, description="Blocks in a row: the first takes `stride`, the others stride 1 and keep the channels."
    )
    instances: NamePattern | None = Field(
        None,
        description="Name of block i: `{name}`, `{letter}` (a, b, ...), `{i}` (from 0) and `{n}` (from 1) "
        "are replaced; default `{name}` for one block, `{name}_{n}` for several.",
    )
    drop_rate: float = Field(
        0.0, ge=0, lt=1, description="Stochastic depth of the first block (a drop-path node before the residual sum)."
    )
    drop_rate_step: float = Field(0.0, ge=0, lt=1, description="Added to `drop_rate` for each following block.")

    def instance(self, segment: str, i: int) -> str:
        return instance_name(self.instances or ("{name}" if self.repeat == 1 else "{name}_{n}"), segment, i)


R = TypeVar("R", bound=_Repeated)
Namer = Callable[[str], str]
"""A block's node names: role -> name."""


def repeated(
    kind: str, lower_one: Callable[[R, Lowering, SpecPath, str, str, int], str]
) -> Callable[[R, Lowering, SpecPath], str]:
    """The lowering of a `_Repeated` kind from the lowering of one instance
    (`lower_one(a, ctx, path, source, instance name, index)` -> its output node)."""

    def lower(a: R, ctx: Lowering, path: SpecPath) -> str:
        segment = ctx.segment_for(a, kind)
        x = ctx.source_of(a, path)
        for i in range(a.repeat):
            x = lower_one(a, ctx, path, x, ctx.scoped(a.instance(segment, i)), i)
        return ctx.alias(ctx.scoped(segment), x)

    return lower


class SqueezeExcite(_Named):
    """Squeeze-and-excitation (Hu et al. 2018): a global average pool, a 1x1 conv to `ratio` x the
    channels, a 1x1 conv back, and the result as a per-channel gate on the input."""

    NAMES: ClassVar[dict[str, str]] = {
        "squeeze": "squeeze",
        "reshape": "reshape",
        "reduce": "reduce",
        "expand": "expand",
        "excite": "excite",
    }
    ratio: float = Field(0.25, gt=0, le=1, description="Squeezed channels as a fraction of the input's.")
    keepdims: bool = Field(
        True, description="Squeeze to a 1x1 map in one pool; false: pool to a vector, then reshape (EfficientNet)."
    )
    divisor: PosInt = Field(
        1, description="Round the squeezed channels to a multiple of this (MobileNetV3: 8); 1 truncates."
    )
    activation: Activation = Field("relu", description="Activation of the squeezing conv.")
    gate: Activation = Field("sigmoid", description="Activation of the gate (MobileNetV3: hard_sigmoid).")
    names: dict[str, NodeName] = names_field(NAMES)


def squeeze_excite(
    ctx: Lowering, x: str, name: Namer, squeezed: int, activation: str, gate: str, keepdims: bool, path: SpecPath
) -> str:
    """SE on node `x`; `name(role)` gives the node names."""
    channels = ctx.shape(x)[-1]
    s = ctx.add(
        name("squeeze"), "pool", Pool.model_validate({"kind": "avg", "global": True, "keepdims": keepdims}), [x], path
    )
    if not keepdims:
        s = ctx.add(name("reshape"), "reshape", Reshape(shape=(1, 1, channels)), [s], path)
    s = ctx.add(name("reduce"), "conv", Conv(filters=squeezed, kernel=1, activation=activation), [s], path)
    s = ctx.add(name("expand"), "conv", Conv(filters=channels, kernel=1, activation=gate), [s], path)
    return ctx.add(name("excite"), "multiply", Multiply(inputs=[x, s]), [x, s], path)


def lower_se(a: SqueezeExcite, ctx: Lowering, path: SpecPath) -> str:
    base = ctx.name_for(a, "se")
    x = ctx.source_of(a, path)
    squeezed = make_divisible(ctx.shape(x)[-1] * a.ratio, a.divisor)
    out = squeeze_excite(
        ctx, x, lambda role: f"{base}_{a.name_of(role)}", squeezed, a.activation, a.gate, a.keepdims, path
    )
    return ctx.alias(base, out)


_SE_NAMES = {f"se_{role}": f"se_{role}" for role in SqueezeExcite.NAMES}


class _Inverted(_Repeated):
    """What mbconv and fused_mbconv share."""

    filters: PosInt = Field(description="Output channels.")
    expand: float = Field(
        6.0, ge=1, description="Expansion ratio: the block widens its input to this many times the channels."
    )
    expand_divisor: PosInt = Field(
        1, description="Round the expanded channels to a multiple of this (MobileNetV3: 8); 1 truncates."
    )
    kernel: PosInt = Field(3, description="Kernel size of the spatial convolution.")
    stride: PosInt = Field(1, description="Stride of the first block.")
    activation: Activation = Field("swish", description="Activation after the expansion and the spatial convolution.")
    se: float = Field(0.0, ge=0, le=1, description="Squeeze-and-excitation ratio; 0 for none.")
    se_base: Literal["input", "expanded"] = Field(
        "input",
        description="What the SE ratio is a fraction of: the block's input "
        "channels (EfficientNet) or the expanded ones (MobileNetV3).",
    )
    se_divisor: PosInt = Field(
        1, description="Round the SE channels to a multiple of this (MobileNetV3: 8); 1 truncates."
    )
    se_activation: Activation | None = Field(None, description="Activation inside SE; default: `activation`.")
    se_gate: Activation = Field("sigmoid", description="Gate of the SE (MobileNetV3: hard_sigmoid).")
    se_keepdims: bool = Field(
        False, description="SE squeezes with a keepdims pool (MobileNetV3), not a pool and a reshape (EfficientNet)."
    )
    residual: bool = Field(
        True, description="Identity shortcut (sum) when the stride is 1 and the channels are unchanged."
    )
    drop_schedule: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Stochastic depth spread linearly over the network (EfficientNet's): block k of the n top-level "
        "blocks that set it drops with `drop_schedule` x k / n, k from 0. Replaces `drop_rate` and `drop_rate_step`.",
    )


_SCHEDULED: weakref.WeakKeyDictionary[Any, list[int]] = weakref.WeakKeyDictionary()
"""Per expansion (its lowering context): how many scheduled blocks each top-level layer has."""


def _scheduled_blocks(ctx: Any) -> list[int]:
    """For each top-level layer of the spec, the blocks it adds to the `drop_schedule` count (its `repeat`,
    when it is an mbconv / fused_mbconv that sets one, with the spec's defaults applied)."""
    if ctx not in _SCHEDULED:
        counts = []
        for item in ctx.spec.layers:
            (kind,) = type(item).model_fields
            settings = getattr(item, kind)
            if isinstance(settings, _Inverted):
                settings = ctx.with_defaults(kind, settings)
            scheduled = isinstance(settings, _Inverted) and settings.drop_schedule and settings.when is not False
            counts.append(settings.repeat if scheduled else 0)
        _SCHEDULED[ctx] = counts
    return _SCHEDULED[ctx]


def _drop_rate(a: _Inverted, ctx: Any, path: tuple[Any, ...], i: int) -> float:
    """Block i's stochastic-depth rate: from `drop_schedule` over the network, else `drop_rate` + i x step."""
    if not a.drop_schedule:
        return a.drop_rate + i * a.drop_rate_step
    if len(path) != 3 or path[0] != "layers":
        ctx.fail(
            path,
            "drop_schedule counts the blocks of the spec's top-level layers; this block is inside another layer",
            "give blocks inside templates or other layers `drop_rate` (and `drop_rate_step`) instead",
        )
    counts = _scheduled_blocks(ctx)
    return a.drop_schedule * (sum(counts[: path[1]]) + i) / sum(counts)


class MBConv(_Inverted):
    """Inverted residual (MobileNetV2, Sandler et al. 2018; MobileNetV3; EfficientNet): 1x1 expansion,
    depthwise kxk, optional squeeze-and-excitation, linear 1x1 projection, identity shortcut when
    shapes allow. Batch normalisation after every conv (`defaults: {batchnorm: ...}` sets it)."""

    NAMES: ClassVar[dict[str, str]] = {
        "expand": "expand_conv",
        "expand_bn": "expand_bn",
        "expand_act": "expand_activation",
        "pad": "dwconv_pad",
        "depthwise": "dwconv",
        "depthwise_bn": "bn",
        "depthwise_act": "activation",
        **_SE_NAMES,
        "project": "project_conv",
        "project_bn": "project_bn",
        "drop": "drop",
        "add": "add",
    }
    pad: Literal["same", "explicit"] = Field(
        "same",
        description="A strided depthwise pads `same`, or with an explicit zeropad node "
        "and `valid` (Keras' MobileNetV2/V3 and EfficientNet).",
    )
    names: dict[str, NodeName] = names_field(NAMES)


class FusedMBConv(_Inverted):
    """Fused inverted residual (EfficientNetV2, Tan & Le 2021): a kxk expansion conv in place of
    1x1 + depthwise, optional SE, 1x1 projection (kxk with its own activation when `expand` is 1)."""

    NAMES: ClassVar[dict[str, str]] = {
        "expand": "expand_conv",
        "expand_bn": "expand_bn",
        "expand_act": "expand_activation",
        **_SE_NAMES,
        "project": "project_conv",
        "project_bn": "project_bn",
        "project_act": "project_activation",
        "drop": "drop",
        "add": "add",
    }
    names: dict[str, NodeName] = names_field(NAMES)


def _conv_bn(ctx: Lowering, x: str, name: Namer, role: str, conv: Conv, activation: str | None, path: SpecPath) -> str:
    bn = ctx.with_defaults("batchnorm", BatchNorm())
    x = ctx.add(name(role), "conv", conv, [x], path)
    x = ctx.add(name(f"{role}_bn"), "batchnorm", bn, [x], path)
    if activation:
        x = ctx.add(name(f"{role}_act"), "activation", ActivationLayer(fn=activation), [x], path)
    return x


def _tail(a: _Inverted, ctx: Lowering, x_in: str, x: str, name: Namer, i: int, path: SpecPath) -> str:
    """Stochastic depth and the identity shortcut, when the block keeps its shape."""
    if not (a.residual and ctx.shape(x_in) == ctx.shape(x)):
        return x
    rate = _drop_rate(a, ctx, path, i)
    if rate > 0:
        x = ctx.add(name("drop"), "stochastic_depth", StochasticDepth(rate=rate), [x], path)
    return ctx.add(name("add"), "add", Add(inputs=[x, x_in]), [x, x_in], path)


def _squeezed(a: _Inverted, channels_in: int, expanded: int) -> int:
    return make_divisible((channels_in if a.se_base == "input" else expanded) * a.se, a.se_divisor)


def _widths(a: _Inverted, ctx: Lowering, x: str) -> tuple[int, int]:
    channels = ctx.shape(x)[-1]
    expanded = (
        make_divisible(channels * a.expand, a.expand_divisor) if a.expand_divisor > 1 else int(channels * a.expand)
    )
    return channels, expanded


def lower_mbconv_one(a: MBConv, ctx: Lowering, path: SpecPath, x_in: str, block: str, i: int) -> str:
    def name(role: str) -> str:
        return f"{block}_{a.name_of(role)}"

    stride = a.stride if i == 0 else 1
    channels, expanded = _widths(a, ctx, x_in)
    x = x_in
    if a.expand != 1:
        x = _conv_bn(
            ctx, x, name, "expand", Conv(filters=expanded, kernel=1, padding="same", bias=False), a.activation, path
        )
    padding: Literal["valid", "same"] = "same"
    if stride > 1 and a.pad == "explicit":
        h, w = ctx.shape(x)[:2]
        pads = (same_padding(h, a.kernel, stride), same_padding(w, a.kernel, stride))
        x = ctx.add(name("pad"), "zeropad", ZeroPad(padding=pads), [x], path)
        padding = "valid"
    x = ctx.add(
        name("depthwise"),
        "depthwise",
        Depthwise(kernel=a.kernel, stride=stride, padding=padding, bias=False),
        [x],
        path,
    )
    x = ctx.add(name("depthwise_bn"), "batchnorm", ctx.with_defaults("batchnorm", BatchNorm()), [x], path)
    x = ctx.add(name("depthwise_act"), "activation", ActivationLayer(fn=a.activation), [x], path)
    if a.se:
        x = _se(a, ctx, x, name, channels, expanded, path)
    x = _conv_bn(ctx, x, name, "project", Conv(filters=a.filters, kernel=1, padding="same", bias=False), None, path)
    return _tail(a, ctx, x_in, x, name, i, path)


def _se(
    a: _Inverted,
    ctx: Lowering,
    x: str,
    name: Namer,
    channels: int,
    expanded: int,
    path: SpecPath,
) -> str:
    """The block's squeeze-and-excitation, the same in both kinds of MBConv."""
    return squeeze_excite(
        ctx,
        x,
        lambda role: name(f"se_{role}"),
        _squeezed(a, channels, expanded),
        a.se_activation or a.activation,
        a.se_gate,
        a.se_keepdims,
        path,
    )


def lower_fused_one(a: FusedMBConv, ctx: Lowering, path: SpecPath, x_in: str, block: str, i: int) -> str:
    def name(role: str) -> str:
        return f"{block}_{a.name_of(role)}"

    stride = a.stride if i == 0 else 1
    channels, expanded = _widths(a, ctx, x_in)
    x = x_in
    if a.expand != 1:
        x = _conv_bn(
            ctx,
            x,
            name,
            "expand",
            Conv(filters=expanded, kernel=a.kernel, stride=stride, padding="same", bias=False),
            a.activation,
            path,
        )
    if a.se:
        x = _se(a, ctx, x, name, channels, expanded, path)
    project = Conv(
        filters=a.filters,
        kernel=1 if a.expand != 1 else a.kernel,
        stride=1 if a.expand != 1 else stride,
        padding="same",
        bias=False,
    )
    x = _conv_bn(ctx, x, name, "project", project, a.activation if a.expand == 1 else None, path)
    return _tail(a, ctx, x_in, x, name, i, path)


for _block in (
    Block(
        kind="se", schema=SqueezeExcite, lower=lower_se, aliases=("squeeze_excite",), summary="squeeze-and-excitation"
    ),
    Block(
        kind="mbconv",
        schema=MBConv,
        lower=repeated("mbconv", lower_mbconv_one),
        summary="inverted residual (MobileNetV2/V3, EfficientNet)",
    ),
    Block(
        kind="fused_mbconv",
        schema=FusedMBConv,
        lower=repeated("fused_mbconv", lower_fused_one),
        summary="fused inverted residual (EfficientNetV2)",
    ),
):
    register(_block)
