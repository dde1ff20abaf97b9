"""A classifier without its head: ``include_top=False`` and ``pooling=`` as keras.applications has them.

One rule for every network, read off the graph rather than written per spec: walk back from the output
through layers that take one input (the head is a chain); the head starts at the earliest of them that covers
its whole input feature map (global pooling, flatten, a dense over a map). What is left ends at the last
feature map (H, W, C); ``pooling`` then adds global average or max pooling. A normalisation that reads the
head's pooling alone is the features' own, not the classifier's (ConvNeXt's layer norm: keras.applications
keeps it with include_top=False), and stays: after ``pooling`` when given, else on the feature map. The cut is
made on the graph IR, so `shapes`, `build`, `check` and `export` all see the same network, with no TensorFlow
needed to count it.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import Problem, SpecError
from ..kinds.pool import Pool
from ..kinds.registry import OPS
from .infer import infer
from .ir import Graph, Node

POOLINGS = ("avg", "max")
"""What ``pooling`` may be besides None (keras.applications' names)."""
FEATURE_NORMS = ("layernorm",)
"""Kinds that, straight after the head's global pooling, stay with the features: a per-channel normalisation,
which fits a pooled vector and a feature map alike, with the same weights."""


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


def backbone(graph: Graph, include_top: bool, pooling: str | None) -> Graph:
    """The graph as include_top and pooling ask; SpecError for a pair that cannot be honoured."""
    problem = pooling_problem(include_top, pooling)
    if problem is not None:
        raise SpecError(problem)
    return graph if include_top else without_top(graph, pooling)


def head_start(graph: Graph) -> int:
    """Index in ``graph.nodes`` of the first layer of the classifier head; SpecError where there is none."""
    where = graph.source.file if graph.source is not None else None
    if len(graph.output_map) != 1:
        raise SpecError(
            Problem(
                f"leaving the classifier head out needs a network with one output; {graph.name!r} has "
                f"{len(graph.output_map)} ({', '.join(graph.output_map)})",
                file=where,
            )
        )
    index = {node.name: i for i, node in enumerate(graph.nodes)}
    report = infer(graph, max_params=None, max_activations=None)
    shapes = {**report.inputs, **{info.name: info.output_shape for info in report.layers}}
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
    """The normalisation (``FEATURE_NORMS``) that alone reads the head's global pooling, or None."""
    if head.op != "pool":
        return None
    readers = [node for node in graph.nodes if head.name in node.inputs]
    if len(readers) == 1 and readers[0].op in FEATURE_NORMS and readers[0].inputs == (head.name,):
        return readers[0]
    return None
