"""A graph written back as spec data: every template, repeat, variable and default resolved.

The result lists primitive layers only, each with its node name and (where it
does not simply read the previous layer) its inputs, so it validates and
builds to the identical model (`archspec render`).
"""

from __future__ import annotations

from typing import Any

from ..kinds.registry import OPS
from .ir import Graph, Node


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def node_layer(node: Node, previous: str) -> dict[str, Any]:
    """One spec layer for one IR node: its settings that differ from the defaults, its name, its inputs."""
    settings: dict[str, Any] = {}
    if node.attrs is not None:
        settings = node.attrs.model_dump(exclude_defaults=True, by_alias=True, exclude={"name", "input", "inputs"})
    settings = _plain(settings)
    for setting, key in OPS[node.op].written_as:  # conv's matrix `values` are written as its `kernel`
        if setting in settings:
            settings[key] = settings.pop(setting)
    settings["name"] = node.name
    if OPS[node.op].inputs[1] != 1:  # a join (add, multiply, concat) names all its inputs
        settings["inputs"] = list(node.inputs)
    elif node.inputs[0] != previous:
        settings["input"] = node.inputs[0]
    return {node.op: settings}


def graph_to_spec(
    graph: Graph, *, training: dict[str, Any] | None = None, description: str | None = None
) -> dict[str, Any]:
    layers = []
    previous = graph.nodes[0].name
    for node in graph.layers:
        layers.append(node_layer(node, previous))
        previous = node.name
    spec: dict[str, Any] = {"name": graph.name}
    if description:
        spec["description"] = description
    if graph.named_inputs:
        spec["inputs"] = {name: list(shape) for name, shape in graph.inputs.items()}
    else:
        spec["input"] = list(graph.input_shape)
    if graph.outputs:
        spec["outputs"] = dict(graph.outputs)
    if training:
        spec["training"] = training
    spec["layers"] = layers
    return spec
