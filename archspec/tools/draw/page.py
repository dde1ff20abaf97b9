"""The HTML page: one self-contained file (no network access) with the drawing, every block in
it, a data island and the script that opens/closes blocks and shows details on hover.

The script and stylesheet are files under ``assets/`` (``layout.js``, ``page.js``,
``page.css``), inlined here so that the page stays one file that works offline.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib.resources import files
from typing import Any

from ...graph.report import Report
from .boxes import Box, count, fmt_shape
from .geometry import BYPASS, GAP, HEADER, LANE_GAP, MARGIN
from .svg import BLOCK_COLOR, color_of, drawing


@cache
def asset(name: str) -> str:
    """The text of a file under assets/, from the installed package (see package-data in pyproject.toml)."""
    text = files(__package__).joinpath("assets", name).read_text(encoding="utf-8")
    assert "</script" not in text and "</style" not in text, f"{name} would end its inline element"
    return text


SCRIPTS = ("layout.js", "page.js")


def inline_scripts() -> list[str]:
    """The text of each script element the page runs, as inlined: a page that embeds the diagram can allow
    exactly these by hash in its Content-Security-Policy."""
    return ["\n" + asset(name) for name in SCRIPTS]


def data(root: Box, boxes: list[Box]) -> dict[str, Any]:
    """The data island: what the page's layout needs to lay the drawing out again, and the hover details."""
    return {
        "geometry": {"GAP": GAP, "LANE_GAP": LANE_GAP, "HEADER": HEADER, "BYPASS": BYPASS, "MARGIN": MARGIN},
        "root": root.id,
        "boxes": [
            {
                "id": b.id,
                "parent": b.parent.id if b.parent else None,
                "children": [c.id for c in b.children],
                "col": b.col,
                "lane": b.lane,
                "ncols": b.ncols,
                "nlanes": b.nlanes,
                "nbypass": b.nbypass,
                "out": b.out,
                "edges": b.edges,
                "closed": list(b.closed),
                "collapsed": b.collapsed,
                "info": b.info,
            }
            for b in boxes
        ],
    }


def html_page(root: Box, boxes: list[Box], report: Report) -> str:
    """The page, its drawing laid out for the blocks open now."""
    svg = drawing(root, interactive=True, standalone=False)
    used = sorted({b.kind for b in boxes if b.leaf})
    legend = "".join(f'<span style="--c:{color_of(k)}">{html.escape(k)}</span>' for k in used)
    if any(not b.leaf and b.parent is not None for b in boxes):
        legend += f'<span style="--c:{BLOCK_COLOR}">block (click to open)</span>'
    if report.several:
        io = (
            ", ".join(f"{name} {fmt_shape(shape)}" for name, shape in report.inputs.items())
            + " → "
            + ", ".join(f"{name} {fmt_shape(shape)}" for name, shape in report.output_shapes.items())
        )
    else:
        io = f"input {fmt_shape(report.input_shape)}"
    facts = f"{io} · {len(report.layers)} layers · {report.total_params:,} parameters · {count(report.macs)} MACs"
    scripts = "".join(f"<script>{text}</script>\n" for text in inline_scripts())
    payload = json.dumps(data(root, boxes), separators=(",", ":")).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(report.name)} — archspec</title>
<style>
{asset("page.css")}</style>
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
{scripts}</body>
</html>
"""
