"""Reading spec text into plain data plus a map of where every value came from.

YAML is composed with PyYAML's *safe* loader (libyaml's when available) and turned into Python objects
by our own walk over the node tree. The walk is where the safety rules live:
only the standard scalar tags are accepted (no ``!!python/...``), duplicate
keys are errors, aliases cannot blow up (a node budget bounds the expanded
size), and nesting depth and file size are bounded before parsing starts.
JSON goes through the ``json`` module for exact JSON semantics; PyYAML then
composes the same text only to learn line and column numbers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..errors import PathPart, Problem, SpecError

MAX_BYTES = 4 * 1024 * 1024
"""Largest spec file accepted. The biggest zoo spec is a few kilobytes."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""
MAX_NODES = 200_000
"""Most values a document may hold once aliases are expanded (billion-laughs guard)."""

_SAFE_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("null", "bool", "int", "float", "str", "map", "seq")
}

Mark = tuple[int, int]


@dataclass(frozen=True)
class Source:
    """Parsed spec data and the positions of its values (1-based line, column)."""

    data: Any
    file: str | None = None
    text: str = ""
    values: dict[tuple[PathPart, ...], Mark] = field(default_factory=dict)
    keys: dict[tuple[PathPart, ...], Mark] = field(default_factory=dict)

    def problem(
        self,
        path: Sequence[PathPart],
        message: str,
        hint: str | None = None,
        *,
        at_key: bool = False,
    ) -> Problem:
        """A Problem located at ``path``, or at its nearest ancestor that has a mark."""
        path = tuple(path)
        mark = None
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            table = self.keys if (at_key and end == len(path)) else self.values
            mark = table.get(prefix) or self.values.get(prefix)
            if mark:
                break
        line, column = mark if mark else (None, None)
        return Problem(
            message,
            file=self.file,
            line=line,
            column=column,
            path=path,
            hint=hint,
            source_line=self.line_text(line),
        )

    def line_text(self, line: int | None) -> str | None:
        if line is None or not self.text:
            return None
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else None


def _problem(text: str, file: str | None, line: int | None, col: int | None, msg: str, hint: str | None = None) -> SpecError:
    source = Source(None, file, text)
    return SpecError(
        Problem(msg, file=file, line=line, column=col, hint=hint, source_line=source.line_text(line))
    )


_FAST = getattr(yaml, "CSafeLoader", None)
"""libyaml's safe loader, when PyYAML was built with it: about four times faster on big specs."""
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_depth(text: str) -> None:
    """Refuse deep nesting before composing: the composer recurses once per level.

    libyaml's parser is iterative, so scanning its events is cheap and safe at any depth."""
    depth = 0
    for event in yaml.parse(text, Loader=_FAST or yaml.SafeLoader):
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise yaml.MarkedYAMLError(problem=f"nesting deeper than {MAX_DEPTH} levels", problem_mark=event.start_mark)
        elif isinstance(event, _CLOSE):
            depth -= 1


class _Walker:
    """Turns a composed YAML node tree into Python data, recording positions."""

    def __init__(self, loader: Any, source_file: str | None, text: str) -> None:
        self.loader = loader
        self.file = source_file
        self.text = text
        self.values: dict[tuple[PathPart, ...], Mark] = {}
        self.keys: dict[tuple[PathPart, ...], Mark] = {}
        self.count = 0

    def fail(self, node: yaml.Node, msg: str, hint: str | None = None) -> SpecError:
        m = node.start_mark
        return _problem(self.text, self.file, m.line + 1, m.column + 1, msg, hint)

    def walk(self, node: yaml.Node, path: tuple[PathPart, ...]) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                node,
                f"the document expands to more than {MAX_NODES:,} values",
                "YAML aliases (*name) are expanded in full; a spec this large is refused",
            )
        self.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _SAFE_TAGS:
            raise self.fail(
                node,
                f"YAML tag {node.tag!r} is not allowed",
                "specs are plain data: mappings, lists, strings, numbers, booleans and null",
            )
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(child, path + (i,)) for i, child in enumerate(node.value)]
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag.endswith(":merge"):
                raise self.fail(key_node, "YAML merge keys (<<) are not supported", "write the keys out, or use a block template")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SAFE_TAGS:
                raise self.fail(key_node, "mapping keys must be plain strings or numbers")
            key = self.loader.construct_object(key_node)
            if key in out:
                first = self.keys[path + (key,)]
                raise self.fail(
                    key_node,
                    f"duplicate key {key!r}",
                    f"first given at line {first[0]}; each key may appear once",
                )
            self.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.walk(value_node, path + (key,))
        return out


def _compose(text: str, file: str | None) -> _Walker | None:
    """Compose YAML text; returns the walker (holding data) or None for an empty document."""
    try:
        loader = (_FAST or yaml.SafeLoader)(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise _problem(text, file, line, col, f"character #x{exc.character:04x} is not allowed in YAML") from None
    try:
        try:
            _check_depth(text)
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            msg = "YAML syntax error: " + (exc.problem or exc.context or "invalid YAML")
            if exc.context and exc.problem:
                msg = f"YAML syntax error: {exc.problem} ({exc.context})"
            if "nesting" in (exc.problem or ""):  # ours, or libyaml's own limit of 1,000 flow levels
                msg = f"nesting deeper than {MAX_DEPTH} levels"
            line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
            raise _problem(text, file, line, col, msg) from None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            raise _problem(text, file, line, None, f"character #x{exc.character:04x} is not allowed in YAML") from None
        except yaml.YAMLError as exc:
            raise _problem(text, file, None, None, f"YAML error: {exc}") from None
        if node is None:
            return None
        walker = _Walker(loader, file, text)
        walker.data = walker.walk(node, ())  # type: ignore[attr-defined]
        return walker
    finally:
        loader.dispose()


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def parse(text: str, file: str | None = None, *, fmt: str | None = None) -> Source:
    """Parse spec text (YAML, or JSON when ``fmt == 'json'``) into a Source.

    Raises SpecError for anything that is not a single mapping of plain data.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _problem("", file, None, None, f"spec is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    if not text.strip():
        raise _problem(text, file, None, None, "the spec is empty", "a spec is a mapping with at least `input` and `layers`")
    if fmt == "json":
        try:
            data = json.loads(text, object_pairs_hook=_reject_duplicates)
        except json.JSONDecodeError as exc:
            raise _problem(text, file, exc.lineno, exc.colno, f"JSON syntax error: {exc.msg}") from None
        except _DuplicateKey as exc:
            _compose(text, file)  # PyYAML locates the duplicate when it can parse the text
            raise _problem(text, file, None, None, f"duplicate key {exc.key!r}", "each key may appear once") from None
        except RecursionError:
            raise _problem(text, file, None, None, f"nesting deeper than {MAX_DEPTH} levels") from None
        walker = _try_marks(text, file)
        values, keys = (walker.values, walker.keys) if walker else ({}, {})
    else:
        walker = _compose(text, file)
        if walker is None:
            raise _problem(text, file, None, None, "the spec is empty", "a spec is a mapping with at least `input` and `layers`")
        data, values, keys = walker.data, walker.values, walker.keys  # type: ignore[attr-defined]
    if not isinstance(data, dict):
        raise _problem(
            text, file, 1, 1,
            f"the top level of a spec must be a mapping, got {type(data).__name__}",
            "start with `name:`, `input:` and `layers:`",
        )
    return Source(data, file, text, values, keys)


def _try_marks(text: str, file: str | None) -> _Walker | None:
    """Positions for JSON text, if PyYAML can compose it; positions are a courtesy."""
    try:
        return _compose(text, file)
    except SpecError:
        return None


def read(path: str | os.PathLike[str]) -> Source:
    """Read and parse a spec file; the format follows the extension (.json or YAML)."""
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise _problem("", name, None, None, "no such file", "check the path") from None
    except OSError as exc:
        raise _problem("", name, None, None, f"cannot read: {exc.strerror}") from None
    if p.is_dir():
        raise _problem("", name, None, None, "is a directory, not a spec file")
    if size > MAX_BYTES:
        raise _problem("", name, None, None, f"spec is {size:,} bytes; the limit is {MAX_BYTES:,}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _problem("", name, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise _problem("", name, None, None, f"cannot read: {exc.strerror}") from None
    fmt = "json" if p.suffix.lower() == ".json" else "yaml"
    return parse(text, name, fmt=fmt)
