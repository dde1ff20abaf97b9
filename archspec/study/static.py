"""A candidate of a search space judged without TensorFlow: valid network or not, inside the budget or not.

Each candidate's values reach the spec as `--set` assignments do (``validate``), then the spec is expanded and its
shapes, parameters, MACs, activations and receptive field inferred (``graph.checked``): the checks `archspec shapes`
makes. A candidate that fails them, or breaks the budget, is rejected here, in milliseconds, and never built.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem, SpecError
from ..graph import checked
from ..graph.report import Report
from ..spec.network import SpecBase
from ..spec.read import Source
from ..spec.search import Budget, Domain
from ..spec.validate import validate

LIMITS = {
    # budget key: (figure, "over" when the figure is above the limit, else "under", words)
    "max_params": ("params", "over", "parameters"),
    "max_macs": ("macs", "over", "MACs"),
    "max_activations": ("activations", "over", "activation values"),
    "min_receptive_field": ("receptive_field", "under", "pixels of receptive field"),
}
ENUMERATE = 4096
"""Spaces of at most this many networks (the variables' domains together) are counted whole: how many are feasible."""


@dataclass
class Candidate:
    """One point of the space and what the shape engine said about it."""

    values: dict[str, Any]
    figures: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    """Why it was rejected (None: feasible)."""
    kind: str | None = None
    """`invalid` (not a network: a kernel larger than its map...) or `budget`."""
    violation: float = 0.0
    """How far over the budget, relative (0 when inside; Optuna's constraint value)."""
    seconds: float = 0.0
    spec: SpecBase | None = None

    @property
    def feasible(self) -> bool:
        return self.reason is None


def figures(report: Report) -> dict[str, int]:
    """The figures a budget and the static objectives read; the receptive field is that of the last spatial layer."""
    spatial = [layer for layer in report.layers if len(layer.output_shape) == 3]
    field_ = min(spatial[-1].receptive_field) if spatial else 0
    return {
        "params": report.total_params,
        "macs": report.macs,
        "activations": report.activations,
        "receptive_field": field_,
    }


def judge(source: Source, values: Mapping[str, Any], budget: Budget | None, fixed: Mapping[str, Any]) -> Candidate:
    """The candidate `values` (search keys -> values) of the spec read into `source`; `fixed`: the caller's `--set`."""
    started = time.perf_counter()
    candidate = Candidate(dict(values))
    try:
        spec = validate(source, {**fixed, **values})
        _, report = checked(spec, max_params=None, max_activations=None)
    except SpecError as exc:
        candidate.reason = _first(exc.problems)
        candidate.kind = "invalid"
        candidate.violation = 1.0
    else:
        candidate.spec = spec
        candidate.figures = figures(report)
        over = over_budget(candidate.figures, budget)
        if over:
            candidate.reason = "; ".join(text for text, _ in over)
            candidate.kind = "budget"
            candidate.violation = sum(amount for _, amount in over)
    candidate.seconds = time.perf_counter() - started
    return candidate


def over_budget(found: Mapping[str, int], budget: Budget | None) -> list[tuple[str, float]]:
    """(words, relative excess) for each limit the figures break."""
    out = []
    for key, limit in (budget.limits() if budget is not None else {}).items():
        figure, side, words = LIMITS[key]
        value = found[figure]
        if side == "over" and value > limit:
            out.append((f"{value:,} {words} > {key} {limit:,}", (value - limit) / limit))
        elif side == "under" and value < limit:
            out.append((f"{value:,} {words} < {key} {limit:,}", (limit - value) / limit))
    return out


def _first(problems: Sequence[Problem]) -> str:
    problem = problems[0]
    where = ".".join(map(str, problem.path)) if problem.path else ""
    return f"{where}: {problem.message}" if where else problem.message


@dataclass
class Census:
    """The structural part of the space (the variables' domains) judged point by point, or a sample of it."""

    points: int
    """Networks in the space (None-like 0 when a domain is continuous)."""
    judged: int
    feasible: int
    whole: bool
    """Every point was judged (else a random sample was)."""
    least: dict[str, int]
    """Per budget key, the best figure any valid judged point reached (smallest params, largest receptive field)."""
    seconds: float


def census(
    source: Source, space: Mapping[str, Domain], budget: Budget | None, fixed: Mapping[str, Any], sample: int = 200
) -> Census:
    """Judge every network of the space when it has at most ENUMERATE, else `sample` random ones. Training fields do
    not change a network: the spec's own values stand in for them."""
    started = time.perf_counter()
    structural = {k: d for k, d in space.items() if not k.startswith("training.")}
    lists = {k: d.points() for k, d in structural.items()}
    finite = all(v is not None for v in lists.values())
    size = math.prod(len(v or ()) for v in lists.values()) if finite else 0
    keys = list(structural)
    if finite and size <= ENUMERATE:
        rows = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(lists[k] or [] for k in keys))]
        whole = True
    else:
        pick = random.Random(0)
        rows = [{k: _draw(structural[k], pick) for k in keys} for _ in range(sample)]
        whole = False
    feasible = 0
    least: dict[str, int] = {}
    for row in rows:
        candidate = judge(source, row, budget, fixed)
        feasible += candidate.feasible
        if candidate.kind == "invalid" or budget is None:
            continue
        for key in budget.limits():
            figure, side, _ = LIMITS[key]
            value = candidate.figures[figure]
            best = least.get(key)
            if best is None or (value < best if side == "over" else value > best):
                least[key] = value
    return Census(size, len(rows), feasible, whole, least, time.perf_counter() - started)


def _draw(domain: Domain, pick: random.Random) -> Any:
    points = domain.points()
    if points is not None:
        return pick.choice(points)
    low, high = domain.float_ or (0.0, 1.0)
    if domain.log:
        return math.exp(pick.uniform(math.log(low), math.log(high)))
    return pick.uniform(low, high)


def unreachable(found: Census, budget: Budget | None, source: Source) -> SpecError | None:
    """A budget no judged point meets, named at the limit no network reaches (or at `budget` when each limit alone is
    reachable and together they are not). Only a census of the whole space may say "no point": a sample says nothing
    of the points it missed."""
    if budget is None or found.feasible or not found.whole:
        return None
    problems = []
    for key, limit in budget.limits().items():
        _figure, side, words = LIMITS[key]
        best = found.least.get(key)
        if best is None:
            continue
        if (side == "over" and best > limit) or (side == "under" and best < limit):
            reached = "the smallest has" if side == "over" else "the largest has"
            problems.append(
                source.problem(
                    ("budget", key),
                    f"no network of the search space meets {key} {limit:,}: {reached} {best:,} {words} "
                    f"(all {found.points:,} judged)",
                    "widen the search domains or loosen the budget",
                )
            )
    if not problems:
        problems.append(
            source.problem(
                ("budget",),
                f"no network of the search space meets the whole budget (all {found.points:,} judged; "
                + ("none is a valid network" if not found.least else "each limit alone is met by some")
                + ")",
                "widen the search domains or loosen the budget",
            )
        )
    return SpecError(problems[:1])
