"""Families as data: a spec's `variants`, chosen with `variant=`; every keras.applications variant
of every family file equals Keras' parameter count, and builds with static shapes equal to Keras'."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import ROOT, without_weights

import archspec
from archspec.cli import cli
from archspec.tools.zoo import reference_of

# keras.applications' count_params() for every variant of every family file, default include_top=True,
# weights=None, as each family's `reference.variants` states it (its `reference.source` names the constructor
# calls). Measured once with Keras 3.15.1 (building under keras.StatelessScope(initialize_variables=False)
# only skips drawing initial weights); the slow test below builds every variant against these figures.
FAMILIES = [p.stem for p in sorted((ROOT / "specs").glob("*.yaml")) if archspec.load(p).variants]
KERAS_COUNTS: dict[str, dict[str, int]] = {family: dict(reference_of(family).variants) for family in FAMILIES}
# The base network of a family written out with plain numbers, and the variant it must equal.
WRITTEN_OUT = {
    "efficientnet_b0": ("efficientnet", "b0"),
    "efficientnet_v2_b0": ("efficientnet_v2", "b0"),
    "convnext_tiny": ("convnext", "tiny"),
    "nasnet_mobile": ("nasnet", "mobile"),
}


def spec(name: str):
    return ROOT / "specs" / f"{name}.yaml"


@pytest.mark.parametrize("family", list(KERAS_COUNTS))
def test_every_variant_has_keras_parameter_count(family):
    variants = archspec.load(spec(family)).variants
    assert set(variants) == set(KERAS_COUNTS[family])
    for variant, count in KERAS_COUNTS[family].items():
        assert (
            archspec.shapes(spec(family), variant=variant, max_params=None, max_activations=None).total_params == count
        ), variant


@pytest.mark.parametrize("written, family_variant", list(WRITTEN_OUT.items()), ids=list(WRITTEN_OUT))
def test_written_out_base_equals_the_family_variant(written, family_variant):
    family, variant = family_variant
    a, b = archspec.shapes(spec(written)), archspec.shapes(spec(family), variant=variant)
    signature = lambda r: [
        (layer.name, layer.type, layer.inputs, layer.output_shape, layer.params) for layer in r.layers
    ]
    assert signature(a) == signature(b) and a.name == b.name


@pytest.mark.slow
@pytest.mark.parametrize("family, variant", [(f, v) for f, table in KERAS_COUNTS.items() for v in table])
def test_every_variant_builds_with_static_shapes_equal_to_keras(family, variant):
    """`archspec check` for every variant: each node's static shape and parameters against the built Keras
    layer. Built without drawing initial weights (they play no part in shapes), which halves the time."""
    with without_weights():
        model = archspec.check(spec(family), variant=variant)
        assert model.count_params() == KERAS_COUNTS[family][variant]


# -- the language --------------------------------------------------------------------------------

FAMILY = {
    "name": "fam",
    "input": ["$size", "$size", 3],
    "variables": {"width": 8, "size": 16, "norm": True},
    "variants": {"small": {"width": 4}, "big": {"width": 16, "size": 32, "norm": False}},
    "layers": [
        {"rescaling": {"scale": 0.5, "when": "$norm", "name": "scale"}},
        {"conv": {"filters": "$width", "kernel": 3, "name": "c"}},
        {"pool": "global_avg"},
        {"dense": 2},
    ],
}


def test_a_variant_sets_variables_and_overrides_apply_over_it():
    assert archspec.shapes(FAMILY).layer("c").output_shape == (14, 14, 8)
    assert archspec.shapes(FAMILY, variant="small").layer("c").output_shape == (14, 14, 4)
    big = archspec.shapes(FAMILY, variant="big", variables={"width": 5})
    assert big.layer("c").output_shape == (30, 30, 5)
    assert archspec.load(spec("efficientnet"), variant="b3").input == (300, 300, 3)


def test_when_false_leaves_the_layer_out_and_its_name_reads_its_input():
    names = lambda r: [layer.name for layer in r.layers]
    assert names(archspec.shapes(FAMILY))[:2] == ["scale", "c"]
    big = archspec.graph_of(FAMILY, variant="big")
    assert [n.name for n in big.nodes][:2] == ["input", "c"]
    side = {"conv": {"filters": 16, "kernel": 3, "input": "scale", "name": "side"}}
    joined = {**FAMILY, "layers": [*FAMILY["layers"][:2], side, {"add": ["c", "side"]}, *FAMILY["layers"][2:]]}
    assert archspec.shapes(joined, variant="big").layer("side").inputs == ("input",)
    assert archspec.shapes(joined, variant="small", variables={"width": 16}).layer("side").inputs == ("scale",)


def test_unknown_variant_and_stray_keys_are_errors():
    with pytest.raises(archspec.SpecError, match="no variant 'smal'") as info:
        archspec.shapes(FAMILY, variant="smal")
    assert "did you mean 'small'" in str(info.value)
    bad = {**FAMILY, "variants": {"x": {"widht": 3}}}
    with pytest.raises(archspec.SpecError, match="variant 'x' sets 'widht', which is not a variable") as info:
        archspec.shapes(bad)
    assert info.value.problems[0].path == ("variants", "x", "widht")


def test_cli_variant_variants_and_diff(tmp_path):
    path = tmp_path / "fam.json"
    path.write_text(json.dumps(FAMILY))
    run = lambda *args: CliRunner().invoke(cli, [*args])
    table = run("shapes", str(path), "--variants")
    assert table.exit_code == 0, table.output
    rows = {line.split()[0]: line for line in table.output.splitlines()[2:]}
    assert "16x16x3" in rows["small"] and "32x32x3" in rows["big"] and "(defaults)" in rows
    one = run("shapes", str(path), "--variant", "big", "--set", "width=3", "--json")
    assert json.loads(one.output)["input_shape"] == [32, 32, 3] and json.loads(one.output)["layers"][0][
        "output_shape"
    ] == [30, 30, 3]
    diff = run("diff", str(path), "--variant", "small", "--variant", "big", "--json")
    data = json.loads(diff.output)
    assert (data["a"]["total_params"], data["b"]["total_params"]) == (122, 482)
    wrong = run("shapes", str(path), "--variant", "huge")
    assert wrong.exit_code != 0 and "no variant 'huge'" in str(wrong.exception)


def test_numeric_looking_variant_names():
    """`--variant 1.0` is the variant "1.0", not the number."""
    result = CliRunner().invoke(cli, ["shapes", str(spec("mobilenet_v3_small")), "--variant", "0.75", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total_params"] == KERAS_COUNTS["mobilenet_v3_small"]["0.75"]
