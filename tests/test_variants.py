"""Families as data: a spec's `variants`, chosen with `variant=`; every keras.applications variant
of every family file equals Keras' parameter count, and builds with static shapes equal to Keras'."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import ROOT

import archspec
from archspec.cli import cli

# keras.applications' count_params() for every variant of every family file, default include_top=True,
# weights=None. Measured once with Keras 3.15.1 (building under keras.StatelessScope(initialize_variables=False)
# only skips drawing initial weights): MobileNet(alpha=a, input_shape=(r, r, 3)), MobileNetV2 likewise,
# MobileNetV3Small/Large(input_shape=(224, 224, 3)[, alpha=0.75 | minimalistic=True]), EfficientNetB0..B7(),
# EfficientNetV2B0..B3/S/M/L(), ConvNeXtTiny..XLarge(), NASNetMobile/Large(), ResNet50V2/101V2/152V2().
KERAS_COUNTS: dict[str, dict[str, int]] = {
    "mobilenet": {
        "1.00_224": 4_253_864,
        "1.00_192": 4_253_864,
        "1.00_160": 4_253_864,
        "1.00_128": 4_253_864,
        "0.75_224": 2_601_976,
        "0.75_192": 2_601_976,
        "0.75_160": 2_601_976,
        "0.75_128": 2_601_976,
        "0.50_224": 1_342_536,
        "0.50_192": 1_342_536,
        "0.50_160": 1_342_536,
        "0.50_128": 1_342_536,
        "0.25_224": 475_544,
        "0.25_192": 475_544,
        "0.25_160": 475_544,
        "0.25_128": 475_544,
    },
    "mobilenet_v2": {
        "0.35_224": 1_691_208,
        "0.35_192": 1_691_208,
        "0.35_160": 1_691_208,
        "0.35_128": 1_691_208,
        "0.35_96": 1_691_208,
        "0.50_224": 1_987_224,
        "0.50_192": 1_987_224,
        "0.50_160": 1_987_224,
        "0.50_128": 1_987_224,
        "0.50_96": 1_987_224,
        "0.75_224": 2_663_064,
        "0.75_192": 2_663_064,
        "0.75_160": 2_663_064,
        "0.75_128": 2_663_064,
        "0.75_96": 2_663_064,
        "1.00_224": 3_538_984,
        "1.00_192": 3_538_984,
        "1.00_160": 3_538_984,
        "1.00_128": 3_538_984,
        "1.00_96": 3_538_984,
        "1.30_224": 5_431_048,
        "1.30_192": 5_431_048,
        "1.30_160": 5_431_048,
        "1.30_128": 5_431_048,
        "1.30_96": 5_431_048,
        "1.40_224": 6_156_712,
        "1.40_192": 6_156_712,
        "1.40_160": 6_156_712,
        "1.40_128": 6_156_712,
        "1.40_96": 6_156_712,
    },
    "mobilenet_v3_small": {"1.0": 2_554_968, "0.75": 2_051_552, "minimalistic": 2_056_848},
    "mobilenet_v3_large": {"1.0": 5_507_432, "0.75": 4_012_616, "minimalistic": 3_948_688},
    "efficientnet": {
        "b0": 5_330_571,
        "b1": 7_856_239,
        "b2": 9_177_569,
        "b3": 12_320_535,
        "b4": 19_466_823,
        "b5": 30_562_527,
        "b6": 43_265_143,
        "b7": 66_658_687,
    },
    "efficientnet_v2": {
        "b0": 7_200_312,
        "b1": 8_212_124,
        "b2": 10_178_374,
        "b3": 14_467_622,
        "s": 21_612_360,
        "m": 54_431_388,
        "l": 119_027_848,
    },
    "convnext": {
        "tiny": 28_589_128,
        "small": 50_223_688,
        "base": 88_591_464,
        "large": 197_767_336,
        "xlarge": 350_196_968,
    },
    "nasnet": {"mobile": 5_326_716, "large": 88_949_818},
    "resnet50_v2": {"50": 25_613_800, "101": 44_675_560, "152": 60_380_648},
}
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


@pytest.mark.parametrize("family", list(KERAS_COUNTS))
def test_header_states_every_count(family):
    header = "".join(line for line in spec(family).read_text().splitlines(keepends=True) if line.startswith("#"))
    for count in set(KERAS_COUNTS[family].values()):
        assert f"{count:,}" in header


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
    import keras

    with keras.StatelessScope(initialize_variables=False):
        model = archspec.check(spec(family), variant=variant)
    assert model.count_params() == KERAS_COUNTS[family][variant]
    keras.backend.clear_session()


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
    big = archspec.shapes(FAMILY, variant="big", width=5)
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
    assert archspec.shapes(joined, variant="small", width=16).layer("side").inputs == ("scale",)


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
