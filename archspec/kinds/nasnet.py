"""NASNet-A's cells (Zoph et al. 2018), as keras.applications builds them: every cell reads the
previous cell's output and the one before it (`p`), adjusted to the cell's size first (a
factorised reduction when p is larger, a 1x1 projection when its channels differ). Node names
are Keras' own (`separable_conv_1_normal_left1_0`, `reduction_concat_stem_1`, ...)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..errors import SpecPath
from .arith import same_padding
from .base import LayerSpec, PosInt
from .conv import Conv
from .depthwise import Separable
from .lowering import Lowering
from .merge import Add, Concat
from .norm import BatchNorm
from .pad import ZeroPad
from .pool import Pool
from .registry import Block, register
from .shape import Crop
from .simple import ActivationLayer


class _Cell(LayerSpec):
    filters: PosInt = Field(description="Filters of every convolution in the cell.")
    p: str | None = Field(
        None,
        description="The layer feeding the cell's second input (the output two cells back); "
        "none: the cell's own input, unadjusted (Keras' first cell).",
    )


class NormalCell(_Cell):
    """NASNet-A normal cells, `repeat` in a row, numbered from `id` (names end in `_<id>`);
    each cell's second input is the first input of the cell before it."""

    id: int = Field(
        0, ge=0, description="Number of the first cell (Keras numbers all normal cells across the network)."
    )
    repeat: PosInt = Field(1, description="Cells in a row.")


class ReductionCell(_Cell):
    """NASNet-A reduction cell: halves the spatial size; names end in `_<id>` (`stem_1`, `reduce_4`)."""

    id: str = Field(
        description="Suffix of the cell's node names, e.g. stem_1 or reduce_4.", pattern=r"^[A-Za-z0-9_.\-]+$"
    )


class _Builder:
    """Adds one cell's nodes; names are Keras' (relus and joins Keras leaves unnamed get `<cell>_...`)."""

    def __init__(self, ctx: Lowering, path: SpecPath, cell: str) -> None:
        self.ctx, self.path, self.cell, self.n = ctx, path, cell, 0

    def add(self, name: str | None, op: str, attrs: Any, inputs: list[str]) -> str:
        if name is None:
            self.n += 1
            name = f"{self.cell}_{op}_{self.n}"
        return self.ctx.add(self.ctx.scoped(name), op, attrs, inputs, self.path)

    def bn(self, name: str, x: str) -> str:
        return self.add(name, "batchnorm", self.ctx.with_defaults("batchnorm", BatchNorm()), [x])

    def relu(self, x: str, name: str | None = None) -> str:
        return self.add(name, "activation", ActivationLayer(fn="relu"), [x])

    def conv(self, name: str, x: str, filters: int) -> str:
        return self.add(name, "conv", Conv(filters=filters, kernel=1, padding="same", bias=False), [x])

    def sep_block(self, x: str, filters: int, kernel: int, stride: int, block: str) -> str:
        x = self.relu(x)
        padding: Any = "same"
        if stride == 2:
            h, w = self.ctx.shape(x)[:2]
            pads = (same_padding(h, kernel, 2), same_padding(w, kernel, 2))
            x = self.add(f"separable_conv_1_pad_{block}", "zeropad", ZeroPad(padding=pads), [x])
            padding = "valid"
        x = self.add(
            f"separable_conv_1_{block}",
            "separable",
            Separable(filters=filters, kernel=kernel, stride=stride, padding=padding, bias=False),
            [x],
        )
        x = self.relu(self.bn(f"separable_conv_1_bn_{block}", x))
        x = self.add(
            f"separable_conv_2_{block}",
            "separable",
            Separable(filters=filters, kernel=kernel, padding="same", bias=False),
            [x],
        )
        return self.bn(f"separable_conv_2_bn_{block}", x)

    def pool(self, name: str | None, x: str, kind: str, stride: int, padding: str, size: int = 3) -> str:
        return self.add(name, "pool", Pool(kind=kind, size=size, stride=stride, padding=padding), [x])

    def join(self, op: str, name: str | None, xs: list[str]) -> str:
        return self.add(name, op, (Add if op == "add" else Concat)(inputs=xs), xs)

    def adjust(self, p: str, ip: str, filters: int, cell: str) -> str:
        """p brought to ip's width and `filters` channels, as Keras' _adjust_block."""
        shape_p, shape_ip = self.ctx.shape(p), self.ctx.shape(ip)
        if shape_p[1] != shape_ip[1]:
            p = self.relu(p, f"adjust_relu_1_{cell}")
            p1 = self.pool(f"adjust_avg_pool_1_{cell}", p, "avg", 2, "valid", size=1)
            p1 = self.conv(f"adjust_conv_1_{cell}", p1, filters // 2)
            p2 = self.add(None, "zeropad", ZeroPad(padding=((0, 1), (0, 1))), [p])
            p2 = self.add(None, "crop", Crop(crop=((1, 0), (1, 0))), [p2])
            p2 = self.pool(f"adjust_avg_pool_2_{cell}", p2, "avg", 2, "valid", size=1)
            p2 = self.conv(f"adjust_conv_2_{cell}", p2, filters // 2)
            return self.bn(f"adjust_bn_{cell}", self.join("concat", None, [p1, p2]))
        if shape_p[-1] != filters:
            p = self.conv(f"adjust_conv_projection_{cell}", self.relu(p), filters)
            return self.bn(f"adjust_bn_{cell}", p)
        return p


def _normal(ctx: Lowering, path: SpecPath, ip: str, p: str | None, filters: int, cell: str) -> str:
    b = _Builder(ctx, path, f"normal_{cell}")
    p = ip if p is None else b.adjust(p, ip, filters, cell)
    h = b.bn(f"normal_bn_1_{cell}", b.conv(f"normal_conv_1_{cell}", b.relu(ip), filters))
    x1 = b.join(
        "add",
        f"normal_add_1_{cell}",
        [b.sep_block(h, filters, 5, 1, f"normal_left1_{cell}"), b.sep_block(p, filters, 3, 1, f"normal_right1_{cell}")],
    )
    x2 = b.join(
        "add",
        f"normal_add_2_{cell}",
        [b.sep_block(p, filters, 5, 1, f"normal_left2_{cell}"), b.sep_block(p, filters, 3, 1, f"normal_right2_{cell}")],
    )
    x3 = b.join("add", f"normal_add_3_{cell}", [b.pool(f"normal_left3_{cell}", h, "avg", 1, "same"), p])
    x4 = b.join(
        "add",
        f"normal_add_4_{cell}",
        [b.pool(f"normal_left4_{cell}", p, "avg", 1, "same"), b.pool(f"normal_right4_{cell}", p, "avg", 1, "same")],
    )
    x5 = b.join("add", f"normal_add_5_{cell}", [b.sep_block(h, filters, 3, 1, f"normal_left5_{cell}"), h])
    return b.join("concat", f"normal_concat_{cell}", [p, x1, x2, x3, x4, x5])


def _reduction(ctx: Lowering, path: SpecPath, ip: str, p: str | None, filters: int, cell: str) -> str:
    b = _Builder(ctx, path, f"reduction_{cell}")
    p = ip if p is None else b.adjust(p, ip, filters, cell)
    h = b.bn(f"reduction_bn_1_{cell}", b.conv(f"reduction_conv_1_{cell}", b.relu(ip), filters))
    size = ctx.shape(h)[:2]
    h3 = b.add(f"reduction_pad_1_{cell}", "zeropad", ZeroPad(padding=tuple(same_padding(n, 3, 2) for n in size)), [h])
    x1 = b.join(
        "add",
        f"reduction_add_1_{cell}",
        [
            b.sep_block(h, filters, 5, 2, f"reduction_left1_{cell}"),
            b.sep_block(p, filters, 7, 2, f"reduction_right1_{cell}"),
        ],
    )
    x2 = b.join(
        "add",
        f"reduction_add_2_{cell}",
        [
            b.pool(f"reduction_left2_{cell}", h3, "max", 2, "valid"),
            b.sep_block(p, filters, 7, 2, f"reduction_right2_{cell}"),
        ],
    )
    x3 = b.join(
        "add",
        f"reduction_add3_{cell}",
        [
            b.pool(f"reduction_left3_{cell}", h3, "avg", 2, "valid"),
            b.sep_block(p, filters, 5, 2, f"reduction_right3_{cell}"),
        ],
    )
    x4 = b.join("add", None, [x2, b.pool(f"reduction_left4_{cell}", x1, "avg", 1, "same")])
    x5 = b.join(
        "add",
        f"reduction_add4_{cell}",
        [
            b.sep_block(x1, filters, 3, 1, f"reduction_left4_{cell}"),
            b.pool(f"reduction_right5_{cell}", h3, "max", 2, "valid"),
        ],
    )
    return b.join("concat", f"reduction_concat_{cell}", [x2, x3, x4, x5])


def lower_normal(a: NormalCell, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(a, "nasnet_normal")
    x = ctx.source_of(a, path)
    p: str | None = ctx.resolve_all([a.p], (*path, "p"))[0] if a.p else None
    for i in range(a.repeat):
        x, p = _normal(ctx, path, x, p, a.filters, str(a.id + i)), x
    return ctx.alias(ctx.scoped(segment), x)


def lower_reduction(a: ReductionCell, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(a, "nasnet_reduction")
    x = ctx.source_of(a, path)
    p = ctx.resolve_all([a.p], (*path, "p"))[0] if a.p else None
    return ctx.alias(ctx.scoped(segment), _reduction(ctx, path, x, p, a.filters, a.id))


for _block in (
    Block(kind="nasnet_normal", schema=NormalCell, lower=lower_normal, summary="NASNet-A normal cells"),
    Block(kind="nasnet_reduction", schema=ReductionCell, lower=lower_reduction, summary="NASNet-A reduction cell"),
):
    register(_block)
