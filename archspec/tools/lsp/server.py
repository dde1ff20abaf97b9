"""The language server: pygls over stdio, one `Analysis` per open document.

Each document keeps its last good analysis: while the text does not expand (mid-edit), hints, hover
and the outline come from it, but only on lines whose text is unchanged, so a figure never sits next
to a line it was not computed for. Changes are debounced lightly (``DEBOUNCE_S``): a burst of
keystrokes is checked once, for its last text.

Checks run off the event loop, one at a time, from one worker thread: a text of ``BIG_LINES`` or more
in a separate process (a 10,000-layer spec takes seconds), a shorter one on that thread. Meanwhile
hover, completion and hints keep answering from the last good analysis. A check that a newer change
supersedes before it starts is never run; one that is running when the change comes is finished but
not published (the newer text's check publishes).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TypeVar

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import PositionCodec

from ...errors import Problem
from ...kinds.registry import KINDS
from ...version import __version__
from ..reference import kind_reference, setting_reference
from .analysis import Analysis, Finding, InnerSpot, LayerSpot, Names, packed, safe_analyse, unpacked
from .editing import code_actions, completions, definition, reads_variable, references, setting_at

DEBOUNCE_S = 0.01
"""How long a change waits for the next one before it is checked: short against a check of ResNet-50 (~20 ms)."""
BIG_LINES = 1000
"""A text this long is checked in a separate process: a check of seconds on the server's own thread would, through
Python's global lock and garbage collector, pause its answers for up to hundreds of milliseconds at a time. Shorter
texts check in tens of milliseconds on a thread (no process to send them to and back)."""
SEVERITY = {"error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning}
TOKEN = re.compile(r"[^\s,\]}]+")
VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Document:
    last_good: list[LayerSpot] = field(default_factory=list)
    inner: list[InnerSpot] = field(default_factory=list)
    """The layers inside blocks and templates, from the same analysis as `last_good`."""
    variables: dict[str, tuple[str, int, str | None]] = field(default_factory=dict)
    """From the last text that parsed."""
    names: Names = field(default_factory=Names)
    """From the last text that parsed: what completion offers and definition jumps to."""
    edits: int = 0
    """Bumped by every change: a debounced check that is no longer the newest gives up."""


class ArchspecServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("archspec", __version__)
        self.documents: dict[str, Document] = {}
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archspec-check")
        self.process: ProcessPoolExecutor | None = None
        """Checks a text of ``BIG_LINES`` or more, so its work (and garbage collection) never pauses the server."""
        self.beside_schema = False
        """The client runs the YAML language server with archspec's schema on these files (``beside``)."""

    async def check(self, uri: str, edit: int) -> None:
        """Analyse the document's current text on the checker thread and publish its diagnostics, unless a newer
        change (`Document.edits` past `edit`) has come meanwhile."""
        doc = self.workspace.get_text_document(uri)
        state = self.documents.setdefault(uri, Document())
        name = to_fs_path(uri) or uri
        text, version = doc.source, doc.version
        fmt = "json" if name.endswith(".json") else "yaml"
        beside = self.beside_schema
        big = text.count("\n") >= BIG_LINES

        def run() -> Analysis | None:
            if state.edits != edit:
                return None  # superseded while it waited for the one before
            return self.in_process(name, text, fmt, beside) if big else safe_analyse(name, text, fmt, beside)

        analysis = await asyncio.get_running_loop().run_in_executor(self.checker, run)
        if analysis is None or state.edits != edit or self.documents.get(uri) is not state:
            return  # superseded (or closed): the newer text's check publishes
        if analysis.layers is not None:
            state.last_good = analysis.layers
            state.inner = analysis.inner or []
        if analysis.variables is not None:
            state.variables = analysis.variables
        if analysis.names is not None:
            state.names = analysis.names
        lines = text.splitlines(keepends=True)
        self.text_document_publish_diagnostics(
            t.PublishDiagnosticsParams(
                uri=uri,
                version=version,
                diagnostics=[diagnostic(f, lines, doc.position_codec) for f in analysis.findings],
            )
        )

    def in_process(self, name: str, text: str, fmt: str, beside: bool) -> Analysis:
        """`safe_analyse` in the checker process (started on first use), waited for on the checker thread. A process
        that died (out of memory, a crash in a C extension) is replaced and the problem said on the document; where no
        process can be started, the text is checked on this thread."""
        try:
            if self.process is None:
                self.process = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            return unpacked(self.process.submit(packed, name, text, fmt, beside).result())
        except OSError:  # no process can be started here: check on this thread, as a short text is
            self.process = None
            return safe_analyse(name, text, fmt, beside)
        except BrokenProcessPool as exc:
            self.process = None
            return Analysis(
                [Finding(Problem(f"archspec lsp's checker stopped while checking this text ({exc})"), "error")]
            )

    def spots(self, uri: str) -> tuple[list[LayerSpot], Sequence[str], PositionCodec]:
        """The last good layers that still stand on an unchanged line; the document's lines and position codec."""
        doc = self.workspace.get_text_document(uri)
        state = self.documents.get(uri)
        lines = doc.lines
        return (unchanged(state.last_good, lines) if state else []), lines, doc.position_codec

    def inner(self, uri: str) -> list[InnerSpot]:
        """The last good layers inside blocks that still stand on an unchanged line."""
        state = self.documents.get(uri)
        return unchanged(state.inner, self.workspace.get_text_document(uri).lines) if state else []


Spot = TypeVar("Spot", LayerSpot, InnerSpot)


def unchanged(spots: list[Spot], lines: Sequence[str]) -> list[Spot]:
    """The spots whose line still reads as it did when they were computed."""
    return [s for s in spots if s.line < len(lines) and lines[s.line].rstrip("\r\n") == s.text]


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


@server.feature(t.INITIALIZE)
def initialize(ls: ArchspecServer, params: t.InitializeParams) -> None:
    """Read the client's options: `yamlSchema: true` says the YAML language server checks the form (``beside``)."""
    options = params.initialization_options
    ls.beside_schema = isinstance(options, dict) and options.get("yamlSchema") is True


@server.feature(t.SHUTDOWN)
def shutdown(ls: ArchspecServer, params: None) -> None:
    """Stop the checker process now: the editor waits for the server to exit."""
    if ls.process is not None:
        ls.process.shutdown(wait=False, cancel_futures=True)


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: ArchspecServer, params: t.DidOpenTextDocumentParams) -> None:
    state = ls.documents[params.text_document.uri] = Document()
    await ls.check(params.text_document.uri, state.edits)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: ArchspecServer, params: t.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    state = ls.documents.setdefault(uri, Document())
    state.edits += 1
    mine = state.edits
    await asyncio.sleep(DEBOUNCE_S)
    if state.edits == mine and ls.documents.get(uri) is state:
        await ls.check(uri, mine)


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ArchspecServer, params: t.DidCloseTextDocumentParams) -> None:
    ls.documents.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(t.TEXT_DOCUMENT_INLAY_HINT)
def inlay_hints(ls: ArchspecServer, params: t.InlayHintParams) -> list[t.InlayHint]:
    spots, lines, codec = ls.spots(params.text_document.uri)
    first, last = params.range.start.line, params.range.end.line
    shown: list[tuple[int, str]] = [(s.line, s.hint) for s in spots if first <= s.line <= last]
    shown += [(s.line, s.hint) for s in ls.inner(params.text_document.uri) if first <= s.line <= last]
    return [
        t.InlayHint(position=end_of(line, lines, codec), label=label, kind=t.InlayHintKind.Type, padding_left=True)
        for line, label in sorted(shown)
    ]


def end_of(line: int, lines: Sequence[str], codec: PositionCodec) -> t.Position:
    """The end of a line, in the client's units."""
    text = lines[line].rstrip("\r\n") if line < len(lines) else ""
    return codec.position_to_client_units(lines, t.Position(line, len(text)))


def markdown(text: str, where: t.Range | None = None) -> t.Hover:
    return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text), range=where)


@server.feature(t.TEXT_DOCUMENT_HOVER)
def hover(ls: ArchspecServer, params: t.HoverParams) -> t.Hover | None:
    """On `$name` its value; on a setting its reference; on a layer (a block, a `use:`) its figures and what it
    expands to; on a kind its reference."""
    uri = params.text_document.uri
    spots, lines, codec = ls.spots(uri)
    found = variable_hover(ls.documents.get(uri), lines, codec, params.position)
    if found is not None:
        return found
    line = params.position.line
    at = codec.position_from_client_units(lines, params.position)
    setting = setting_at(lines, at.line, at.character)
    about = setting_reference(*setting) if setting else None
    kind = kind_at(lines, codec, params.position)
    reference = about or (kind_reference(kind) if kind else "")
    for s in spots:
        if s.line <= line <= s.end_line:
            inner = next((i for i in ls.inner(uri) if i.line == line), None)
            figures = inner.hover() if inner else s.hover()
            return markdown(
                "\n\n---\n\n".join(x for x in (about, figures, reference if not about and line == s.line else "") if x),
                line_range(s, lines, codec),
            )
    inner = next((i for i in ls.inner(uri) if i.line == line), None)
    text = "\n\n---\n\n".join(x for x in (about, inner.hover() if inner else "", reference if not about else "") if x)
    return markdown(text) if text else None


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
        if (
            match.start() <= at.character <= match.end()
            and match.group(1) in state.variables
            and reads_variable(lines, position.line, match.start(), state.names)
        ):
            value, line, worked_out = state.variables[match.group(1)]
            where = codec.range_to_client_units(
                lines, t.Range(t.Position(position.line, match.start()), t.Position(position.line, match.end()))
            )
            value = f"`{value}`" + (f" = `{worked_out}`" if worked_out is not None else "")
            text = f"**${match.group(1)}** = {value}\n\nset in `variables:` on line {line + 1}"
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


@server.feature(t.TEXT_DOCUMENT_REFERENCES)
def find_references(ls: ArchspecServer, params: t.ReferenceParams) -> list[t.Location]:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    state = ls.documents.get(params.text_document.uri)
    if state is None:
        return []
    at = doc.position_codec.position_from_client_units(doc.lines, params.position)
    found = references(doc.lines, at.line, at.character, state.names, declaration=params.context.include_declaration)
    return [
        t.Location(
            uri=params.text_document.uri,
            range=doc.position_codec.range_to_client_units(
                doc.lines, t.Range(t.Position(o.line, o.start), t.Position(o.line, o.end))
            ),
        )
        for o in found
    ]


def serve() -> None:
    """Speak LSP on stdin/stdout until the editor says exit."""
    server.start_io()
