"""A study's results as files, rewritten after every trial: trials.csv, pareto.csv, best.yaml and plot.svg.

Written by whichever worker finished a trial last, each through ``files.write_text`` (a temporary file renamed into
place), so a reader never sees half a file and two workers writing at once leave one whole version.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from ..files import write_text

STATIC = ("params", "macs", "activations")


def rows_of(study: Any, objectives: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One row per trial: its number and state, objective values, static figures, time, the reason of a rejection,
    its values in the space."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name.lower()}
        if attrs.get("rejected"):
            row["state"] = "rejected"
        elif attrs.get("surplus"):
            row["state"] = "surplus"
        elif "repeat_of" in attrs:
            row["state"] = f"repeat of {attrs['repeat_of']}"
        for i, (name, _) in enumerate(objectives):
            row[name] = t.values[i] if t.values is not None else None
        if t.values is None and t.intermediate_values:  # a pruned trial: its last reported epoch
            row[objectives[0][0]] = t.intermediate_values[max(t.intermediate_values)]
        for key in (*STATIC, "seconds"):
            row.setdefault(key, attrs.get(key))
        row["reason"] = attrs.get("rejected") or ""
        row.update(t.params)
        rows.append(row)
    return rows


def front_of(study: Any, objectives: list[tuple[str, str]], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Pareto front of the completed trials (one objective: the best trial), best first objective first."""
    done = [r for r in rows if r["state"] == "complete"]
    if not done:
        return []
    sign = [1 if d == "max" else -1 for _, d in objectives]

    def key(r: dict[str, Any]) -> tuple[float, ...]:
        return tuple(s * float(r[n]) for s, (n, _) in zip(sign, objectives, strict=True))

    front = [a for a in done if not any(_dominates(key(b), key(a)) for b in done)]
    return sorted(front, key=key, reverse=True)


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and a != b


def write(
    study: Any, folder: Path, objectives: list[tuple[str, str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Path | None]:
    rows = rows_of(study, objectives)
    front = front_of(study, objectives, rows)
    write_text(folder / "trials.csv", _csv(rows), force=True)
    write_text(folder / "pareto.csv", _csv(front), force=True)
    best = None
    if front:
        spec = folder / "trials" / f"trial-{front[0]['trial']:04d}" / "spec.yaml"
        if spec.is_file():
            best = write_text(folder / "best.yaml", spec.read_text(), force=True)
    write_text(folder / "plot.svg", plot(rows, front, objectives), force=True)
    return rows, front, best


def _csv(rows: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def plot(rows: list[dict[str, Any]], front: list[dict[str, Any]], objectives: list[tuple[str, str]]) -> str:
    """The trained trials' metric against parameters (left) and MACs (right), log scale, the front in red."""
    metric = next((n for n, _ in objectives if n not in STATIC), objectives[0][0])
    done = [r for r in rows if r["state"] in ("complete", "pruned") and r.get(metric) is not None and r.get("params")]
    on_front = {r["trial"] for r in front}
    width, height, pad = 360, 260, 50
    panels = [("params", "parameters"), ("macs", "MACs")]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * 2}" height="{height}" font-family="sans-serif" '
        f'font-size="11"><rect width="100%" height="100%" fill="white"/>'
    ]
    values = [float(r[metric]) for r in done]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    for p, (key, label) in enumerate(panels):
        x0 = p * width
        xs = [float(r[key]) for r in done if r.get(key)]
        lo, hi = (math.log10(min(xs)), math.log10(max(xs))) if xs else (0.0, 1.0)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5

        def px(v: float, lo: float = lo, hi: float = hi, x0: int = x0) -> float:
            return x0 + pad + (math.log10(v) - lo) / (hi - lo) * (width - pad - 15)

        def py(v: float) -> float:
            return height - pad + 10 - (v - low) / (high - low) * (height - pad - 20)

        parts.append(
            f'<line x1="{x0 + pad}" y1="{height - pad + 10}" x2="{x0 + width - 10}" y2="{height - pad + 10}" '
            f'stroke="black"/><line x1="{x0 + pad}" y1="10" x2="{x0 + pad}" y2="{height - pad + 10}" stroke="black"/>'
        )
        parts.append(
            f'<text x="{x0 + width / 2}" y="{height - 12}" text-anchor="middle">{escape(label)} (log scale)</text>'
        )
        parts.append(
            f'<text x="{x0 + 12}" y="{height / 2}" transform="rotate(-90 {x0 + 12} {height / 2})" '
            f'text-anchor="middle">{escape(metric)}</text>'
        )
        for v in (low, high):
            parts.append(f'<text x="{x0 + pad - 4}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
        for v in (lo, hi):
            parts.append(
                f'<text x="{px(10**v):.1f}" y="{height - pad + 24}" text-anchor="middle">{_short(10**v)}</text>'
            )
        line = sorted((float(r[key]), float(r[metric])) for r in done if r["trial"] in on_front and r.get(key))
        if len(line) > 1:
            points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in line)
            parts.append(f'<polyline points="{points}" fill="none" stroke="#d62728" stroke-width="1"/>')
        for r in done:
            if not r.get(key):
                continue
            best = r["trial"] in on_front
            colour = "#d62728" if best else ("#999" if r["state"] == "pruned" else "#1f77b4")
            parts.append(
                f'<circle cx="{px(float(r[key])):.1f}" cy="{py(float(r[metric])):.1f}" r="{4 if best else 3}" '
                f'fill="{colour}"><title>trial {r["trial"]}: {escape(metric)} {float(r[metric]):.4f}, '
                f"{label} {int(r[key]):,}</title></circle>"
            )
    parts.append(
        f'<text x="{width * 2 - 10}" y="14" text-anchor="end">red: the front; grey: pruned; '
        f"{len(done)} trained trials</text></svg>"
    )
    return "\n".join(parts) + "\n"


def _short(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"
