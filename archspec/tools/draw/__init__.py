"""Diagrams of a network: SVG (static), HTML (interactive, collapsible blocks), PNG.

Built from the graph IR and the shape report alone: pure Python, no TensorFlow, no
third-party drawing library.

The picture
    Every layer is a volume: its height grows with the feature map's height, its oblique
    depth with the width and its thickness with the channels, all log-scaled (a 224x224x3
    input and a 7x7x2048 map both fit on a screen). A vector is a thin bar. Below each
    volume: the layer's name, its kind with kernel/stride (the shape table's label) and its
    output shape. Layers flow left to right in columns; parallel branches stack in lanes;
    edges skipping columns (residual shortcuts, DenseNet's concatenations) run along a free
    lane or arc over the top of their block. Each top-level spec layer that expands to
    several nodes is a block, drawn closed as a stack of volumes; blocks start closed
    (ResNet-152 is a dozen volumes). In the HTML view a click opens or closes a block and
    hovering shows details.

Files
    ``.svg`` is the drawing alone (closed blocks, or all open with ``expand``), hover text as
    SVG ``<title>``s. ``.html`` is one self-contained page (no network access). ``.png`` is a
    screenshot of the SVG.

Modules, in the order a drawing is made
    ``boxes`` the tree of boxes (layers and blocks) and their edges; ``grid`` columns, lanes
    and edge routes (fixed by the graph); ``layout`` sizes, positions and edge paths for the
    blocks open now (the page's ``assets/layout.js`` is the same algorithm); ``geometry`` the
    sizes they share; ``svg``, ``page`` and ``png`` the three outputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import Problem, SpecError
from ...files import refuse_existing, write_text
from ...graph import graph_of
from ...graph.infer import infer
from ...graph.ir import Graph
from ...graph.report import Report
from .boxes import Box
from .geometry import volume
from .grid import tree_of
from .layout import place
from .page import html_page
from .png import MAX_PNG_SIDE, chromium, chromium_args, screenshot, write_png
from .svg import color_of, drawing

__all__ = [
    "MAX_PNG_SIDE",
    "Box",
    "chromium",
    "chromium_args",
    "color_of",
    "diagram",
    "draw",
    "screenshot",
    "tree",
    "volume",
]

FORMATS = ("svg", "html", "htm", "png")


def tree(graph: Graph, report: Report | None = None, *, expand: bool = False) -> Box:
    """The laid-out tree of boxes (mainly for tests and other renderers)."""
    root, _ = tree_of(graph, report or infer(graph, max_params=None), expand=expand)
    place(root)
    return root


def diagram(graph: Graph, report: Report | None = None, *, format: str = "html", expand: bool = False) -> str:
    """The diagram as text: 'svg' (static) or 'html' (interactive, self-contained)."""
    report = report or infer(graph, max_params=None)
    root, boxes = tree_of(graph, report, expand=expand)
    if format == "svg":
        return drawing(root, interactive=False, standalone=True)
    if format == "html":
        return html_page(root, boxes, report)
    raise ValueError(f"unknown format {format!r}")


def draw(
    spec: Any, output: str | os.PathLike[str], *, force: bool = False, expand: bool = False, **overrides: Any
) -> Path:
    """Write the diagram of a spec to .svg, .html or .png (by the output's extension)."""
    target = Path(output)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise SpecError(Problem(f"cannot draw to {target.name!r}: unknown extension", hint="use .svg, .html or .png"))
    refuse_existing(target, force)
    graph = graph_of(spec, **overrides)
    report = infer(graph, max_params=None)
    if fmt in ("html", "htm"):
        return write_text(target, diagram(graph, report, format="html", expand=expand), force=force)
    root, _ = tree_of(graph, report, expand=expand)
    svg = drawing(root, interactive=False, standalone=True)
    if fmt == "svg":
        return write_text(target, svg, force=force)
    return write_png(svg, target, root.m[0], root.m[1])
