"""render (fully resolved specs) and diff (block-by-block comparison)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import ROOT, SPECS, TEST_SPECS

import archspec
from archspec.cli import cli
from archspec.kinds.registry import OPS
from archspec.tools.resolve import resolved_yaml as render

RESNET50, RESNET101 = (
    archspec.shapes(ROOT / "specs" / f"{name}.yaml").total_params for name in ("resnet50", "resnet101")
)
"""The static counts, which tests/test_facts_zoo.py holds to keras.applications' figures in the specs' `reference`
fields: a figure is checked there, once, so a changed figure fails that test and not this file."""


def signature(report):
    return [
        (layer.name, layer.type, layer.output_shape, layer.params, layer.trainable_params) for layer in report.layers
    ]


@pytest.mark.parametrize("path", SPECS + TEST_SPECS, ids=lambda p: p.stem)
def test_render_resolves_to_the_identical_model(path):
    spec = archspec.load(path)
    text = render(spec)
    resolved = archspec.loads(text)
    assert signature(archspec.shapes(resolved)) == signature(archspec.shapes(spec))
    kinds = {next(iter(item)) for item in __import__("yaml").safe_load(text)["layers"]}
    assert kinds <= set(OPS)  # primitives only
    assert "$" not in text
    assert resolved.blocks == {} and resolved.variables == {}


def test_rendered_lenet_builds_the_same_keras_model():
    a = archspec.build(ROOT / "specs" / "lenet.yaml")
    b = archspec.build(archspec.loads(render(archspec.load(ROOT / "specs" / "lenet.yaml"))))
    assert [(layer.name, layer.output.shape) for layer in a.layers] == [
        (layer.name, layer.output.shape) for layer in b.layers
    ]
    assert a.count_params() == b.count_params()


def test_render_cli_with_overrides(tmp_path):
    out = tmp_path / "r.yaml"
    result = CliRunner().invoke(
        cli, ["render", str(ROOT / "specs" / "resnet50.yaml"), "--set", "classes=10", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert archspec.shapes(out).total_params == 23_608_202


def test_resnet50_with_ten_classes():
    assert archspec.shapes(ROOT / "specs" / "resnet50.yaml", variables={"classes": 10}).total_params == 23_608_202
    result = CliRunner().invoke(cli, ["shapes", str(ROOT / "specs" / "resnet50.yaml"), "--set", "classes=10", "--json"])
    assert json.loads(result.output)["total_params"] == 23_608_202


def test_diff_resnet50_resnet101_differs_only_in_conv4():
    result = CliRunner().invoke(
        cli, ["diff", str(ROOT / "specs" / "resnet50.yaml"), str(ROOT / "specs" / "resnet101.yaml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["a"]["total_params"], data["b"]["total_params"]) == (RESNET50, RESNET101)
    changed = [row["name"] for row in data["blocks"] if row["changed"]]
    assert changed == ["conv4"]
    conv4 = next(row for row in data["blocks"] if row["name"] == "conv4")
    assert conv4["a"]["layers"] == 6 * 10 + 2 and conv4["b"]["layers"] == 23 * 10 + 2  # 10 nodes a block, +2 projection


def test_diff_table_marks_the_changed_block():
    result = CliRunner().invoke(
        cli, ["diff", str(ROOT / "specs" / "resnet50.yaml"), str(ROOT / "specs" / "resnet101.yaml")]
    )
    lines = [line for line in result.output.splitlines() if line.startswith("*")]
    assert len(lines) == 1 and "conv4" in lines[0]
    assert f"{RESNET50:,}" in result.output and f"{RESNET101:,}" in result.output


def test_diff_of_one_spec_under_overrides():
    result = CliRunner().invoke(cli, ["diff", str(ROOT / "specs" / "lenet.yaml"), "--set", "classes=4", "--json"])
    data = json.loads(result.output)
    assert [r["name"] for r in data["blocks"] if r["changed"]] == ["dense_3"]
