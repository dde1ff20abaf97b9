"""archspec draw: the layout (pure Python) for every spec, and the pages in a real headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT, SPECS, TEST_SPECS

import archspec
from archspec.graph.infer import infer
from archspec.tools import draw

LENET = ROOT / "specs" / "lenet.yaml"
RESNET50 = ROOT / "specs" / "resnet50.yaml"
DENSENET121 = ROOT / "specs" / "densenet121.yaml"


def top_level_names(path: Path) -> list[str]:
    g = archspec.graph_of(path)
    used = {n.group for n in g.nodes if n.group is not None}
    return [name for i, (name, _) in enumerate(g.groups) if i in used]


@pytest.mark.parametrize("path", SPECS + TEST_SPECS, ids=lambda p: p.stem)
def test_every_spec_draws_as_valid_svg_and_html(path):
    g = archspec.graph_of(path)
    report = infer(g, max_params=None)
    svg = draw.diagram(g, report, format="svg")
    root = ET.fromstring(svg.split("\n", 1)[1])  # well-formed XML
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    for name in top_level_names(path):
        assert name in texts, f"{name} is not drawn"
    page = draw.diagram(g, report, format="html")
    assert "<script>" in page and 'id="data"' in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), (
        "the page must not load anything from the network"
    )
    expanded = draw.diagram(g, report, format="svg", expand=True)
    ET.fromstring(expanded.split("\n", 1)[1])


def test_blocks_start_closed_and_stay_small():
    for path, most in ((ROOT / "specs" / "resnet152.yaml", 1400), (DENSENET121, 2600)):
        g = archspec.graph_of(path)
        closed = draw.tree(g)
        opened = draw.tree(g, expand=True)
        assert closed.m[0] < most, (path.stem, closed.m[0])  # a dozen volumes, readable without scrolling far
        assert opened.m[0] > 10 * closed.m[0]


def test_residual_shortcut_is_an_edge_around_the_body():
    g = archspec.graph_of(RESNET50)
    root = draw.tree(g, expand=True)
    stage = next(c for c in root.children if c.name == "conv2")
    block1 = stage.children[0]
    assert block1.name == "conv2_block1" and not block1.leaf
    names = [c.name for c in block1.children]
    add = names.index("conv2_block1_add")
    into_add = [e for e in block1.edges if e[1] == add]
    assert len(into_add) == 2  # the body and the projection shortcut
    assert {block1.children[e[0]].name for e in into_add} == {"conv2_block1_3_bn", "conv2_block1_0_bn"}
    block2 = stage.children[1]
    skip = [e for e in block2.edges if e[0] == -1 and block2.children[e[1]].name == "conv2_block2_add"]
    assert skip and skip[0][2] in ("lane", "bypass")  # identity shortcut: from the block's entry straight to the add


def test_volumes_are_log_scaled():
    big, small = draw.volume((224, 224, 3)), draw.volume((7, 7, 2048))
    assert big[1] > small[1] and big[2] > small[2] and big[0] < small[0]  # taller, deeper, thinner
    assert draw.volume((1000,))[2] == 0  # a vector is a flat bar
    assert all(
        v < 200 for v in draw.volume((65536, 65536, 65536))
    )  # log-scaled: the largest map the spec allows still fits


def test_draw_writes_atomically_and_refuses_to_overwrite(tmp_path):
    out = draw.draw(LENET, tmp_path / "net.svg")
    assert out.read_text().startswith("<?xml")
    with pytest.raises(archspec.SpecError, match="exists"):
        draw.draw(LENET, out)
    draw.draw(LENET, out, force=True)
    with pytest.raises(archspec.SpecError, match="extension"):
        draw.draw(LENET, tmp_path / "net.gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.svg"]


def test_cli_draw_does_not_import_tensorflow(tmp_path):
    code = (
        "import sys; from archspec.cli import main; "
        f"rc = main(['draw', {str(RESNET50)!r}, '-o', {str(tmp_path / 'r.html')!r}]); "
        "assert rc == 0, rc; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow "
        "imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.html").exists()


def test_new_modules_import_without_tensorflow():
    code = (
        "import sys, archspec.cli, archspec.cli.share, archspec.tools.draw, archspec.spec.jsonschema, "
        "archspec.keras_side.export, archspec.keras_side.importer, archspec.tools.inspection; "
        "heavy = [m for m in ('tensorflow', 'keras', 'numpy', 'onnx') if m in sys.modules]; assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


# -- in a browser ----------------------------------------------------------------
def open_page(exe: str, page: Path, tmp_path: Path, fragment: str = "") -> tuple[dict, str, list[str]]:
    """(status the page's script wrote, errors it caught, console lines Chromium logged)."""
    cmd = [
        exe,
        *draw.chromium_args(str(tmp_path / "profile")),
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.as_uri() + fragment,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    status = re.search(r'<pre id="status">(.*?)</pre>', dom, re.S)
    errors = re.search(r'<pre id="errors">(.*?)</pre>', dom, re.S)
    assert status and status.group(1), f"the page's script did not run:\n{proc.stderr[-2000:]}"
    return json.loads(html.unescape(status.group(1))), html.unescape(errors.group(1) if errors else ""), console


@pytest.mark.parametrize("path", [LENET, RESNET50, DENSENET121], ids=lambda p: p.stem)
def test_page_loads_in_chromium_and_shows_every_block(chromium, path, tmp_path):
    if not path.exists():
        pytest.skip(f"{path.name} not written yet")
    page = draw.draw(path, tmp_path / f"{path.stem}.html")
    status, errors, console = open_page(chromium, page, tmp_path)
    assert status["ready"] and not errors and not console, (errors, console)
    missing = [n for n in top_level_names(path) if n not in status["visible"]]
    assert not missing, f"not visible: {missing}"
    if path != LENET:  # blocks are closed: their inner layers are not on screen
        assert not any(v.endswith("_bn") for v in status["visible"])
        opened, errors, console = open_page(chromium, page, tmp_path, "#expand")
        assert not errors and not console, (errors, console)
        assert len(opened["visible"]) > 5 * len(status["visible"])
        assert "1_conv" in opened["visible"] or "2_conv" in opened["visible"]  # inner layers, named within their block
        assert float(opened["width"]) > 10 * float(status["width"])


CLICKS = """<script>
(function () {
  var out = [], st = document.getElementById('status');
  function click(el) {
    el.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    out.push(JSON.parse(st.textContent));
  }
  var label = Array.prototype.filter.call(document.querySelectorAll('text.t-name'),
                                          function (t) { return t.textContent === 'conv2'; })[0];
  var unit = label.closest('g.unit');
  click(unit.querySelector(':scope > .box rect.hit'));          // open the stage
  click(unit.querySelector(':scope > .frame .t-head'));         // close it by its title bar
  unit.querySelector(':scope > .box rect.hit')
    .dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: 50, clientY: 50}));
  var tip = document.getElementById('tip');
  out.push({tip: tip.textContent, shown: tip.style.display});
  document.getElementById('errors')
    .insertAdjacentHTML('afterend', '<pre id="clicks">' + JSON.stringify(out) + '</pre>');
})();
</script>
</body>"""


def test_clicking_opens_and_closes_a_block(chromium, tmp_path):
    page = draw.draw(RESNET50, tmp_path / "r.html")
    page.write_text(page.read_text().replace("</body>", CLICKS))
    proc = subprocess.run(
        [chromium, *draw.chromium_args(str(tmp_path / "profile")), "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'<pre id="clicks">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stderr[-2000:]
    opened, closed, hover = json.loads(html.unescape(found.group(1)))
    stage = next(g for g in archspec.shapes(RESNET50).groups if g.name == "conv2")
    assert (
        hover["shown"] == "block" and f"params{stage.params:,}" in hover["tip"] and "click to open" in hover["tip"]
    )  # details on hover
    assert "conv2" in opened["visible"] and "block1" in opened["visible"] and "block3" in opened["visible"]
    assert float(opened["width"]) > float(closed["width"])
    assert "block1" not in closed["visible"] and "conv2" in closed["visible"]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("path", [LENET, RESNET50], ids=lambda p: p.stem)
def test_png_screenshot(chromium, path, tmp_path):
    out = draw.draw(path, tmp_path / f"{path.stem}.png")
    width, height = png_size(out)
    root = draw.tree(archspec.graph_of(path))
    assert (width, height) == (int(-(-root.m[0] // 1)), int(-(-root.m[1] // 1)))
    assert out.stat().st_size > 5000  # a picture, not a blank page
    if os.environ.get("ARCHSPEC_KEEP_PNG"):  # for looking at them: ARCHSPEC_KEEP_PNG=dir pytest tests/test_draw.py
        Path(os.environ["ARCHSPEC_KEEP_PNG"]).mkdir(parents=True, exist_ok=True)
        (Path(os.environ["ARCHSPEC_KEEP_PNG"]) / out.name).write_bytes(out.read_bytes())
