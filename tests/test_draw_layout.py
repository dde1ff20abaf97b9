"""One layout: the page's script places every box and routes every edge exactly as the Python
layout does, for the blocks open in several states.

The page lays its drawing out again in the browser whenever a block is opened or closed
(``assets/layout.js``); the ``.svg`` file and the page's first picture come from
``archspec/tools/draw/layout.py``. Node.js runs the very asset the page inlines on the page's
own data island, and every position, size and edge path must equal Python's to 0.01 px.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from conftest import ROOT

import archspec
from archspec.graph.infer import infer
from archspec.tools.draw import Box, diagram
from archspec.tools.draw.geometry import num
from archspec.tools.draw.grid import tree_of
from archspec.tools.draw.layout import edge_path, place
from archspec.tools.draw.page import asset

LAYOUT_JS = ROOT / "archspec" / "tools" / "draw" / "assets" / "layout.js"
SPECS = [ROOT / "specs" / f"{name}.yaml" for name in ("lenet", "resnet50", "densenet121", "googlenet")] + [
    ROOT / "tests" / "specs" / "every_block.yaml"
]
TOLERANCE = 0.01

# Node.js scripts: each reads a JSON job on stdin, loads layout.js as the page does (a classic
# script defining archspecLayout) and writes JSON on stdout.
LOAD = r"""
const fs = require('fs'), vm = require('vm');
const job = JSON.parse(fs.readFileSync(0, 'utf8'));
const context = {};
vm.runInNewContext(fs.readFileSync(job.layout, 'utf8'), context, {filename: job.layout});
"""
# Takes the page's data island, opens the blocks asked for, reports every box's position and
# metrics and every edge's path.
LAYOUT = (
    LOAD
    + r"""
const island = /<script type="application\/json" id="data">([\s\S]*?)<\/script>/
  .exec(fs.readFileSync(job.page, 'utf8'))[1];
const results = job.states.map(function (open) {
  const D = JSON.parse(island);
  D.boxes.forEach(function (b) { if (b.children.length && b.parent !== null) b.collapsed = open.indexOf(b.id) < 0; });
  const L = context.archspecLayout(D);
  L.place(D.boxes[D.root]);
  return D.boxes.map(function (b) {
    return {name: b.info.name || null, x: b.x === undefined ? null : b.x, y: b.y === undefined ? null : b.y, m: b.m,
            paths: b.edges.map(function (e) { return L.edgePath(b, e); })};
  });
});
process.stdout.write(JSON.stringify(results));
"""
)
NUM = (
    LOAD
    + r"""
process.stdout.write(JSON.stringify(job.values.map(context.archspecLayout({geometry: {}, boxes: []}).num)));
"""
)


def run_node(node: str, script: str, job: dict) -> object:
    proc = subprocess.run(
        [node, "-e", script],
        input=json.dumps({"layout": str(LAYOUT_JS), **job}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js missing (CI=true requires it: the page's layout is checked against Python's with it)")
        pytest.skip("Node.js not installed")
    return exe


def states(root: Box, boxes: list[Box]) -> list[list[int]]:
    """Ids of the blocks open: none, all, the largest top-level block, and it with its first sub-block."""
    units = [b.id for b in boxes if b.children and b.parent is not None]
    out = [[], units]
    top = [b for b in root.children if b.children]
    if top:
        big = max(top, key=lambda b: (sum(1 for c in b.children if c.children), len(b.children)))
        out.append([big.id])
        inner = next((c for c in big.children if c.children), None)
        if inner is not None:
            out.append([big.id, inner.id])
    return out


def python_layout(root: Box, boxes: list[Box], open_ids: list[int]) -> list[dict]:
    for b in boxes:
        if b.children and b.parent is not None:
            b.collapsed = b.id not in open_ids
    place(root)
    return [
        {
            "name": b.info.get("name"),
            "x": None if b is root else b.x,
            "y": None if b is root else b.y,
            "m": list(b.m),
            "paths": [edge_path(b, e) for e in b.edges],
        }
        for b in boxes
    ]


NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def differences(where: str, py: object, js: object) -> list[str]:
    """Where two results differ: numbers by more than the tolerance, anything else at all; path text number by
    number."""
    if isinstance(py, str) and isinstance(js, str) and py.startswith("M"):
        same_shape = NUMBER.sub("#", py) == NUMBER.sub("#", js)
        close = same_shape and all(
            abs(float(a) - float(b)) <= TOLERANCE for a, b in zip(NUMBER.findall(py), NUMBER.findall(js), strict=True)
        )
        return [] if close else [f"{where}: python {py!r}, page {js!r}"]
    if isinstance(py, (int, float)) and isinstance(js, (int, float)):
        return [] if abs(py - js) <= TOLERANCE else [f"{where}: python {py}, page {js}"]
    if isinstance(py, list) and isinstance(js, list) and len(py) == len(js):
        return [d for k, (a, b) in enumerate(zip(py, js, strict=True)) for d in differences(f"{where}[{k}]", a, b)]
    if isinstance(py, dict) and isinstance(js, dict) and py.keys() == js.keys():
        return [d for k in py for d in differences(f"{where}.{k}", py[k], js[k])]
    return [] if py == js else [f"{where}: python {py!r}, page {js!r}"]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_page_script_lays_out_as_python_does(node, path, tmp_path):
    graph = archspec.graph_of(path)
    report = infer(graph, max_params=None)
    page = tmp_path / f"{path.stem}.html"
    page.write_text(diagram(graph, report, format="html"), encoding="utf-8")
    assert asset("layout.js") == LAYOUT_JS.read_text(encoding="utf-8") and LAYOUT_JS.read_text(
        encoding="utf-8"
    ) in page.read_text(encoding="utf-8")
    root, boxes = tree_of(graph, report)
    wanted = states(root, boxes)
    from_page = run_node(node, LAYOUT, {"page": str(page), "states": wanted})
    assert len(from_page) == len(wanted)
    for open_ids, js in zip(wanted, from_page, strict=True):
        py = python_layout(root, boxes, open_ids)
        found = differences(f"{path.stem} open={open_ids}", py, js)
        assert not found, "\n".join(found[:10]) + f"\n({len(found)} differences)"


def test_numbers_are_written_as_the_page_writes_them(node):
    """Halves round up, and a near-half rounds as its tenfold does: a path or transform the page rewrites reads as in
    the .svg."""
    values = [
        0,
        3,
        26.0,
        -0.04,
        0.05,
        0.15,
        0.25,
        -0.25,
        -2.5,
        12.25,
        12.95 - 1e-12,
        1234.5678,
        -7.45,
        1e-7,
        2 / 3,
        98765.4321,
    ]
    assert run_node(node, NUM, {"values": values}) == [num(v) for v in values]
