"""`archspec lsp` driven as an editor drives it: the real server over stdio (JSON-RPC, Content-Length framing).

The client is tests/language_server.py (it answers the server's requests and waits for each
document's diagnostics as events, never by sleeping). Expected figures come from the shapes
pipeline in-process (what `archspec shapes` prints), so a hint or hover that disagrees with the
CLI fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from language_server import LanguageServer

import archspec
from archspec.kinds.registry import KINDS, Block
from archspec.spec.read import parse
from archspec.tools.reference import kind_reference, setting_reference
from archspec.tools.table import count_text, shape_text, shapes_table

pytest.importorskip("pygls")

LENET = (ROOT / "specs" / "lenet.yaml").read_text(encoding="utf-8")
ERROR, WARNING = 1, 2
EVERYTHING = {"start": {"line": 0, "character": 0}, "end": {"line": 100_000, "character": 0}}


def hints(ls: LanguageServer, uri: str) -> list[dict[str, Any]]:
    return ls.request("textDocument/inlayHint", {"textDocument": {"uri": uri}, "range": EVERYTHING})


def line_of(text: str, fragment: str) -> int:
    """The 0-based line of the first line containing `fragment`."""
    return next(i for i, line in enumerate(text.splitlines()) if fragment in line)


def test_capabilities(server):
    caps = server.capabilities
    assert caps["hoverProvider"] and caps["documentSymbolProvider"] and caps["inlayHintProvider"]


def test_lenet_has_no_diagnostics_and_a_shape_after_each_layer(server):
    uri = server.uri("specs/lenet.yaml")
    server.open(uri, LENET)
    assert server.diagnostics(uri) == []
    got = hints(server, uri)
    lines = LENET.splitlines()
    assert [h["label"] for h in got] == ["28x28x6", "14x14x6", "10x10x16", "5x5x16", "400", "120", "100", "10"]
    first = got[0]["position"]
    assert first == {
        "line": line_of(LENET, "depth: 6"),
        "character": len(lines[line_of(LENET, "depth: 6")]),
    }  # at the end of its line


def test_hover_gives_the_shapes_row(server):
    uri = server.uri("specs/lenet.yaml")
    server.open(uri, LENET)
    server.diagnostics(uri)
    row = shapes_table(archspec.shapes(ROOT / "specs" / "lenet.yaml")).rows[2]  # conv_2, as `archspec shapes` prints it
    text = server.hover(uri, line_of(LENET, "depth: 16"), 8)
    name, _label, output, params, macs, rf = row[:6]
    assert name in text and f"output: `{output}`" in text and f"params: {params}" in text
    assert f"MACs: {macs}" in text and f"receptive field: {rf}" in text
    assert server.hover(uri, line_of(LENET, "name: lenet"), 2) == ""  # not a layer


def test_hover_on_a_kind_adds_its_reference(server):
    uri = server.uri("specs/lenet.yaml")
    server.open(uri, LENET)
    server.diagnostics(uri)
    line = line_of(LENET, "depth: 16")
    on_kind = server.hover(uri, line, LENET.splitlines()[line].index("conv") + 1)
    assert "output: `10x10x16`" in on_kind and kind_reference("conv") in on_kind  # the figures, then the reference
    assert kind_reference("conv") not in server.hover(
        uri, line, LENET.splitlines()[line].index("depth")
    )  # a setting: figures only
    block = (
        "name: b\ninput: [8, 8, 1]\nblocks:\n  two:\n    layers:\n      - conv: {depth: 2, kernel: 3}\nlayers:\n  "
        "- use: {block: two}\n  - flatten\n"
    )
    uri = server.uri("block.yaml")
    server.open(uri, block)
    assert server.diagnostics(uri) == []
    inside = server.hover(uri, 5, 9)  # inside a template: its output there, then the reference
    assert inside.startswith("output: `6x6x2`") and inside.endswith(kind_reference("conv"))


def test_hover_on_a_variable_gives_its_value_and_line(server):
    uri = server.uri("variables.yaml")
    text = LENET.replace("variables: {classes: 10}", "variables: {classes: 10, wide: $classes * 2}")
    server.open(uri, text)
    assert server.diagnostics(uri) == []
    line = line_of(text, "units: $classes")
    text_at = server.hover(uri, line, text.splitlines()[line].index("$classes") + 3)
    assert "$classes" in text_at and "`10`" in text_at and f"line {line_of(text, 'variables:') + 1}" in text_at
    wide = server.hover(uri, line_of(text, "variables:"), text.splitlines()[line_of(text, "variables:")].index("wide"))
    assert wide == ""  # the key itself is no `$name`
    text = text.replace("units: $classes", "units: $wide")
    server.open(uri, text)
    assert server.diagnostics(uri) == []
    line = line_of(text, "units: $wide")
    assert server.hover(uri, line, text.splitlines()[line].index("$wide") + 2).startswith(
        "**$wide** = `$classes * 2` = `20`"
    )  # an expression, and what it works out to
    broken = text.replace("kernel: 5, activation: relu}      #", "kernel: 50, activation: relu} #")
    uri = server.uri("variables_broken.yaml")
    server.open(uri, broken)  # opened broken: it does not check, but it parses, so its variables are known
    assert server.diagnostics(uri)
    vars_line = line_of(broken, "variables:")
    text_at = server.hover(
        uri, vars_line, broken.splitlines()[vars_line].index("$classes") + 1
    )  # inside `wide: $classes * 2`
    assert "$classes" in text_at and "`10`" in text_at
    assert server.hover(uri, line_of(broken, "name: lenet"), 3) == ""


def test_symbols_outline_the_layers(server):
    uri = server.uri("specs/resnet50.yaml")
    text = (ROOT / "specs" / "resnet50.yaml").read_text(encoding="utf-8")
    server.open(uri, text)
    assert server.diagnostics(uri) == []
    symbols = server.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    report = archspec.shapes(ROOT / "specs" / "resnet50.yaml")
    assert [s["name"] for s in symbols] == [g.name for g in report.groups]
    stage = next(s for s in symbols if s["name"] == "conv3")
    conv3 = next(g for g in report.groups if g.name == "conv3")
    assert stage["kind"] == 2 and stage["detail"] == f"stage 28x28x512 ({conv3.nodes} layers, 1.2M params)"  # a block
    assert next(s for s in symbols if s["name"] == "predictions")["kind"] == 12  # one layer: Function


def test_broken_spec_is_underlined_where_the_cli_points(server):
    uri = server.uri("broken.yaml")
    text = LENET.replace("{depth: 6, kernel: 5,", "{depth: 6, kernel: 50,")
    server.open(uri, text)
    (d,) = server.diagnostics(uri)
    line = line_of(text, "kernel: 50")
    assert d["source"] == "archspec" and d["severity"] == ERROR
    assert (
        "layers[0].conv" in d["message"]
        and "50x50 kernel" in d["message"]
        and "larger than its (padded) input" in d["message"]
    )
    assert d["range"]["start"] == {"line": line, "character": text.splitlines()[line].index("{")}
    assert d["range"]["end"]["character"] == text.splitlines()[line].index("}") + 1  # the whole {...} of the layer


def test_typo_gets_the_hint_and_last_good_hints_stay_on_unchanged_lines(server):
    uri = server.uri("typo.yaml")
    server.open(uri, LENET)
    assert server.diagnostics(uri) == []
    text = LENET.replace(
        "- pool: {kind: max, size: 2, stride: 2}              # 14x14x6", "- pooll: {kind: max, size: 2, stride: 2}"
    )
    server.open(uri, text)  # a didChange
    (d,) = server.diagnostics(uri)
    assert "unknown layer kind 'pooll'" in d["message"] and "hint: did you mean 'pool'?" in d["message"]
    assert d["range"]["start"]["line"] == line_of(text, "pooll")
    labels = {h["position"]["line"]: h["label"] for h in hints(server, uri)}
    assert line_of(text, "pooll") not in labels  # the edited line has no stale figure
    assert labels[line_of(text, "depth: 6")] == "28x28x6" and labels[line_of(text, "depth: 16")] == "10x10x16"


def test_warnings_are_warnings(server):
    uri = server.uri("warn.yaml")
    text = (
        "name: w\ninput: [32, 32, 1]\nlayers:\n  - flatten\n  - dense: {units: 4, activation: softmax}\n  - dense: 2\n"
    )
    server.open(uri, text)
    (d,) = server.diagnostics(uri)
    assert d["severity"] == WARNING and "softmax before the last layer" in d["message"]
    assert d["range"]["start"]["line"] == 4


def test_problem_without_a_place_goes_on_line_0(server):
    uri = server.uri("empty.yaml")
    server.open(uri, "# nothing yet\n")
    (d,) = server.diagnostics(uri)
    assert d["range"]["start"]["line"] == 0 and "the spec is empty" in d["message"] and "hint:" in d["message"]


def test_other_yaml_files_are_left_alone(server):
    uri = server.uri(".github/workflows/ci.yaml")
    server.open(uri, "name: CI\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n")
    assert server.diagnostics(uri) == []
    uri = server.uri("started.yaml")  # a spec being written is one: it is told what it still lacks
    server.open(uri, "name: mine\ninput: [32, 32, 1]\n")
    assert "missing required key" in server.diagnostics(uri)[0]["message"]


def test_a_left_out_layer_is_shown_as_skipped(server):
    uri = server.uri("when.yaml")
    text = (
        "name: w\ninput: [32, 32, 1]\nlayers:\n  - conv: {depth: 6, kernel: 5, when: false}\n  - flatten\n  - "
        "dense: 2\n"
    )
    server.open(uri, text)
    assert server.diagnostics(uri) == []
    assert [(h["position"]["line"], h["label"]) for h in hints(server, uri)] == [
        (3, "skipped (when: false)"),
        (4, "1024"),
        (5, "2"),
    ]
    assert "left out" in server.hover(uri, 3, 5)


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_zoo_spec_gets_the_shapes_table_as_hints(server, path: Path):
    text = path.read_text(encoding="utf-8")
    uri = server.uri(f"specs/{path.name}")
    server.open(uri, text)
    assert [d for d in server.diagnostics(uri) if d["severity"] == ERROR] == []
    report = archspec.shapes(path)
    source = parse(text, str(path))
    written = source.data["layers"]
    top = {source.values[("layers", i)][0] - 1 for i in range(len(written))}
    got = {h["position"]["line"]: h["label"] for h in hints(server, uri)}
    labels = [got[line] for line in sorted(top)]  # one per top-level layer, left-out ones (U-Net's) said so
    assert [label.split(" (")[0] for label in labels if label != "skipped (when: false)"] == [
        shape_text(g.output_shape) for g in report.groups
    ]
    blocks = [g for g in report.groups if isinstance(KINDS[g.type], Block)]
    assert [label for label in labels if " layers" in label] == [
        f"{shape_text(g.output_shape)} ({g.nodes} layers" + (f", {count_text(g.params)} params)" if g.params else ")")
        for g in blocks
    ]  # each block summarised on its first line
    starts = sorted(source.keys[("blocks", name)][0] - 1 for name in source.data.get("blocks", {}))
    ends = [*starts[1:], source.keys[("layers",)][0] - 1] if starts else []
    for start, end in zip(starts, ends, strict=True):
        assert any(start < line < end for line in got), (path.name, start)  # each template's layers get theirs


def test_without_pygls_the_command_says_what_to_install():
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.modules['pygls'] = None; from archspec.cli import run; "
        "run()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "lsp"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "needs pygls" in done.stderr and "pip install 'archspec[lsp]'" in done.stderr


BLOCKS = """name: b
input: [8, 8, 1]
blocks:
  two:
    layers:
      - conv: {depth: 4, kernel: 3, padding: same}
      - conv: {depth: 8, kernel: 3}
layers:
  - use: {block: two}
  - use: {block: two, name: again}
  - residual:
      body:
        - conv: {depth: 8, kernel: 3, padding: same, when: false}
        - conv:
            depth: 8
            kernel: 3
            padding: same
            activation: relu
  - flatten
"""


def labels_by_line(server, name: str, text: str) -> dict[int, str]:
    """The inlay hints of a spec the server finds no problem in, by line."""
    uri = server.uri(name)
    server.open(uri, text)
    assert server.diagnostics(uri) == []
    return {h["position"]["line"]: h["label"] for h in hints(server, uri)}


def test_hints_inside_blocks_and_templates(server):
    assert labels_by_line(server, "blocks.yaml", BLOCKS) == {
        5: "8x8x4 | 6x6x4",  # a template's layer: its output in each use
        6: "6x6x8 | 4x4x8",
        8: "6x6x8 (2 layers, 336 params)",  # a block summarised on its first line
        9: "4x4x8 (2 layers, 588 params)",
        10: "4x4x8 (2 layers, 584 params)",
        12: "skipped (when: false)",  # left out inside a block
        13: "4x4x8",  # a layer inside a body, written over several lines: on its first
        18: "128",
    }


SAME_INDEX = """name: s
input: [8, 8, 1]
layers:
  - conv: {depth: 8, kernel: 3, padding: same}
  - residual:
      body:
        - conv: {depth: 8, kernel: 3, padding: same}
        - conv: {depth: 8, kernel: 3, padding: same, when: false}
  - flatten
"""


def test_a_layer_left_out_inside_a_block_at_its_blocks_own_index_is_marked(server):
    """layers[1].residual.body[1]: the inner index equals the outer one, which once read as a top-level layer."""
    got = labels_by_line(server, "same_index.yaml", SAME_INDEX)
    assert got[7] == "skipped (when: false)", got


def test_hover_on_a_block_gives_its_expansion_and_on_a_setting_its_reference(server):
    uri = server.uri("blocks.yaml")
    server.open(uri, BLOCKS)
    server.diagnostics(uri)
    lines = BLOCKS.splitlines()
    on_use = server.hover(uri, 9, lines[9].index("two"))
    assert "expands to 2 layers:" in on_use and "`again_conv_1` conv: `6x6x4`" in on_use
    assert "`again_conv_2` conv: `4x4x8`" in on_use
    on_setting = server.hover(uri, 5, lines[5].index("padding") + 2)
    assert on_setting.startswith(setting_reference("conv", "padding").strip())
    assert "output: `8x8x4 | 6x6x4`" in on_setting and kind_reference("conv") not in on_setting
    on_key = server.hover(uri, 15, lines[15].index("kernel"))  # block style: the kind is the `- conv:` above
    assert on_key.startswith(setting_reference("conv", "kernel").strip())
    assert setting_reference("conv", "depth") != setting_reference("conv", "kernel")


def test_a_long_check_does_not_hold_up_answers(server):
    """A big spec is checked off the event loop (in a process): meanwhile hover on another document is answered."""
    from archspec.tools.lsp.server import BIG_LINES  # pygls: after the importorskip

    small = server.uri("specs/lenet.yaml")
    server.open(small, LENET)
    server.diagnostics(small)
    big = server.uri("big.yaml")
    server.open(big, "name: big\ninput: [2, 2, 2]\nlayers:\n  - flatten\n" + "  - dense: 8\n" * BIG_LINES)
    assert "output: `28x28x6`" in server.hover(small, line_of(LENET, "depth: 6"), 8)
    assert not server.published(big)  # answered before the big spec's check was done
    assert server.diagnostics(big) == [] and len(hints(server, big)) == BIG_LINES + 1


def test_a_big_analysis_comes_back_from_the_checker_process_whole():
    """What the checker process sends in pieces (a few hundred layers each) reads back as the analysis itself."""
    from archspec.tools.lsp.analysis import CHUNK, analyse, packed, unpacked

    body = "".join(f"  - dense: {{units: $w, name: d{i}}}\n" for i in range(2 * CHUNK + 1))
    text = BLOCKS.replace("input: [8, 8, 1]\n", "input: [8, 8, 1]\nvariables: {w: 2}\n") + body
    analysis = analyse("big.yaml", text)
    assert analysis.findings == [] and len(analysis.layers) > 2 * CHUNK and analysis.inner
    assert len(analysis.names.occurrences) > 4 * CHUNK
    assert unpacked(packed("big.yaml", text, "yaml", False)) == analysis
    broken = text.replace("kernel: 3}", "kernel: 30}")
    assert unpacked(packed("big.yaml", broken, "yaml", False)) == analyse("big.yaml", broken)


def test_the_readme_and_docs_examples_get_their_shapes(server):
    """Every spec example of the README and docs/ (as tests/test_editor.py completes them) checks without an error
    and gets a hint on each top-level layer; a training block shown alone is put on LeNet there, so it is left out
    here (its heads and data are not LeNet's)."""
    from test_editor import readme_examples

    examples = {name: text for name, text in readme_examples().items() if not text.startswith(LENET)}
    assert "README_md_0" in examples and len(examples) >= 10
    for name, text in examples.items():
        uri = server.uri(f"examples/{name}.yaml")
        server.open(uri, text)
        assert [d["message"] for d in server.diagnostics(uri) if d["severity"] == ERROR] == [], name
        source = parse(text, name)
        top = {source.values[("layers", i)][0] - 1 for i in range(len(source.data["layers"]))}
        assert top <= {h["position"]["line"] for h in hints(server, uri)}, name


def test_hints_inside_a_template_whose_body_is_one_block(server):
    """A template written `residual:` right under its name (xception's `entry`) expands as a one-layer list; its
    body's lines get their hints all the same."""
    text = (
        "name: one\ninput: [8, 8, 4]\nblocks:\n  unit:\n    params: {relu: true}\n    residual:\n      body:\n"
        "        - activation: {fn: relu, when: $relu}\n        - conv: {depth: 4, kernel: 3, padding: same}\n"
        "layers:\n  - use: {block: unit, relu: false}\n  - use: {block: unit}\n  - flatten\n"
    )
    uri = server.uri("one_block_template.yaml")
    server.open(uri, text)
    assert server.diagnostics(uri) == []
    got = {h["position"]["line"]: h["label"] for h in hints(server, uri)}
    assert got[7] == "8x8x4" and got[8] == "8x8x4"  # the activation only in the second use; still a shape
    assert got[12] == "256"
