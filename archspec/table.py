"""Human-readable layer tables (rich), one row per node or per top-level block."""

from __future__ import annotations

from .inference import Report


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _count(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n) if n else "-"


def _rf(rf: tuple[int, int]) -> str:
    return str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}x{rf[1]}"


def render(report: Report, *, expand: bool = False, width: int | None = None) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report.name}: input {_shape(report.input_shape)}", title_justify="left", box=None, pad_edge=False)
    for col, just in (("layer", "left"), ("type", "left"), ("output", "right"), ("params", "right"), ("MACs", "right"), ("RF", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    if expand or not report.groups:
        for l in report.layers:
            table.add_row(l.name, l.label, _shape(l.output_shape), f"{l.params:,}", _count(l.macs), _rf(l.receptive_field))
    else:
        for g in report.groups:
            table.add_row(g.name, g.label, _shape(g.output_shape), f"{g.params:,}", _count(g.macs), _rf(g.receptive_field))
    table.add_section()
    table.add_row("total", "", "", f"{report.total_params:,}", _count(report.macs), "")
    console = Console(width=width or 100, record=True, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(table)
        if report.non_trainable_params:
            console.print(f"trainable {report.trainable_params:,}, non-trainable {report.non_trainable_params:,}")
    text = capture.get()
    return text if text.endswith("\n") else text + "\n"
