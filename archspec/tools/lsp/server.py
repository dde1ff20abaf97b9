"""The language server: pygls over stdio, one `Analysis` per open document.

Each document keeps its last good analysis: while the text does not expand (mid-edit), hints, hover
and the outline come from it, but only on lines whose text is unchanged, so a figure never sits next
to a line it was not computed for. Changes are debounced lightly (``DEBOUNCE_S``): a burst of
keystrokes is checked once, for its last text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import PositionCodec

from ...errors import Problem
from ...kinds.registry import KINDS
from ...version import __version__
from ..reference import kind_reference
from .analysis import Analysis, Finding, LayerSpot, Names, analyse
from .editing import code_actions, completions, definition

DEBOUNCE_S = 0.01
"""How long a change waits for the next one before it is checked: short against a check of ResNet-50 (~20 ms)."""
SEVERITY = {"error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning}
TOKEN = re.compile(r"[^\s,\]}]+")
VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Document:
    last_good: list[LayerSpot] = field(default_factory=list)
    variables: dict[str, tuple[str, int]] = field(default_factory=dict)
    """From the last text that parsed."""
    names: Names = field(default_factory=Names)
    """From the last text that parsed: what completion offers and definition jumps to."""
    edits: int = 0
    """Bumped by every change: a debounced check that is no longer the newest gives up."""


class ArchspecServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("archspec", __version__)
        self.documents: dict[str, Document] = {}

    def check(self, uri: str) -> None:
        """Analyse the document's current text and publish its diagnostics."""
        doc = self.workspace.get_text_document(uri)
        state = self.documents.setdefault(uri, Document())
        name = to_fs_path(uri) or uri
        try:
            analysis = analyse(name, doc.source, "json" if name.endswith(".json") else "yaml")
        except Exception as exc:  # a bug must not kill the server the editor depends on: say so where it is seen
            analysis = Analysis(
                [
                    Finding(
                        Problem(
                            f"archspec lsp could not check this text ({type(exc).__name__}: {exc}); "
                            "please report it with the spec"
                        ),
                        "error",
                    )
                ]
            )
        if analysis.layers is not None:
            state.last_good = analysis.layers
        if analysis.variables is not None:
            state.variables = analysis.variables
        if analysis.names is not None:
            state.names = analysis.names
        lines = doc.lines
        self.text_document_publish_diagnostics(
            t.PublishDiagnosticsParams(
                uri=uri,
                version=doc.version,
                diagnostics=[diagnostic(f, lines, doc.position_codec) for f in analysis.findings],
            )
        )

    def spots(self, uri: str) -> tuple[list[LayerSpot], Sequence[str], PositionCodec]:
        """The last good layers that still stand on an unchanged line; the document's lines and position codec."""
        doc = self.workspace.get_text_document(uri)
        state = self.documents.get(uri)
        lines = doc.lines
        kept = (
            [s for s in state.last_good if s.line < len(lines) and lines[s.line].rstrip("\r\n") == s.text]
            if state
            else []
        )
        return kept, lines, doc.position_codec


def span(text: str, start: int) -> int:
    """Where the underline starting at `start` ends: the token there, or a whole `{...}`/`[...]` written on the line."""
    if start < len(text) and text[start] in "{[":
        close = text.rfind("}" if text[start] == "{" else "]")
        return close + 1 if close > start else len(text.rstrip())
    match = TOKEN.match(text, start)
    return match.end() if match else len(text)


def diagnostic(finding: Finding, lines: Sequence[str], codec: PositionCodec) -> t.Diagnostic:
    """The finding underlining the token it is about (the line's text when it has no column, line 0 when no line)."""
    p = finding.problem
    line = max(p.line - 1, 0) if p.line is not None else 0
    text = lines[line].rstrip("\r\n") if line < len(lines) else ""
    if p.line is not None and p.column is not None:
        start = min(p.column - 1, len(text))
        end = span(text, start)
    else:
        start, end = len(text) - len(text.lstrip()), len(text)
    where = codec.range_to_client_units(lines, t.Range(t.Position(line, start), t.Position(line, max(end, start))))
    return t.Diagnostic(range=where, message=finding.text, severity=SEVERITY[finding.severity], source="archspec")


def line_range(spot: LayerSpot, lines: Sequence[str], codec: PositionCodec, *, whole: bool = False) -> t.Range:
    """The layer's first line (or, `whole`, every line it spans), in the client's units."""
    end = (
        t.Position(spot.end_line, len(lines[spot.end_line].rstrip("\r\n")) if spot.end_line < len(lines) else 0)
        if whole
        else t.Position(spot.line, len(spot.text))
    )
    return codec.range_to_client_units(lines, t.Range(t.Position(spot.line, 0), end))


server = ArchspecServer()


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: ArchspecServer, params: t.DidOpenTextDocumentParams) -> None:
    ls.documents[params.text_document.uri] = Document()
    ls.check(params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: ArchspecServer, params: t.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    state = ls.documents.setdefault(uri, Document())
    state.edits += 1
    mine = state.edits
    await asyncio.sleep(DEBOUNCE_S)
    if state.edits == mine and uri in ls.documents:
        ls.check(uri)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ArchspecServer, params: t.DidCloseTextDocumentParams) -> None:
    ls.documents.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(t.TEXT_DOCUMENT_INLAY_HINT)
def inlay_hints(ls: ArchspecServer, params: t.InlayHintParams) -> list[t.InlayHint]:
    spots, lines, codec = ls.spots(params.text_document.uri)
    first, last = params.range.start.line, params.range.end.line
    return [
        t.InlayHint(
            position=line_range(s, lines, codec).end, label=s.hint, kind=t.InlayHintKind.Type, padding_left=True
        )
        for s in spots
        if first <= s.line <= last
    ]


@server.feature(t.TEXT_DOCUMENT_HOVER)
def hover(ls: ArchspecServer, params: t.HoverParams) -> t.Hover | None:
    spots, lines, codec = ls.spots(params.text_document.uri)
    found = variable_hover(ls.documents.get(params.text_document.uri), lines, codec, params.position)
    if found is not None:
        return found
    line = params.position.line
    kind = kind_at(lines, codec, params.position)
    reference = kind_reference(kind) if kind else ""
    for s in spots:
        if s.line <= line <= s.end_line:
            text = s.hover() + (f"\n\n---\n\n{reference}" if reference and line == s.line else "")
            return t.Hover(
                contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text), range=line_range(s, lines, codec)
            )
    return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=reference)) if reference else None


def kind_at(lines: Sequence[str], codec: PositionCodec, position: t.Position) -> str | None:
    """The layer kind written at `position` (`conv` in `- conv: {...}` or `- flatten`), if the word there is one."""
    if position.line >= len(lines):
        return None
    text = lines[position.line]
    at = codec.position_from_client_units(lines, position).character
    for match in WORD.finditer(text):
        if match.start() <= at < match.end():
            word = match.group()
            return word if word in KINDS and text[: match.start()].rstrip().endswith("-") else None
    return None


def variable_hover(
    state: Document | None, lines: Sequence[str], codec: PositionCodec, position: t.Position
) -> t.Hover | None:
    """On `$name`: the variable's value as written and the line that sets it."""
    if state is None or position.line >= len(lines):
        return None
    at = codec.position_from_client_units(lines, position)
    for match in VARIABLE.finditer(lines[position.line]):
        if match.start() <= at.character <= match.end() and match.group(1) in state.variables:
            value, line = state.variables[match.group(1)]
            where = codec.range_to_client_units(
                lines, t.Range(t.Position(position.line, match.start()), t.Position(position.line, match.end()))
            )
            text = f"**${match.group(1)}** = `{value}`\n\nset in `variables:` on line {line + 1}"
            return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text), range=where)
    return None


@server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def symbols(ls: ArchspecServer, params: t.DocumentSymbolParams) -> list[t.DocumentSymbol]:
    spots, lines, codec = ls.spots(params.text_document.uri)
    return [
        t.DocumentSymbol(
            name=s.name,
            detail=f"{s.kind} {s.hint}",
            kind=t.SymbolKind.Module if s.info is not None and s.info.nodes > 1 else t.SymbolKind.Function,
            range=line_range(s, lines, codec, whole=True),
            selection_range=line_range(s, lines, codec),
        )
        for s in spots
    ]


@server.feature(t.TEXT_DOCUMENT_COMPLETION, t.CompletionOptions(trigger_characters=["$", "-", "{", " ", "["]))
def completion(ls: ArchspecServer, params: t.CompletionParams) -> t.CompletionList:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    state = ls.documents.get(params.text_document.uri) or Document()
    at = doc.position_codec.position_from_client_units(doc.lines, params.position)
    return t.CompletionList(is_incomplete=False, items=completions(doc.lines, at.line, at.character, state.names))


@server.feature(t.TEXT_DOCUMENT_DEFINITION)
def go_to_definition(ls: ArchspecServer, params: t.DefinitionParams) -> t.Location | None:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    state = ls.documents.get(params.text_document.uri)
    if state is None:
        return None
    at = doc.position_codec.position_from_client_units(doc.lines, params.position)
    found = definition(doc.lines, at.line, at.character, state.names)
    if found is None:
        return None
    where = doc.position_codec.range_to_client_units(doc.lines, t.Range(t.Position(*found), t.Position(*found)))
    return t.Location(uri=params.text_document.uri, range=where)


@server.feature(t.TEXT_DOCUMENT_CODE_ACTION, t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix]))
def quick_fixes(ls: ArchspecServer, params: t.CodeActionParams) -> list[t.CodeAction]:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    return code_actions(params.text_document.uri, doc.lines, doc.position_codec, params.context.diagnostics)


def serve() -> None:
    """Speak LSP on stdin/stdout until the editor says exit."""
    server.start_io()
