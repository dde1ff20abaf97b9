"""Sizes and positions of the boxes for the blocks open now, and the path of every edge.

Mirrored line for line by ``place`` and ``edgePath`` in ``assets/layout.js``, which the page
runs when a block is opened or closed; tests/test_draw_layout.py runs both on the same data and
checks they agree. Change one, change the other.

A unit's columns are as wide as their widest child and its lanes as tall as their tallest;
children are centred in their column and aligned on their lane's line, which edges follow.
An open unit adds a title bar and a row per bypass over its top; a closed one has its
closed size. Recomputed bottom-up from the leaves.
"""

from __future__ import annotations

from typing import Any

from .boxes import Box
from .geometry import BYPASS, GAP, HEADER, LANE_GAP, MARGIN, num


def place(unit: Box) -> None:
    """Positions of a unit's children and the unit's open metrics; then its current metrics."""
    for c in unit.children:
        if c.leaf:
            c.m = c.closed
        else:
            place(c)
    ncols, nlanes = unit.ncols, unit.nlanes
    colw = [0.0] * ncols
    asc = [0.0] * nlanes
    desc = [0.0] * nlanes
    for c in unit.children:
        w, h, _ix, _ox, ay, _oy = c.m
        colw[c.col] = max(colw[c.col], w)
        asc[c.lane] = max(asc[c.lane], ay)
        desc[c.lane] = max(desc[c.lane], h - ay)
    root = unit.parent is None
    top = (MARGIN if root else HEADER + 4) + unit.nbypass * BYPASS
    lane_y: list[float] = []
    y: float = top
    for lane in range(nlanes):
        lane_y.append(y + asc[lane])
        y += asc[lane] + desc[lane] + LANE_GAP
    height = y - LANE_GAP + (MARGIN if root else 8)
    colx: list[float] = []
    x: float = GAP
    for cw in colw:
        colx.append(x)
        x += cw + GAP
    width = x
    for c in unit.children:
        w, h, _ix, _ox, ay, oy = c.m
        c.x = colx[c.col] + (colw[c.col] - w) / 2
        c.y = lane_y[c.lane] - ay
    unit.colx, unit.colw, unit.lane_y = colx, colw, lane_y
    if unit.out >= 0:
        o = unit.children[unit.out]
        oy = o.y + o.m[5]
    else:
        oy = lane_y[0] if lane_y else height / 2
    unit.opened = (width, height, 0.0, width, lane_y[0] if lane_y else height / 2, oy)
    unit.m = unit.closed if (unit.collapsed and not root) else unit.opened


def edge_path(unit: Box, e: list[Any]) -> str:
    """SVG path of an edge of a placed unit: straight or bent between neighbouring columns, else along its route."""
    a, b, route, value = e
    n = unit.ncols
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
        x2, y2, col_b = (unit.colx[-1] + unit.colw[-1] + GAP if n else unit.opened[0]), (o.y + o.m[5] if o else y1), n
    ga = unit.colx[col_a] + unit.colw[col_a] if col_a >= 0 else 0.0
    gb = unit.colx[col_b] if col_b < n else x2
    if route == "adj":
        if abs(y1 - y2) < 0.5:
            return f"M{num(x1)} {num(y1)}H{num(x2)}"
        mid = (ga + gb) / 2
        return f"M{num(x1)} {num(y1)}H{num(ga)}C{num(mid)} {num(y1)} {num(mid)} {num(y2)} {num(gb)} {num(y2)}H{num(x2)}"
    if route == "lane":
        yr = unit.lane_y[value]
    else:
        yr = (HEADER + 4 if unit.parent is not None else MARGIN) + (unit.nbypass - value) * BYPASS + BYPASS / 2
    h = GAP / 2
    return (
        f"M{num(x1)} {num(y1)}H{num(ga)}C{num(ga + h)} {num(y1)} {num(ga + h)} {num(yr)} {num(ga + GAP)} {num(yr)}"
        f"H{num(gb - GAP)}C{num(gb - h)} {num(yr)} {num(gb - h)} {num(y2)} {num(gb)} {num(y2)}H{num(x2)}"
    )
