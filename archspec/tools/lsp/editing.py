"""Help while writing: completion, go to definition and "did you mean" quick fixes.

What is being written is read from the current line (mid-edit text seldom parses); what it may refer
to comes from the last text that parsed (``Names``: the reader's marks, not a search of the text).
Positions here are in code points; the server converts them to and from the client's units.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from lsprotocol import types as t
from pygls.workspace import PositionCodec

from ...kinds.base import valid_keys
from ...kinds.registry import KINDS
from ..reference import kind_reference
from .analysis import Names, Occurrence

AFTER_DOLLAR = re.compile(r"\$([A-Za-z0-9_]*)$")
AFTER_USE = re.compile(r"\b(?:use|block):\s*(?:\{\s*block:\s*)?([A-Za-z0-9_]*)$")
AFTER_INPUT = re.compile(r"\binputs?:\s*\[?(?:[^\]:{}]*,\s*)?([A-Za-z0-9_]*)$")
AFTER_DASH = re.compile(r"^\s*-\s*([A-Za-z0-9_]*)$")
FLOW_SETTINGS = re.compile(r"-\s*([A-Za-z_][A-Za-z0-9_]*):\s*\{([^{}]*)$")
AT_KEY = re.compile(r"(?:^|,)\s*([A-Za-z0-9_]*)$")
BLOCK_KIND = re.compile(r"^\s*-\s*([A-Za-z_][A-Za-z0-9_]*):\s*(?:#.*)?$")
BARE_KEY = re.compile(r"^(\s+)([A-Za-z0-9_]*)$")
WORD = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*")
REFERS_TO_TEMPLATE = re.compile(r"\b(?:use|block):")
REFERS_TO_LAYER = re.compile(r"\b(?:inputs?|outputs):")
SUGGESTION = re.compile(r"did you mean (?:'([^']+)'|\"([^\"]+)\"|(\$[A-Za-z_][A-Za-z0-9_]*))\?")
KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*:")
VARIANT_KEY = re.compile(r"^\s+[^\s:#]+:\s*\{(?:[^{}]*,)?\s*([A-Za-z0-9_]*)$")
"""`  b3: {width: 1.2, de`: a variant's values, written flow style, at a key."""
BARE_VARIANT_KEY = re.compile(r"^\s{3,}([A-Za-z0-9_]*)$")
"""A key on its own line under a variant (block style)."""
WRITTEN_NAME = re.compile(r"['\"]?(\$?[^\s:,\[\]{}'\"]+)")


@cache
def _reference(kind: str) -> str:
    return kind_reference(kind)


def _markdown(text: str) -> t.MarkupContent:
    return t.MarkupContent(kind=t.MarkupKind.Markdown, value=text)


def _items(
    names: list[str],
    line: int,
    start: int,
    end: int,
    kind: t.CompletionItemKind,
    docs: dict[str, str] | None = None,
    detail: str | None = None,
) -> list[t.CompletionItem]:
    """Items that replace the word typed so far (`start`..`end` on `line`)."""
    where = t.Range(t.Position(line, start), t.Position(line, end))
    return [
        t.CompletionItem(
            label=n,
            kind=kind,
            detail=detail,
            text_edit=t.TextEdit(range=where, new_text=n),
            documentation=_markdown(docs[n]) if docs and docs.get(n) else None,
        )
        for n in names
    ]


def _settings(kind: str) -> tuple[list[str], dict[str, str]]:
    """A kind's valid keys and each one's description (its field's, else the kind's reference)."""
    schema = KINDS[kind].schema
    docs = {}
    for key in sorted(valid_keys(schema)):
        fieldinfo = schema.model_fields.get(key)
        docs[key] = (fieldinfo.description if fieldinfo and fieldinfo.description else "") or _reference(kind)
    return sorted(docs), docs


def _block_kind(lines: Sequence[str], line: int, indent: int) -> str | None:
    """The kind of `- conv:` above a setting written on its own line (block style), if that is where `line` is."""
    for above in range(line - 1, -1, -1):
        text = lines[above].rstrip("\r\n")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if len(text) - len(text.lstrip()) >= indent:
            continue
        match = BLOCK_KIND.match(text)
        return match.group(1) if match else None
    return None


def _section(lines: Sequence[str], line: int) -> str | None:
    """The top-level key whose block `line` is in (`variants` for a line under `variants:`)."""
    for above in range(line, -1, -1):
        text = lines[above].rstrip("\r\n")
        if text[:1].isalpha() or text[:1] == "_":
            return text.split(":", 1)[0].strip()
    return None


def completions(lines: Sequence[str], line: int, character: int, names: Names) -> list[t.CompletionItem]:
    """What may be written at the cursor: a variable, a template, an earlier layer's name, a setting or a kind."""
    text = lines[line].rstrip("\r\n") if line < len(lines) else ""
    before = text[:character]
    if match := AFTER_DOLLAR.search(before):
        return _items(sorted(names.variables), line, match.start(1), character, t.CompletionItemKind.Variable)
    if (key := VARIANT_KEY.match(before) or BARE_VARIANT_KEY.match(before)) and _section(lines, line) == "variants":
        values = {n: f"declared `{n}` (variables:, line {at + 1})" for n, (at, _col) in names.variables.items()}
        start = character - len(key.group(1))
        return _items(sorted(values), line, start, character, t.CompletionItemKind.Variable, values)
    if match := AFTER_USE.search(before):
        from ...spec.library import builtin_templates

        own = sorted(names.templates)
        built_in = sorted(set(builtin_templates()) - set(own))
        return _items(own, line, match.start(1), character, t.CompletionItemKind.Module, detail="blocks:") + _items(
            built_in, line, match.start(1), character, t.CompletionItemKind.Module, detail="built-in template"
        )
    if before[:1].isspace() and (match := AFTER_INPUT.search(before)):  # top-level `input:` is a shape, not a layer
        earlier = [n for n, (at, _col) in names.layers.items() if at < line]
        return _items(earlier, line, match.start(1), character, t.CompletionItemKind.Reference)
    if (flow := FLOW_SETTINGS.search(before)) and (key := AT_KEY.search(flow.group(2))) and flow.group(1) in KINDS:
        keys, docs = _settings(flow.group(1))
        return _items(keys, line, character - len(key.group(1)), character, t.CompletionItemKind.Property, docs)
    if match := AFTER_DASH.match(before):
        kinds = sorted(KINDS)
        return _items(
            kinds, line, match.start(1), character, t.CompletionItemKind.Class, {k: _reference(k) for k in kinds}
        )
    if (
        (bare := BARE_KEY.match(before))
        and (kind := _block_kind(lines, line, len(bare.group(1)))) is not None
        and kind in KINDS
    ):
        keys, docs = _settings(kind)
        return _items(keys, line, bare.start(2), character, t.CompletionItemKind.Property, docs)
    return []


def reads_variable(lines: Sequence[str], line: int, start: int, names: Names) -> bool:
    """Whether the `$name` written at `start` reads a variable: anywhere but in a template, where `$filters` is
    mostly its parameter (in a template: only where the last text that parsed found a variable there)."""
    if _section(lines, line) != "blocks":
        return True
    return any(o.what == "variable" and (o.line, o.start) == (line, start) for o in names.occurrences)


def definition(lines: Sequence[str], line: int, character: int, names: Names) -> tuple[int, int] | None:
    """Where the name at the cursor is defined: `$name` under `variables:`, a template under `blocks:`,
    a layer name (in `input:`/`inputs:`/`outputs:`) at its `name:`."""
    text = lines[line].rstrip("\r\n") if line < len(lines) else ""
    word = next((m for m in WORD.finditer(text) if m.start() <= character <= m.end()), None)
    if word is None:
        return None
    name, before = word.group(), text[: word.start()]
    if name.startswith("$"):
        return names.variables.get(name[1:]) if reads_variable(lines, line, word.start(), names) else None
    if REFERS_TO_TEMPLATE.search(before) and name in names.templates:
        return names.templates[name]
    if REFERS_TO_LAYER.search(before) and name in names.layers:
        return names.layers[name]
    return None


def setting_at(lines: Sequence[str], line: int, character: int) -> tuple[str, str] | None:
    """(kind, key) when the cursor is on a setting's key: `kernel` in `- conv: {depth: 6, kernel: 5}` or on its own
    line under `- conv:`."""
    text = lines[line].rstrip("\r\n") if line < len(lines) else ""
    key = next((m for m in KEY.finditer(text) if m.start() <= character <= m.end(1)), None)
    if key is None:
        return None
    before = text[: key.start()]
    if (flow := FLOW_SETTINGS.search(before)) and AT_KEY.search(flow.group(2)):
        kind: str | None = flow.group(1)
    elif not before.strip():
        kind = _block_kind(lines, line, len(before))
    else:
        return None
    return (kind, key.group(1)) if kind is not None and kind in KINDS else None


def references(lines: Sequence[str], line: int, character: int, names: Names, *, declaration: bool) -> list[Occurrence]:
    """Every place the variable, template or layer name at the cursor is written (its definition too, with
    `declaration`), from the last text that parsed, kept only where the text still reads the same."""

    def still(o: Occurrence) -> bool:
        return o.line < len(lines) and lines[o.line][o.start : o.end] in (o.name, f"${o.name}")

    at = next((o for o in names.occurrences if o.line == line and o.start <= character <= o.end and still(o)), None)
    if at is None:
        return []
    return [
        o
        for o in names.occurrences
        if (o.what, o.name) == (at.what, at.name) and (declaration or not o.definition) and still(o)
    ]


def code_actions(
    uri: str, lines: Sequence[str], codec: PositionCodec, diagnostics: Sequence[t.Diagnostic]
) -> list[t.CodeAction]:
    """A quick fix for each archspec diagnostic whose hint says `did you mean 'X'?`: the name it underlines becomes
    X."""
    actions = []
    for diag in diagnostics:
        suggestion = SUGGESTION.search(diag.message) if diag.source == "archspec" else None
        if suggestion is None:
            continue
        new = next(g for g in suggestion.groups() if g)
        where = codec.range_from_client_units(lines, diag.range)
        line = where.start.line
        text = lines[line].rstrip("\r\n") if line < len(lines) else ""
        written = WRITTEN_NAME.match(text, where.start.character, max(where.end.character, where.start.character))
        if written is None or written.group(1) == new:
            continue
        span = t.Range(t.Position(line, written.start(1)), t.Position(line, written.end(1)))
        edit = t.TextEdit(range=codec.range_to_client_units(lines, span), new_text=new)
        actions.append(
            t.CodeAction(
                title=f"Change {written.group(1)!r} to {new!r}",
                kind=t.CodeActionKind.QuickFix,
                diagnostics=[diag],
                is_preferred=True,
                edit=t.WorkspaceEdit(changes={uri: [edit]}),
            )
        )
    return actions
