"""Lint: an activation on the logits (a relu from `defaults` on the layer a softmax reads, or on the values an output
gives as logits) is a warning; logits straight from a layer's sums, and a regression output's relu, are not."""

from __future__ import annotations

import pytest
from conftest import ROOT

import archspec


def spec(layers, *, defaults=None, training=None, outputs=None):
    data = {"name": "w", "input": [28, 28, 1], "layers": layers}
    for key, value in (("defaults", defaults), ("training", training), ("outputs", outputs)):
        if value is not None:
            data[key] = value
    return data


ALL_CONV = [
    {"conv": {"filters": 8, "kernel": 3}},
    {"conv": {"filters": 10, "kernel": 1}},
    {"pool": {"kind": "avg", "global": True}},
]
RELU = {"conv": {"activation": "relu", "padding": "same"}}

FLAGGED = {
    "relu from defaults, then a softmax": (
        spec([*ALL_CONV, {"activation": "softmax"}], defaults=RELU),
        "conv_2",
        "the softmax of 'activation_1'",
    ),
    "relu from defaults, the output gives logits": (
        spec(ALL_CONV, defaults=RELU),
        "conv_2",
        "output 'pool_1' gives (its classification loss applies the softmax)",
    ),
    "relu on a dense, dropout, softmax": (
        spec(["flatten", {"dense": {"units": 10, "activation": "relu"}}, {"dropout": 0.5}, {"activation": "softmax"}]),
        "dense_1",
        "the softmax of 'activation_1'",
    ),
    "tanh, then dropout as a multilabel output": (
        spec(
            ["flatten", {"dense": {"units": 4, "activation": "tanh"}}, {"dropout": 0.1}],
            training={"heads": {"dropout_1": "multilabel"}},
        ),
        "dense_1",
        "its multilabel loss applies the sigmoid",
    ),
}


@pytest.mark.parametrize("case", FLAGGED)
def test_an_activation_on_the_logits_is_flagged(case):
    data, layer, what = FLAGGED[case]
    warnings = [w for w in archspec.shapes(data).warnings if "on the logits" in w.message]
    assert len(warnings) == 1, [w.message for w in archspec.shapes(data).warnings]
    assert warnings[0].message.startswith(f"layer {layer!r}: ") and what in warnings[0].message
    assert warnings[0].path and "activation: linear" in warnings[0].hint


CLEAN = {
    "the override the hint gives": spec(
        [ALL_CONV[0], {"conv": {"filters": 10, "kernel": 1, "activation": "linear"}}, ALL_CONV[2]], defaults=RELU
    ),
    "a dense layer's own sums": spec(["flatten", {"dense": {"units": 32, "activation": "relu"}}, {"dense": 10}]),
    "softmax in the dense layer": spec(
        ["flatten", {"dense": {"units": 32, "activation": "relu"}}, {"dense": {"units": 10, "activation": "softmax"}}]
    ),
    "a regression output may end in a relu's values": spec(
        [*ALL_CONV], defaults=RELU, training={"heads": {"pool_1": "regression"}}
    ),
    "batch norm after the relu": spec([*ALL_CONV[:2], "batchnorm", ALL_CONV[2]], defaults=RELU),
}


@pytest.mark.parametrize("case", CLEAN)
def test_logits_from_sums_are_not_flagged(case):
    assert not [w.message for w in archspec.shapes(CLEAN[case]).warnings if "on the logits" in w.message]


def test_the_zoo_is_clean():
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        assert not [w for w in archspec.shapes(path, max_params=None).warnings if "on the logits" in w.message], (
            path.name
        )
