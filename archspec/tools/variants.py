"""The table of a spec's variants: what each sets, and the network it gives (`archspec shapes SPEC --variants`)."""

from __future__ import annotations

import os
from typing import Any

from ..graph import shapes
from ..spec.loading import load
from .table import columns, count_text, shape_text


def _value(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _short(text: str, width: int = 72) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def variant_table(path: str | os.PathLike[str], **overrides: Any) -> str:
    """One row per variant: input, output, parameters, MACs, and the values it gives (those the
    variants do not all share). The variant the spec's own values equal is marked `(default)`;
    when there is none, the spec's own values get a row of their own."""
    spec = load(path, **overrides)
    if not spec.variants:
        return f"{spec.name}: no variants (a spec lists them under `variants:`)\n"
    values = {str(name): {**spec.variables, **given} for name, given in spec.variants.items()}
    varying = [k for k in spec.variables if len({_value(v[k]) for v in values.values()}) > 1]
    default = next(
        (name for name, v in values.items() if all(_value(v[k]) == _value(spec.variables[k]) for k in spec.variables)),
        None,
    )
    entries: list[tuple[str, dict[str, Any], dict[str, Any]]] = (
        [] if default else [("(defaults)", dict(spec.variables), {})]
    )
    entries += [(name + (" (default)" if name == default else ""), v, {"variant": name}) for name, v in values.items()]
    rows = []
    for label, given, choice in entries:
        report = shapes(path, max_params=None, max_activations=None, **choice, **overrides)
        rows.append(
            (
                label,
                shape_text(report.input_shape),
                shape_text(report.output_shape),
                f"{report.total_params:,}",
                count_text(report.macs),
                _short(" ".join(f"{k}={_value(given[k])}" for k in varying)),
            )
        )
    return f"{spec.name}: {len(spec.variants)} variants (`--variant NAME`)\n" + columns(
        ("variant", "input", "output", "params", "MACs", "values"), rows, (False, True, True, True, True, False)
    )
