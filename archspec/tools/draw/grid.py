"""Where each box sits in its unit's grid and how each edge runs: fixed by the graph alone.

A child's column is its longest path from the unit's entry; parallel branches stack in lanes
(a child takes the lane of its longest path in, or the first free one). An edge between
neighbouring columns is 'adj'; one skipping columns (a residual shortcut, DenseNet's
concatenations) runs along a lane free in every column it crosses, or else arcs over the
unit's top in a row of its own ('bypass'). Sizes and positions, which depend on which blocks
are open, are ``layout``'s.
"""

from __future__ import annotations

from ...graph.ir import Graph
from ...graph.report import Report
from .boxes import Box, Builder


def arrange(unit: Box) -> bool:
    """Columns, lanes and edge routes of a unit's children; False on a cycle."""
    ranked = _ranks(unit)
    if ranked is None:
        return False
    taken = _place_in_grid(unit, *ranked)
    _route(unit, taken)
    return True


def _ranks(unit: Box) -> tuple[list[int], list[list[int]]] | None:
    """Each child's longest path from the unit's entry, and its predecessors; None on a cycle."""
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
    return (rank, preds) if seen == n else None


def _place_in_grid(unit: Box, rank: list[int], preds: list[list[int]]) -> set[tuple[int, int]]:
    """Column and lane of each child; the (column, lane) cells the children take."""
    n = len(unit.children)
    entry = {b for a, b, *_ in unit.edges if a == -1}
    taken: set[tuple[int, int]] = set()
    for i in sorted(range(n), key=lambda i: (rank[i], i)):
        c = unit.children[i]
        c.col = rank[i]
        sources = [(rank[p], unit.children[p].lane) for p in preds[i]] + (
            [(-1, 0)] if i in entry or not preds[i] else []
        )
        top = max(r for r, _ in sources)
        lane = min(ln for r, ln in sources if r == top)  # the lane of the longest path in
        if (c.col, lane) in taken:
            lane = next(ln for ln in range(n + 1) if (c.col, ln) not in taken)
        c.lane = lane
        taken.add((c.col, lane))
    unit.ncols = max(rank) + 1 if n else 0
    unit.nlanes = max(c.lane for c in unit.children) + 1 if n else 0
    return taken


def _route(unit: Box, taken: set[tuple[int, int]]) -> None:
    """The route of each edge skipping columns: a lane free in every column it crosses, else a bypass row over the
    top."""
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
        candidates = [la, lb, *sorted(range(unit.nlanes), key=lambda other: (abs(other - la), other))]
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


def tree_of(graph: Graph, report: Report, *, expand: bool = False) -> tuple[Box, list[Box]]:
    """The root box and every box (by id), arranged; blocks closed, or all open with ``expand``.

    Splitting blocks by node name can make two sub-blocks depend on each other both ways; such
    a graph is drawn with its blocks unsplit.
    """
    for split in (True, False):
        builder = Builder(graph, report, split=split)
        root = builder.build()
        if all(arrange(b) for b in builder.boxes if b.children):
            break
    for b in builder.boxes:
        if b.children and b.parent is not None:
            b.collapsed = not expand
    return root, builder.boxes
