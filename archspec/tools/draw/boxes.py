"""The tree of boxes a diagram is made of, built from the graph IR and the shape report.

A ``Box`` is a leaf (one IR node) or a unit (a block: a top-level spec layer that expands to
several nodes, ``Graph.groups``). A large block (a ResNet stage) is split once more by node
name (``conv4_block3_...``) so that an open stage shows its closed blocks. Each unit holds the
edges between its children; an edge crossing a unit's border enters at its entry (-1) or
leaves at its exit (-2). Columns, lanes and routes are given by ``grid``; positions by ``layout``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...graph.ir import Graph
from ...graph.report import LayerInfo, Report
from .geometry import closed_metrics

SUBUNIT_MIN_NODES = 13
"""A block this large is split into sub-blocks by node name (a ResNet stage into its blocks)."""


@dataclass
class Box:
    id: int
    name: str
    kind: str
    label: str
    shape: tuple[int, ...]
    lines: tuple[str, ...]
    node: str | None = None  # the IR node of a leaf
    children: list[Box] = field(default_factory=list)
    parent: Box | None = None
    col: int = 0
    lane: int = 0
    out: int = -1  # index of the child producing a unit's output
    edges: list[list[Any]] = field(default_factory=list)
    """[from, to, route, value]: child indices, -1 the unit's entry, -2 its exit; route 'adj', 'lane' or 'bypass'."""
    ncols: int = 0
    nlanes: int = 0
    nbypass: int = 0
    collapsed: bool = True
    info: dict[str, Any] = field(default_factory=dict)
    # the box's closed (or leaf) metrics, then the current ones: w, h, in x, out x, in y, out y
    closed: tuple[float, ...] = ()
    m: tuple[float, ...] = ()
    opened: tuple[float, ...] = ()  # a unit's metrics when open
    x: float = 0.0
    y: float = 0.0
    colx: list[float] = field(default_factory=list)
    colw: list[float] = field(default_factory=list)
    lane_y: list[float] = field(default_factory=list)

    @property
    def leaf(self) -> bool:
        return not self.children


def fmt_shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def count(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _rf(rf: tuple[int, int]) -> str:
    return str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}x{rf[1]}"


def _node_info(info: LayerInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "kind": info.type,
        "label": info.label,
        "shape": fmt_shape(info.output_shape),
        "params": f"{info.params:,}"
        + (f" ({info.params - info.trainable_params:,} frozen)" if info.trainable_params != info.params else ""),
        "MACs": count(info.macs),
        "receptive field": _rf(info.receptive_field),
        "inputs": ", ".join(info.inputs),
    }


class Builder:
    """Boxes of a graph, with their edges; ``split`` is off for a graph whose name-based sub-blocks form a cycle."""

    def __init__(self, graph: Graph, report: Report, *, split: bool) -> None:
        self.graph, self.report, self.split_blocks = graph, report, split
        self.infos = {info.name: info for info in report.layers}
        self.boxes: list[Box] = []
        self.leaf_of: dict[str, Box] = {}
        several = len(graph.inputs) > 1 or len(graph.output_map) > 1 or graph.named_inputs or bool(graph.outputs)
        self.output_of = {node: name for name, node in graph.output_map.items()} if several else {}
        """Node -> the output it is, when the network's outputs are named (each is marked in the drawing)."""

    def box(self, **kw: Any) -> Box:
        b = Box(id=len(self.boxes), **kw)
        self.boxes.append(b)
        return b

    def marks(self, nodes: list[str]) -> tuple[str, ...]:
        """The line naming the outputs among `nodes` (none when outputs are not named)."""
        outputs = [self.output_of[n] for n in nodes if n in self.output_of]
        return (f"→ output {', '.join(outputs)}",) if outputs else ()

    def leaf(self, name: str) -> Box:
        if name in self.graph.inputs:
            shape = tuple(self.graph.inputs[name])
            what = "image" if len(shape) == 3 else "vector"
            b = self.box(
                name=name,
                kind="input",
                label="input",
                shape=shape,
                lines=(name, f"input {what}" if name != "input" else what, fmt_shape(shape)),
                node=name,
                info={"name": name, "kind": "input", "shape": fmt_shape(shape)},
            )
        else:
            i = self.infos[name]
            b = self.box(
                name=name,
                kind=i.type,
                label=i.label,
                shape=i.output_shape,
                lines=(name, i.label, fmt_shape(i.output_shape), *self.marks([name])),
                node=name,
                info=_node_info(i),
            )
            if name in self.output_of:
                b.info["network output"] = self.output_of[name]
        self.leaf_of[name] = b
        return b

    def unit(self, name: str, kind: str, members: list[str], children: list[Box]) -> Box:
        infos = [self.infos[n] for n in members]
        last = infos[-1]
        label = f"{kind} · {len(infos)} layers"
        b = self.box(
            name=name,
            kind=kind,
            label=label,
            shape=last.output_shape,
            lines=(name, label, fmt_shape(last.output_shape), *self.marks(members)),
            children=children,
        )
        b.info = {
            "name": name,
            "kind": f"{kind} block",
            "layers": str(len(infos)),
            "shape": fmt_shape(last.output_shape),
            "params": f"{sum(i.params for i in infos):,}",
            "MACs": count(sum(i.macs for i in infos)),
            "receptive field": _rf(last.receptive_field),
            "output": last.name,
        }
        for c in children:
            c.parent = b
        return b

    def build(self) -> Box:
        """The root box: the network, open, whose children are its top-level layers and blocks."""
        graph = self.graph
        order: list[Box] = []
        members: dict[int, list[str]] = {}
        for node in graph.nodes:
            if node.group is not None and node.name in self.infos:
                members.setdefault(node.group, []).append(node.name)
        done: set[int] = set()
        for node in graph.nodes:
            g = node.group
            if g is None or g not in members or len(members[g]) == 1:
                order.append(self.leaf(node.name))
            elif g not in done:
                done.add(g)
                name, kind = graph.groups[g] if g < len(graph.groups) else (node.name, node.op)
                order.append(self.unit(name, kind, members[g], self.split(name, members[g])))
        root = self.box(
            name=graph.name,
            kind="network",
            label="",
            shape=tuple(graph.input_shape),
            lines=(graph.name,),
            children=order,
        )
        root.collapsed = False
        for c in order:
            c.parent = root
        self.connect()
        for b in self.boxes:
            outer = b.parent
            if outer is not None and outer.parent is not None and b.name.startswith(outer.name + "_"):
                b.lines = (b.name[len(outer.name) + 1 :], *b.lines[1:])  # inside conv2, conv2_block1 is block1
            b.closed = closed_metrics(b.shape, b.lines, not b.leaf)
        return root

    def split(self, name: str, nodes: list[str]) -> list[Box]:
        """Children of a block: leaves, or sub-blocks by name (`conv4_block3_...`) for a large block."""
        prefix = name + "_"
        keys: dict[str, list[str]] = {}
        for n in nodes:
            key = n[len(prefix) :].split("_")[0] if n.startswith(prefix) else ""
            keys.setdefault(key, []).append(n)
        big = [k for k, v in keys.items() if k and len(v) >= 3]
        if not self.split_blocks or len(nodes) < SUBUNIT_MIN_NODES or len(big) < 2:
            return [self.leaf(n) for n in nodes]
        out, made = [], set()
        for n in nodes:
            key = n[len(prefix) :].split("_")[0] if n.startswith(prefix) else ""
            if key in big:
                if key not in made:
                    made.add(key)
                    inner = [self.leaf(m) for m in keys[key]]
                    out.append(self.unit(prefix + key, "block", keys[key], inner))
            else:
                out.append(self.leaf(n))
        return out

    def chain(self, b: Box) -> list[Box]:
        out = [b]
        while out[-1].parent is not None:
            out.append(out[-1].parent)
        return out[::-1]

    def connect(self) -> None:
        """Each IR edge as an edge of the innermost unit holding both ends, plus entry/exit edges of the units it
        crosses."""
        for b in self.boxes:
            b.edges = []
        seen: set[tuple[int, int, int]] = set()

        def add(unit: Box, a: int, b: int) -> None:
            if (unit.id, a, b) not in seen:
                seen.add((unit.id, a, b))
                unit.edges.append([a, b, "adj", 0])

        # a child's index in its unit, looked up by identity: list.index would compare boxes field by field,
        # once per edge over every sibling (quadratic: 84 s for 10,000 layers in one block)
        index = {id(c): i for b in self.boxes for i, c in enumerate(b.children)}
        for node in self.graph.nodes:
            if node.name not in self.leaf_of:
                continue
            cv = self.chain(self.leaf_of[node.name])
            for src in node.inputs:
                cu = self.chain(self.leaf_of[src])
                k = 0
                while k < min(len(cu), len(cv)) and cu[k] is cv[k]:
                    k += 1
                lca = cu[k - 1]
                add(lca, index[id(cu[k])], index[id(cv[k])])
                for j in range(k + 1, len(cv)):
                    add(cv[j - 1], -1, index[id(cv[j])])
                for j in range(k + 1, len(cu)):
                    add(cu[j - 1], index[id(cu[j])], -2)
        for b in self.boxes:
            if b.children and b.parent is not None:
                # the child holding the block's output: walk up from its leaf (not a search of every child's nodes)
                up = self.chain(self.leaf_of[b.info["output"]])
                at = next((k for k, u in enumerate(up[:-1]) if u is b), None)
                b.out = (
                    index[id(up[at + 1])]
                    if at is not None
                    else next(i for i, c in enumerate(b.children) if b.info["output"] in self._nodes(c))
                )

    def _nodes(self, b: Box) -> set[str | None]:
        return {b.node} if b.leaf else set().union(*(self._nodes(c) for c in b.children))
