"""Freezing: which nodes keep their weights while the rest of the network trains.

A frozen name freezes everything up to and including it: the node (or every
node of the block or scope of that name) and every node it depends on, so
``conv4`` in ResNet-50 freezes the stem and stages 2 to 4, while a branch that
does not feed it stays trainable. ``bn`` freezes every batch normalisation,
which then runs in inference mode (Keras' fine-tuning guidance: a batch-norm
layer updating its statistics on a small new data set undoes the pretrained
ones). The result is part of the IR (``Node.frozen``), so the static counts
and the Keras model read the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import PathPart, Problem, SpecError, did_you_mean
from ..kinds.registry import OPS
from .ir import Graph

if TYPE_CHECKING:  # only named in annotations: `archspec shapes` does not load the training models
    from ..spec.training import Training


def _in_scope(node: str, scope: str) -> bool:
    """`conv4_block2_1_conv` is in the scope `conv4_block2`; `conv_2` is not in a scope `conv` (an automatic
    name's number)."""
    rest = node[len(scope) + 1 :] if node.startswith(scope + "_") else ""
    return bool(rest) and not rest.isdigit()


def members(graph: Graph, name: str) -> list[int]:
    """Indexes of the nodes a name stands for: a node, a top-level block, or a scope (`conv4_block2`)."""
    groups = [i for i, (group, _kind) in enumerate(graph.groups) if group == name]
    return [
        i
        for i, node in enumerate(graph.nodes)
        if node.op != "input" and (node.name == name or node.group in groups or _in_scope(node.name, name))
    ]


def frozen_nodes(
    graph: Graph,
    names: Sequence[str],
    *,
    bn: bool = False,
    origin: str | None = None,
    where: tuple[PathPart, ...] = ("training", "freeze"),
) -> set[str]:
    """The names of the nodes that `names` and `bn` freeze; SpecError for a name the graph lacks.

    ``origin`` names the option the names came from (``--freeze``); without it a problem is located at
    ``where`` in the spec."""
    index = {node.name: i for i, node in enumerate(graph.nodes)}
    todo: list[int] = []
    problems: list[Problem] = []
    for k, name in enumerate(names):
        found = members(graph, str(name))
        if not found:
            message = f"cannot freeze {name!r}: {graph.name} has no node or block of that name"
            hint = (
                did_you_mean(name, [*index, *(g for g, _ in graph.groups)])
                or "see `archspec shapes SPEC --expand` for the node names"
            )
            problems.append(
                Problem(message, file=origin, hint=hint) if origin else graph.problem((*where, k), message, hint)
            )
        todo.extend(found)
    if problems:
        raise SpecError(problems)
    out: set[str] = set()
    while todo:
        node = graph.nodes[todo.pop()]
        if node.name in out or node.op == "input":
            continue
        out.add(node.name)
        todo.extend(index[i] for i in node.inputs)
    if bn:
        out.update(node.name for node in graph.layers if OPS[node.op].batch_statistics)
    return out


def freeze(
    graph: Graph,
    names: Sequence[str] = (),
    *,
    bn: bool = False,
    origin: str | None = None,
    where: tuple[PathPart, ...] = ("training", "freeze"),
) -> Graph:
    """A copy of the graph whose nodes are frozen exactly as `names` and `bn` say (others are not)."""
    frozen = frozen_nodes(graph, names, bn=bn, origin=origin, where=where)
    if not frozen and not any(node.frozen for node in graph.nodes):
        return graph
    return replace(
        graph,
        nodes=[
            replace(node, frozen=node.name in frozen) if node.frozen != (node.name in frozen) else node
            for node in graph.nodes
        ],
    )


def as_trained(graph: Graph, training: Training | None) -> Graph:
    """The graph frozen as a training recipe starts (its first phase, or its `freeze` and `freeze_bn`)."""
    if training is None:
        return graph
    first = training.phase_recipes()[0]
    if not first.freeze and not first.freeze_bn:
        return graph
    return freeze(graph, first.freeze, bn=first.freeze_bn, where=training.freeze_path(0))


def refreeze(graph: Graph, training: Training | None, names: Sequence[str] | None, bn: bool | None) -> Graph:
    """The graph frozen by explicit `names` / `bn` (``--freeze``, ``--freeze-bn``) where given, else as the
    recipe says."""
    if names is None and bn is None:
        return graph
    first = training.phase_recipes()[0] if training is not None else None
    return freeze(
        graph,
        list(names) if names is not None else (first.freeze if first else []),
        bn=bn if bn is not None else bool(first and first.freeze_bn),
        origin="--freeze" if names is not None else None,
        where=training.freeze_path(0) if training else ("training", "freeze"),
    )
