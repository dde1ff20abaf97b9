"""Static inference: shapes, parameters, MACs and receptive fields over the IR.

Pure Python over integers; importing it imports neither TensorFlow nor Keras,
which is what keeps `archspec shapes` instant.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import Problem, SpecError
from .ir import Graph, Node
from .kinds.registry import OPS, Shape, ShapeError

MAX_PARAMS = 2_000_000_000
"""Default parameter budget: larger models are refused before anything is allocated."""
MAX_ACTIVATIONS = 2_000_000_000
"""Default budget of activation values for one example (8 GB in float32)."""


@dataclass(frozen=True)
class LayerInfo:
    name: str
    type: str
    label: str
    inputs: tuple[str, ...]
    output_shape: Shape
    params: int
    trainable_params: int
    macs: int
    receptive_field: tuple[int, int]
    jump: tuple[int, int]
    group: int | None = None

    @property
    def activations(self) -> int:
        return math.prod(self.output_shape)


@dataclass(frozen=True)
class GroupInfo:
    """One top-level spec layer (a block collapsed to one row)."""

    name: str
    type: str
    label: str
    output_shape: Shape
    params: int
    macs: int
    receptive_field: tuple[int, int]
    nodes: int


@dataclass(frozen=True)
class Report:
    name: str
    input_shape: Shape
    layers: list[LayerInfo]
    groups: list[GroupInfo] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    """Things a careful engineer wants to know that are not errors (see archspec.lint)."""

    @property
    def total_params(self) -> int:
        return sum(l.params for l in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(l.trainable_params for l in self.layers)

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def macs(self) -> int:
        return sum(l.macs for l in self.layers)

    @property
    def activations(self) -> int:
        """Values in every layer's output for one example (a proxy for activation memory)."""
        return sum(l.activations for l in self.layers)

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape

    def layer(self, name: str) -> LayerInfo:
        for info in self.layers:
            if info.name == name:
                return info
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "layers": [
                {
                    "name": l.name,
                    "type": l.type,
                    "inputs": list(l.inputs),
                    "output_shape": list(l.output_shape),
                    "params": l.params,
                    "trainable_params": l.trainable_params,
                    "macs": l.macs,
                    "receptive_field": list(l.receptive_field),
                    "jump": list(l.jump),
                }
                for l in self.layers
            ],
            "blocks": [{**asdict(g), "output_shape": list(g.output_shape), "receptive_field": list(g.receptive_field)} for g in self.groups],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "macs": self.macs,
            "activations": self.activations,
        }


def node_shape(node: Node, inputs: list[Shape]) -> Shape:
    """Output shape of one node; ShapeError when it cannot have one."""
    prim = OPS[node.op]
    low, high = prim.inputs
    if len(inputs) < low or (high is not None and len(inputs) > high):
        raise ShapeError(f"{node.op} takes {low}{'+' if high is None else ''} inputs, got {len(inputs)}")
    out = prim.infer(node.attrs, inputs)
    if any(d < 1 for d in out):
        raise ShapeError(f"output shape {list(out)} has an empty dimension")
    return out


def label(node: Node) -> str:
    prim = OPS[node.op]
    if prim.label:
        return prim.label(node.attrs)
    return node.op


def _receptive(node: Node, ins: list[tuple[tuple[int, int], tuple[int, int]]], inputs: list[Shape], image: Shape) -> tuple[tuple[int, int], tuple[int, int]]:
    rf = tuple(max(r[0][a] for r in ins) for a in (0, 1))
    jump = tuple(max(r[1][a] for r in ins) for a in (0, 1))
    window = OPS[node.op].window(node.attrs, inputs)
    if window is None:
        return rf, jump  # type: ignore[return-value]
    if window == "global":
        return (max(rf[0], image[0]), max(rf[1], image[1])), jump  # type: ignore[return-value]
    kernel, stride, dilation = window
    new_rf = tuple(rf[a] + dilation[a] * (kernel[a] - 1) * jump[a] for a in (0, 1))
    new_jump = tuple(jump[a] * stride[a] for a in (0, 1))
    return new_rf, new_jump  # type: ignore[return-value]


def infer(graph: Graph, *, max_params: int | None = MAX_PARAMS, max_activations: int | None = MAX_ACTIVATIONS) -> Report:
    """Shapes and counts for every node; SpecError naming each node whose shape fails."""
    shapes: dict[str, Shape | None] = {}
    fields: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}
    infos: list[LayerInfo] = []
    problems: list[Problem] = []
    for node in graph.nodes:
        if node.op == "input":
            shapes[node.name] = graph.input_shape
            fields[node.name] = ((1, 1), (1, 1))
            continue
        ins = [shapes.get(i) for i in node.inputs]
        if any(s is None for s in ins):
            shapes[node.name] = None  # an input already failed; its problem is reported
            continue
        try:
            out = node_shape(node, ins)  # type: ignore[arg-type]
        except ShapeError as exc:
            shapes[node.name] = None
            problems.append(graph.problem(node.path, f"layer {node.name!r}: {exc}"))
            continue
        shapes[node.name] = out
        prim = OPS[node.op]
        trainable, frozen = prim.params(node.attrs, ins, out)  # type: ignore[arg-type]
        rf, jump = _receptive(node, [fields[i] for i in node.inputs], ins, graph.input_shape)  # type: ignore[arg-type]
        fields[node.name] = (rf, jump)
        infos.append(LayerInfo(
            node.name, node.op, label(node), node.inputs, out, trainable + frozen, trainable,
            prim.macs(node.attrs, ins, out), rf, jump, node.group,  # type: ignore[arg-type]
        ))
    if problems:
        raise SpecError(problems)
    from .lint import lint

    report = Report(graph.name, graph.input_shape, infos, _groups(graph, infos))
    _check_budget(graph, report, max_params, max_activations)
    report.warnings.extend(lint(graph, report))
    return report


def _check_budget(graph: Graph, report: Report, max_params: int | None, max_activations: int | None) -> None:
    """Refuse absurd models here, in arithmetic, before Keras allocates a single weight."""
    problems = []
    if max_params is not None and report.total_params > max_params:
        problems.append(graph.problem(("layers",), f"the model has {report.total_params:,} parameters, over the budget of {max_params:,}",
                                      "raise the budget with --max-params (Python: max_params=...) if this is intended"))
    if max_activations is not None and report.activations > max_activations:
        problems.append(graph.problem(("layers",), f"one example produces {report.activations:,} activation values, over the budget of {max_activations:,}",
                                      "raise the budget with --max-activations (Python: max_activations=...) if this is intended"))
    if problems:
        raise SpecError(problems)


def _groups(graph: Graph, infos: list[LayerInfo]) -> list[GroupInfo]:
    rows: dict[int, list[LayerInfo]] = {}
    for info in infos:
        if info.group is not None:
            rows.setdefault(info.group, []).append(info)
    out = []
    for index, (name, kind) in enumerate(graph.groups):
        members = rows.get(index, [])
        if not members:
            continue
        last = members[-1]
        text = members[0].label if len(members) == 1 else f"{kind} ({len(members)} layers)"
        out.append(GroupInfo(
            name, kind, text, last.output_shape, sum(m.params for m in members), sum(m.macs for m in members),
            last.receptive_field, len(members),
        ))
    return out
