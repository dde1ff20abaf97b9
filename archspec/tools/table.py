"""Plain-text layer tables: one row per node, or per top-level block.

Columns are aligned by hand rather than with rich: rich took 3.5 s to lay
out a 10,000-row table (bench/scale.py), this takes milliseconds, and the
output is the same plain text.
"""

from __future__ import annotations

from typing import Sequence

from ..graph.report import Report

Row = Sequence[str]


def columns(header: Row, rows: Sequence[Row], right: Sequence[bool], footer: Sequence[Row] = ()) -> str:
    """Aligned text columns separated by two spaces, with a rule before the footer rows."""
    everything = [header, *rows, *footer]
    widths = [max(len(r[i]) for r in everything) for i in range(len(header))]

    def line(row: Row) -> str:
        cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)]
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


def layer_table(report: Report, *, expand: bool = False) -> str:
    """The shapes table: one row per top-level block (or per node with `expand`), totals last."""
    if expand or not report.groups:
        rows = [(l.name, l.label, shape_text(l.output_shape), f"{l.params:,}", count_text(l.macs), _rf(l.receptive_field)) for l in report.layers]
    else:
        rows = [(g.name, g.label, shape_text(g.output_shape), f"{g.params:,}", count_text(g.macs), _rf(g.receptive_field)) for g in report.groups]
    text = f"{report.name}: input {shape_text(report.input_shape)}\n" + columns(
        ("layer", "type", "output", "params", "MACs", "RF"), rows, (False, False, True, True, True, True),
        [("total", "", "", f"{report.total_params:,}", count_text(report.macs), "")],
    )
    if report.non_trainable_params:
        text += f"trainable {report.trainable_params:,}, non-trainable {report.non_trainable_params:,}\n"
    return text
