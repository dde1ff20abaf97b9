"""What the editor shows for one document's text: its problems and the figures of each top-level layer.

The text goes through the pure-Python path `archspec validate` takes (``spec.read.parse``,
``spec.validate``, ``graph.checked`` with the CLI's budgets), so a diagnostic reads as the CLI's
message for the same file. No pygls here (plain data; the server turns it into LSP types), no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import Problem, SpecError, clipped, escaped, shown
from ...graph import checked
from ...graph.ir import Graph
from ...graph.report import GroupInfo, Report
from ...spec.read import Source, parse
from ...spec.validate import validate
from ..table import count_text, shape_text


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

    @property
    def hint(self) -> str:
        """The inlay hint: its output shape, or that it is skipped."""
        return shape_text(self.info.output_shape) if self.info else "skipped (when: false)"

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
        )


SPEC_KEYS = frozenset({"layers", "input", "inputs", "blocks"})
"""A YAML mapping with none of these keys is some other file (a CI workflow, a config): an editor that
starts the server for every YAML file gets no diagnostics for it (a workflow's `name:` alone does not make
a spec). An empty file, and a spec begun with any of these keys, still get theirs."""


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)
    layers: list[LayerSpot] | None = None
    """None when the text does not expand (the server keeps the last good layers)."""
    variables: dict[str, tuple[str, int]] | None = None
    """Each declared variable -> (its value as written, the 0-based line it is set on); None when the text does not
    parse."""
    names: Names | None = None
    """Where templates, variables and layer names are defined; None when the text does not parse."""


@dataclass
class Names:
    """What completion offers and go to definition jumps to, with 0-based (line, column) from the reader's marks."""

    variables: dict[str, tuple[int, int]] = field(default_factory=dict)
    templates: dict[str, tuple[int, int]] = field(default_factory=dict)
    layers: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Each `name:` given to a layer (top level or in a template) -> where its value is written; the first one wins."""


def _names(source: Source) -> Names:
    """The names a spec defines, located by the reader (no text search: a name in a comment is no definition)."""
    data = source.data if isinstance(source.data, dict) else {}
    out = Names()
    for section, table in (("variables", out.variables), ("blocks", out.templates)):
        if isinstance(data.get(section), dict):
            for key in data[section]:
                mark = source.keys.get((section, key))
                if mark:
                    table[str(key)] = (mark[0] - 1, mark[1] - 1)
    for path, (line, column) in sorted(source.values.items(), key=lambda item: item[1]):
        if path and path[-1] == "name" and "layers" in path:
            value = _at(data, path)
            if isinstance(value, str):
                out.layers.setdefault(value, (line - 1, column - 1))
    return out


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    """The value at `path` in the parsed data, or None where the path does not lead anywhere."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def analyse(name: str, text: str, fmt: str = "yaml") -> Analysis:
    """Problems and per-layer figures of `text` read as the file `name`."""
    try:
        source = parse(text, name, fmt=fmt)
    except SpecError as exc:
        return Analysis([Finding(p, "error") for p in exc.problems])
    if isinstance(source.data, dict) and source.data and not SPEC_KEYS & source.data.keys():
        return Analysis()
    variables, names = _variables(source), _names(source)
    try:
        graph, report = checked(validate(source, {}))
    except SpecError as exc:
        return Analysis([Finding(p, "error") for p in exc.problems], variables=variables, names=names)
    return Analysis(
        [Finding(p, "warning") for p in report.warnings], _layers(source, graph, report, text), variables, names
    )


def _variables(source: Source) -> dict[str, tuple[str, int]]:
    """The `variables:` mapping as written, with the line of each value (what hover on `$name` says)."""
    declared = source.data.get("variables") if isinstance(source.data, dict) else None
    if not isinstance(declared, dict):
        return {}
    out = {}
    for key, value in declared.items():
        mark = source.values.get(("variables", key))
        written = (
            "true"
            if value is True
            else "false"
            if value is False
            else value
            if isinstance(value, str)
            else shown(value)
        )
        out[str(key)] = (written, mark[0] - 1 if mark else 0)
    return out


def _kind(item: Any) -> str:
    """The kind a raw `layers` item is written as: `conv` for `- conv: {...}` or `- conv`."""
    return str(next(iter(item))) if isinstance(item, dict) and item else str(item)


def _layers(source: Source, graph: Graph, report: Report, text: str) -> list[LayerSpot]:
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
    lines = text.splitlines()
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
        spots.append(
            LayerSpot(index, name, kind, line, ends[index] - 1, lines[line] if line < len(lines) else "", info)
        )
    return spots
