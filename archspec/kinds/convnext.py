"""ConvNeXt's block (Liu et al. 2022): depthwise 7x7, layer norm, pointwise expansion, GELU,
pointwise projection, layer scale, drop path, identity shortcut; named as keras.applications
names it (`convnext_tiny_stage_0_block_0_depthwise_conv`, ...)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..errors import SpecPath
from .base import Activation, NodeName, PosInt
from .conv import Conv
from .dense import Dense
from .lowering import Lowering
from .merge import Add
from .mobile import _Repeated, names_field, repeated
from .norm import LayerNorm
from .registry import Block, register
from .scale import LayerScale, StochasticDepth
from .simple import ActivationLayer


class ConvNeXtBlock(_Repeated):
    """ConvNeXt block: a depthwise kxk conv (Keras: a Conv2D with one group per channel), layer norm,
    pointwise dense to `expand` x the channels, activation, pointwise dense back, layer scale,
    drop path (an identity activation when the rate is 0, as Keras), and the sum with the input."""

    NAMES: ClassVar[dict[str, str]] = {
        "depthwise": "depthwise_conv",
        "layernorm": "layernorm",
        "pointwise_1": "pointwise_conv_1",
        "act": "gelu",
        "pointwise_2": "pointwise_conv_2",
        "layer_scale": "layer_scale",
        "drop": "stochastic_depth",
        "identity": "identity",
        "add": "add",
    }
    kernel: PosInt = Field(7, description="Kernel of the depthwise convolution.")
    expand: PosInt = Field(4, description="Width of the inverted bottleneck, in multiples of the channels.")
    activation: Activation = Field("gelu", description="Activation between the pointwise layers.")
    epsilon: float = Field(1e-6, gt=0, description="Layer norm epsilon.")
    layer_scale: float = Field(1e-6, ge=0, description="Initial layer scale; 0 for none.")
    names: dict[str, NodeName] = names_field(NAMES)


def lower_one(a: ConvNeXtBlock, ctx: Lowering, path: SpecPath, x_in: str, block: str, i: int) -> str:
    def name(role: str) -> str:
        return f"{block}_{a.name_of(role)}"

    dim = ctx.shape(x_in)[-1]
    x = ctx.add(name("depthwise"), "conv", Conv(filters=dim, kernel=a.kernel, padding="same", groups=dim), [x_in], path)
    x = ctx.add(name("layernorm"), "layernorm", LayerNorm(epsilon=a.epsilon), [x], path)
    x = ctx.add(name("pointwise_1"), "dense", Dense(units=a.expand * dim, pointwise=True), [x], path)
    x = ctx.add(name("act"), "activation", ActivationLayer(fn=a.activation), [x], path)
    x = ctx.add(name("pointwise_2"), "dense", Dense(units=dim, pointwise=True), [x], path)
    if a.layer_scale:
        x = ctx.add(name("layer_scale"), "layer_scale", LayerScale(init=a.layer_scale), [x], path)
    rate = a.drop_rate + i * a.drop_rate_step
    if rate > 0:
        x = ctx.add(name("drop"), "stochastic_depth", StochasticDepth(rate=rate), [x], path)
    else:
        x = ctx.add(name("identity"), "activation", ActivationLayer(fn="linear"), [x], path)
    return ctx.add(name("add"), "add", Add(inputs=[x_in, x]), [x_in, x], path)


register(
    Block(
        kind="convnext_block",
        schema=ConvNeXtBlock,
        lower=repeated("convnext_block", lower_one),
        summary="ConvNeXt block",
    )
)
