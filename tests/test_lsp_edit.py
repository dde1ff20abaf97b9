"""`archspec lsp` helping to write a spec: completion, go to definition and "did you mean" quick fixes,
driven over stdio as an editor drives it (tests/language_server.py waits on each answer, never sleeps)."""

from __future__ import annotations

from typing import Any

import pytest
from test_lsp import LENET, line_of

from archspec.kinds.base import valid_keys
from archspec.kinds.registry import KINDS
from archspec.tools.reference import kind_reference

pytest.importorskip("pygls")


def labels(items: list[dict[str, Any]]) -> list[str]:
    return [i["label"] for i in items]


def opened(ls, name: str, text: str, good: str | None = None) -> str:
    """The document `name` holding `text`; opened first as `good` where given, as an editor has it while one types
    (names come from the last text that parsed, and half a line does not parse)."""
    uri = ls.uri(name)
    if good is not None:
        ls.open(uri, good)
        assert ls.diagnostics(uri) == []
    ls.open(uri, text)
    ls.diagnostics(uri)
    return uri


def test_capabilities(server):
    caps = server.capabilities
    assert caps["completionProvider"]["triggerCharacters"] and caps["definitionProvider"] and caps["referencesProvider"]
    assert caps["codeActionProvider"]["codeActionKinds"] == ["quickfix"]


def test_completion_after_a_dash_lists_kinds_with_their_reference(server):
    text = LENET + "  - \n"
    uri = opened(server, "complete_kind.yaml", text)
    items = server.completion(uri, len(text.splitlines()) - 1, 4)
    assert "conv" in labels(items) and set(labels(items)) == set(KINDS)
    conv = next(i for i in items if i["label"] == "conv")
    assert conv["documentation"]["value"] == kind_reference("conv")


def test_completion_inside_a_conv_lists_its_settings(server):
    text = LENET + "  - conv: {depth: 4, \n"
    uri = opened(server, "complete_setting.yaml", text)
    last = text.splitlines()[-1]
    got = labels(server.completion(uri, len(text.splitlines()) - 1, len(last)))
    assert {"filters", "kernel"} <= set(got) and set(got) == set(valid_keys(KINDS["conv"].schema))
    block = LENET + "  - conv:\n      ker\n"
    uri = opened(server, "complete_setting_block.yaml", block)
    assert "kernel" in labels(server.completion(uri, len(block.splitlines()) - 1, 9))  # block style too


def test_completion_after_dollar_lists_the_variables(server):
    good = LENET.replace("variables: {classes: 10}", "variables: {classes: 10, width: 8}")
    text = good + "  - dense: {units: $\n"
    uri = opened(server, "complete_variable.yaml", text, good)
    last = text.splitlines()[-1]
    assert labels(server.completion(uri, len(text.splitlines()) - 1, len(last))) == ["classes", "width"]


def test_completion_of_layer_names_and_templates(server):
    good = (
        "name: t\ninput: [8, 8, 1]\nblocks:\n  two:\n    layers:\n      - conv: {depth: 2, kernel: 3}\nlayers:\n"
        "  - conv: {depth: 2, kernel: 3, name: first}\n  - conv: {depth: 2, kernel: 3, name: second}\n"
    )
    text = good + "  - add: {inputs: [first, \n  - use: {block: \n"
    uri = opened(server, "complete_names.yaml", text, good)
    lines = text.splitlines()
    assert labels(server.completion(uri, 9, len(lines[9]))) == ["first", "second"]
    templates = labels(server.completion(uri, 10, len(lines[10])))
    assert templates[0] == "two" and len(templates) > 1  # the spec's own first, then the built-in library


def definition(ls, uri: str, line: int, character: int) -> dict[str, Any] | None:
    return ls.request(
        "textDocument/definition", {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    )


def test_definition_of_a_variable_jumps_to_variables(server):
    assert "$classes" in LENET and "variables: {classes: 10}" in LENET
    uri = opened(server, "specs/lenet.yaml", LENET)
    line = line_of(LENET, "units: $classes")
    got = definition(server, uri, line, LENET.splitlines()[line].index("$classes") + 2)
    target = line_of(LENET, "variables:")
    assert got["uri"] == uri and got["range"]["start"] == {
        "line": target,
        "character": LENET.splitlines()[target].index("classes"),
    }


def test_definition_of_a_template_and_a_layer_name(server):
    text = (
        "name: t\ninput: [8, 8, 1]\nblocks:\n  two:\n    layers:\n      - conv: {depth: 2, kernel: 3}\nlayers:\n"
        "  - conv: {depth: 2, kernel: 3, name: first}\n  - use: {block: two}\n  - add: {inputs: [first, two]}\n"
    )
    uri = opened(server, "definition.yaml", text)
    lines = text.splitlines()
    assert definition(server, uri, 8, lines[8].index("two") + 1)["range"]["start"] == {"line": 3, "character": 2}
    assert definition(server, uri, 9, lines[9].index("first") + 1)["range"]["start"] == {
        "line": 7,
        "character": lines[7].index("first"),
    }
    assert definition(server, uri, 7, 4) is None  # `conv` defines nothing here


def apply(text: str, edit: dict[str, Any]) -> str:
    lines = text.splitlines(keepends=True)
    start, end = edit["range"]["start"], edit["range"]["end"]
    assert start["line"] == end["line"]
    line = lines[start["line"]]
    lines[start["line"]] = line[: start["character"]] + edit["newText"] + line[end["character"] :]
    return "".join(lines)


def test_did_you_mean_gets_a_quick_fix_that_clears_the_problem(server):
    text = LENET.replace("{depth: 6, kernel: 5,", "{depth: 6, kernal: 5,")
    uri = server.uri("quick_fix.yaml")
    server.open(uri, text)
    (d,) = server.diagnostics(uri)
    assert "did you mean 'kernel'?" in d["message"]
    actions = server.request(
        "textDocument/codeAction", {"textDocument": {"uri": uri}, "range": d["range"], "context": {"diagnostics": [d]}}
    )
    (action,) = actions
    assert action["kind"] == "quickfix" and "kernel" in action["title"]
    (edit,) = action["edit"]["changes"][uri]
    fixed = apply(text, edit)
    assert fixed == LENET
    server.open(uri, fixed)
    assert server.diagnostics(uri) == []


def references(ls, uri: str, line: int, character: int, declaration: bool = True) -> list[tuple[int, int, int]]:
    found = ls.request(
        "textDocument/references",
        {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": character},
            "context": {"includeDeclaration": declaration},
        },
    )
    assert all(f["uri"] == uri for f in found)
    return sorted(
        (f["range"]["start"]["line"], f["range"]["start"]["character"], f["range"]["end"]["character"]) for f in found
    )


REFERRING = """name: r
input: [8, 8, 1]
variables: {w: 4, unused: 1, depth: 3}
blocks:
  two:   # two: not a use, a comment
    params: {depth: 2}
    layers:
      - conv: {depth: $w, kernel: 3, padding: same}
      - conv: {depth: $w * $w + $depth, kernel: 1, name: inner}
layers:
  - conv: {depth: 16, kernel: 3, padding: same, name: first}
  - use: {block: two}
  - stage: {block: two, repeat: 2, name: more}
  - add: {inputs: [first, more]}
"""


def test_references_of_a_variable_a_template_and_a_layer(server):
    uri = opened(server, "references.yaml", REFERRING)
    lines = REFERRING.splitlines()
    at = lambda line, word, nth=0: (line, [i for i in range(len(lines[line])) if lines[line].startswith(word, i)][nth])
    w = [(2, 12, 13), (7, 22, 24), (8, 22, 24), (8, 27, 29)]  # the definition, then each `$w` (twice on line 8)
    assert references(server, uri, *at(8, "$w", 1)) == w
    assert references(server, uri, 2, 12) == w  # from the definition too
    assert references(server, uri, 2, 12, declaration=False) == w[1:]
    two = [(4, 2, 5), (11, 17, 20), (12, 19, 22)]  # `blocks:` key, `use:` and `stage:`; not the comment
    assert references(server, uri, *at(11, "two")) == two
    first = [(10, 54, 59), (13, 19, 24)]
    assert references(server, uri, *at(13, "first")) == first
    assert references(server, uri, *at(13, "more")) == [(12, 41, 45), (13, 26, 30)]  # a stage named, then read
    assert references(server, uri, *at(2, "unused")) == [(2, 18, 24)]
    assert references(server, uri, *at(2, "depth")) == [(2, 29, 34)]  # the template's `$depth` is its parameter
    assert references(server, uri, 10, 4) == []  # `conv` is no name
    param = (8, lines[8].index("$depth") + 1)
    assert references(server, uri, *param) == [] and definition(server, uri, *param) is None
    assert server.hover(uri, *param) == ""  # a parameter: not the variable `depth`
    assert "`4`" in server.hover(uri, 8, lines[8].index("$w") + 1)  # a variable read in a template


def test_a_variant_completes_and_refers_to_the_variables(server):
    good = "name: v\ninput: [8, 8, 1]\nvariables: {width: 4, depth: 1}\nvariants:\n  big: {width: 8}\nlayers:\n"
    good += "  - conv: {depth: $width, kernel: 3}\n"
    text = good.replace("  big: {width: 8}\n", "  big: {width: 8, d\n  small:\n    wi\n")
    uri = opened(server, "variants.yaml", text, good)
    assert labels(server.completion(uri, 4, len("  big: {width: 8, d"))) == ["depth", "width"]
    assert labels(server.completion(uri, 6, len("    wi"))) == ["depth", "width"]  # block style
    assert labels(server.completion(uri, 5, len("  small:"))) == []  # a variant's own name: nothing to offer
    uri = opened(server, "variants_refs.yaml", good)
    assert references(server, uri, 6, good.splitlines()[6].index("$width") + 1) == [
        (2, 12, 17),  # variables:
        (4, 8, 13),  # set by the variant
        (6, 18, 24),  # read by the layer
    ]
