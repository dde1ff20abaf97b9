"""Hostile inputs are refused with a clear message: nothing hangs, nothing runs.

The wall-clock bounds here are loose (a hang or a blow-up, not a slow machine,
must fail them); the one-second targets are measured by `bench/refusals.py`.
"""

from __future__ import annotations

import time

import pytest

import archspec
from archspec.cli import main

LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    + ["name: x", "input: [8, 8, 1]", "layers: *i", ""]
)


HANG = 30.0
"""Seconds after which a refusal is a hang, whatever the machine's load."""


def refused(text: str, fragment: str, tmp_path, name="s.yaml") -> float:
    path = tmp_path / name
    path.write_text(text)
    load = archspec.load  # archspec imports its modules on first use: keep that out of the timing
    start = time.perf_counter()
    with pytest.raises(archspec.SpecError, match=fragment):
        load(path)
    return time.perf_counter() - start


def test_billion_laughs(tmp_path):
    assert refused(LAUGHS, "expands to more than", tmp_path) < HANG


def test_hundred_megabyte_spec(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "w") as f:
        f.write("name: x\ninput: [8, 8, 1]\nlayers:\n")
        line = "  - dropout: 0.1\n"
        f.write(line * (100 * 1024 * 1024 // len(line)))
    start = time.perf_counter()
    with pytest.raises(archspec.SpecError, match="the limit is"):
        archspec.load(path)
    assert time.perf_counter() - start < HANG


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "]" * 10_000,
        "{a: " * 10_000 + "}" * 10_000,
        "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 1_000)),
    ],
)
def test_ten_thousand_deep_nesting(text, tmp_path):
    assert refused(text, "nesting deeper than", tmp_path) < HANG


def test_python_tags_refused(tmp_path, capsys):
    path = tmp_path / "evil.yaml"
    path.write_text(
        'name: !!python/object/apply:os.system ["echo pwned > /tmp/archspec-evil"]\ninput: [8, 8, 1]\nlayers: '
        "[flatten]\n"
    )
    assert main(["validate", str(path)]) == 2
    assert "is not allowed" in capsys.readouterr().err


def test_deep_json(tmp_path):
    assert refused("[" * 10_000 + "]" * 10_000, "nesting deeper than", tmp_path, "s.json") < HANG


def test_huge_expansion_refused_before_allocation():
    spec = {
        "name": "x",
        "input": [8, 8, 1],
        "layers": [{"repeat": {"times": 60000, "layers": [{"conv": {"filters": 1, "kernel": 1}}, "batchnorm"]}}],
    }
    shapes = archspec.shapes  # imported on first use, outside the timing
    start = time.perf_counter()
    with pytest.raises(archspec.SpecError, match="more than 100,000 layers"):
        shapes(spec)
    assert time.perf_counter() - start < HANG


def test_a_thousand_layer_chain_builds_saves_and_reloads(tmp_path):
    """Keras walks functional graphs recursively; archspec raises the limit where it must."""
    layers = [{"conv": {"filters": 2, "kernel": 1}}, "batchnorm", {"activation": "relu"}] * 400
    spec = {"name": "deep", "input": [4, 4, 1], "layers": [*layers, "flatten", {"dense": 2}]}
    model = archspec.build(spec)
    assert len(model.layers) == 1 + 1200 + 2
    reloaded = archspec.load_model(archspec.save_model(model, tmp_path / "deep.keras"))
    assert len(reloaded.layers) == len(model.layers)
