"""Warnings: legal specs that a careful engineer would still want to hear about.

Each rule is a function (graph, report) -> problems; `archspec validate
--strict` turns them into errors. Rules read the IR and the static report only.
Messages carry no "warning:" label: whoever prints them says whether they are
warnings or, under --strict, errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from ..errors import Problem
from ..kinds.arith import dropped_border
from ..kinds.registry import OPS, Shape, Window
from .ir import Graph, Node
from .report import Report

HUGE_FAN_IN = 1_000_000
"""A dense layer reading more values than this is almost always a missing pool or flatten in the wrong place."""
EARLY_FRACTION = 1 / 4
"""A receptive field covering the whole input within this fraction of the spatial layers is 'early'."""

Rule = Callable[[Graph, Report], Iterable[Problem]]


def _windows(graph: Graph, report: Report) -> Iterator[tuple[Node, Shape, Window]]:
    """(node, input shape, (kernel, stride, dilation)) for every sliding-window node."""
    shapes = {info.name: info.output_shape for info in report.layers}
    shapes.update(graph.inputs)
    for node in graph.layers:
        ins = [shapes[i] for i in node.inputs]
        window = OPS[node.op].window(node.attrs, ins)
        if isinstance(window, tuple):
            yield node, ins[0], window


def border_dropped(graph: Graph, report: Report) -> Iterable[Problem]:
    by_name = {n.name: n for n in graph.nodes}
    for node, inp, (kernel, stride, dilation) in _windows(graph, report):
        if getattr(node.attrs, "padding", "valid") != "valid":
            continue
        source = by_name[node.inputs[0]]
        # zeros a zeropad added at the far border are not input: dropping them loses nothing
        border = OPS[source.op].border if source.attrs is not None else None
        padded = border(source.attrs) if border is not None else ((0, 0), (0, 0))
        lost = [
            max(dropped_border(inp[a], kernel[a], stride[a], dilation[a]) - padded[a][1], 0)
            if kernel[a] >= stride[a]
            else 0
            for a in (0, 1)
        ]
        if any(lost):
            yield graph.problem(
                node.path,
                (
                    f"layer {node.name!r}: a {kernel[0]}x{kernel[1]} window at stride {stride[0]}x{stride[1]} does not "
                    "fit "
                    f"the {inp[0]}x{inp[1]} input: the last {lost[0]} row(s) and {lost[1]} column(s) are never read"
                ),
                "pad the input (zeropad or padding: same) or change the stride if the border matters",
            )


def window_larger_than_input(graph: Graph, report: Report) -> Iterable[Problem]:
    for node, inp, (kernel, _, _) in _windows(graph, report):
        if kernel[0] > inp[0] or kernel[1] > inp[1]:
            yield graph.problem(
                node.path,
                f"layer {node.name!r}: its {kernel[0]}x{kernel[1]} window is larger than its {inp[0]}x{inp[1]} input",
                OPS[node.op].window_hint,
            )


def huge_fan_in(graph: Graph, report: Report) -> Iterable[Problem]:
    shapes = {info.name: info.output_shape for info in report.layers}
    shapes.update(graph.inputs)
    for node in graph.layers:
        reads = OPS[node.op].fan_in
        if reads is not None:
            fan_in = reads(node.attrs, [shapes[i] for i in node.inputs])
            if fan_in > HUGE_FAN_IN:
                yield graph.problem(
                    node.path,
                    f"layer {node.name!r}: a dense layer reading {fan_in:,} values",
                    "downsample or global-pool before flattening",
                )


def softmax_not_last(graph: Graph, report: Report) -> Iterable[Problem]:
    outputs = set(graph.output_map.values())
    for node in graph.layers:
        if node.name in outputs:
            continue
        if node.activation == "softmax":
            yield graph.problem(
                node.path,
                f"layer {node.name!r}: softmax before the last layer",
                "softmax turns outputs into class probabilities; it usually ends the network (or one of its outputs)",
            )


def early_global_receptive_field(graph: Graph, report: Report) -> Iterable[Problem]:
    # a 1x1 map from a global pool is a vector in map form (squeeze-and-excitation), not context
    h, w = graph.image_size
    spatial = [
        info
        for info in report.layers
        if len(info.output_shape) == 3 and (info.output_shape[:2] != (1, 1) or (h, w) == (1, 1))
    ]
    for index, info in enumerate(spatial):
        if info.receptive_field[0] >= h and info.receptive_field[1] >= w:
            if index < len(spatial) * EARLY_FRACTION:
                node = graph.node(info.name)
                yield graph.problem(
                    node.path,
                    (
                        f"layer {info.name!r}: its receptive field "
                        f"({info.receptive_field[0]}x{info.receptive_field[1]}) "
                        f"already covers the whole {h}x{w} input, {len(spatial) - index - 1} spatial layers before the "
                        "end"
                    ),
                    "later layers cannot see more context; the network may be deeper than the input needs",
                )
            return


LOGIT_TASKS = {"classification": "softmax", "multilabel": "sigmoid", "segmentation": "softmax"}
"""Tasks whose output, when it ends in no activation, is logits: the loss applies this to them."""


def clipping(name: str, by_name: Mapping[str, Node]) -> Node | None:
    """The node whose activation limits the values at `name`, looking back through ops that do not weigh them
    (None: they are a weighted layer's own sums, as logits should be)."""
    todo, seen = [name], set()
    while todo:
        node = by_name[todo.pop()]
        if node.name in seen or node.op == "input":
            continue
        seen.add(node.name)
        if node.activation != "linear":
            return node
        if OPS[node.op].passes_values:  # a clipped value stays clipped through it
            todo.extend(node.inputs)
    return None


CLIPPED = {
    "relu": "negative logits become 0: every class the layer rules out ties at one probability, and its gradient stops",
    "relu6": "negative logits become 0: every class the layer rules out ties at one probability, and its gradient "
    "stops",
    "sigmoid": "the logits stay between 0 and 1, so no probability can get near 0 or 1",
    "hard_sigmoid": "the logits stay between 0 and 1, so no probability can get near 0 or 1",
    "tanh": "the logits stay between -1 and 1, so no probability can get near 0 or 1",
    "softsign": "the logits stay between -1 and 1, so no probability can get near 0 or 1",
}
"""What an activation on the logits does to the probabilities made from them (others: see the fallback in
`_clipped`)."""


def _clipped(graph: Graph, source: Node, what: str) -> Problem:
    why = CLIPPED.get(source.activation, "the loss reads the activation's output instead of the layer's own sums")
    return graph.problem(
        source.path,
        f"layer {source.name!r}: {source.activation} on the logits {what}: {why}",
        "leave the logits' layer without an activation (`activation: linear` on it overrides one from `defaults`)",
    )


def logits_clipped(graph: Graph, report: Report, tasks: Mapping[str, str]) -> Iterable[Problem]:
    """An activation on the logits: on the layer feeding a softmax (or an output's sigmoid), or on the values an output
    gives as logits (it ends in no activation and its task applies one in the loss), e.g. a relu from `defaults`."""
    outputs = {layer: key for key, layer in graph.output_map.items()}
    by_name = {node.name: node for node in graph.nodes}
    flagged: set[str] = set()
    for node in graph.layers:
        if OPS[node.op].passes_values and (
            node.activation == "softmax" or (node.activation == "sigmoid" and node.name in outputs)
        ):
            source = clipping(node.inputs[0], by_name)
            if source is not None and source.name not in flagged:
                flagged.add(source.name)
                yield _clipped(graph, source, f"that the {node.activation} of {node.name!r} reads")
    for key, layer in graph.output_map.items():
        applied = LOGIT_TASKS.get(tasks.get(key, ""))
        if applied is None or by_name[layer].activation != "linear":
            continue
        source = clipping(layer, by_name)
        if source is not None and source.name not in flagged:
            flagged.add(source.name)
            yield _clipped(graph, source, f"that output {key!r} gives (its {tasks[key]} loss applies the {applied})")


RULES: tuple[Rule, ...] = (
    border_dropped,
    window_larger_than_input,
    huge_fan_in,
    softmax_not_last,
    early_global_receptive_field,
)


def lint(graph: Graph, report: Report, tasks: Mapping[str, str] | None = None) -> list[Problem]:
    """Every rule's findings; `tasks` (each output's task) lets the logits rule know which outputs give logits."""
    return [
        *(problem for rule in RULES for problem in rule(graph, report)),
        *logits_clipped(graph, report, tasks or {}),
    ]
