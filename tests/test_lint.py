"""Warnings: each rule fires on the spec made to trigger it, and not on the primer's LeNet."""

from __future__ import annotations

import pytest
from conftest import ROOT

import archspec
from archspec.cli import main


def spec(layers, input=(32, 32, 1)):
    return {"name": "w", "input": list(input), "layers": layers}


CASES = {
    "does not fit": spec([{"conv": {"filters": 4, "kernel": 3, "stride": 2}}, "flatten", {"dense": 2}]),
    "larger than its": spec(
        [{"pool": {"kind": "max", "size": 5, "padding": "same"}}, "flatten", {"dense": 2}], input=(4, 4, 1)
    ),
    "dense layer reading": spec(["flatten", {"dense": 2}], input=(1024, 1024, 2)),
    "softmax before the last layer": spec(["flatten", {"dense": {"units": 4, "activation": "softmax"}}, {"dense": 2}]),
    "already covers the whole": spec(
        [{"conv": {"filters": 2, "kernel": 9, "padding": "same"}}] * 2
        + [{"conv": {"filters": 2, "kernel": 3, "padding": "same"}}] * 10
        + ["flatten", {"dense": 2}],
        input=(16, 16, 1),
    ),
}


@pytest.mark.parametrize("fragment", CASES)
def test_rule_fires(fragment):
    report = archspec.shapes(CASES[fragment], max_activations=None)
    assert any(fragment in w.message for w in report.warnings), [w.message for w in report.warnings]
    assert all(w.path for w in report.warnings)


def test_lenet_is_clean():
    assert archspec.shapes(ROOT / "specs" / "lenet.yaml").warnings == []


def test_padding_zeros_are_not_a_lost_border():
    """ResNet's 7x7/2 stem on 224+3+3 drops only a padded zero column: no warning."""
    report = archspec.shapes(ROOT / "specs" / "resnet50.yaml")
    assert not any("does not fit" in w.message for w in report.warnings)


def test_strict_turns_warnings_into_errors(tmp_path, capsys):
    import yaml

    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(CASES["does not fit"]))
    assert main(["validate", str(path)]) == 0
    assert "warning:" in capsys.readouterr().err
    assert main(["validate", "--strict", str(path)]) == 2
    err = capsys.readouterr().err
    assert "does not fit" in err
    assert "warning:" not in err and "error (--strict): layer" in err  # what failed is called an error


@pytest.mark.parametrize(
    "layer, fits, wrong",
    [
        ({"pool": {"kind": "max", "size": 5, "padding": "same"}}, "global pool", None),
        ({"conv": {"filters": 2, "kernel": 5, "padding": "same"}}, "kernel", "global pool"),
    ],
)
def test_window_advice_fits_the_layer(layer, fits, wrong):
    warnings = archspec.shapes(spec([layer, "flatten", {"dense": 2}], input=(4, 4, 1))).warnings
    (warning,) = [w for w in warnings if "larger than its" in w.message]
    assert fits in warning.hint and (wrong is None or wrong not in warning.hint)


def test_activation_budget(capsys):
    big = spec([{"conv": {"filters": 64, "kernel": 3, "padding": "same"}}] * 4, input=(4096, 4096, 3))
    with pytest.raises(archspec.SpecError, match="activation values, over the budget"):
        archspec.shapes(big)
    assert archspec.shapes(big, max_activations=None).total_params > 0
