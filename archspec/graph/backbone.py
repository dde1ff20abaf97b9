"""A classifier without its head: ``include_top=False`` and ``pooling=`` as keras.applications has them.

One rule for every network, read off the graph rather than written per spec: walk back from the output
through layers that take one input (the head is a chain); the head starts at the earliest of them that covers
its whole input feature map (global pooling, flatten, a dense over a map). What is left ends at the last
feature map (H, W, C); ``pooling`` then adds global average or max pooling. A normalisation that reads the
head's pooling alone is the features' own, not the classifier's (ConvNeXt's layer norm: keras.applications
keeps it with include_top=False), and stays: after ``pooling`` when given, else on the feature map. The cut is
made on the graph IR, so `shapes`, `build`, `check` and `export` all see the same network, with no TensorFlow
needed to count it.

``features`` (timm's ``features_only``/``out_indices``): feature maps at named points as extra outputs. A point is
named by its output stride, ``stride4`` .. ``stride32``: the last feature map, before the head, whose size is the
input's divided by that stride (the end of a stage), resolved from the graph's static shapes, so no spec states
where its stages end. A layer's own name is taken as well.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from ..errors import Problem, SpecError, did_you_mean
from ..kinds.pool import Pool
from ..kinds.registry import OPS
from .infer import infer
from .ir import Graph, Node, Shape

POOLINGS = ("avg", "max")
"""What ``pooling`` may be besides None (keras.applications' names)."""


def pooling_problem(include_top: bool, pooling: str | None) -> Problem | None:
    """Why the pair cannot be honoured, or None. ``pooling`` with the head kept would be silently ignored
    (keras.applications ignores it); here it is refused."""
    if pooling is not None and pooling not in POOLINGS:
        return Problem(f"pooling={pooling!r} is not a pooling mode", hint="pooling is None, 'avg' or 'max'")
    if pooling is not None and include_top:
        return Problem(
            f"pooling={pooling!r} applies to the network without its classifier head",
            hint="pass include_top=False as well (the head already pools)",
        )
    return None


def backbone(graph: Graph, include_top: bool, pooling: str | None, features: Sequence[str] | None = None) -> Graph:
    """The graph as include_top, pooling and features ask; SpecError for a request that cannot be honoured.

    With ``features`` the outputs are the network's own output (the head's, or the pooled vector) when there is
    one, then each feature map under the name it was asked by; without the head and pooling, the features alone."""
    problem = pooling_problem(include_top, pooling)
    if problem is not None:
        raise SpecError(problem)
    cut = graph if include_top else without_top(graph, pooling)
    if not features:
        return cut
    taps = resolve_features(graph, features)
    ends = dict(cut.output_map) if include_top or pooling is not None else {}
    clash = next((name for name in taps if name in ends), None)
    if clash is not None:
        raise SpecError(
            Problem(
                f"{clash!r} is already the name of the network's output",
                file=_file(graph),
                path=("features",),
                hint="ask for the feature map by its stride (stride4 .. stride32) instead",
            )
        )
    return _keeping(cut if include_top else graph, {**ends, **taps}, extra=cut.nodes)


def _file(graph: Graph) -> str | None:
    return graph.source.file if graph.source is not None else None


def _shapes(graph: Graph) -> dict[str, Shape]:
    report = infer(graph, max_params=None, max_activations=None)
    return {**report.inputs, **{info.name: info.output_shape for info in report.layers}}


def feature_points(graph: Graph) -> dict[str, str]:
    """Each output stride's name (``stride4``) -> the end of the network's part at that stride, by stride.

    The end is the last node before the head, at that stride, that is the only map alive there: everything later
    reads it and nothing older (a ResNet stage's last block, not a branch inside Inception's reduction block, nor
    a squeeze-and-excitation vector). The stride of a map is the input's height over its height, to the nearest
    power of two (Inception's valid convolutions give 299 -> 147 -> 73 -> 35: strides 2, 4, 8). In a network
    without a head (a U-Net) every node counts."""
    shapes = _shapes(graph)
    try:
        end = head_start(graph, shapes)
    except SpecError:
        end = len(graph.nodes)
    index = {node.name: i for i, node in enumerate(graph.nodes)}
    last_read = {node.name: i for i, node in enumerate(graph.nodes)}
    for i, node in enumerate(graph.nodes):
        for source in node.inputs:
            last_read[source] = max(last_read[source], i)
    height = graph.image_size[0]
    points: dict[int, str] = {}
    alive_past = -1  # the furthest node any earlier node is read by
    for node in graph.nodes[:end]:
        i = index[node.name]
        shape = shapes[node.name]
        sole = alive_past <= i
        alive_past = max(alive_past, last_read[node.name])
        # a layer that only adds a border (zeropad: its record's `border`) never ends a stage
        if (
            not sole
            or len(shape) != 3
            or (node.op in OPS and OPS[node.op].border is not None)
            or shape[0] < 1
            or height / shape[0] < 1.5
        ):
            continue
        points[2 ** round(math.log2(height / shape[0]))] = node.name
    return {f"stride{stride}": points[stride] for stride in sorted(points)}


def resolve_features(graph: Graph, features: Sequence[str]) -> dict[str, str]:
    """Each asked-for point -> its node: a stride name (``feature_points``) or a layer's name before the head."""
    points = feature_points(graph)
    shapes = _shapes(graph)
    try:
        layers = [node.name for node in graph.nodes[: head_start(graph, shapes)]]
    except SpecError:
        layers = [node.name for node in graph.nodes]
    taps: dict[str, str] = {}
    for name in features:
        if not isinstance(name, str):
            raise SpecError(Problem(f"{name!r} is not a point's name", file=_file(graph), path=("features",)))
        if name in taps:
            raise SpecError(Problem(f"{name!r} is asked for twice", file=_file(graph), path=("features",)))
        node = points.get(name) or (name if name in layers else None)
        if node is None:
            listed = ", ".join(f"{point} ({node})" for point, node in points.items())
            raise SpecError(
                Problem(
                    f"{graph.name!r} has no point named {name!r}",
                    file=_file(graph),
                    path=("features",),
                    hint=did_you_mean(name, [*points, *layers])
                    + f"its points: {listed or 'none (no feature map smaller than the input)'}, "
                    "or a layer's name before the head",
                )
            )
        taps[name] = node
    return taps


def _keeping(graph: Graph, ends: dict[str, str], extra: list[Node]) -> Graph:
    """The graph reduced to what its named outputs ``ends`` need; ``extra`` holds nodes the cut added (a pool)."""
    by_name = {node.name: node for node in [*graph.nodes, *extra]}
    kept: set[str] = set()
    todo = list(ends.values())
    while todo:
        name = todo.pop()
        if name not in kept:
            kept.add(name)
            todo.extend(by_name[name].inputs)
    order = [*graph.nodes, *(node for node in extra if node.name not in {n.name for n in graph.nodes})]
    return replace(graph, nodes=[node for node in order if node.name in kept], outputs=ends)


def head_start(graph: Graph, shapes: dict[str, Shape] | None = None) -> int:
    """Index in ``graph.nodes`` of the first layer of the classifier head; SpecError where there is none."""
    where = _file(graph)
    if len(graph.output_map) != 1:
        raise SpecError(
            Problem(
                f"leaving the classifier head out needs a network with one output; {graph.name!r} has "
                f"{len(graph.output_map)} ({', '.join(graph.output_map)})",
                file=where,
            )
        )
    index = {node.name: i for i, node in enumerate(graph.nodes)}
    shapes = _shapes(graph) if shapes is None else shapes
    start = None
    node = graph.nodes[index[next(iter(graph.output_map.values()))]]
    while len(node.inputs) == 1 and node.op != "input":
        source = shapes[node.inputs[0]]
        if len(source) == 3 and OPS[node.op].window(node.attrs, [source]) == "global":
            start = index[node.name]
        node = graph.nodes[index[node.inputs[0]]]
    if start is None:
        raise SpecError(
            Problem(
                f"{graph.name!r} has no classifier head to leave out (no global pooling, "
                "flatten or dense over the last feature map before its output)",
                file=where,
                hint="only a classifier has a head to leave out, such as the zoo's resnet50 or efficientnet",
            )
        )
    return start


def without_top(graph: Graph, pooling: str | None = None) -> Graph:
    """The graph up to the feature map its head starts from, plus global ``pooling`` when given, then the
    normalisation the features end in (``features_norm``)."""
    head = graph.nodes[head_start(graph)]
    last = head.inputs[0]
    norm = features_norm(graph, head)
    by_name = {node.name: node for node in graph.nodes}
    kept, todo = set(), [last]
    while todo:  # the cut's ancestors: whatever fed only the head goes with it
        name = todo.pop()
        if name not in kept:
            kept.add(name)
            todo.extend(by_name[name].inputs)
    nodes = [node for node in graph.nodes if node.name in kept]
    taken = kept | ({norm.name} if norm is not None else set())
    if pooling is not None:
        name = f"{pooling}_pool"
        while name in taken:
            name += "_"
        attrs = Pool.model_validate({"kind": pooling, "global": True, "name": name})
        nodes.append(Node(name=name, op="pool", attrs=attrs, inputs=(last,)))
        last = name
    if norm is not None:  # its own name: the classifier's weights still move over to it
        nodes.append(replace(norm, inputs=(last,)))
    return replace(graph, nodes=nodes, outputs={})


def features_norm(graph: Graph, head: Node) -> Node | None:
    """The normalisation that alone reads the head's global pooling (its kind record says it
    ``stays_with_features``), or None."""
    if head.op != "pool":
        return None
    readers = [node for node in graph.nodes if head.name in node.inputs]
    if (
        len(readers) == 1
        and readers[0].op in OPS
        and OPS[readers[0].op].stays_with_features
        and readers[0].inputs == (head.name,)
    ):
        return readers[0]
    return None
