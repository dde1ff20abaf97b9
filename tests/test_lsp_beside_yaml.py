"""`archspec lsp` beside the YAML language server: a mistake both can see is underlined once.

Both real servers run over stdio, set up as docs/editors.md says: the YAML language server with
archspec's schema, `archspec lsp` told so (`initializationOptions: {yamlSchema: true}`). On every
mistake of tests/test_editor.py's table (the schema's ground) no line carries a diagnostic from
both; what only archspec sees (shapes, variables) it still reports.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT
from language_server import LanguageServer
from test_editor import HEAD, MISTAKES, marked_line, yaml_workspace

pytest.importorskip("pygls")
pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def both(tmp_path_factory) -> Iterator[tuple[LanguageServer, LanguageServer]]:
    command, root = yaml_workspace(tmp_path_factory)
    yaml_ls = LanguageServer(command, {"yaml": {"validate": True, "schemaStore": {"enable": False}}}, root)
    archspec = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from archspec.cli import run; run()",
    ]
    ours = LanguageServer([*archspec, "lsp"], {}, root, initialization_options={"yamlSchema": True})
    yield yaml_ls, ours
    ours.close()
    yaml_ls.close()


def lines(diagnostics: list[dict[str, Any]]) -> set[int]:
    return {n for d in diagnostics for n in range(d["range"]["start"]["line"], d["range"]["end"]["line"] + 1)}


def test_a_mistake_of_form_is_underlined_once(both):
    yaml_ls, ours = both
    uris = {}
    for n, (name, mistake) in enumerate(MISTAKES.items()):
        uris[name] = yaml_ls.uri(f"mistake_{n}.yaml")
        yaml_ls.open(uris[name], mistake.text)
        ours.open(uris[name], mistake.text)
    for name, mistake in MISTAKES.items():
        theirs, mine = yaml_ls.diagnostics(uris[name]), ours.diagnostics(uris[name])
        assert marked_line(mistake.text) in lines(theirs), name  # the YAML language server has it
        assert not lines(theirs) & lines(mine), (name, theirs, mine)  # and archspec leaves it there


def test_what_the_schema_cannot_see_is_still_reported(both):
    yaml_ls, ours = both
    for n, (body, says) in enumerate(
        [
            ("  - conv: {filters: 4, kernel: 50}\n", "50x50 kernel"),  # a shape
            ("  - dense: {units: $nope}\n", "nope"),  # a variable
        ]
    ):
        uri = yaml_ls.uri(f"semantic_{n}.yaml")
        yaml_ls.open(uri, HEAD + body)
        ours.open(uri, HEAD + body)
        assert yaml_ls.diagnostics(uri) == []
        (problem,) = ours.diagnostics(uri)
        assert says in problem["message"] and problem["range"]["start"]["line"] == HEAD.count("\n")
