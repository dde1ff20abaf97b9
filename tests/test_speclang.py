"""The spec language held to "no silent wrong answer" (issue 24): `--set` onto mappings, keys as written,
names the options own, names Keras refuses, undefined layer values, outputs and heads that do not exist."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import ROOT

import archspec
from archspec.cli import cli
from archspec.errors import SpecError

MOBILENET_V2 = ROOT / "specs" / "mobilenet_v2.yaml"


def _error(fn, *args, **kwargs) -> SpecError:
    with pytest.raises(SpecError) as info:
        fn(*args, **kwargs)
    return info.value


# --- `--set` a mapping onto a mapping -------------------------------------------------------------


def test_set_defaults_mapping_keeps_the_other_defaults():
    """`--set defaults={batchnorm: ...}` used to replace the whole mapping: MobileNetV2 lost its
    explicit padding layers (mbconv's `pad: explicit` default) and nothing was said."""
    plain = archspec.graph_of(MOBILENET_V2)
    merged = archspec.graph_of(MOBILENET_V2, variables={"defaults": {"batchnorm": {"momentum": 0.9}}})
    assert [n.name for n in merged.nodes] == [n.name for n in plain.nodes]
    bns = [n for n in merged.nodes if n.op == "batchnorm"]
    assert bns and all(n.attrs.momentum == 0.9 and n.attrs.epsilon == 1e-3 for n in bns)


def test_set_mapping_problem_in_the_file_is_not_blamed_on_set():
    text = MOBILENET_V2.read_text().replace("momentum: 0.999}", "momentum: 0.999, bogus: 1}")
    err = _error(archspec.loads, text, variables={"defaults": {"mbconv": {"activation": "relu"}}})
    assert err.problems[0].file == "<string>" and "bogus" in err.problems[0].message
    err = _error(archspec.graph_of, MOBILENET_V2, variables={"defaults": {"batchnorm": {"momentum": 2}}})
    assert err.problems[0].file == "variables" and err.problems[0].field_path == "defaults.batchnorm.momentum"


def test_set_dotted_path_and_mapping_agree():
    dotted = archspec.graph_of(MOBILENET_V2, variables={"defaults.batchnorm.momentum": 0.9})
    mapping = archspec.graph_of(MOBILENET_V2, variables={"defaults": {"batchnorm": {"momentum": 0.9}}})
    assert [(n.name, n.attrs) for n in dotted.nodes] == [(n.name, n.attrs) for n in mapping.nodes]


# --- keys are names, kept as written ---------------------------------------------------------------

FAMILY = """\
name: fam
input: [16, 16, 3]
variables: {width: 1.0, yes: 2}
variants:
  0.75: {width: 0.75}
  yes: {width: 2}
  off: {width: 0.5}
layers:
  - conv: {filters: int(16 * $width), kernel: 3}
  - flatten
  - dense: {units: $yes}
"""


@pytest.mark.parametrize(
    "args, filters",
    [
        (["--variant", "0.75"], 12),
        (["--variant", "yes"], 32),
        (["--variant", "off"], 8),
        (["--set", "variant=0.75"], 12),
        (["--set", "variant=yes"], 32),
    ],
)
def test_variant_keys_are_the_text_written(tmp_path, args, filters):
    path = tmp_path / "fam.yaml"
    path.write_text(FAMILY)
    result = CliRunner().invoke(cli, ["shapes", str(path), "--json", *args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["layers"][0]["output_shape"] == [14, 14, filters]


def test_variant_table_lists_keys_as_written():
    spec = archspec.loads(FAMILY)
    assert list(spec.variants) == ["0.75", "yes", "off"] and spec.variables["yes"] == 2
    assert archspec.loads(FAMILY, variant=0.75).variables["width"] == 0.75  # Python's number names the key `0.75:`


@pytest.mark.parametrize("table", [{"variants": {0.75: {"w": 2}}}, {"variables": {True: 1}}, {"outputs": {1: "d"}}])
def test_dict_keys_that_are_not_text_are_blamed_on_the_key(table):
    data = {
        "name": "x",
        "input": [8, 8, 1],
        "variables": {"w": 1},
        "layers": ["flatten", {"dense": {"units": 2, "name": "d"}}],
    }
    err = _error(archspec.loads, {**data, **table})
    (key,) = next(iter(table.values()))
    assert err.problems[0].message == f"a key here is a name, written as text; got the {type(key).__name__} {key!r}"
    assert err.problems[0].path[-1] == str(key)


# --- names the options own -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["variant", "name", "input", "training", "training.epochs", "defaults.conv"])
def test_a_variable_may_not_take_an_option_name(name):
    """A variable `variant` swallowed `--variant b3` (it set the variable); `input`, `training.epochs`, ...
    swallowed the `--set` of the field of that name."""
    text = f"name: x\ninput: [8, 8, 1]\nvariables: {{'{name}': 1, w: 2}}\nlayers: [flatten, {{dense: 2}}]\n"
    err = _error(archspec.loads, text)
    (problem,) = err.problems
    assert problem.message.startswith(f"a variable may not be called {name!r}") and (problem.line, problem.column) == (
        3,
        13,
    )


# --- messages that blame the right thing -------------------------------------------------------------


def test_defaults_written_with_an_alias_apply():
    """`defaults: {bn: ...}` was looked up as `batchnorm` only: silently without effect."""
    graph = archspec.graph_of(
        {
            "name": "x",
            "input": [8, 8, 1],
            "defaults": {"bn": {"momentum": 0.5}},
            "layers": [{"conv": {"filters": 2, "kernel": 3, "bn": True}}, "flatten", {"dense": 2}],
        }
    )
    assert [n.attrs.momentum for n in graph.nodes if n.op == "batchnorm"] == [0.5]


def test_a_short_reference_finds_its_lookalike():
    """`$fe` for a variable written `fе` (Cyrillic е): difflib finds nothing so short; the folded match does."""
    from archspec.errors import did_you_mean

    assert did_you_mean("fe", ["fе", "other"], "$").startswith(
        "did you mean $fе? ('fe' has 'e' where 'fе' has 'е' (U+0435"
    )
    assert (
        did_you_mean("conv\u2060", ["conv"])
        == "did you mean 'conv'? ('conv\\u2060' has an invisible U+2060 word joiner) "
    )
    assert did_you_mean("convv", ["conv"]) == "did you mean 'conv'? "


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"input": [8, 8, 1, 1]}, "input: expected at most 3 items, got 4: [8, 8, 1, 1]"),
        ({"layers": []}, "layers: expected at least 1 item, got 0: []"),
        ({"name": "x" * 300}, "name: expected at most 200 characters, got 300:"),
    ],
)
def test_pydantic_length_phrases_are_translated(extra, expected):
    err = _error(archspec.loads, {"name": "x", "input": [8, 8, 1], "layers": ["flatten", {"dense": 2}], **extra})
    assert str(err.problems[0]).startswith(f"<dict>: {expected}") and "should have" not in str(err)
