"""The diagram's cost grows about linearly with the layers (issue 33: 3.8 s for 2,000 layers, 84 s for 10,000).

Measured as CPU time of this process (a busy machine inflates it less than wall time), as a ratio between two
sizes, so the test says "linear, not quadratic" on any machine: 8 times the layers must cost well under 64 times
the time. bench/draw_scale.py gives the absolute figures.
"""

from __future__ import annotations

import time

import pytest

from archspec.graph import graph_of
from archspec.graph.infer import infer
from archspec.tools.draw import diagram


def flat(n: int) -> dict:
    return {"name": "flat", "input": [8, 8, 4], "layers": [{"conv": {"depth": 4, "kernel": 1}}] * n}


def block(n: int) -> dict:
    return {
        "name": "block",
        "input": [8, 8, 4],
        "layers": [{"repeat": {"times": n, "layers": [{"conv": {"depth": 4, "kernel": 1}}]}}],
    }


def cpu_seconds_to_draw(spec: dict) -> float:
    graph = graph_of(spec)
    report = infer(graph, max_params=None)
    best = float("inf")
    for _ in range(2):  # the better of two: a pause for another process's page faults is not the layout's cost
        t0 = time.process_time()
        page = diagram(graph, report, format="html")
        best = min(best, time.process_time() - t0)
    assert page.count('class="leaf') >= len(graph.nodes) - 1
    return best


@pytest.mark.parametrize("make", [flat, block], ids=["flat", "one-block"])
def test_the_diagram_grows_about_linearly(make):
    small, big = cpu_seconds_to_draw(make(500)), cpu_seconds_to_draw(make(4000))
    assert big / small < 20, (
        f"500 layers: {small:.2f} s, 4,000 layers: {big:.2f} s ({big / small:.1f}x; linear is 8x, quadratic 64x)"
    )
