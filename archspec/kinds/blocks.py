"""Blocks: kinds that lower into several primitives. Nothing here is specific to one network.

- ``use`` / ``stage`` instantiate a template (a spec's own ``blocks:`` or the
  built-in library, ``spec/library.yaml``) with parameters;
- ``repeat`` repeats a list of layers;
- ``residual`` adds a shortcut around a body (identity or projection; v1 or
  pre-activation v2);
- ``branches`` runs parallel paths joined by concat or add, and ``inception``
  is GoogLeNet's four-branch instance of it;
- ``dense_block`` and ``transition`` are DenseNet's.

Node names follow Keras applications (``conv2_block1_1_conv``), so a
network written from these blocks has the same layer names as its reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from ..errors import SpecPath, did_you_mean, format_path
from .base import Activation, LayerSpec, NamePattern, NonNegInt, PosInt, Strict
from .conv import Conv
from .conv import lower as lower_conv
from .lowering import Lowering, Skip
from .merge import Add, Concat
from .norm import BatchNorm
from .pool import Pool
from .registry import Block, register
from .simple import ActivationLayer

Scalar = int | float | bool | str | None

if TYPE_CHECKING:
    from pydantic import BaseModel

    Layer = BaseModel
    """One validated item of a layer list. The union itself lives in ``spec.network``, a layer above;
    Pydantic resolves the name there when it builds a block's model (``item_model``)."""


class Template(Strict):
    """A reusable block: parameters with defaults, and the layers they are used in as `$name`."""

    params: dict[str, Scalar] = Field(default_factory=dict, description="Parameters and their default values.")
    layers: list[Any] = Field(
        min_length=1, description="The block's layers; `$param` expressions are filled in per use."
    )
    description: str | None = None
    prefix: bool = Field(
        True,
        description="Prefix the layers' names with the instance's name; false keeps them as written "
        "(give them from parameters, `conv_dw_$id`, so that instances differ).",
    )

    @model_validator(mode="before")
    @classmethod
    def _single_layer(cls, data: Any) -> Any:
        """`{params: ..., residual: {...}}` is a template whose body is that one layer."""
        if isinstance(data, dict) and "layers" not in data:
            rest = [k for k in data if k not in ("params", "description", "prefix")]
            if len(rest) == 1:
                key = rest[0]
                data = {k: v for k, v in data.items() if k != key} | {"layers": [{key: data[key]}]}
        return data


class _Instantiate(LayerSpec):
    """Kinds whose extra keys are template parameters."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)
    open_keys: ClassVar[bool] = True
    block: str = Field(
        description="Template name: from this spec's `blocks`, or built in (`basic`, `bottleneck`, ...; see the docs: "
        "Blocks and templates)."
    )


class Use(_Instantiate):
    """One instance of a template; other keys are its parameters: `use: {block: bottleneck, filters: 128}`."""


class Stage(_Instantiate):
    """`repeat` instances of a template in a row, named `<name>_block1`, `<name>_block2`, ...;
    `first` and `last` override parameters of the first and last instance only (e.g. the stride)."""

    repeat: PosInt = Field(description="Number of instances.")
    first: dict[str, Scalar] = Field(
        default_factory=dict, description="Parameters for the first instance only, e.g. {stride: 2}."
    )
    last: dict[str, Scalar] = Field(
        default_factory=dict, description="Parameters for the last instance only (ResNet v2 strides its last block)."
    )
    instances: NamePattern = Field(
        "{name}_block{n}",
        description="Name of instance i: `{name}`, `{n}` (from 1), `{i}` (from 0) and `{letter}` "
        "(a, b, ...) are replaced, e.g. `{name}_{n}` for Keras' block35_1.",
    )


def instance_name(pattern: str, segment: str, i: int) -> str:
    """Instance i's name from a pattern: plain token replacement (never str.format on spec text)."""
    for token, value in (("{name}", segment), ("{letter}", _letters(i)), ("{i}", str(i)), ("{n}", str(i + 1))):
        pattern = pattern.replace(token, value)
    return pattern


def _letters(i: int) -> str:
    """0 -> a, 25 -> z, 26 -> ba (EfficientNet names its blocks block2a, block2b, ...)."""
    out = chr(97 + i % 26)
    while i >= 26:
        i //= 26
        out = chr(97 + i % 26) + out
    return out


MAX_TEMPLATE_NESTING = 32
"""Deepest chain of templates using templates (each level is a few Python frames)."""


def instantiate(ctx: Lowering, tname: str, given: dict[str, Any], segment: str, source: str, path: SpecPath) -> str:
    """Lower one template instance named `segment` reading `source`."""
    if tname in ctx.templates:
        cycle = [*ctx.templates[ctx.templates.index(tname) :], tname]
        ctx.fail(
            (*path, "block"),
            f"block template {tname!r} uses itself: {' -> '.join(cycle)}",
            "a template cannot contain itself, directly or through other templates",
        )
    if len(ctx.templates) >= MAX_TEMPLATE_NESTING:
        ctx.fail((*path, "block"), f"templates nested deeper than {MAX_TEMPLATE_NESTING} levels")
    tpl: Template
    tpl, origin = ctx.template(tname, path)
    unknown = [k for k in given if k not in tpl.params]
    if unknown:
        for key in unknown:
            ctx.problems.append(
                ctx.at(
                    (*path, key),
                    f"block {tname!r} has no parameter {key!r}",
                    did_you_mean(key, tpl.params) + f"parameters: {', '.join(tpl.params) or 'none'}",
                )
            )
        raise Skip
    env = {**tpl.params, **given}
    where = (
        ("blocks", tname, "layers") if origin == "spec" else path
    )  # built-in text is not the user's: point at the use
    body = ctx.validate_layers(tpl.layers, where, env, None if origin == "spec" else path)
    ctx.uses.append(f"block {tname!r} used at {format_path(path)}")
    ctx.templates.append(tname)
    try:
        ctx.prev = source
        if len(body) == 1:  # a one-layer template *is* that layer: it takes the instance's name
            ctx.name_next(segment, force=True)
            out = ctx.lower_item(body[0], (*where, 0))
        elif not tpl.prefix:
            out = ctx.lower_list(body, where)
        else:
            with ctx.in_scope(segment):
                out = ctx.lower_list(body, where)
    finally:
        ctx.uses.pop()
        ctx.templates.pop()
    return ctx.alias(ctx.scoped(segment), out)


def feature_map(ctx: Lowering, x: str, path: SpecPath, kind: str) -> tuple[int, ...]:
    """The (H, W, C) shape of node `x`; a located problem when a block that needs one gets anything else."""
    shape = ctx.shape(x)
    if len(shape) != 3:
        ctx.fail(
            path,
            f"{kind} needs a feature map (H, W, C) as its input, got shape {list(shape)}",
            "a block of convolutions cannot follow a flatten or dense layer",
        )
    return shape


def lower_use(u: Use, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(u, u.block)
    return instantiate(ctx, u.block, dict(u.model_extra or {}), segment, ctx.source_of(u, path), path)


def lower_stage(s: Stage, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(s, "stage")
    x = ctx.source_of(s, path)
    for i in range(s.repeat):
        params = {**(s.model_extra or {}), **(s.first if i == 0 else {}), **(s.last if i == s.repeat - 1 else {})}
        before = ctx.node_count()
        x = instantiate(ctx, s.block, params, instance_name(s.instances, segment, i), x, path)
        if i == 1:  # later instances are the size of the second: refuse a stage too large before building it
            ctx.expect((ctx.node_count() - before) * (s.repeat - 2), path)
    return ctx.alias(ctx.scoped(segment), x)


class Repeat(LayerSpec):
    """The same layers `times` times in a row; repetition i is named `<name>_<i>`."""

    nested: ClassVar[bool] = True
    times: PosInt = Field(description="Number of repetitions.")
    layers: list[Layer] = Field(min_length=1, description="Layers to repeat.")


def lower_repeat(r: Repeat, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(r, "repeat")
    ctx.prev = ctx.source_of(r, path)
    for i in range(1, r.times + 1):
        before = ctx.node_count()
        with ctx.in_scope(f"{segment}_{i}"):
            ctx.lower_list(r.layers, (*path, "layers"))
        if i == 1:  # every repetition is the size of the first: refuse a repeat too large before building it
            ctx.expect((ctx.node_count() - before) * (r.times - 1), path)
    return ctx.alias(ctx.scoped(segment), ctx.prev)


class Residual(LayerSpec):
    """`body` plus a shortcut, summed: y = act(body(x) + shortcut(x)).

    Post-activation (ResNet v1) puts `activation` after the sum; `preact: true`
    (ResNet v2) starts with a shared BN-ReLU, the shortcut projection reading
    its output and the identity shortcut the raw input."""

    nested: ClassVar[bool] = True
    body: list[Layer] = Field(min_length=1, description="The residual branch; unnamed layers are named 1, 2, 3, ...")
    shortcut: Literal["auto", "identity", "projection", "pool"] | list[Layer] = Field(
        "auto",
        description="`identity`, `projection` (strided 1x1 conv), `auto` (identity when shapes match), `pool` (1x1 max "
        "pool with the body's stride, ResNet v2), or explicit layers.",
    )
    projection_bn: bool | BatchNorm = Field(True, description="Batch normalisation after the projection conv.")
    projection_bias: bool = Field(True, description="Bias on the projection conv.")
    activation: Activation | None = Field(None, description="Applied after the sum (post-activation, v1).")
    preact: bool | BatchNorm = Field(False, description="Pre-activation (v2): BN-ReLU before body and projection.")
    preact_activation: Activation = Field("relu", description="Activation of the pre-activation.")
    scale: float | None = Field(
        None, description="Factor on the body before the sum: x + scale * body(x) (InceptionResNet)."
    )


def lower_residual(r: Residual, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(r, "residual")
    x_in = ctx.source_of(r, path)
    with ctx.in_scope(segment):
        x = x_in
        if r.preact is not False:
            bn = ctx.with_defaults("batchnorm", BatchNorm() if r.preact is True else r.preact)
            x = ctx.add(ctx.scoped("preact_bn"), "batchnorm", bn, [x], (*path, "preact"))
            x = ctx.add(
                ctx.scoped(f"preact_{r.preact_activation}"),
                "activation",
                ActivationLayer(fn=r.preact_activation),
                [x],
                (*path, "preact"),
            )
        ctx.prev = x
        for i, item in enumerate(r.body):
            ctx.name_next(str(i + 1))
            ctx.lower_item(item, (*path, "body", i))
        y = ctx.prev
        mode = r.shortcut
        if mode == "auto":
            mode = "identity" if ctx.shape(x_in) == ctx.shape(y) else "projection"
        if mode == "identity":
            s = x_in
        elif mode == "projection":
            s = _projection(r, ctx, x, y, path)
        elif mode == "pool":
            s = ctx.add(
                ctx.scoped("0_pool"), "pool", Pool(kind="max", size=1, stride=_stride(ctx, x_in, y, path)), [x_in], path
            )
        else:
            ctx.prev = x
            for i, item in enumerate(mode):
                ctx.name_next("0" if len(mode) == 1 else f"0_{i + 1}")
                ctx.lower_item(item, (*path, "shortcut", i))
            s = ctx.prev
        out = ctx.add(
            ctx.scoped("add"),
            "add",
            Add(inputs=[s, y], scale=None if r.scale is None else [1.0, r.scale]),
            [s, y],
            path,
        )
        if r.activation:
            out = ctx.add(ctx.scoped("out"), "activation", ActivationLayer(fn=r.activation), [out], path)
    return ctx.alias(ctx.scoped(segment), out)


def _stride(ctx: Lowering, x: str, y: str, path: SpecPath) -> tuple[int, int]:
    """The body's downsampling from x to y, for a shortcut that must match it."""
    if len(ctx.shape(x)) != 3 or len(ctx.shape(y)) != 3:
        ctx.fail(
            (*path, "shortcut"),
            f"a projection shortcut (a 1x1 conv) needs feature maps (H, W, C) on both sides, "
            f"but this residual goes from shape {list(ctx.shape(x))} to {list(ctx.shape(y))}",
            "give the shortcut as a list of layers (e.g. [{dense: 8}]), or keep the input's shape for an identity "
            "shortcut",
        )
    (hi, wi, _), (ho, wo) = ctx.shape(x), ctx.shape(y)[:2]
    stride = (-(-hi // ho), -(-wi // wo))  # a 1x1 window at stride s gives ceil(n / s)
    if (-(-hi // stride[0]), -(-wi // stride[1])) != (ho, wo):
        ctx.fail(
            (*path, "shortcut"),
            f"cannot project {hi}x{wi} onto {ho}x{wo}: no stride does it",
            "give the shortcut explicitly as a list of layers",
        )
    return stride


def _projection(r: Residual, ctx: Lowering, x: str, y: str, path: SpecPath) -> str:
    """1x1 conv from x to y's shape: stride = the body's downsampling, filters = y's channels.
    Named as Keras names it: `0_conv` (and `0_bn` with batch normalisation)."""
    stride, co = _stride(ctx, x, y, path), ctx.shape(y)[-1]
    conv = Conv(
        filters=co,
        kernel=1,
        stride=stride,
        bias=r.projection_bias,
        bn=r.projection_bn,
        name="0" if r.projection_bn else "0_conv",
    )
    ctx.prev = x
    return lower_conv(conv, ctx, (*path, "shortcut"))


class Branches(LayerSpec):
    """Parallel paths from the same input, joined: `branches: {paths: [[...], [...]], merge: concat}`."""

    nested: ClassVar[bool] = True
    paths: list[list[Layer]] = Field(
        min_length=2, description="Each path is a list of layers reading the block's input."
    )
    merge: Literal["concat", "add"] = Field("concat", description="How the paths' outputs are joined.")


def lower_branches(b: Branches, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(b, "branches")
    x = ctx.source_of(b, path)
    with ctx.in_scope(segment):
        outs = []
        for i, branch in enumerate(b.paths):
            ctx.prev = x
            with ctx.in_scope(f"b{i + 1}"):
                outs.append(ctx.lower_list(branch, (*path, "paths", i)))
        merge = (Concat if b.merge == "concat" else Add)(inputs=outs)
        out = ctx.add(ctx.scoped(b.merge), b.merge, merge, outs, path)
    return ctx.alias(ctx.scoped(segment), out)


class Inception(LayerSpec):
    """GoogLeNet's inception module (Szegedy et al. 2014, table 1): 1x1, 1x1->3x3, 1x1->5x5
    and 3x3 max pool->1x1 branches, each conv with ReLU, concatenated."""

    b1: PosInt = Field(description="#1x1 filters.")
    b3_reduce: PosInt = Field(description="#3x3 reduce filters.")
    b3: PosInt = Field(description="#3x3 filters.")
    b5_reduce: PosInt = Field(description="#5x5 reduce filters.")
    b5: PosInt = Field(description="#5x5 filters.")
    pool_proj: PosInt = Field(description="Filters of the 1x1 after the pool.")
    bn: bool = Field(False, description="Batch normalisation after every conv (the later BN-Inception).")
    activation: Activation = Field("relu", description="Activation after every conv.")


def lower_inception(m: Inception, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(m, "inception")
    x = ctx.source_of(m, path)
    feature_map(ctx, x, path, "inception")

    def c(name: str, filters: int, kernel: int, src: str) -> str:
        spec = Conv(
            filters=filters, kernel=kernel, padding="same", bn=m.bn, activation=m.activation, name=name, input=None
        )
        ctx.prev = src
        return lower_conv(spec, ctx, path)

    with ctx.in_scope(segment):
        b1 = c("1x1", m.b1, 1, x)
        b3 = c("3x3", m.b3, 3, c("3x3_reduce", m.b3_reduce, 1, x))
        b5 = c("5x5", m.b5, 5, c("5x5_reduce", m.b5_reduce, 1, x))
        pooled = ctx.add(ctx.scoped("pool"), "pool", Pool(kind="max", size=3, stride=1, padding="same"), [x], path)
        bp = c("pool_proj", m.pool_proj, 1, pooled)
        out = ctx.add(ctx.scoped("concat"), "concat", Concat(inputs=[b1, b3, b5, bp]), [b1, b3, b5, bp], path)
    return ctx.alias(ctx.scoped(segment), out)


class DenseBlock(LayerSpec):
    """DenseNet's dense block (Huang et al. 2016): `layers` times BN-ReLU-1x1(bottleneck*growth)-BN-ReLU-3x3(growth),
    each output concatenated to everything before it. Layer i is named `<name>_block<i>`."""

    layers: PosInt = Field(description="Number of layers in the block.")
    growth: PosInt = Field(description="Growth rate k: channels each layer adds.")
    bottleneck: NonNegInt = Field(
        4, description="1x1 bottleneck width as a multiple of k; 0 for none (DenseNet without -B)."
    )
    bias: bool = Field(False, description="Bias on the convolutions.")


def lower_dense_block(d: DenseBlock, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(d, "dense_block")
    x = ctx.source_of(d, path)
    feature_map(ctx, x, path, "dense_block")
    bn = ctx.with_defaults("batchnorm", BatchNorm())
    for i in range(1, d.layers + 1):
        with ctx.in_scope(f"{segment}_block{i}"):
            n = ctx.scoped
            y = ctx.add(n("0_bn"), "batchnorm", bn, [x], path)
            y = ctx.add(n("0_relu"), "activation", ActivationLayer(fn="relu"), [y], path)
            if d.bottleneck:
                y = ctx.add(
                    n("1_conv"), "conv", Conv(filters=d.bottleneck * d.growth, kernel=1, bias=d.bias), [y], path
                )
                y = ctx.add(n("1_bn"), "batchnorm", bn, [y], path)
                y = ctx.add(n("1_relu"), "activation", ActivationLayer(fn="relu"), [y], path)
            y = ctx.add(n("2_conv"), "conv", Conv(filters=d.growth, kernel=3, padding="same", bias=d.bias), [y], path)
            x = ctx.add(n("concat"), "concat", Concat(inputs=[x, y]), [x, y], path)
    return ctx.alias(ctx.scoped(segment), x)


class Transition(LayerSpec):
    """DenseNet's transition: BN-ReLU-1x1 conv to `compression` x the channels, then 2x2 average pool."""

    compression: float = Field(0.5, gt=0, le=1, description="Fraction of channels kept (theta).")
    bias: bool = Field(False, description="Bias on the convolution.")


def lower_transition(t: Transition, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(t, "transition")
    x = ctx.source_of(t, path)
    bn = ctx.with_defaults("batchnorm", BatchNorm())
    channels = feature_map(ctx, x, path, "transition")[-1]

    def n(s: str) -> str:
        return ctx.scoped(f"{segment}_{s}")

    x = ctx.add(n("bn"), "batchnorm", bn, [x], path)
    x = ctx.add(n("relu"), "activation", ActivationLayer(fn="relu"), [x], path)
    x = ctx.add(
        n("conv"), "conv", Conv(filters=max(1, int(channels * t.compression)), kernel=1, bias=t.bias), [x], path
    )
    x = ctx.add(n("pool"), "pool", Pool(kind="avg", size=2, stride=2), [x], path)
    return ctx.alias(ctx.scoped(segment), x)


for _block in (
    Block(kind="use", schema=Use, lower=lower_use, summary="one instance of a block template"),
    Block(kind="stage", schema=Stage, lower=lower_stage, summary="a template repeated, ResNet-stage style"),
    Block(kind="repeat", schema=Repeat, lower=lower_repeat, summary="layers repeated"),
    Block(kind="residual", schema=Residual, lower=lower_residual, summary="body plus shortcut"),
    Block(kind="branches", schema=Branches, lower=lower_branches, summary="parallel paths joined"),
    Block(kind="inception", schema=Inception, lower=lower_inception, summary="GoogLeNet inception module"),
    Block(kind="dense_block", schema=DenseBlock, lower=lower_dense_block, summary="DenseNet dense block"),
    Block(kind="transition", schema=Transition, lower=lower_transition, summary="DenseNet transition"),
):
    register(_block)
