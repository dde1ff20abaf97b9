"""Sizes in pixels: the drawing's spacing, a feature map's volume, a box's closed size, and how
numbers are written into paths.

Shared by the box tree, the layout and the SVG. The page's script (``assets/layout.js``) gets
the closed sizes at full precision through the data island and writes numbers as ``num`` does,
so it draws the same paths as the ``.svg`` file.
"""

from __future__ import annotations

import math

CHAR = 6.2  # width of one character of the 10px monospace font
LINE = 13  # text line height
GAP = 26  # between columns (edges bend here)
LANE_GAP = 10  # between lanes
HEADER = 20  # title bar of an open block
BYPASS = 12  # height of one row of edges arcing over a block's top
MARGIN = 12
STACK = 8  # how far a closed block's three stacked volumes reach up and right


def volume(shape: tuple[int, ...]) -> tuple[float, float, float]:
    """(front width, front height, oblique depth) of a feature map or vector, log-scaled."""
    if len(shape) == 3:
        h, w, c = shape
        return 5 + 4.5 * math.log2(c + 1), 10 + 9 * math.log2(h), 3 + 3 * math.log2(w)
    n = math.prod(shape)
    return 7.0, 10 + 7 * math.log2(n + 1), 0.0


def closed_metrics(shape: tuple[int, ...], lines: tuple[str, ...], stacked: bool) -> tuple[float, ...]:
    """(width, height, in x, out x, in y, out y) of a leaf or closed block: its volume over its text."""
    fw, fh, d = volume(shape)
    extra = STACK if stacked else 0
    text = max(len(t) for t in lines) * CHAR
    w = max(fw + d + extra, text) + 10
    h = 4 + extra + d + fh + 6 + LINE * len(lines)
    left = (w - (fw + d + extra)) / 2
    ay = 4 + extra + d + fh / 2
    return (w, h, left, left + fw, ay, ay)


def num(x: float) -> str:
    """A coordinate to one decimal, halves rounded up, as JavaScript's ``Math.round(x * 10) / 10`` writes it."""
    scaled = x * 10
    n = math.floor(scaled)
    if scaled - n >= 0.5:
        n += 1
    text = repr(n / 10)
    return text[:-2] if text.endswith(".0") else text
