"""The schema in the editor people use: `archspec schema` served by the real yaml-language-server.

The server (the npm package behind VS Code's YAML extension and Neovim's/Helix's YAML
support) runs once for this module over stdio, set up as the README says: the modeline on
documents in the workspace root, the VS Code `yaml.schemas` setting for `specs/*.yaml`.
It must accept every zoo spec and README example, put each typical mistake on the right
line with a message that names the problem, complete kinds and keys, and show the
reference text on hover. .ci/install-yaml-language-server.sh installs the pinned server;
without node/npm or the registry these tests skip, and fail under CI=true.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from conftest import ROOT, SPECS, TEST_SPECS
from language_server import LanguageServer, Unavailable, yaml_language_server
from pydantic import AliasChoices

import archspec
from archspec.kinds.registry import KINDS, description
from archspec.spec.jsonschema import schema_json

MODELINE = "# yaml-language-server: $schema=archspec.schema.json\n"
HEAD = MODELINE + "name: t\ninput: [32, 32, 3]\nvariables: {classes: 10, width: 0.5}\nlayers:\n"
MARK = "  #<"
"""Ends the line a mistake's diagnostic belongs on (a YAML comment: invisible to both checkers)."""


class Mistake(NamedTuple):
    text: str
    says: tuple[str, ...]
    """Words the diagnostic on the marked line must contain (any order, any case; `a|b`: either)."""
    never: tuple[str, ...] = ()
    """Words no diagnostic of the document may contain (messages that mislead)."""


def layers(body: str, **kw: Any) -> Mistake:
    return Mistake(HEAD + body, **kw)


MISTAKES: dict[str, Mistake] = {
    "zero stride": layers(
        f"  - conv: {{filters: 4, kernel: 3, stride: 0}}{MARK}\n", says=("minimum",), never=("array",)
    ),
    "zero kernel": layers(f"  - conv: {{filters: 4, kernel: 0}}{MARK}\n", says=("minimum",), never=("array",)),
    "zero in a kernel pair": layers(f"  - conv: {{filters: 4, kernel: [3, 0]}}{MARK}\n", says=("minimum",)),
    "three kernel sizes": layers(f"  - conv: {{filters: 4, kernel: [3, 3, 3]}}{MARK}\n", says=("too many items",)),
    "negative filters": layers(f"  - conv: {{filters: -8, kernel: 3}}{MARK}\n", says=("minimum",)),
    "fractional stride": layers(f"  - conv: {{filters: 4, kernel: 3, stride: 1.5}}{MARK}\n", says=("integer",)),
    "word for a number": layers(f'  - conv: {{filters: "six", kernel: 3}}{MARK}\n', says=("integer", "$")),
    "typo in a key": layers(f"  - conv: {{filters: 4, kernal: 3}}{MARK}\n", says=("kernal",)),
    "missing kernel": layers(f"  - conv: {{filters: 4}}{MARK}\n", says=("kernel",)),
    "misspelled kind": layers(
        f"  - convv: {{filters: 4, kernel: 3}}{MARK}\n", says=("convv|not a layer kind",), never=("missing property",)
    ),
    "misspelled bare kind": layers(f"  - flaten{MARK}\n", says=("flatten",)),
    "two kinds in one item": layers(
        f"  - {{conv: {{filters: 4, kernel: 3}}, pool: max}}{MARK}\n", says=("pool", "one")
    ),
    "settings not indented": layers(
        f"  - conv:\n    filters: 4{MARK}\n    kernel: 3\n", says=("filters|indented",), never=("matches multiple",)
    ),
    "unknown activation layer": layers(
        f"  - activation: rleu{MARK}\n", says=("relu", "tanh", "softmax"), never=("object",)
    ),
    "unknown activation setting": layers(
        f"  - conv: {{filters: 4, kernel: 3, activation: relux}}{MARK}\n", says=("relu", "sigmoid")
    ),
    "unknown padding": layers(f"  - conv: {{filters: 4, kernel: 3, padding: full}}{MARK}\n", says=("valid", "same")),
    "unknown pool kind": layers(f"  - pool: {{kind: maximum}}{MARK}\n", says=("max", "avg")),
    "unknown pool form": layers(f"  - pool: global_median{MARK}\n", says=("global_avg", "max")),
    "dropout of one and a half": layers(f"  - dropout: 1.5{MARK}\n", says=("maximum",)),
    "zero dense units": layers(f"  - flatten\n  - dense: 0{MARK}\n", says=("minimum",), never=("object",)),
    "word for a boolean": layers(
        f"  - conv: {{filters: 4, kernel: 3, bn: batch}}{MARK}\n", says=("boolean|true or false",)
    ),
    "residual without body": layers(f"  - residual: {{activation: relu}}{MARK}\n", says=("body",)),
    "empty layer list": Mistake(
        MODELINE + f"name: t\ninput: [32, 32, 3]\nlayers: []{MARK}\n", says=("too few items", "1")
    ),
    "two input sizes": Mistake(
        MODELINE + f"name: t\ninput: [32, 32]{MARK}\nlayers:\n  - flatten\n", says=("too few items", "3")
    ),
    "zero input size": Mistake(
        MODELINE + f"name: t\ninput: [0, 32, 3]{MARK}\nlayers:\n  - flatten\n", says=("minimum",)
    ),
    "misspelled top-level key": Mistake(
        MODELINE + f"name: t\ninput: [32, 32, 3]\nlayer:{MARK}\n  - flatten\n", says=("layer",)
    ),
    "zero epochs": layers(f"  - flatten\ntraining:\n  epochs: 0{MARK}\n", says=("minimum",)),
    "unknown optimizer": layers(f"  - flatten\ntraining:\n  optimizer: adamm{MARK}\n", says=("adam", "sgd")),
}


def marked_line(text: str) -> int:
    (line,) = [n for n, row in enumerate(text.splitlines()) if row.endswith(MARK)]
    return line


def judge(mistake: Mistake, diagnostics: list[dict[str, Any]]) -> tuple[bool, bool, list[str]]:
    """(a diagnostic is on the marked line, one there names the problem, every message)."""
    line = marked_line(mistake.text)
    here = [d["message"] for d in diagnostics if d["range"]["start"]["line"] <= line <= d["range"]["end"]["line"]]
    named = any(all(any(w in m.lower() for w in word.lower().split("|")) for word in mistake.says) for m in here)
    misleading = [w for w in mistake.never for d in diagnostics if w.lower() in d["message"].lower()]
    return bool(here), named and not misleading, [d["message"] for d in diagnostics]


def readme_examples() -> dict[str, str]:
    """The YAML examples of the README and docs/ as documents: complete specs as written, a layer
    list or a single item under a minimal head, a training block on LeNet."""
    from docpages import yaml_blocks

    docs = {}
    for page, n, text in yaml_blocks():
        if "entry-points" in text:
            continue
        if text.lstrip().startswith("- ") or text.startswith("  - "):
            text = "name: example\ninput: [32, 32, 3]\nlayers:\n" + text
        elif re.search(r"^layers:", text, re.M) and not re.search(r"^inputs?:", text, re.M):
            text = "name: example\ninput: [32, 32, 3]\n" + text
        elif re.search(r"^training:", text, re.M) and not re.search(r"^layers:", text, re.M):
            text = (ROOT / "specs" / "lenet.yaml").read_text() + text
        elif not re.search(r"^layers:", text, re.M):
            continue
        docs[re.sub(r"\W", "_", f"{page}_{n}")] = text  # a file name in the workspace
    return docs


def yaml_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """The YAML language server's command and a workspace holding archspec's schema; a failure under CI=true when
    the server cannot be had, else a skip."""
    try:
        command = yaml_language_server()
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"yaml-language-server unavailable (CI=true requires it): {exc}")
        pytest.skip(f"yaml-language-server unavailable: {exc}")
    root = tmp_path_factory.mktemp("workspace")
    (root / "archspec.schema.json").write_text(schema_json())
    return command, root


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LanguageServer]:
    command, root = yaml_workspace(tmp_path_factory)
    settings = {
        "yaml": {  # as the README tells VS Code users; the schema store stays off (no network)
            "schemas": {"./archspec.schema.json": ["specs/*.yaml"]},
            "validate": True,
            "completion": True,
            "hover": True,
            "schemaStore": {"enable": False},
        },
    }
    ls = LanguageServer(command, settings, root)
    # ready when a mapped document is checked against the schema (not before the settings arrive)
    probe = ls.uri("specs/probe.yaml")
    ls.open(probe, "name: probe\ninput: [32, 32, 3]\nlayers:\n  - convv: {}\n")
    assert ls.diagnostics(probe), "the yaml.schemas setting did not take effect"
    yield ls
    ls.close()


@pytest.fixture(scope="module")
def published(server) -> dict[str, str]:
    """Every document of this module opened at once (the server checks them side by side); name -> uri."""
    docs: dict[str, str] = {}
    for path in SPECS + TEST_SPECS:
        docs[f"spec:{path.stem}"] = server.uri(f"specs/{path.parent.name}_{path.name}")
        server.open(docs[f"spec:{path.stem}"], path.read_text())
    for name, text in readme_examples().items():
        docs[name] = server.uri(f"{name}.yaml")
        server.open(docs[name], MODELINE + text)
    for n, (name, mistake) in enumerate(MISTAKES.items()):
        docs[name] = server.uri(f"mistake_{n}.yaml")
        server.open(docs[name], mistake.text)
    return docs


def messages(diagnostics: list[dict[str, Any]]) -> list[str]:
    return [
        f"{d['range']['start']['line'] + 1}:{d['range']['start']['character'] + 1} {d['message']}" for d in diagnostics
    ]


@pytest.mark.parametrize("path", SPECS + TEST_SPECS, ids=lambda p: p.stem)
def test_zoo_specs_have_no_diagnostics(server, published, path):
    assert messages(server.diagnostics(published[f"spec:{path.stem}"])) == []


def test_readme_examples_have_no_diagnostics(server, published):
    examples = readme_examples()
    assert len(examples) >= 7  # the layer list, short forms, a graph, expressions, templates, training, the modeline
    found = {name: messages(server.diagnostics(published[name])) for name in examples}
    assert found == {name: [] for name in examples}


@pytest.mark.parametrize("name", MISTAKES, ids=str)
def test_mistake_is_underlined_and_named(server, published, name):
    mistake = MISTAKES[name]
    with pytest.raises(archspec.SpecError):  # a real mistake: archspec refuses it too
        archspec.shapes(mistake.text)
    on_line, named, found = judge(mistake, server.diagnostics(published[name]))
    assert on_line and named, f"line {marked_line(mistake.text) + 1} should say {mistake.says}: {found}"


def fill(snippet: str) -> str:
    """A completion's text as accepted, its placeholders left as they are offered."""
    return re.sub(r"\$\{\d+\}|\$\d+", "", re.sub(r"\$\{\d+:([^}]*)\}", r"\1", snippet))


def accept(text: str, item: dict[str, Any]) -> str:
    """The document after accepting a completion item (its text edit, one line)."""
    edit = item["textEdit"]
    lines = text.split("\n")
    row, start, end = (
        edit["range"]["start"]["line"],
        edit["range"]["start"]["character"],
        edit["range"]["end"]["character"],
    )
    lines[row] = lines[row][:start] + fill(edit["newText"]) + lines[row][end:]
    return "\n".join(lines)


def plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def documentation(item: dict[str, Any]) -> str:
    doc = item.get("documentation") or ""
    return plain(doc["value"] if isinstance(doc, dict) else doc)


@pytest.fixture(scope="module")
def new_item(server) -> tuple[str, str, list[dict[str, Any]]]:
    """(uri, text, completion items) at a fresh `- ` under `layers:`."""
    text = HEAD + "  - conv: {filters: 4, kernel: 3}\n  - \n"
    uri = server.uri("new_item.yaml")
    server.open(uri, text)
    return uri, text, server.completion(uri, text.count("\n") - 1, 4)


def test_completion_offers_every_kind_once(new_item):
    _, _, items = new_item
    assert Counter(item["label"] for item in items) == Counter(list(KINDS))
    for item in items:
        assert documentation(item).endswith(plain(description(KINDS[item["label"]]))), item["label"]


def test_accepting_a_kind_writes_that_kind(server, new_item):
    """Each completion inserts its kind as the item's only key; a kind that needs no settings is then
    a complete, valid layer (`flatten: `, never `flatten: flatten`)."""
    _, text, items = new_item
    complete = {}
    for item in items:
        name = item["label"]
        written = accept(text, item)
        last = yaml.safe_load(written)["layers"][-1]
        assert isinstance(last, dict) and list(last) == [name], (name, item["textEdit"]["newText"])
        if all(not f.is_required() for f in KINDS[name].schema.model_fields.values()):
            complete[name] = server.uri(f"accepted_{name}.yaml")
            server.open(complete[name], written)
            archspec.loads(written)
    assert "flatten" in complete
    assert {name: messages(server.diagnostics(uri)) for name, uri in complete.items()} == {
        name: [] for name in complete
    }


@pytest.mark.parametrize("name", ["conv", "pool", "dense", "residual"])
def test_completion_offers_every_key_with_its_description(server, name):
    text = HEAD + f"  - {name}:\n      \n"
    uri = server.uri(f"keys_{name}.yaml")
    server.open(uri, text)
    items = {item["label"]: item for item in server.completion(uri, text.count("\n") - 1, 6)}
    for fname, field in KINDS[name].schema.model_fields.items():
        alias = field.validation_alias
        keys = alias.choices if isinstance(alias, AliasChoices) else [field.alias or fname]
        assert keys[0] in items, f"{name}: {keys[0]} not offered (offered: {sorted(items)})"
        assert plain(field.description) in documentation(items[keys[0]]), keys[0]
        assert all(key in items for key in keys), keys


def test_hover_shows_the_reference_text(server):
    """Each kind shows its reference text; keys their descriptions and defaults as written."""
    text = HEAD + "  - conv:\n      kernel: 3\n      stride: 2\n" + "".join(f"  - {name}:\n" for name in KINDS)
    uri = server.uri("hover.yaml")
    server.open(uri, text)
    first = HEAD.count("\n")
    conv = KINDS["conv"].schema.model_fields
    kernel, stride = plain(server.hover(uri, first + 1, 8)), plain(server.hover(uri, first + 2, 8))
    assert kernel.startswith("#### kernel") and conv["kernel"].description in kernel
    assert stride.startswith("#### stride") and conv["stride"].description in stride and "Default: `1`" in stride
    for n, name in enumerate(KINDS):
        shown = plain(server.hover(uri, first + 3 + n, 5))
        assert shown.startswith(f"#### {name}\n") and plain(description(KINDS[name])) in shown, name
    assert plain(description(KINDS["conv"])) in plain(server.hover(uri, first, 5))
