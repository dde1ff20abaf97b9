"""Static inference: shapes, parameters, MACs and receptive fields over the IR.

Pure Python over integers; importing it imports neither TensorFlow nor Keras,
which is what keeps `archspec shapes` instant.
"""

from __future__ import annotations

import math

from ..errors import Problem, SpecError
from ..kinds.arith import Length, receptive_field, upscaled_field
from ..kinds.registry import OPS, Primitive, Shape, ShapeError, Upscale
from .ir import Graph, Node
from .report import GroupInfo, LayerInfo, Report

Field = tuple[tuple[Length, Length], tuple[Length, Length]]
"""(receptive field, cumulative stride) of a node, each per spatial axis."""

MAX_PARAMS = 2_000_000_000
"""Default parameter budget: larger models are refused before anything is allocated."""
MAX_ACTIVATIONS = 2_000_000_000
"""Default budget of activation values for one example (8 GB in float32)."""


def node_shape(node: Node, inputs: list[Shape]) -> Shape:
    """Output shape of one node; ShapeError when it cannot have one."""
    prim = OPS[node.op]
    low, high = prim.inputs
    if len(inputs) < low or (high is not None and len(inputs) > high):
        raise ShapeError(f"{node.op} takes {low}{'+' if high is None else ''} inputs, got {len(inputs)}")
    out = prim.infer(node.attrs, inputs)
    if out and min(out) < 1:
        raise ShapeError(f"output shape {list(out)} has an empty dimension")
    return out


def _receptive(node: Node, prim: Primitive, ins: list[Field], inputs: list[Shape], image: tuple[int, int]) -> Field:
    """(receptive field, cumulative stride) per spatial axis after a node, from those of its inputs.

    An input broadcast over the others (squeeze-and-excitation's 1x1 gate) weights channels; it
    does not widen the spatial context, so it does not count when a full-size input is there."""
    if len(ins) == 1:  # most nodes: no maximum to take
        rf, jump = ins[0]
    else:
        spatial = [s[:2] for s in inputs if len(s) == 3]
        if len(spatial) > 1:
            widest = max(spatial)
            ins = [r for r, s in zip(ins, inputs, strict=True) if len(s) == 3 and s[:2] == widest]
        rf = (max(r[0][0] for r in ins), max(r[0][1] for r in ins))
        jump = (max(r[1][0] for r in ins), max(r[1][1] for r in ins))
    window = prim.window(node.attrs, inputs)
    if window is None:
        return rf, jump
    if isinstance(window, str):  # "global", the one word a window function returns
        return (max(rf[0], image[0]), max(rf[1], image[1])), jump
    if isinstance(window, Upscale):
        up = [upscaled_field(rf[a], jump[a], window.reach[a], window.factor[a]) for a in (0, 1)]
        return (up[0][0], up[1][0]), (up[0][1], up[1][1])
    kernel, stride, dilation = window
    axes = [receptive_field(rf[a], jump[a], kernel[a], stride[a], dilation[a]) for a in (0, 1)]
    return (axes[0][0], axes[1][0]), (axes[0][1], axes[1][1])


def infer(
    graph: Graph, *, max_params: int | None = MAX_PARAMS, max_activations: int | None = MAX_ACTIVATIONS
) -> Report:
    """Shapes and counts for every node; SpecError naming each node whose shape fails. The lint rules and the
    training checks run on top of this in ``graph.checked``."""
    shapes: dict[str, Shape | None] = {}
    fields: dict[str, Field] = {}
    infos: list[LayerInfo] = []
    problems: list[Problem] = []
    image = graph.image_size
    for node in graph.nodes:
        if node.op == "input":
            shapes[node.name] = graph.inputs[node.name]
            fields[node.name] = ((1, 1), (1, 1))
            continue
        known = [shapes.get(i) for i in node.inputs]
        ins = [shape for shape in known if shape is not None]
        if len(ins) < len(known):
            shapes[node.name] = None  # an input already failed; its problem is reported
            continue
        try:
            out = node_shape(node, ins)
        except ShapeError as exc:
            shapes[node.name] = None
            problems.append(graph.problem(node.path, f"layer {node.name!r}: {exc}", exc.hint))
            continue
        shapes[node.name] = out
        prim = OPS[node.op]
        trainable, fixed = prim.params(node.attrs, ins, out)
        rf, jump = _receptive(node, prim, [fields[i] for i in node.inputs], ins, image)
        fields[node.name] = (rf, jump)
        infos.append(
            LayerInfo(
                name=node.name,
                type=node.op,
                label=prim.label(node.attrs) if prim.label else node.op,
                inputs=node.inputs,
                output_shape=out,
                params=trainable + fixed,
                trainable_params=0 if node.frozen else trainable,
                macs=prim.macs(node.attrs, ins, out),
                receptive_field=_pixels(rf),
                jump=_step(jump),
                group=node.group,
                frozen=node.frozen,
            )
        )
    if problems:
        raise SpecError(problems)
    report = Report(
        name=graph.name,
        input_shape=graph.input_shape,
        layers=infos,
        groups=_groups(graph, infos),
        inputs=dict(graph.inputs),
        outputs=graph.output_map,
    )
    _check_budget(graph, report, max_params, max_activations)
    return report


def _pixels(rf: tuple[Length, Length]) -> tuple[int, int]:
    """A receptive field in whole input pixels: after an upsampling it may cover part of one more."""
    return (math.ceil(rf[0]), math.ceil(rf[1]))


def _step(jump: tuple[Length, Length]) -> tuple[int | float, int | float]:
    """The cumulative stride as a number JSON can hold: a fraction of a pixel (after an upsampling) as a float."""
    return (_number(jump[0]), _number(jump[1]))


def _number(value: Length) -> int | float:
    return value if isinstance(value, int) else float(value)


def _check_budget(graph: Graph, report: Report, max_params: int | None, max_activations: int | None) -> None:
    """Refuse absurd models here, in arithmetic, before Keras allocates a single weight."""
    problems = []
    if max_params is not None and report.total_params > max_params:
        problems.append(
            graph.problem(
                ("layers",),
                f"the model has {report.total_params:,} parameters, over the budget of {max_params:,}",
                "raise the budget with --max-params (Python: max_params=...) if this is intended",
            )
        )
    if max_activations is not None and report.activations > max_activations:
        problems.append(
            graph.problem(
                ("layers",),
                f"one example produces {report.activations:,} activation values, over the budget of "
                f"{max_activations:,}",
                "raise the budget with --max-activations (Python: max_activations=...) if this is intended",
            )
        )
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
        out.append(
            GroupInfo(
                name=name,
                type=kind,
                label=text,
                output_shape=last.output_shape,
                params=sum(m.params for m in members),
                macs=sum(m.macs for m in members),
                receptive_field=last.receptive_field,
                nodes=len(members),
                trainable_params=sum(m.trainable_params for m in members),
                frozen_layers=sum(1 for m in members if m.frozen and m.params),
                weighted_layers=sum(1 for m in members if m.params),
            )
        )
    return out
