"""Comparing two specs block by block: output shapes, parameters, MACs and layer counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..graph.report import GroupInfo, Report
from .table import columns, shape_text


@dataclass(frozen=True)
class Row:
    name: str
    a: GroupInfo | None
    b: GroupInfo | None

    @property
    def changed(self) -> bool:
        if self.a is None or self.b is None:
            return True
        return (self.a.output_shape, self.a.params, self.a.macs, self.a.nodes, self.a.label) != (
            self.b.output_shape,
            self.b.params,
            self.b.macs,
            self.b.nodes,
            self.b.label,
        )


@dataclass(frozen=True)
class Diff:
    a: Report
    b: Report
    rows: list[Row]

    @property
    def changed(self) -> list[Row]:
        return [r for r in self.rows if r.changed]

    def to_json(self) -> dict[str, Any]:
        def side(g: GroupInfo | None) -> dict[str, Any] | None:
            if g is None:
                return None
            return {
                "type": g.type,
                "output_shape": list(g.output_shape),
                "params": g.params,
                "macs": g.macs,
                "layers": g.nodes,
            }

        def totals(r: Report) -> dict[str, Any]:
            return {"name": r.name, "total_params": r.total_params, "macs": r.macs, "layers": len(r.layers)}

        return {
            "a": totals(self.a),
            "b": totals(self.b),
            "blocks": [{"name": r.name, "changed": r.changed, "a": side(r.a), "b": side(r.b)} for r in self.rows],
        }


def _align(a: list[GroupInfo], b: list[GroupInfo]) -> list[Row]:
    """Rows in A's order; a block only B has comes right after the block it follows in B."""
    b_by_name = {g.name: g for g in b}
    a_names = {g.name for g in a}
    extras: dict[str | None, list[GroupInfo]] = {}
    anchor: str | None = None
    for g in b:
        if g.name in a_names:
            anchor = g.name
        else:
            extras.setdefault(anchor, []).append(g)
    rows = [Row(g.name, None, g) for g in extras.get(None, [])]
    for g in a:
        rows.append(Row(g.name, g, b_by_name.get(g.name)))
        rows.extend(Row(x.name, None, x) for x in extras.get(g.name, []))
    return rows


def diff(a: Report, b: Report) -> Diff:
    return Diff(a, b, _align(a.groups, b.groups))


def diff_table(d: Diff, *, only_changed: bool = False) -> str:
    """The comparison as aligned text, changed blocks marked with `*`."""

    def shape(g: GroupInfo | None) -> str:
        return shape_text(g.output_shape) if g else "-"

    def num(g: GroupInfo | None, attr: str) -> str:
        return f"{getattr(g, attr):,}" if g else "-"

    rows = [
        (
            "*" if r.changed else "",
            r.name,
            shape(r.a),
            num(r.a, "params"),
            num(r.a, "nodes"),
            shape(r.b),
            num(r.b, "params"),
            num(r.b, "nodes"),
        )
        for r in d.rows
        if r.changed or not only_changed
    ]
    footer = [
        (
            "",
            "total",
            "",
            f"{d.a.total_params:,}",
            str(len(d.a.layers)),
            "",
            f"{d.b.total_params:,}",
            str(len(d.b.layers)),
        ),
        ("", "MACs", "", f"{d.a.macs:,}", "", "", f"{d.b.macs:,}", ""),
    ]
    header = ("", "block", f"{d.a.name} output", "params", "layers", f"{d.b.name} output", "params", "layers")
    return f"{d.a.name} vs {d.b.name}\n" + columns(header, rows, (False, False) + (True,) * 6, footer)
