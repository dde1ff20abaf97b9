"""Diagrams of a network: SVG (static), HTML (interactive, collapsible blocks), PNG.

Built from the graph IR and the shape report alone: pure Python, no
TensorFlow, no third-party drawing library. Everything is laid out here and
written as SVG text; the HTML page embeds that SVG with a small script that
repeats the same layout when a block is opened or closed, so the picture a
browser shows and the one in the ``.svg`` file are the same drawing.

The picture
    Every layer is a volume: its height grows with the feature map's height,
    its oblique depth with the width and its thickness with the channels, all
    log-scaled (a 224x224x3 input and a 7x7x2048 map both fit on a screen). A
    vector is a thin bar. Below each volume: the layer's name, its kind with
    kernel/stride (the shape table's label) and its output shape.

    Layers flow left to right in columns (a node's column is its longest path
    from the input); parallel branches stack in lanes. Edges skipping columns
    (residual shortcuts, DenseNet's concatenations) run along a free lane or
    arc over the top of their block.

    Each top-level spec layer that expands to several nodes is a block
    (``Graph.groups``), drawn closed as a stack of volumes of its output
    shape; large blocks (a ResNet stage) are split once more by node name
    (``conv4_block3_...``) so that an open stage shows its closed blocks.
    Blocks start closed: ResNet-152 is a dozen volumes. In the HTML view a
    click opens or closes a block and hovering shows details.

Files
    ``.svg`` is the drawing alone (closed blocks, or all open with ``expand``),
    hover text as SVG ``<title>``s. ``.html`` is one self-contained page (no
    network access): the drawing with every block in it, a data island and a
    script that opens/closes blocks and shows details on hover. ``.png`` is a
    screenshot of the SVG by headless Chromium (``$ARCHSPEC_CHROMIUM`` or
    ``chromium`` on PATH) -- the browser the page is made for, so the PNG
    looks like the page; without Chromium, cairosvg is used when installed.

Layout
    ``Box`` is a leaf (one IR node) or a unit (a block). Its column, lane and
    the routes of its edges depend only on the graph; sizes and positions
    depend on which units are open, and are recomputed bottom-up by
    ``_layout`` (Python) and ``layout`` (the page's script, same algorithm).
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError
from ..files import refuse_existing, write_bytes, write_text
from ..graph import graph_of
from ..graph.infer import infer
from ..graph.ir import INPUT, Graph
from ..graph.report import LayerInfo, Report
from ..kinds.registry import OPS

# -- geometry (pixels) ---------------------------------------------------------
CHAR = 6.2        # width of one character of the 10px monospace font
LINE = 13         # text line height
GAP = 26          # between columns (edges bend here)
LANE_GAP = 10     # between lanes
HEADER = 20       # title bar of an open block
BYPASS = 12       # height of one row of edges arcing over a block's top
MARGIN = 12
SUBUNIT_MIN_NODES = 13
"""A block this large is split into sub-blocks by node name (a ResNet stage into its blocks)."""

INPUT_COLOR = "#d9d9d9"
BLOCK_COLOR = "#93a8c4"
FONT = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace"


def color_of(kind: str) -> str:
    """Fill colour of a node kind: the kind table's, grey for the input."""
    return INPUT_COLOR if kind == "input" else (OPS[kind].color if kind in OPS else "#cccccc")


def _shade(color: str, factor: float) -> str:
    """Lighter (factor > 1, toward white) or darker (factor < 1) version of a #rrggbb colour."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    if factor >= 1:
        rgb = [round(c + (255 - c) * (factor - 1)) for c in rgb]
    else:
        rgb = [round(c * factor) for c in rgb]
    return "#" + "".join(f"{max(0, min(255, c)):02x}" for c in rgb)


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _count(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _rf(rf: tuple[int, int]) -> str:
    return str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}x{rf[1]}"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def volume(shape: tuple[int, ...]) -> tuple[float, float, float]:
    """(front width, front height, oblique depth) of a feature map or vector, log-scaled."""
    if len(shape) == 3:
        h, w, c = shape
        return 5 + 4.5 * math.log2(c + 1), 10 + 9 * math.log2(h), 3 + 3 * math.log2(w)
    n = math.prod(shape)
    return 7.0, 10 + 7 * math.log2(n + 1), 0.0


# -- the tree of boxes -----------------------------------------------------------
@dataclass
class Box:
    id: int
    name: str
    kind: str
    label: str
    shape: tuple[int, ...]
    lines: tuple[str, ...]
    node: str | None = None  # the IR node of a leaf
    children: list["Box"] = field(default_factory=list)
    parent: "Box | None" = None
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
    x: float = 0.0
    y: float = 0.0
    colx: list[float] = field(default_factory=list)
    colw: list[float] = field(default_factory=list)
    lane_y: list[float] = field(default_factory=list)

    @property
    def leaf(self) -> bool:
        return not self.children


def _leaf_metrics(shape: tuple[int, ...], lines: tuple[str, ...], stacked: bool) -> tuple[float, ...]:
    fw, fh, d = volume(shape)
    extra = 8 if stacked else 0
    text = max(len(t) for t in lines) * CHAR
    w = max(fw + d + extra, text) + 10
    h = 4 + extra + d + fh + 6 + LINE * len(lines)
    left = (w - (fw + d + extra)) / 2
    ay = 4 + extra + d + fh / 2
    return (w, h, left, left + fw, ay, ay)


def _node_info(info: LayerInfo) -> dict[str, Any]:
    return {
        "name": info.name, "kind": info.type, "label": info.label, "shape": _fmt_shape(info.output_shape),
        "params": f"{info.params:,}" + (f" ({info.params - info.trainable_params:,} frozen)" if info.trainable_params != info.params else ""),
        "MACs": _count(info.macs), "receptive field": _rf(info.receptive_field),
        "inputs": ", ".join(info.inputs),
    }


class _Builder:
    def __init__(self, graph: Graph, report: Report, *, split: bool) -> None:
        self.graph, self.report, self.split_blocks = graph, report, split
        self.infos = {l.name: l for l in report.layers}
        self.boxes: list[Box] = []
        self.leaf_of: dict[str, Box] = {}

    def box(self, **kw: Any) -> Box:
        b = Box(id=len(self.boxes), **kw)
        self.boxes.append(b)
        return b

    def leaf(self, name: str) -> Box:
        if name == INPUT:
            shape = tuple(self.graph.input_shape)
            b = self.box(name=INPUT, kind="input", label="input", shape=shape, lines=(INPUT, "image", _fmt_shape(shape)), node=INPUT,
                         info={"name": INPUT, "kind": "input", "shape": _fmt_shape(shape)})
        else:
            i = self.infos[name]
            b = self.box(name=name, kind=i.type, label=i.label, shape=i.output_shape, lines=(name, i.label, _fmt_shape(i.output_shape)),
                         node=name, info=_node_info(i))
        b.closed = _leaf_metrics(b.shape, b.lines, False)
        self.leaf_of[name] = b
        return b

    def unit(self, name: str, kind: str, members: list[str], children: list[Box]) -> Box:
        infos = [self.infos[n] for n in members]
        last = infos[-1]
        label = f"{kind} · {len(infos)} layers"
        b = self.box(name=name, kind=kind, label=label, shape=last.output_shape, lines=(name, label, _fmt_shape(last.output_shape)),
                     children=children)
        b.info = {
            "name": name, "kind": f"{kind} block", "layers": str(len(infos)), "shape": _fmt_shape(last.output_shape),
            "params": f"{sum(i.params for i in infos):,}", "MACs": _count(sum(i.macs for i in infos)),
            "receptive field": _rf(last.receptive_field), "output": last.name,
        }
        b.closed = _leaf_metrics(b.shape, b.lines, True)
        for c in children:
            c.parent = b
        return b

    def build(self) -> Box:
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
        root = self.box(name=graph.name, kind="network", label="", shape=tuple(graph.input_shape), lines=(graph.name,), children=order)
        root.collapsed = False
        for c in order:
            c.parent = root
        self.connect()
        for b in self.boxes:
            if b.children and not self.arrange(b):
                raise _Cycle(b.name)
            outer = b.parent
            if outer is not None and outer.parent is not None and b.name.startswith(outer.name + "_"):
                b.lines = (b.name[len(outer.name) + 1:], *b.lines[1:])  # inside conv2, conv2_block1 is block1
            b.closed = _leaf_metrics(b.shape, b.lines, not b.leaf)
        return root

    def split(self, name: str, nodes: list[str]) -> list[Box]:
        """Children of a block: leaves, or sub-blocks by name (`conv4_block3_...`) for a large block."""
        prefix = name + "_"
        keys: dict[str, list[str]] = {}
        for n in nodes:
            key = n[len(prefix):].split("_")[0] if n.startswith(prefix) else ""
            keys.setdefault(key, []).append(n)
        big = [k for k, v in keys.items() if k and len(v) >= 3]
        if not self.split_blocks or len(nodes) < SUBUNIT_MIN_NODES or len(big) < 2:
            return [self.leaf(n) for n in nodes]
        out, made = [], set()
        for n in nodes:
            key = n[len(prefix):].split("_")[0] if n.startswith(prefix) else ""
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
            out.append(out[-1].parent)  # type: ignore[arg-type]
        return out[::-1]

    def connect(self) -> None:
        for b in self.boxes:
            b.edges = []
        seen: set[tuple[int, int, int]] = set()

        def add(unit: Box, a: int, b: int) -> None:
            if (unit.id, a, b) not in seen:
                seen.add((unit.id, a, b))
                unit.edges.append([a, b, "adj", 0])

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
                add(lca, lca.children.index(cu[k]), lca.children.index(cv[k]))
                for j in range(k + 1, len(cv)):
                    add(cv[j - 1], -1, cv[j - 1].children.index(cv[j]))
                for j in range(k + 1, len(cu)):
                    add(cu[j - 1], cu[j - 1].children.index(cu[j]), -2)
        for b in self.boxes:
            if b.children and b.parent is not None:
                last = b.info["output"]
                b.out = next(i for i, c in enumerate(b.children) if last in self._nodes(c))

    def _nodes(self, b: Box) -> set[str]:
        return {b.node} if b.leaf else set().union(*(self._nodes(c) for c in b.children))

    def arrange(self, unit: Box) -> bool:
        """Columns (longest path), lanes and edge routes of a unit's children; False on a cycle."""
        n = len(unit.children)
        preds: list[list[int]] = [[] for _ in range(n)]
        succs: list[list[int]] = [[] for _ in range(n)]
        for a, b, *_ in unit.edges:
            if a >= 0 and b >= 0:
                preds[b].append(a)
                succs[a].append(b)
        rank = [0] * n
        waiting = [len(p) for p in preds]
        ready = [i for i in range(n) if not waiting[i]]
        seen = 0
        while ready:
            i = ready.pop()
            seen += 1
            for j in succs[i]:
                rank[j] = max(rank[j], rank[i] + 1)
                waiting[j] -= 1
                if not waiting[j]:
                    ready.append(j)
        if seen != n:
            return False
        entry = {b for a, b, *_ in unit.edges if a == -1}
        taken: dict[tuple[int, int], bool] = {}
        for i in sorted(range(n), key=lambda i: (rank[i], i)):
            c = unit.children[i]
            c.col = rank[i]
            sources = [(rank[p], unit.children[p].lane) for p in preds[i]] + ([(-1, 0)] if i in entry or not preds[i] else [])
            top = max(r for r, _ in sources)
            lane = min(l for r, l in sources if r == top)  # the lane of the longest path in
            if (c.col, lane) in taken:
                lane = next(l for l in range(n + 1) if (c.col, l) not in taken)
            c.lane = lane
            taken[(c.col, lane)] = True
        unit.ncols = max(rank) + 1 if n else 0
        unit.nlanes = max(c.lane for c in unit.children) + 1 if n else 0
        unit.nbypass = 0
        edge_cells: set[tuple[int, int]] = set()
        for e in unit.edges:
            a, b = e[0], e[1]
            ca = unit.children[a].col if a >= 0 else -1
            cb = unit.children[b].col if b >= 0 else unit.ncols
            la = unit.children[a].lane if a >= 0 else 0
            lb = unit.children[b].lane if b >= 0 else (unit.children[unit.out].lane if unit.out >= 0 else 0)
            if cb - ca <= 1:
                continue
            span = range(ca + 1, cb)
            candidates = [la, lb] + sorted(range(unit.nlanes), key=lambda l: (abs(l - la), l))
            for lane in candidates:
                if all((col, lane) not in taken and (col, lane) not in edge_cells for col in span):
                    e[2], e[3] = "lane", lane
                    edge_cells.update((col, lane) for col in span)
                    break
            else:
                level = 1
                while any((col, -level) in edge_cells for col in span):
                    level += 1
                e[2], e[3] = "bypass", level
                edge_cells.update((col, -level) for col in span)
                unit.nbypass = max(unit.nbypass, level)
        return True



class _Cycle(Exception):
    """A name-based split of a block made its sub-blocks depend on each other both ways."""


def _tree(graph: Graph, report: Report) -> tuple[Box, list[Box]]:
    builder = _Builder(graph, report, split=True)
    try:
        root = builder.build()
    except _Cycle:
        builder = _Builder(graph, report, split=False)
        root = builder.build()
    return root, builder.boxes


# -- layout (mirrored by `layout` in the page script) -------------------------------
def _layout(unit: Box) -> None:
    """Positions of a unit's children and the unit's open metrics; then its current metrics."""
    for c in unit.children:
        if c.leaf:
            c.m = c.closed
        else:
            _layout(c)
    ncols, nlanes = unit.ncols, unit.nlanes
    colw = [0.0] * ncols
    asc = [0.0] * nlanes
    desc = [0.0] * nlanes
    for c in unit.children:
        w, h, ix, ox, ay, oy = c.m
        colw[c.col] = max(colw[c.col], w)
        asc[c.lane] = max(asc[c.lane], ay)
        desc[c.lane] = max(desc[c.lane], h - ay)
    root = unit.parent is None
    top = (MARGIN if root else HEADER + 4) + unit.nbypass * BYPASS
    lane_y, y = [], top
    for l in range(nlanes):
        lane_y.append(y + asc[l])
        y += asc[l] + desc[l] + LANE_GAP
    height = y - LANE_GAP + (MARGIN if root else 8)
    colx, x = [], GAP
    for cw in colw:
        colx.append(x)
        x += cw + GAP
    width = x
    for c in unit.children:
        w, h, ix, ox, ay, oy = c.m
        c.x = colx[c.col] + (colw[c.col] - w) / 2
        c.y = lane_y[c.lane] - ay
    unit.colx, unit.colw, unit.lane_y = colx, colw, lane_y
    if unit.out >= 0:
        o = unit.children[unit.out]
        oy = o.y + o.m[5]
    else:
        oy = lane_y[0] if lane_y else height / 2
    opened = (width, height, 0.0, width, lane_y[0] if lane_y else height / 2, oy)
    unit.m = unit.closed if (unit.collapsed and not root) else opened


def _edge_path(unit: Box, e: list[Any]) -> str:
    a, b, route, value = e
    n = unit.ncols
    w = unit.m[0] if not unit.collapsed or unit.parent is None else 0
    if a >= 0:
        ca = unit.children[a]
        x1, y1, col_a = ca.x + ca.m[3], ca.y + ca.m[5], ca.col
    else:
        x1, y1, col_a = 0.0, unit.lane_y[0], -1
    if b >= 0:
        cb = unit.children[b]
        x2, y2, col_b = cb.x + cb.m[2], cb.y + cb.m[4], cb.col
    else:
        o = unit.children[unit.out] if unit.out >= 0 else None
        x2, y2, col_b = (unit.colx[-1] + unit.colw[-1] + GAP if n else w), (o.y + o.m[5] if o else y1), n
    ga = unit.colx[col_a] + unit.colw[col_a] if col_a >= 0 else 0.0
    gb = unit.colx[col_b] if col_b < n else x2
    if route == "adj":
        if abs(y1 - y2) < 0.5:
            return f"M{_num(x1)} {_num(y1)}H{_num(x2)}"
        mid = (ga + gb) / 2
        return f"M{_num(x1)} {_num(y1)}H{_num(ga)}C{_num(mid)} {_num(y1)} {_num(mid)} {_num(y2)} {_num(gb)} {_num(y2)}H{_num(x2)}"
    if route == "lane":
        yr = unit.lane_y[value]
    else:
        yr = (HEADER + 4 if unit.parent is not None else MARGIN) + (unit.nbypass - value) * BYPASS + BYPASS / 2
    h = GAP / 2
    return (f"M{_num(x1)} {_num(y1)}H{_num(ga)}C{_num(ga + h)} {_num(y1)} {_num(ga + h)} {_num(yr)} {_num(ga + GAP)} {_num(yr)}"
            f"H{_num(gb - GAP)}C{_num(gb - h)} {_num(yr)} {_num(gb - h)} {_num(y2)} {_num(gb)} {_num(y2)}H{_num(x2)}")


# -- SVG ---------------------------------------------------------------------------
def _volume_svg(shape: tuple[int, ...], color: str, x: float, y: float, stacked: bool) -> str:
    """A volume whose front face's left edge is at x and whose top (depth included) is at y;
    a block is drawn as three volumes stacked backwards."""
    fw, fh, d = volume(shape)
    out = []
    copies = [(8, -8), (4, -4), (0, 0)] if stacked else [(0, 0)]
    for k, (dx, dy) in enumerate(copies):
        vx, vy = x + dx, y + dy
        base = color if k == len(copies) - 1 else _shade(color, 1.3)
        if d > 0:
            out.append(f'<path d="M{_num(vx)} {_num(vy + d)}l{_num(d)} {_num(-d)}h{_num(fw)}l{_num(-d)} {_num(d)}z" fill="{_shade(base, 1.35)}"/>')
            out.append(f'<path d="M{_num(vx + fw)} {_num(vy + d)}l{_num(d)} {_num(-d)}v{_num(fh)}l{_num(-d)} {_num(d)}z" fill="{_shade(base, 0.75)}"/>')
        out.append(f'<rect x="{_num(vx)}" y="{_num(vy + d)}" width="{_num(fw)}" height="{_num(fh)}" fill="{base}"/>')
    return "".join(out)


def _closed_svg(b: Box, interactive: bool) -> str:
    """A leaf, or a closed block: the volume and three lines of text."""
    w, h, ix, ox, ay, oy = b.closed
    fw, fh, d = volume(b.shape)
    stacked = not b.leaf
    extra = 8 if stacked else 0
    color = BLOCK_COLOR if stacked else color_of(b.kind)
    parts = [f'<rect class="hit" width="{_num(w)}" height="{_num(h)}"/>', _volume_svg(b.shape, color, ix, 4 + extra, stacked)]
    ty = 4 + extra + d + fh + 6 + 10
    for k, text in enumerate(b.lines):
        cls = "t-name" if k == 0 else "t-sub"
        parts.append(f'<text class="{cls}" x="{_num(w / 2)}" y="{_num(ty + k * LINE)}">{html.escape(text)}</text>')
    if stacked and interactive:
        parts.append(f'<text class="t-toggle" x="{_num(w - 3)}" y="11">+</text>')
    return "".join(parts)


def _title(b: Box) -> str:
    return "\n".join(f"{k}: {v}" for k, v in b.info.items())


def _box_svg(b: Box, interactive: bool, out: list[str]) -> None:
    state = "" if b.leaf else (" collapsed" if b.collapsed else " expanded")
    cls = ("leaf k-" + b.kind) if b.leaf else "unit"
    out.append(f'<g id="b{b.id}" class="{cls}{state}" data-i="{b.id}" transform="translate({_num(b.x)} {_num(b.y)})">')
    if not interactive:
        out.append(f"<title>{html.escape(_title(b))}</title>")
    if b.leaf or b.collapsed or interactive:
        out.append(f'<g class="box">{_closed_svg(b, interactive)}</g>')
    if not b.leaf and (interactive or not b.collapsed):
        _open_svg(b, interactive, out)
    out.append("</g>")


def _open_svg(b: Box, interactive: bool, out: list[str]) -> None:
    w, h = (b.m[0], b.m[1]) if not b.collapsed else (0, 0)
    title = f"− {b.name}  ({b.label})"
    out.append(f'<g class="frame"><rect id="f{b.id}" class="frame-bg" width="{_num(w)}" height="{_num(h)}" rx="6"/>')
    out.append(f'<text class="t-head" x="8" y="14">{html.escape(title)}</text></g>')
    out.append('<g class="content">')
    for k, e in enumerate(b.edges):
        skip = " skip" if e[2] != "adj" else ""
        d = _edge_path(b, e) if not b.collapsed else ""
        out.append(f'<path id="e{b.id}_{k}" class="edge{skip}" d="{d}"/>')
    for c in b.children:
        _box_svg(c, interactive, out)
    out.append("</g>")


STYLE = f"""
text {{ font-family: {FONT}; font-size: 10px; text-anchor: middle; fill: #222; }}
.t-name {{ font-weight: bold; }}
.t-sub {{ fill: #555; }}
.t-head {{ text-anchor: start; font-weight: bold; fill: #334; }}
.t-toggle {{ text-anchor: end; font-weight: bold; font-size: 12px; fill: #345; }}
.hit {{ fill: transparent; }}
.frame-bg {{ fill: #f4f7fb; stroke: #9fb3cc; stroke-dasharray: 4 3; }}
.edge {{ fill: none; stroke: #7a7a7a; stroke-width: 1.2; marker-end: url(#arrow); }}
.edge.skip {{ stroke: #c0504d; }}
"""
DEFS = ('<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" orient="auto">'
        '<path d="M0 0L8 4L0 8z" fill="#7a7a7a"/></marker></defs>')


def _svg(root: Box, *, interactive: bool, standalone: bool) -> str:
    _layout(root)
    w, h = root.m[0], root.m[1]
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    out = [f'<svg id="net"{ns} width="{_num(w)}" height="{_num(h)}" viewBox="0 0 {_num(w)} {_num(h)}">',
           f"<style>{STYLE}</style>", DEFS, '<rect width="100%" height="100%" fill="#ffffff"/>', f'<g id="b{root.id}" class="root">']
    for k, e in enumerate(root.edges):
        skip = " skip" if e[2] != "adj" else ""
        out.append(f'<path id="e{root.id}_{k}" class="edge{skip}" d="{_edge_path(root, e)}"/>')
    for c in root.children:
        _box_svg(c, interactive, out)
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


# -- the page ------------------------------------------------------------------------
SCRIPT = r"""
(function () {
  var errors = document.getElementById('errors');
  function report(msg) { errors.textContent += msg + '\n'; document.body.setAttribute('data-error', '1'); }
  window.onerror = function (msg, src, line) { report('error: ' + msg + ' (line ' + line + ')'); };
  var origError = console.error;
  console.error = function () { report('console.error: ' + Array.prototype.join.call(arguments, ' ')); origError.apply(console, arguments); };
  var D = JSON.parse(document.getElementById('data').textContent);
  var G = D.geometry, B = D.boxes, ROOT = D.root;
  function num(x) { return (Math.round(x * 10) / 10).toString(); }
  function isRoot(b) { return b.parent === null; }
  function layout(b) {
    var i, c;
    for (i = 0; i < b.children.length; i++) {
      c = B[b.children[i]];
      if (c.children.length === 0) c.m = c.closed; else layout(c);
    }
    var colw = [], asc = [], desc = [];
    for (i = 0; i < b.ncols; i++) colw.push(0);
    for (i = 0; i < b.nlanes; i++) { asc.push(0); desc.push(0); }
    for (i = 0; i < b.children.length; i++) {
      c = B[b.children[i]];
      colw[c.col] = Math.max(colw[c.col], c.m[0]);
      asc[c.lane] = Math.max(asc[c.lane], c.m[4]);
      desc[c.lane] = Math.max(desc[c.lane], c.m[1] - c.m[4]);
    }
    var root = isRoot(b);
    var top = (root ? G.MARGIN : G.HEADER + 4) + b.nbypass * G.BYPASS;
    var laneY = [], y = top;
    for (i = 0; i < b.nlanes; i++) { laneY.push(y + asc[i]); y += asc[i] + desc[i] + G.LANE_GAP; }
    var height = y - G.LANE_GAP + (root ? G.MARGIN : 8);
    var colx = [], x = G.GAP;
    for (i = 0; i < b.ncols; i++) { colx.push(x); x += colw[i] + G.GAP; }
    var width = x;
    for (i = 0; i < b.children.length; i++) {
      c = B[b.children[i]];
      c.x = colx[c.col] + (colw[c.col] - c.m[0]) / 2;
      c.y = laneY[c.lane] - c.m[4];
    }
    b.colx = colx; b.colw = colw; b.laneY = laneY;
    var oy;
    if (b.out >= 0) { var o = B[b.children[b.out]]; oy = o.y + o.m[5]; } else { oy = laneY.length ? laneY[0] : height / 2; }
    var opened = [width, height, 0, width, laneY.length ? laneY[0] : height / 2, oy];
    b.m = (b.collapsed && !root) ? b.closed : opened;
    b.openSize = opened;
  }
  function edgePath(b, e) {
    var a = e[0], t = e[1], route = e[2], value = e[3], n = b.ncols;
    var x1, y1, colA, x2, y2, colB, c;
    if (a >= 0) { c = B[b.children[a]]; x1 = c.x + c.m[3]; y1 = c.y + c.m[5]; colA = c.col; }
    else { x1 = 0; y1 = b.laneY[0]; colA = -1; }
    if (t >= 0) { c = B[b.children[t]]; x2 = c.x + c.m[2]; y2 = c.y + c.m[4]; colB = c.col; }
    else {
      var o = b.out >= 0 ? B[b.children[b.out]] : null;
      x2 = n ? b.colx[n - 1] + b.colw[n - 1] + G.GAP : b.openSize[0]; y2 = o ? o.y + o.m[5] : y1; colB = n;
    }
    var ga = colA >= 0 ? b.colx[colA] + b.colw[colA] : 0;
    var gb = colB < n ? b.colx[colB] : x2;
    if (route === 'adj') {
      if (Math.abs(y1 - y2) < 0.5) return 'M' + num(x1) + ' ' + num(y1) + 'H' + num(x2);
      var mid = (ga + gb) / 2;
      return 'M' + num(x1) + ' ' + num(y1) + 'H' + num(ga) + 'C' + num(mid) + ' ' + num(y1) + ' ' + num(mid) + ' ' + num(y2) + ' ' + num(gb) + ' ' + num(y2) + 'H' + num(x2);
    }
    var yr = route === 'lane' ? b.laneY[value] : (isRoot(b) ? G.MARGIN : G.HEADER + 4) + (b.nbypass - value) * G.BYPASS + G.BYPASS / 2;
    var h = G.GAP / 2;
    return 'M' + num(x1) + ' ' + num(y1) + 'H' + num(ga) + 'C' + num(ga + h) + ' ' + num(y1) + ' ' + num(ga + h) + ' ' + num(yr) + ' ' + num(ga + G.GAP) + ' ' + num(yr) +
      'H' + num(gb - G.GAP) + 'C' + num(gb - h) + ' ' + num(yr) + ' ' + num(gb - h) + ' ' + num(y2) + ' ' + num(gb) + ' ' + num(y2) + 'H' + num(x2);
  }
  function apply(b) {
    var i, el = document.getElementById('b' + b.id);
    if (!isRoot(b)) {
      el.setAttribute('transform', 'translate(' + num(b.x) + ' ' + num(b.y) + ')');
      if (b.children.length) el.setAttribute('class', 'unit ' + (b.collapsed ? 'collapsed' : 'expanded'));
    }
    if (!b.children.length || (b.collapsed && !isRoot(b))) return;
    if (!isRoot(b)) {
      var f = document.getElementById('f' + b.id);
      f.setAttribute('width', num(b.openSize[0])); f.setAttribute('height', num(b.openSize[1]));
    }
    for (i = 0; i < b.edges.length; i++) document.getElementById('e' + b.id + '_' + i).setAttribute('d', edgePath(b, b.edges[i]));
    for (i = 0; i < b.children.length; i++) apply(B[b.children[i]]);
  }
  var svg = document.getElementById('net');
  function redraw() {
    var r = B[ROOT];
    layout(r); apply(r);
    svg.setAttribute('width', num(r.m[0])); svg.setAttribute('height', num(r.m[1]));
    svg.setAttribute('viewBox', '0 0 ' + num(r.m[0]) + ' ' + num(r.m[1]));
    status();
  }
  function setAll(collapsed) { for (var i = 0; i < B.length; i++) if (B[i].children.length && B[i].parent !== null) B[i].collapsed = collapsed; redraw(); }
  function visible(el) {
    for (var n = el; n && n !== svg; n = n.parentNode) if (n.nodeType === 1 && getComputedStyle(n).display === 'none') return false;
    var r = el.getBBox(); return r.width > 0 && r.height > 0;
  }
  function status() {
    var shown = [], texts = svg.querySelectorAll('text.t-name, text.t-head');
    for (var i = 0; i < texts.length; i++) if (visible(texts[i])) shown.push(texts[i].textContent.replace(/^\u2212 /, '').replace(/  \(.*$/, ''));
    var st = document.getElementById('status');
    st.textContent = JSON.stringify({ready: true, width: svg.getAttribute('width'), height: svg.getAttribute('height'), visible: shown});
    document.body.setAttribute('data-ready', '1');
  }
  var tip = document.getElementById('tip');
  function boxOf(el) { while (el && el !== svg) { if (el.getAttribute && el.getAttribute('data-i') !== null && el.classList && !el.classList.contains('root')) return el; el = el.parentNode; } return null; }
  svg.addEventListener('click', function (ev) {
    var el = boxOf(ev.target); if (!el) return;
    var b = B[+el.getAttribute('data-i')];
    if (!b.children.length) return;
    if (!b.collapsed && !ev.target.closest('.frame')) return;  // clicks inside an open block belong to its children
    b.collapsed = !b.collapsed; ev.stopPropagation(); redraw();
  });
  svg.addEventListener('mousemove', function (ev) {
    var el = boxOf(ev.target);
    if (!el) { tip.style.display = 'none'; return; }
    var b = B[+el.getAttribute('data-i')], rows = '';
    for (var k in b.info) rows += '<tr><th>' + k + '</th><td>' + String(b.info[k]).replace(/&/g, '&amp;').replace(/</g, '&lt;') + '</td></tr>';
    if (b.children.length) rows += '<tr><td colspan="2" class="hint">click to ' + (b.collapsed ? 'open' : 'close') + '</td></tr>';
    tip.innerHTML = '<table>' + rows + '</table>';
    tip.style.display = 'block';
    tip.style.left = (ev.pageX + 14) + 'px'; tip.style.top = (ev.pageY + 14) + 'px';
  });
  svg.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  document.getElementById('expand').onclick = function () { setAll(false); };
  document.getElementById('collapse').onclick = function () { setAll(true); };
  var hash = decodeURIComponent(location.hash.slice(1)), m = /(?:^|&)open=([^&]*)/.exec(hash);
  if (/(?:^|&)expand(?:&|$)/.test(hash)) setAll(false);
  else {
    if (m) { var names = m[1].split(','); for (var i = 0; i < B.length; i++) if (B[i].children.length && names.indexOf(B[i].info.name) >= 0) B[i].collapsed = false; }
    redraw();
  }
})();
"""

PAGE_STYLE = """
body { margin: 0; font-family: system-ui, sans-serif; color: #222; background: #fff; }
header { padding: 10px 14px; border-bottom: 1px solid #ddd; display: flex; gap: 18px; align-items: baseline; flex-wrap: wrap; }
header h1 { font-size: 17px; margin: 0; }
header .facts { font-size: 13px; color: #555; }
header button { font-size: 12px; }
.legend { font-size: 11px; color: #444; display: flex; gap: 10px; flex-wrap: wrap; }
.legend span::before { content: ''; display: inline-block; width: 10px; height: 10px; margin-right: 4px; background: var(--c); vertical-align: -1px; }
#canvas { overflow: auto; padding: 8px; }
.unit.collapsed > .frame, .unit.collapsed > .content, .unit.expanded > .box { display: none; }
.unit > .box, .unit > .frame .t-head { cursor: pointer; }
.unit > .box:hover rect.hit { fill: rgba(80, 120, 200, 0.08); }
#tip { position: absolute; display: none; background: #fffffa; border: 1px solid #bbb; padding: 6px 8px; font-size: 12px;
       box-shadow: 0 2px 6px rgba(0,0,0,.15); pointer-events: none; max-width: 420px; }
#tip th { text-align: right; color: #666; font-weight: normal; padding-right: 8px; vertical-align: top; }
#tip td { font-family: ui-monospace, monospace; }
#tip .hint { color: #888; font-family: system-ui, sans-serif; font-style: italic; }
#errors { color: #b00; }
#status { display: none; }
"""


def _page(root: Box, boxes: list[Box], report: Report) -> str:
    svg = _svg(root, interactive=True, standalone=False)
    data = {
        "geometry": {"GAP": GAP, "LANE_GAP": LANE_GAP, "HEADER": HEADER, "BYPASS": BYPASS, "MARGIN": MARGIN},
        "root": root.id,
        "boxes": [
            {"id": b.id, "parent": b.parent.id if b.parent else None, "children": [c.id for c in b.children], "col": b.col, "lane": b.lane,
             "ncols": b.ncols, "nlanes": b.nlanes, "nbypass": b.nbypass, "out": b.out, "edges": b.edges, "closed": [round(v, 2) for v in b.closed],
             "collapsed": b.collapsed, "info": b.info}
            for b in boxes
        ],
    }
    used = sorted({b.kind for b in boxes if b.leaf})
    legend = "".join(f'<span style="--c:{color_of(k)}">{html.escape(k)}</span>' for k in used)
    if any(not b.leaf and b.parent is not None for b in boxes):
        legend += f'<span style="--c:{BLOCK_COLOR}">block (click to open)</span>'
    facts = (f"input {_fmt_shape(report.input_shape)} · {len(report.layers)} layers · {report.total_params:,} parameters · "
             f"{_count(report.macs)} MACs")
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(report.name)} — archspec</title>
<style>{PAGE_STYLE}</style>
</head>
<body>
<header><h1>{html.escape(report.name)}</h1><span class="facts">{html.escape(facts)}</span>
<button id="expand" type="button">open all</button><button id="collapse" type="button">close all</button>
<div class="legend">{legend}</div></header>
<pre id="errors"></pre>
<div id="canvas">
{svg}</div>
<div id="tip"></div>
<pre id="status"></pre>
<script type="application/json" id="data">{payload}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""


# -- public API --------------------------------------------------------------------------
def tree(graph: Graph, report: Report | None = None, *, expand: bool = False) -> Box:
    """The laid-out tree of boxes (mainly for tests and other renderers)."""
    report = report or infer(graph, max_params=None)
    root, boxes = _tree(graph, report)
    for b in boxes:
        if b.children and b.parent is not None:
            b.collapsed = not expand
    _layout(root)
    return root


def diagram(graph: Graph, report: Report | None = None, *, format: str = "html", expand: bool = False) -> str:
    """The diagram as text: 'svg' (static) or 'html' (interactive, self-contained)."""
    report = report or infer(graph, max_params=None)
    root, boxes = _tree(graph, report)
    for b in boxes:
        if b.children and b.parent is not None:
            b.collapsed = not expand
    if format == "svg":
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + _svg(root, interactive=False, standalone=True)
    if format == "html":
        return _page(root, boxes, report)
    raise ValueError(f"unknown format {format!r}")


def chromium() -> str | None:
    """Path of a Chromium/Chrome binary: $ARCHSPEC_CHROMIUM, then the usual names on PATH."""
    given = os.environ.get("ARCHSPEC_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_args(profile: str) -> list[str]:
    """Flags for a quiet, offline, throw-away headless Chromium."""
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--no-first-run", "--no-default-browser-check", "--hide-scrollbars",
        "--mute-audio", f"--user-data-dir={profile}",
    ]


def screenshot(page: str, target: Path, width: int, height: int, *, timeout: float = 120) -> None:
    """PNG of an HTML text through headless Chromium, at the given window size."""
    exe = chromium()
    if exe is None:
        raise SpecError(Problem("PNG output needs Chromium (headless), which was not found", file=str(target),
                                hint="install it (Debian: apt-get install chromium), set ARCHSPEC_CHROMIUM, or pip install cairosvg; or write .svg/.html"))
    with tempfile.TemporaryDirectory(prefix="archspec-draw-") as tmp:
        src = Path(tmp) / "page.html"
        src.write_text(page, encoding="utf-8")
        out = Path(tmp) / "shot.png"
        cmd = [exe, *chromium_args(str(Path(tmp) / "profile")), f"--window-size={width},{height}", f"--screenshot={out}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SpecError(Problem(f"could not run Chromium ({exe}): {exc}", file=str(target), hint="check ARCHSPEC_CHROMIUM, or write .svg/.html")) from None
        if not out.exists():
            raise SpecError(Problem(f"Chromium did not write a screenshot (exit {proc.returncode})", file=str(target), hint=proc.stderr.strip()[-500:] or None))
        data = out.read_bytes()
    write_bytes(target, data, force=True)  # the caller has already applied --force


MAX_PNG_SIDE = 16_384


def draw(spec: Any, output: str | os.PathLike[str], *, force: bool = False, expand: bool = False, **overrides: Any) -> Path:
    """Write the diagram of a spec to .svg, .html or .png (by the output's extension)."""
    target = Path(output)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in ("svg", "html", "htm", "png"):
        raise SpecError(Problem(f"cannot draw to {target.name!r}: unknown extension", hint="use .svg, .html or .png"))
    refuse_existing(target, force)
    graph = graph_of(spec, **overrides)
    report = infer(graph, max_params=None)
    if fmt in ("html", "htm"):
        return write_text(target, diagram(graph, report, format="html", expand=expand), force=force)
    svg = diagram(graph, report, format="svg", expand=expand)
    if fmt == "svg":
        return write_text(target, svg, force=force)
    root = tree(graph, report, expand=expand)
    width, height = math.ceil(root.m[0]), math.ceil(root.m[1])
    if max(width, height) > MAX_PNG_SIDE:
        raise SpecError(Problem(f"the diagram is {width}x{height} pixels, too large for a PNG",
                                hint="close blocks (omit --expand) or write .svg/.html"))
    target.parent.mkdir(parents=True, exist_ok=True)
    if chromium() is None:
        try:
            import cairosvg  # optional: PNG without a browser
        except ImportError:
            pass
        else:
            write_bytes(target, cairosvg.svg2png(bytestring=svg.encode("utf-8")), force=True)
            return target
    page = f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{{margin:0}}</style></head><body>{svg.split(chr(10), 1)[1]}</body></html>'
    screenshot(page, target, width, height)
    return target
