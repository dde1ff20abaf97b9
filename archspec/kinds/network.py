"""``network``: another spec (a zoo name or a path) as a block, so a spec can use a zoo classifier as its encoder.

``- network: {spec: resnet18, include_top: false, features: [stride4, stride8, stride16, stride32], name: encoder}``

The other spec is expanded whole (its own variables, defaults and templates), with its input set to the shape this
layer reads, cut as ``include_top``/``pooling``/``features`` ask (``graph/backbone.py``), and its nodes added here
under their own names: a classifier's saved weights then load into the encoder by name. Each feature point is a
name later layers read, ``NAME_POINT`` (``encoder_stride8``); the layer's own name reads the network's output (its
deepest feature map when only features are kept); a network with several named outputs gives each as NAME_OUTPUT.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from ..errors import SpecPath
from .base import LayerSpec
from .lowering import Lowering
from .registry import Block, register

Scalar = int | float | bool | str | None


class Network(LayerSpec):
    """Another spec's network as one layer of this one."""

    spec: str = Field(description="The network: a zoo name (`resnet18`) or a spec file's path.")
    variables: dict[str, Scalar | list[int]] = Field(
        default_factory=dict, description="Values for its variables (`{width: 0.5}`); its `input` is this layer's."
    )
    include_top: bool = Field(True, description="False leaves its classifier head out.")
    pooling: Literal["avg", "max"] | None = Field(None, description="With include_top false: pool the last map.")
    features: list[str] = Field(
        default_factory=list,
        description="Feature maps to read later, by output stride (`stride4` .. `stride32`) or layer name; "
        "each is read as NAME_POINT.",
    )

    @model_validator(mode="after")
    def _pooling_without_head(self) -> Self:
        """keras.applications ignores pooling with the head kept; a spec saying both is refused, in spec words."""
        if self.pooling is not None and self.include_top:
            raise ValueError(f"pooling: {self.pooling} applies to the network without its head: add include_top: false")
        return self


def lower_network(layer: Network, ctx: Lowering, path: SpecPath) -> str:
    segment = ctx.segment_for(layer, "network")
    x = ctx.source_of(layer, path)
    graph = ctx.subnetwork(layer.spec, layer.variables, ctx.shape(x), path, **_cut(layer))
    renamed = {graph.nodes[0].name: x}
    for node in graph.layers:
        renamed[node.name] = ctx.add(
            ctx.scoped(node.name), node.op, node.attrs, [renamed[i] for i in node.inputs], path
        )
    for point, node_name in graph.output_map.items():  # the features, and a network's several named outputs
        ctx.alias(ctx.scoped(f"{segment}_{point}"), renamed[node_name])
    return ctx.alias(ctx.scoped(segment), renamed[graph.nodes[-1].name])


def _cut(layer: Network) -> dict[str, object]:
    return {"include_top": layer.include_top, "pooling": layer.pooling, "features": layer.features}


register(Block(kind="network", schema=Network, lower=lower_network, summary="another spec's network as a block"))
