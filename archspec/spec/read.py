"""Reading spec text into plain data plus a map of where every value came from.

YAML is composed with PyYAML's *safe* loader (libyaml's when available) and turned into Python objects
by our own walk over the node tree. The walk is where the safety rules live:
only the standard scalar tags are accepted (no ``!!python/...``), duplicate
keys are errors, aliases cannot blow up (a node budget bounds the expanded
size), and nesting depth and file size are bounded before parsing starts.
JSON goes through the ``json`` module for exact JSON semantics; PyYAML then
composes the same text only to learn line and column numbers.

Mapping keys are names (fields, variables, variants, templates, outputs), so each is kept as
the text written: `0.75:` is the name '0.75' and `yes:` the name 'yes', never a number or a
boolean that `--variant 0.75` could not match.

Numbers follow what people mean rather than YAML 1.1's letter: ``5e-1`` and
``1.0e300`` are numbers (YAML 1.1 reads them as text), while ``010`` (octal 8
in YAML 1.1) and ``3:3`` (base 60) are refused with what to write instead.
NaN and infinities are refused wherever they come from.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from ..errors import PathPart, Problem, SpecError
from .given import words

MAX_BYTES = 4 * 1024 * 1024
"""Largest spec file accepted. The biggest zoo spec is a few kilobytes."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""
MAX_NODES = 200_000
"""Most values a document may hold once aliases are expanded (billion-laughs guard)."""

MAX_DIGITS = 40
"""Longest number accepted, in characters (Python refuses to even print a 4,300-digit one)."""

_TAG = "tag:yaml.org,2002:"
_STR = _TAG + "str"
_EXPONENT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")
"""Floats YAML 1.2 reads and YAML 1.1 leaves as text (no dot, or no sign in the exponent)."""


def reads_as_number(text: str) -> bool:
    """Whether plain text reads as a number here though YAML 1.1 keeps it text (`5e-1`): writers quote it."""
    return bool(_EXPONENT.fullmatch(text))


_OCTAL = re.compile(r"[-+]?0[0-7_]+")

_SAFE_TAGS = {"tag:yaml.org,2002:" + t for t in ("null", "bool", "int", "float", "str", "map", "seq")}

Mark = tuple[int, int]


@dataclass(frozen=True, kw_only=True)
class Source:
    """Parsed spec data and the positions of its values (1-based line, column)."""

    data: Any
    file: str | None = None
    text: str = ""
    values: dict[tuple[PathPart, ...], Mark] = field(default_factory=dict)
    keys: dict[tuple[PathPart, ...], Mark] = field(default_factory=dict)
    overrides: dict[tuple[PathPart, ...], str] = field(default_factory=dict)
    """Fields a `--set` replaced -> the assignment in the caller's words (`--set input=[1]`): problems there are
    located at the option, since the file's text at that spot is the value that was replaced."""
    derived: dict[tuple[PathPart, ...], str] = field(default_factory=dict)
    """Expressions that use a variable `--set` gave -> which ones, named in the hints of problems there."""

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
        for end in range(len(path), 0, -1):
            if path[:end] in self.overrides:
                spot = self.values.get(path[:end])
                replaced = f" (it replaces the value at {self.file}:{spot[0]})" if spot and self.file else ""
                return Problem(
                    message,
                    file=words().origin,
                    path=path,
                    hint="; ".join(filter(None, (hint, f"from {self.overrides[path[:end]]}{replaced}"))),
                )
            if path[:end] in self.derived:
                hint = "; ".join(filter(None, (hint, self.derived[path[:end]])))
                break
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


def _problem(
    text: str, file: str | None, line: int | None, col: int | None, msg: str, hint: str | None = None
) -> SpecError:
    source = Source(data=None, file=file, text=text)
    return SpecError(Problem(msg, file=file, line=line, column=col, hint=hint, source_line=source.line_text(line)))


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
                raise yaml.MarkedYAMLError(
                    problem=f"nesting deeper than {MAX_DEPTH} levels",
                    problem_mark=cast(yaml.Mark, event.start_mark),  # libyaml's Mark: the same fields
                )
        elif isinstance(event, _CLOSE):
            depth -= 1


class _Walker:
    """Turns a composed YAML node tree into Python data, recording positions."""

    def __init__(self, loader: Any, source_file: str | None, text: str, marks_only: bool = False) -> None:
        self.loader = loader
        self.marks_only = marks_only
        """Only positions are wanted (JSON, parsed by `json`): scalars stay as written."""
        self.file = source_file
        self.text = text
        self.values: dict[tuple[PathPart, ...], Mark] = {}
        self.keys: dict[tuple[PathPart, ...], Mark] = {}
        self.count = 0
        self.open: set[int] = set()
        """Collection nodes being walked: meeting one again means an alias inside its own anchor."""
        self.data: Any = None
        """The document as Python data, once walked (``_compose``)."""

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
            return self.scalar(node)
        if id(node) in self.open:
            raise _recursive_alias(self.text, self.file, node)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.walk(child, (*path, i)) for i, child in enumerate(node.value)]
            return self.mapping(cast(yaml.MappingNode, node), path)  # the third kind of node there is
        finally:
            self.open.discard(id(node))

    def scalar(self, node: yaml.ScalarNode) -> Any:
        """A scalar's value; plain numbers are read as people mean them (see the module docstring)."""
        text, tag = node.value, node.tag
        if self.marks_only:
            return text
        if not node.style and tag in (_TAG + "int", _TAG + "float"):
            if len(text) > MAX_DIGITS:
                raise self.fail(node, f"a number of {len(text):,} characters is too large")
            if ":" in text:
                raise self.fail(
                    node,
                    f"YAML 1.1 reads {text} as the base-60 number {self.loader.construct_object(node)}",
                    "write a pair as a list ([3, 3]); quote it if it is text",
                )
            if tag == _TAG + "int" and _OCTAL.fullmatch(text):
                raise self.fail(
                    node,
                    f"YAML 1.1 reads {text} as the octal number {self.loader.construct_object(node)}",
                    f"write {self.loader.construct_object(node)}, or {text.lstrip('+-0_') or '0'} without the leading "
                    "zero",
                )
        if tag == _STR:  # what PyYAML's constructor returns for a string, without its dispatch (most scalars are names)
            value: Any = (
                float(text) if not node.style and _EXPONENT.fullmatch(text) else text
            )  # 5e-1: a number in YAML 1.2 and to every reader; text to YAML 1.1
        else:
            value = self.loader.construct_object(node, deep=True)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(node, f"{text} is not a finite number", "specs hold finite numbers only")
        return value

    def mapping(self, node: yaml.MappingNode, path: tuple[PathPart, ...]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag.endswith(":merge"):
                raise self.fail(
                    key_node, "YAML merge keys (<<) are not supported", "write the keys out, or use a block template"
                )
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SAFE_TAGS:
                raise self.fail(key_node, "mapping keys must be plain names")
            key = key_node.value  # every key of a spec is a name: kept as written, `0.75:` is '0.75' and `yes:` 'yes'
            if key in out:
                first = self.keys[(*path, key)]
                raise self.fail(
                    key_node,
                    f"duplicate key {key!r}",
                    f"first given at line {first[0]}; each key may appear once",
                )
            self.keys[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.walk(value_node, (*path, key))
        return out


def _recursive_alias(text: str, file: str | None, node: yaml.Node) -> SpecError:
    """The alias that sits inside its own anchor's value, found by scanning events (composed
    nodes no longer say where an alias was written)."""
    anchors: list[str | None] = []
    for event in yaml.parse(text, Loader=_FAST or yaml.SafeLoader):
        if isinstance(event, _OPEN):
            anchors.append(event.anchor)
        elif isinstance(event, _CLOSE):
            anchors.pop()
        elif isinstance(event, yaml.AliasEvent) and event.anchor in anchors:
            m = event.start_mark
            return _problem(
                text,
                file,
                m.line + 1 if m is not None else None,
                m.column + 1 if m is not None else None,
                f"alias *{event.anchor} sits inside the value anchored &{event.anchor}: that value would contain "
                "itself",
                "an alias may repeat a value written before it, not one it is part of",
            )
    m = node.start_mark
    return _problem(text, file, m.line + 1, m.column + 1, "a YAML alias refers to a value that contains it")


def _compose(text: str, file: str | None, *, marks_only: bool = False) -> _Walker | None:
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
            raise _problem(
                text, file, mark.line + 1 if mark else None, mark.column + 1 if mark else None, msg
            ) from None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            raise _problem(text, file, line, None, f"character #x{exc.character:04x} is not allowed in YAML") from None
        except yaml.YAMLError as exc:
            raise _problem(text, file, None, None, f"YAML error: {exc}") from None
        if node is None:
            return None
        walker = _Walker(loader, file, text, marks_only)
        walker.data = walker.walk(node, ())
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


class _HugeNumber:
    """Stands for a JSON integer too long to convert; `_json_numbers` reports it where it sits."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _json_int(text: str) -> int | _HugeNumber:
    return int(text) if len(text) <= MAX_DIGITS else _HugeNumber(len(text))


def _json_numbers(source: Source, data: Any, path: tuple[PathPart, ...]) -> None:
    """JSON's NaN, Infinity and overflowing numbers (1e999) are not numbers a spec can hold."""
    if isinstance(data, float) and not math.isfinite(data):
        raise SpecError(source.problem(path, f"{data} is not a finite number", "specs hold finite numbers only"))
    if isinstance(data, _HugeNumber):
        raise SpecError(source.problem(path, f"a number of {data.digits:,} characters is too large"))
    children = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in children:
        _json_numbers(source, value, (*path, key))


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
        raise _problem(
            text, file, None, None, "the spec is empty", "a spec is a mapping with at least `input` and `layers`"
        )
    if fmt == "json":
        try:
            data = json.loads(text, object_pairs_hook=_reject_duplicates, parse_int=_json_int)
        except json.JSONDecodeError as exc:
            raise _problem(text, file, exc.lineno, exc.colno, f"JSON syntax error: {exc.msg}") from None
        except _DuplicateKey as exc:
            _compose(text, file)  # PyYAML locates the duplicate when it can parse the text
            raise _problem(text, file, None, None, f"duplicate key {exc.key!r}", "each key may appear once") from None
        except RecursionError:
            raise _problem(text, file, None, None, f"nesting deeper than {MAX_DEPTH} levels") from None
        walker = _try_marks(text, file)
        values, keys = (walker.values, walker.keys) if walker else ({}, {})
        _json_numbers(Source(data=data, file=file, text=text, values=values, keys=keys), data, ())
    else:
        walker = _compose(text, file)
        if walker is None:
            raise _problem(
                text, file, None, None, "the spec is empty", "a spec is a mapping with at least `input` and `layers`"
            )
        data, values, keys = walker.data, walker.values, walker.keys
    if not isinstance(data, dict):
        raise _problem(
            text,
            file,
            1,
            1,
            f"the top level of a spec must be a mapping, got {type(data).__name__}",
            "start with `name:`, `input:` and `layers:`",
        )
    return Source(data=data, file=file, text=text, values=values, keys=keys)


def parse_value(text: str) -> Any:
    """One value written on its own (a `--set` value), read by the same rules as a spec file."""
    if not text.strip():
        return None
    walker = _compose(text, None)
    return None if walker is None else walker.data


def _try_marks(text: str, file: str | None) -> _Walker | None:
    """Positions for JSON text, if PyYAML can compose it; positions are a courtesy."""
    try:
        return _compose(text, file, marks_only=True)
    except SpecError:
        return None


def read_text(path: str | os.PathLike[str]) -> str:
    """A spec file's text, refused when missing, a folder, over the size limit or not UTF-8 (nothing parsed yet)."""
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
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _problem("", name, None, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise _problem("", name, None, None, f"cannot read: {exc.strerror}") from None


def format_of(path: str | os.PathLike[str]) -> str:
    """A spec file's format by its extension: json for .json, yaml otherwise."""
    return "json" if Path(path).suffix.lower() == ".json" else "yaml"


def read(path: str | os.PathLike[str]) -> Source:
    """Read and parse a spec file; the format follows the extension (.json or YAML)."""
    return parse(read_text(path), str(path), fmt=format_of(path))
