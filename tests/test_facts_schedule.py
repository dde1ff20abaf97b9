"""Stochastic depth as EfficientNet's linear schedule: `drop_schedule` gives block k of the n blocks that take it
(counted over the spec's top-level layers) the rate `drop_schedule` x k / n, as keras.applications computes it
(`drop_connect_rate * b / blocks`), so the EfficientNet specs write one rate instead of per-stage offsets."""

from __future__ import annotations

import pytest
from conftest import ROOT

import archspec

SPECS = ROOT / "specs"


def rates(path, variant: str | None = None) -> dict[str, float]:
    graph = archspec.graph_of(path, variant=variant)
    return {node.name: node.attrs.rate for node in graph.nodes if node.op == "stochastic_depth"}


def keras_rates(repeats: list[int], rate: float = 0.2) -> dict[str, float]:
    """keras.applications' EfficientNet: block b of all `blocks` drops with rate * b / blocks (b from 0); a block
    has a drop path only where it keeps its shape (not the first of a stage)."""
    blocks, out, b = sum(repeats), {}, 0
    for stage, repeat in enumerate(repeats, 1):
        for i in range(repeat):
            if i > 0:
                out[f"block{stage}{chr(97 + i)}_drop"] = rate * b / blocks
            b += 1
    return out


@pytest.mark.parametrize("path, variant", [(SPECS / "efficientnet_b0.yaml", None), (SPECS / "efficientnet.yaml", "b0")])
def test_efficientnet_b0_rates_are_keras_schedule(path, variant) -> None:
    got = rates(path, variant)
    assert got == keras_rates([1, 2, 2, 3, 3, 4, 1])


def test_a_deeper_variant_spreads_the_same_rate_over_its_blocks() -> None:
    # B3: depth 1.4, repeats ceil(1.4 * r)
    assert rates(SPECS / "efficientnet.yaml", variant="b3") == keras_rates([2, 3, 3, 5, 5, 6, 2])


def test_the_specs_write_no_per_stage_rates() -> None:
    for name in ("efficientnet", "efficientnet_b0", "efficientnet_v2", "efficientnet_v2_b0"):
        text = (SPECS / f"{name}.yaml").read_text(encoding="utf-8")
        assert "drop_rate" not in text and "drop_schedule" in text, name


def test_the_schedule_counts_only_top_level_blocks() -> None:
    spec = {
        "name": "x",
        "input": [16, 16, 8],
        "layers": [{"residual": {"body": [{"mbconv": {"filters": 8, "repeat": 2, "drop_schedule": 0.2}}]}}],
    }
    with pytest.raises(archspec.SpecError, match="drop_schedule counts the blocks of the spec's top-level layers"):
        archspec.shapes(spec)


def test_drop_rate_still_works_without_a_schedule() -> None:
    spec = {
        "name": "x",
        "input": [16, 16, 8],
        "layers": [{"mbconv": {"filters": 8, "repeat": 3, "drop_rate": 0.1, "drop_rate_step": 0.05, "name": "m"}}],
    }
    assert list(rates(spec).values()) == pytest.approx([0.1, 0.15, 0.2])
