"""The drawing as SVG text: volumes, labels, open blocks' frames and the edges.

Colours come from the kind table (``OPS[kind].color``). The static drawing holds what is
open and carries hover text as ``<title>``s; the interactive one (for the page) holds every
block, open and closed, for the page's script to show or hide.
"""

from __future__ import annotations

import html

from ...kinds.registry import OPS
from .boxes import Box
from .geometry import LINE, STACK, num, volume
from .layout import edge_path, place

INPUT_COLOR = "#d9d9d9"
BLOCK_COLOR = "#93a8c4"
FONT = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace"


def color_of(kind: str) -> str:
    """Fill colour of a node kind: the kind table's, grey for the input."""
    return INPUT_COLOR if kind == "input" else (OPS[kind].color if kind in OPS else "#cccccc")


def _shade(color: str, factor: float) -> str:
    """Lighter (factor > 1, toward white) or darker (factor < 1) version of a #rrggbb colour."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    rgb = [round(c + (255 - c) * (factor - 1)) for c in rgb] if factor >= 1 else [round(c * factor) for c in rgb]
    return "#" + "".join(f"{max(0, min(255, c)):02x}" for c in rgb)


def _volume_svg(shape: tuple[int, ...], color: str, x: float, y: float, stacked: bool) -> str:
    """A volume whose front face's left edge is at x and whose top (depth included) is at y;
    a block is drawn as three volumes stacked backwards."""
    fw, fh, d = volume(shape)
    out = []
    copies = [(STACK, -STACK), (STACK / 2, -STACK / 2), (0, 0)] if stacked else [(0, 0)]
    for k, (dx, dy) in enumerate(copies):
        vx, vy = x + dx, y + dy
        base = color if k == len(copies) - 1 else _shade(color, 1.3)
        if d > 0:
            out.append(
                f'<path d="M{num(vx)} {num(vy + d)}l{num(d)} {num(-d)}h{num(fw)}l{num(-d)} {num(d)}z" '
                f'fill="{_shade(base, 1.35)}"/>'
            )
            out.append(
                f'<path d="M{num(vx + fw)} {num(vy + d)}l{num(d)} {num(-d)}v{num(fh)}l{num(-d)} {num(d)}z" '
                f'fill="{_shade(base, 0.75)}"/>'
            )
        out.append(f'<rect x="{num(vx)}" y="{num(vy + d)}" width="{num(fw)}" height="{num(fh)}" fill="{base}"/>')
    return "".join(out)


def _closed_svg(b: Box, interactive: bool) -> str:
    """A leaf, or a closed block: the volume and three lines of text."""
    w, h, ix, _ox, _ay, _oy = b.closed
    _fw, fh, d = volume(b.shape)
    stacked = not b.leaf
    extra = STACK if stacked else 0
    color = BLOCK_COLOR if stacked else color_of(b.kind)
    parts = [
        f'<rect class="hit" width="{num(w)}" height="{num(h)}"/>',
        _volume_svg(b.shape, color, ix, 4 + extra, stacked),
    ]
    ty = 4 + extra + d + fh + 6 + 10
    for k, text in enumerate(b.lines):
        cls = "t-name" if k == 0 else "t-sub"
        parts.append(f'<text class="{cls}" x="{num(w / 2)}" y="{num(ty + k * LINE)}">{html.escape(text)}</text>')
    if stacked and interactive:
        parts.append(f'<text class="t-toggle" x="{num(w - 3)}" y="11">+</text>')
    return "".join(parts)


def _title(b: Box) -> str:
    return "\n".join(f"{k}: {v}" for k, v in b.info.items())


def _box_svg(b: Box, interactive: bool, out: list[str]) -> None:
    state = "" if b.leaf else (" collapsed" if b.collapsed else " expanded")
    cls = ("leaf k-" + html.escape(b.kind)) if b.leaf else "unit"
    out.append(f'<g id="b{b.id}" class="{cls}{state}" data-i="{b.id}" transform="translate({num(b.x)} {num(b.y)})">')
    if not interactive:
        out.append(f"<title>{html.escape(_title(b))}</title>")
    if b.leaf or b.collapsed or interactive:
        out.append(f'<g class="box">{_closed_svg(b, interactive)}</g>')
    if not b.leaf and (interactive or not b.collapsed):
        _open_svg(b, interactive, out)
    out.append("</g>")


def _edges_svg(b: Box, out: list[str]) -> None:
    for k, e in enumerate(b.edges):
        skip = " skip" if e[2] != "adj" else ""
        d = edge_path(b, e) if not b.collapsed else ""
        out.append(f'<path id="e{b.id}_{k}" class="edge{skip}" d="{d}"/>')


def _open_svg(b: Box, interactive: bool, out: list[str]) -> None:
    w, h = (b.m[0], b.m[1]) if not b.collapsed else (0, 0)
    title = f"− {b.name}  ({b.label})"
    out.append(f'<g class="frame"><rect id="f{b.id}" class="frame-bg" width="{num(w)}" height="{num(h)}" rx="6"/>')
    out.append(f'<text class="t-head" x="8" y="14">{html.escape(title)}</text></g>')
    out.append('<g class="content">')
    _edges_svg(b, out)
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
DEFS = (
    '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" orient="auto">'
    '<path d="M0 0L8 4L0 8z" fill="#7a7a7a"/></marker></defs>'
)


def drawing(root: Box, *, interactive: bool, standalone: bool) -> str:
    """The SVG element, laid out for the blocks open now; ``standalone``: a ``.svg`` file's text (XML declaration,
    namespace)."""
    place(root)
    w, h = root.m[0], root.m[1]
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else ""
    out = [
        f'{head}<svg id="net"{ns} width="{num(w)}" height="{num(h)}" viewBox="0 0 {num(w)} {num(h)}">',
        f"<style>{STYLE}</style>",
        DEFS,
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<g id="b{root.id}" class="root">',
    ]
    _edges_svg(root, out)
    for c in root.children:
        _box_svg(c, interactive, out)
    out.append("</g></svg>")
    return "\n".join(out) + "\n"
