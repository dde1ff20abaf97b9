"""What the editor shows for one document's text: its problems and the figures of each top-level layer.

The text goes through the pure-Python path `archspec validate` takes (``spec.read.parse``,
``spec.validate``, ``graph.checked`` with the CLI's budgets), so a diagnostic reads as the CLI's
message for the same file. No pygls here (plain data; the server turns it into LSP types), no TensorFlow.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

from ...errors import PathPart, Problem, SpecError, clipped, escaped, shown
from ...graph import checked
from ...graph.ir import Graph
from ...graph.report import GroupInfo, LayerInfo, Report
from ...kinds.registry import KINDS, Block
from ...spec.read import Source, parse
from ...spec.validate import validate
from ..table import count_text, shape_text
from .beside import schema_lines


@dataclass(frozen=True)
class Finding:
    """A problem with its severity ('error' or 'warning'), as the CLI would print it."""

    problem: Problem
    severity: str

    @property
    def text(self) -> str:
        """The CLI's words (invisible characters escaped, long values clipped, as it prints them): the field path,
        the message, the hint on its own line; no file or line, since the editor underlines the place."""
        p = self.problem
        hint = f"\nhint: {clipped(escaped(p.hint))}" if p.hint else ""
        field_path = f"{escaped(p.field_path)}: " if p.path else ""
        return f"{field_path}{clipped(escaped(p.message))}{hint}"


@dataclass(frozen=True)
class Member:
    """One node a written layer expands to: what hover on a block lists."""

    name: str
    op: str
    shape: str
    params: int


EXPANSION_SHOWN = 40
"""Hover lists at most this many nodes of an expansion (a ResNet stage has dozens), then says how many more."""


def expansion(members: tuple[Member, ...]) -> str:
    """The nodes a block expands to, one markdown line each: name, kind, output shape, parameters."""
    rows = [
        f"- `{m.name}` {m.op}: `{m.shape}`" + (f", {m.params:,} params" if m.params else "")
        for m in members[:EXPANSION_SHOWN]
    ]
    more = len(members) - EXPANSION_SHOWN
    return "\n".join(
        [f"expands to {len(members)} layers:", "", *rows] + ([f"- ... and {more} more"] if more > 0 else [])
    )


@dataclass(frozen=True)
class LayerSpot:
    """One top-level spec layer: where it is written (0-based lines) and what it computes."""

    index: int
    name: str
    kind: str
    line: int
    end_line: int
    text: str
    """The source line it starts on: a hint kept from an older text is shown only where this line is unchanged."""
    info: GroupInfo | None = None
    """None for a layer `when` leaves out."""
    members: tuple[Member, ...] = ()
    """What it expands to, when that is more than one node (a block; a conv with `bn`)."""
    block: bool = False
    """Its kind is a block (`residual`, `use`, `stage`): its hint summarises it."""

    @property
    def hint(self) -> str:
        """The inlay hint: its output shape (a block's summarised: how many layers, how many parameters), or that it
        is skipped."""
        if self.info is None:
            return "skipped (when: false)"
        shape = shape_text(self.info.output_shape)
        if not self.block:
            return shape
        params = f", {count_text(self.info.params)} params" if self.info.params else ""
        return f"{shape} ({self.info.nodes} layers{params})"

    def hover(self) -> str:
        """The row `archspec shapes` prints for it, as markdown."""
        if self.info is None:
            return f"**{self.name}** ({self.kind}): left out, `when` is false"
        g = self.info
        rf = (
            str(g.receptive_field[0])
            if g.receptive_field[0] == g.receptive_field[1]
            else "x".join(map(str, g.receptive_field))
        )
        return "\n".join(
            (
                f"**{g.name}** {g.label}",
                "",
                f"- output: `{shape_text(g.output_shape)}`",
                f"- params: {g.params:,}",
                f"- MACs: {count_text(g.macs)}",
                f"- receptive field: {rf}",
            )
        ) + (f"\n\n{expansion(self.members)}" if self.members else "")


@dataclass(frozen=True)
class InnerSpot:
    """A layer written inside a block (a residual's body, a template's layers): its line and what it gives there."""

    line: int
    text: str
    """The source line, as for ``LayerSpot``."""
    hint: str
    """Its output shape; a template's layer gives one per distinct use (`56x56x64 | 28x28x128`)."""
    members: tuple[Member, ...] = ()

    def hover(self) -> str:
        if not self.members:
            return f"output: `{self.hint}`"
        return f"output: `{self.hint}`\n\n{expansion(self.members)}"


SPEC_KEYS = frozenset({"layers", "input", "inputs", "blocks"})
"""A YAML mapping with none of these keys is some other file (a CI workflow, a config): an editor that
starts the server for every YAML file gets no diagnostics for it (a workflow's `name:` alone does not make
a spec). An empty file, and a spec begun with any of these keys, still get theirs."""


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)
    layers: list[LayerSpot] | None = None
    """None when the text does not expand (the server keeps the last good layers)."""
    inner: list[InnerSpot] | None = None
    """The layers written inside blocks and templates; None when the text does not expand."""
    variables: dict[str, tuple[str, int, str | None]] | None = None
    """Each declared variable -> (its value as written, the 0-based line it is set on, the value it works out to when
    that differs and the text validates); None when the text does not parse."""
    names: Names | None = None
    """Where templates, variables and layer names are defined; None when the text does not parse."""


@dataclass
class Names:
    """What completion offers and go to definition jumps to, with 0-based (line, column) from the reader's marks."""

    variables: dict[str, tuple[int, int]] = field(default_factory=dict)
    templates: dict[str, tuple[int, int]] = field(default_factory=dict)
    layers: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Each `name:` given to a layer (top level or in a template) -> where its value is written; the first one wins."""
    occurrences: list[Occurrence] = field(default_factory=list)
    """Every place a variable, template or layer name is defined or used: what find-references returns."""


@dataclass(frozen=True)
class Occurrence:
    """A name written in the text: `what` is 'variable', 'template' or 'layer'; 0-based line, [start, end) columns
    of the token as written (`$width` with its dollar)."""

    what: str
    name: str
    line: int
    start: int
    end: int
    definition: bool


LAYER_REFERENCES = frozenset({"input", "inputs", "outputs"})
"""Keys whose values name layers (alone, in a list, or as a mapping's values)."""
VARIABLE_USE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _names(source: Source, lines: list[str]) -> Names:
    """The names a spec defines and uses, located by the reader's marks (no text search: a name in a comment is
    neither); the line's text only gives a token's extent."""
    data = source.data if isinstance(source.data, dict) else {}
    out = Names()
    for section, table, what in (("variables", out.variables, "variable"), ("blocks", out.templates, "template")):
        if isinstance(data.get(section), dict):
            for key in data[section]:
                mark = source.keys.get((section, key))
                if mark:
                    table[str(key)] = (mark[0] - 1, mark[1] - 1)
                    _occurs(out, lines, what, str(key), mark, definition=True)
    if isinstance(data.get("variants"), dict):  # a variant's keys are variables it sets
        for variant, values in data["variants"].items():
            for key in values if isinstance(values, dict) else ():
                if (mark := source.keys.get(("variants", variant, key))) is not None:
                    _occurs(out, lines, "variable", str(key), mark, definition=False)
    for path, mark in sorted(source.values.items(), key=lambda item: item[1]):
        value = _at(data, path)
        if not isinstance(value, str) or not path:
            continue
        if path[-1] == "name" and "layers" in path:
            out.layers.setdefault(value, (mark[0] - 1, mark[1] - 1))
            _occurs(out, lines, "layer", value, mark, definition=True)
        elif path[-1] in LAYER_REFERENCES or (len(path) > 1 and path[-2] in LAYER_REFERENCES):
            _occurs(out, lines, "layer", value, mark, definition=False)
        elif path[-1] == "block" and "layers" in path:
            _occurs(out, lines, "template", value, mark, definition=False)
        if "$" in value:
            own = _params(data, path)
            for variable in VARIABLE_USE.finditer(value):
                if variable.group(1) not in own:  # a template's `$filters` is its parameter, not the variable
                    _occurs(out, lines, "variable", variable.group(1), mark, definition=False, token=variable.group())
    return out


def _params(data: dict[str, Any], path: tuple[PathPart, ...]) -> set[str]:
    """The parameters of the template `path` is in (none outside `blocks:`)."""
    template = _at(data, path[:2]) if path[:1] == ("blocks",) else None
    params = template.get("params") if isinstance(template, dict) else None
    return set(map(str, params)) if isinstance(params, dict) else set()


def _occurs(
    names: Names, lines: list[str], what: str, name: str, mark: tuple[int, int], *, definition: bool, token: str = ""
) -> None:
    """Record `token` (default: `name`) as written at or after the reader's mark, on the mark's line."""
    token = token or name
    line = mark[0] - 1
    text = lines[line] if line < len(lines) else ""
    start = text.find(token, mark[1] - 1)
    while start >= 0 and definition is False and what == "variable" and _seen(names, line, start):
        start = text.find(token, start + 1)  # `$a * $a`: the second use is the next one along the line
    if start >= 0:
        names.occurrences.append(Occurrence(what, name, line, start, start + len(token), definition))


def _seen(names: Names, line: int, start: int) -> bool:
    return any(o.line == line and o.start == start for o in reversed(names.occurrences[-8:]))


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    """The value at `path` in the parsed data, or None where the path does not lead anywhere."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def analyse(name: str, text: str, fmt: str = "yaml", *, beside_schema: bool = False) -> Analysis:
    """Problems and per-layer figures of `text` read as the file `name`. `beside_schema`: the YAML language server
    checks this file against archspec's schema, so problems on the lines where that check fails are left to it
    (``beside``)."""
    try:
        source = parse(text, name, fmt=fmt)
    except SpecError as exc:
        return Analysis([Finding(p, "error") for p in exc.problems])
    if isinstance(source.data, dict) and source.data and not SPEC_KEYS & source.data.keys():
        return Analysis()
    lines = text.splitlines()
    variables, names = _variables(source), _names(source, lines)
    try:
        spec = validate(source, {})
        _worked_out(variables, getattr(spec, "variables", None))
        graph, report = checked(spec)
    except SpecError as exc:
        problems = exc.problems
        if beside_schema and (lines_failing := schema_lines(source)):
            problems = tuple(p for p in problems if p.line not in lines_failing)
        return Analysis([Finding(p, "error") for p in problems], variables=variables, names=names)
    layers = _layers(source, graph, report, lines)
    return Analysis(
        [Finding(p, "warning") for p in report.warnings],
        layers,
        _inner(source, graph, report, lines, {s.line for s in layers}),
        variables,
        names,
    )


def _worked_out(variables: dict[str, tuple[str, int, str | None]], values: Any) -> None:
    """Add the value a variable works out to where it was written as an expression (`$classes * 2` -> `20`)."""
    for key, value in (values or {}).items() if isinstance(values, dict) else ():
        if key in variables and (text := _written(value)) != variables[key][0]:
            variables[key] = (*variables[key][:2], text)


def _written(value: Any) -> str:
    """A value as the spec would write it."""
    return "true" if value is True else "false" if value is False else value if isinstance(value, str) else shown(value)


def _variables(source: Source) -> dict[str, tuple[str, int, str | None]]:
    """The `variables:` mapping as written, with the line of each value (what hover on `$name` says)."""
    declared = source.data.get("variables") if isinstance(source.data, dict) else None
    if not isinstance(declared, dict):
        return {}
    out: dict[str, tuple[str, int, str | None]] = {}
    for key, value in declared.items():
        mark = source.values.get(("variables", key))
        out[str(key)] = (_written(value), mark[0] - 1 if mark else 0, None)
    return out


def _kind(item: Any) -> str:
    """The kind a raw `layers` item is written as: `conv` for `- conv: {...}` or `- conv`."""
    return str(next(iter(item))) if isinstance(item, dict) and item else str(item)


def _layers(source: Source, graph: Graph, report: Report, lines: list[str]) -> list[LayerSpot]:
    """Each top-level layer's span in the text and its row of the shapes table.

    Expansion makes one group per top-level layer, in order (a `when: false` layer's group has no
    nodes, and no row); a group is paired with the written layer only where their kinds agree, so a
    figure is never put on a line it was not computed for."""
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    for path, (line, _column) in source.values.items():  # one pass: a 10,000-layer spec stays linear
        if len(path) >= 2 and path[0] == "layers" and isinstance(path[1], int):
            ends[path[1]] = max(ends.get(path[1], 0), line)
            if len(path) == 2:
                starts[path[1]] = line
    written = source.data.get("layers") if isinstance(source.data, dict) else None
    written = written if isinstance(written, list) else []
    filled = {info.group for info in report.layers if info.group is not None}
    rows = iter(report.groups)  # the groups that have nodes, in order
    members: dict[int, list[LayerInfo]] = {}
    for layer in report.layers:
        if layer.group is not None:
            members.setdefault(layer.group, []).append(layer)
    spots = []
    for index, (name, kind) in enumerate(graph.groups):
        info = next(rows) if index in filled else None
        if index >= len(written) or index not in starts or _kind(written[index]) != kind:
            continue
        line = starts[index] - 1
        settings = written[index].get(kind) if isinstance(written[index], dict) else None
        if info is None and isinstance(settings, dict) and isinstance(settings.get("name"), str):
            name = settings["name"]  # a left-out layer's group is named after the layer before it
        elif info is None:
            name = kind
        own = tuple(map(_member, members.get(index, ()))) if info is not None and info.nodes > 1 else ()
        spots.append(
            LayerSpot(
                index,
                name,
                kind,
                line,
                ends[index] - 1,
                lines[line] if line < len(lines) else "",
                info,
                own,
                isinstance(KINDS.get(kind), Block),
            )
        )
    return spots


def _member(layer: LayerInfo) -> Member:
    return Member(layer.name, layer.type, shape_text(layer.output_shape), layer.params)


SHAPES_SHOWN = 3
"""A template's layer used with more distinct shapes than this is hinted with its first and last."""


def _as_written(path: tuple[PathPart, ...], source: Source) -> tuple[PathPart, ...]:
    """A node's path as the text writes it: a template with a one-layer body (`residual:` right under its name) is
    expanded as `layers: [that layer]`, so its nodes' paths say `blocks.T.layers[0].residual...`."""
    if len(path) > 3 and path[0] == "blocks" and path[2:4] == ("layers", 0) and path[:3] not in source.values:
        return (*path[:2], *path[4:])
    return path


def _top_level(item: tuple[PathPart, ...]) -> bool:
    """Whether a list item is one of the spec's own layers (`layers[3]`), not one inside a block or a template."""
    return len(item) == 2 and item[0] == "layers"


def _inner(source: Source, graph: Graph, report: Report, lines: list[str], taken: set[int]) -> list[InnerSpot]:
    """A hint for each list item written inside a block or a template (each nesting level; one hint a line, the
    outermost item's): the output shape of the nodes it expanded to, per use.

    A node's `path` says where it was written, so the items it belongs to are its path's prefixes that end in a list
    index and are marked in this text (a built-in template's are not)."""
    items: dict[tuple[PathPart, ...], list[tuple[int, LayerInfo]]] = {}
    for index, (node, layer) in enumerate(zip(graph.layers, report.layers, strict=True)):
        path = _as_written(node.path, source)
        for end, part in enumerate(path):
            if isinstance(part, int) and end >= 1 and not (end == 1 and path[0] == "layers"):
                item = path[: end + 1]
                if item in source.values:
                    items.setdefault(item, []).append((index, layer))
    left_out = {  # items inside a block that set `when` and expanded to nothing: `when` was false (in every use)
        path[:-2]
        for path in source.values
        if len(path) > 3 and path[-1] == "when" and isinstance(path[-3], int) and not _top_level(path[:-2])
    }
    spots = []
    for item in sorted(items.keys() | left_out, key=len):
        line = source.values[item][0] - 1 if item in source.values else -1
        if line < 0 or line in taken or line >= len(lines):
            continue
        taken.add(line)
        nodes = items.get(item, [])
        if not nodes:
            spots.append(InnerSpot(line, lines[line], "skipped (when: false)"))
            continue
        ends = {i for (i, _), (after, _) in pairwise(nodes) if after != i + 1} | {nodes[-1][0]}
        outputs = [layer for i, layer in nodes if i in ends]  # the last node of each use: its output
        shapes = list(dict.fromkeys(shape_text(layer.output_shape) for layer in outputs))
        hint = (
            " | ".join(shapes)
            if len(shapes) <= SHAPES_SHOWN
            else f"{shapes[0]} ... {shapes[-1]} ({len(shapes)} shapes)"
        )
        own = tuple(_member(layer) for _, layer in nodes) if len(nodes) > len(outputs) else ()
        spots.append(InnerSpot(line, lines[line], hint, own))
    return sorted(spots, key=lambda s: s.line)


def safe_analyse(name: str, text: str, fmt: str, beside_schema: bool) -> Analysis:
    """`analyse`, where a bug becomes a diagnostic: it must not kill the server the editor depends on. Here, not in
    ``server``, so the checker process imports no pygls."""
    try:
        return analyse(name, text, fmt, beside_schema=beside_schema)
    except Exception as exc:  # said where it is seen, with what to do
        return Analysis(
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


CHUNK = 250
"""Layers per pickled piece of a big analysis (``packed``): a few milliseconds each to read back."""


def packed(name: str, text: str, fmt: str, beside_schema: bool) -> list[bytes]:
    """`safe_analyse` as pickled pieces, for the checker process to send: the analysis without its long lists, then
    those lists a `CHUNK` at a time. One pickle of 10,000 layers takes a quarter of a second to load, holding the
    interpreter's lock all along; in pieces, the server's thread answers between them (``unpacked``)."""
    analysis = safe_analyse(name, text, fmt, beside_schema)
    lists = [analysis.layers, analysis.inner, analysis.names.occurrences if analysis.names else None]
    head = replace(analysis, layers=None, inner=None)
    if analysis.names is not None:
        head.names = replace(analysis.names, occurrences=[])
    pieces = [pickle.dumps((head, [x is not None for x in lists]))]
    for items in lists:
        items = items or []
        pieces.append(pickle.dumps(len(items)))
        pieces += [pickle.dumps(items[i : i + CHUNK]) for i in range(0, len(items), CHUNK)]
    return pieces


def unpacked(pieces: list[bytes]) -> Analysis:
    """The analysis `packed` sent, read a piece at a time (each a short hold of the interpreter's lock)."""
    at = iter(pieces)
    head: Analysis
    present: list[bool]
    head, present = pickle.loads(next(at))  # from our own checker process
    lists: list[list[Any] | None] = []
    for there in present:
        count: int = pickle.loads(next(at))
        items: list[Any] = []
        while len(items) < count:
            items += pickle.loads(next(at))
        lists.append(items if there else None)
    head.layers, head.inner = lists[0], lists[1]
    if head.names is not None:
        head.names.occurrences = lists[2] or []
    return head
