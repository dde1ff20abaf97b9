"""A layer `when` leaves out is validated only for what a left-out layer uses (its name, its input, its keys):
`units: $fc, when: $fc > 0` with `fc` 0 is an optional layer, not an error."""

from __future__ import annotations

from pathlib import Path

import pytest

import archspec
from archspec.cli import main
from archspec.errors import SpecError
from archspec.spec.loading import loads
from archspec.study.static import census, judge

OPTIONAL = """
name: w
input: [8, 8, 1]
variables: {fc: 0}
variants: {wide: {fc: 64}}
layers:
  - flatten
  - dense: {units: $fc, when: $fc > 0}
  - dense: 10
"""
WITHOUT = """
name: w
input: [8, 8, 1]
layers:
  - flatten
  - dense: 10
"""
TEMPLATE = """
name: t
input: [8, 8, 3]
variables: {extra: 0}
blocks:
  unit:
    params: {filters: 4, extra: 0}
    layers:
      - conv: {filters: $filters, kernel: 3, padding: same}
      - conv: {filters: $extra, kernel: 1, when: $extra > 0}
layers:
  - use: {block: unit, extra: $extra}
  - residual:
      body:
        - conv: {filters: 4, kernel: 3, padding: same}
        - conv: {filters: $extra, kernel: 0, when: $extra > 0}
  - flatten
  - dense: 10
"""


def _rows(spec: object) -> list[tuple[str, str, tuple[int, ...], int]]:
    return [(i.name, i.type, i.output_shape, i.params) for i in archspec.shapes(spec).layers]


def test_a_left_out_layer_with_a_zero_size_is_left_out() -> None:
    assert _rows(loads(OPTIONAL)) == _rows(loads(WITHOUT))


def test_the_variant_that_turns_it_on_has_the_layer() -> None:
    layers = archspec.shapes(loads(OPTIONAL, variant="wide")).layers
    assert [(i.type, i.output_shape) for i in layers] == [("flatten", (64,)), ("dense", (64,)), ("dense", (10,))]
    with pytest.raises(SpecError, match=r"layers\[1\]\.dense\.units: should be greater than 0, got -1"):
        loads(OPTIONAL.replace("fc > 0", "fc < 0").replace("fc: 0}", "fc: -1}"))  # on, and out of range


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("units:", "unitz:", r"layers\[1\]\.dense\.unitz: unknown key 'unitz'(?s:.*)did you mean 'units'\?"),
        ("when:", "name: 'a b', when:", r"layers\[1\]\.dense\.name: a name may hold letters"),
        ("when:", "input: flaten, when:", r"layers\[1\]\.dense\.input: no earlier layer named 'flaten'"),
    ],
    ids=["unknown key", "bad name", "misspelt input"],
)
def test_what_a_left_out_layer_uses_is_still_checked(old: str, new: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as caught:
        archspec.shapes(loads(OPTIONAL.replace(old, new)))
    assert caught.value.problems[0].line == 8  # located in the layer's line


def test_in_a_template_and_a_block_body() -> None:
    without = "\n".join(line for line in TEMPLATE.splitlines() if "when:" not in line)
    assert [row[1:] for row in _rows(loads(TEMPLATE))] == [row[1:] for row in _rows(loads(without))]  # names differ
    with pytest.raises(SpecError, match=r"blocks\.unit\.layers\[1\]\.conv\.kernl: unknown key 'kernl'"):
        archspec.shapes(loads(TEMPLATE.replace("kernel: 1, when", "kernl: 1, when")))
    with pytest.raises(SpecError, match=r"residual\.body\[1\]\.conv\.kernel: should be greater than 0"):
        loads(TEMPLATE, extra=2)  # turned on, the kernel 0 is refused


def test_search_judges_a_space_that_turns_the_layer_off() -> None:
    text = OPTIONAL + "search:\n  fc: {choice: [0, 16]}\n"
    spec = loads(text)
    off = judge(spec._source, {"fc": 0}, None, {})
    assert off.feasible and off.figures["params"] == 650
    counted = census(spec._source, spec.search.root, None, {})
    assert (counted.points, counted.feasible) == (2, 2)


def test_commands_that_walk_the_layers_take_a_left_out_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(OPTIONAL + "defaults: {dense: {activation: relu}}\n")  # defaults merge into it too
    spec = archspec.load(path)
    dumped = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["layers"][1] == {"dense": {"units": 0, "when": False}}  # kept as written (substituted)
    assert _rows(loads(dumped)) == _rows(spec)
    for args in (["render", str(path)], ["draw", str(path), "-o", str(tmp_path / "w.svg")], ["validate", str(path)]):
        assert main(args) == 0, capsys.readouterr()
    assert "units: 10, activation: relu" in capsys.readouterr().out
