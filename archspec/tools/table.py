"""Plain-text layer tables: one row per node, or per top-level block.

Columns are aligned by hand rather than with rich: rich took 3.5 s to lay
out a 10,000-row table (bench/scale.py), this takes milliseconds, and the
output is the same plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..graph.report import Report

Row = Sequence[str]


def columns(header: Row, rows: Sequence[Row], right: Sequence[bool], footer: Sequence[Row] = ()) -> str:
    """Aligned text columns separated by two spaces, with a rule before the footer rows."""
    everything = [header, *rows, *footer]
    widths = [max(len(r[i]) for r in everything) for i in range(len(header))]

    def line(row: Row) -> str:
        cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)]
        return "  ".join(cells).rstrip()

    out = [line(header), *(line(r) for r in rows)]
    if footer:
        out.append("-" * len(line(header)))
        out.extend(line(r) for r in footer)
    return "\n".join(out) + "\n"


def shape_text(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))


def count_text(n: int) -> str:
    """Short counts for MACs: 117.6K, 3.9G."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n) if n else "-"


def _rf(rf: tuple[int, int]) -> str:
    return str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}x{rf[1]}"


def _frozen(frozen: int, weighted: int) -> str:
    """'yes', or how many of a block's layers with weights ('3/4'); blank when trainable."""
    return "" if not frozen else "yes" if frozen == weighted else f"{frozen}/{weighted}"


def io_text(report: Report) -> tuple[str, str]:
    """The inputs and the outputs as words: `input 32x32x1`, or each named with its shape (and an output's layer)."""
    if not report.several:
        return f"input {shape_text(report.input_shape)}", f"output {shape_text(report.output_shape)}"
    inputs = ", ".join(
        f"{name} {shape_text(shape)}" if name != "input" or len(report.inputs) > 1 else shape_text(shape)
        for name, shape in report.inputs.items()
    )
    outputs = ", ".join(
        f"{name} {shape_text(report.layer(node).output_shape)}" + (f" ({node})" if node != name else "")
        for name, node in report.outputs.items()
    )
    return (
        f"input{'s' if len(report.inputs) > 1 else ''} {inputs}",
        f"output{'s' if len(report.outputs) > 1 else ''} {outputs}",
    )


@dataclass(frozen=True)
class Table:
    """The shapes table as cells: the CLI prints it as text, `archspec serve` as an HTML table."""

    title: str
    header: Row
    rows: list[Row]
    footer: Row
    right: Sequence[bool]  # which columns are right-aligned (numbers)
    note: str = ""  # trainable/non-trainable counts, when some layers are frozen
    outputs: str = ""  # a network with several inputs or outputs: each output, named, with its shape

    def text(self) -> str:
        text = f"{self.title}\n" + columns(self.header, self.rows, self.right, [self.footer])
        return text + "".join(f"{line}\n" for line in (self.outputs, self.note) if line)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "header": list(self.header),
            "rows": [list(r) for r in self.rows],
            "footer": list(self.footer),
            "right": list(self.right),
            "note": self.note,
            "outputs": self.outputs,
        }


def shapes_table(report: Report, *, expand: bool = False) -> Table:
    """One row per top-level block (or per node with `expand`), totals last; a network with frozen layers
    (fine-tuning) gets a column saying which."""
    if expand or not report.groups:
        rows = [
            (
                info.name,
                info.label,
                shape_text(info.output_shape),
                f"{info.params:,}",
                count_text(info.macs),
                _rf(info.receptive_field),
                _frozen(int(info.frozen and info.params > 0), 1),
            )
            for info in report.layers
        ]
    else:
        rows = [
            (
                g.name,
                g.label,
                shape_text(g.output_shape),
                f"{g.params:,}",
                count_text(g.macs),
                _rf(g.receptive_field),
                _frozen(g.frozen_layers, g.weighted_layers),
            )
            for g in report.groups
        ]
    header: Row = ("layer", "type", "output", "params", "MACs", "RF", "frozen")
    footer: Row = ("total", "", "", f"{report.total_params:,}", count_text(report.macs), "", "")
    width = len(header) if report.frozen else len(header) - 1
    note = ""
    if report.non_trainable_params:
        note = f"trainable {report.trainable_params:,}, non-trainable {report.non_trainable_params:,}"
        note += f" ({len(report.frozen)} layers frozen)" if report.frozen else ""
    inputs, outputs = io_text(report)
    return Table(
        f"{report.name}: {inputs}",
        header[:width],
        [r[:width] for r in rows],
        footer[:width],
        (False, False, True, True, True, True, False)[:width],
        note,
        outputs if report.several else "",
    )


def layer_table(report: Report, *, expand: bool = False) -> str:
    """The shapes table as aligned text."""
    return shapes_table(report, expand=expand).text()
