"""The spec expression evaluator: arithmetic over variables, and nothing else."""

from __future__ import annotations

import pytest

from archspec.spec.expr import ExprError, evaluate, substitute


@pytest.mark.parametrize(
    "text, value",
    [
        ("$f", 16),
        ("4 * $f", 64),
        ("($f + 2) // 3", 6),
        ("int($w * 64)", 32),
        ("max($f, 100)", 100),
        ("-$f", -16),
        ("$f ** 2", 256),
        ("$f / 4", 4.0),
        ("ceil($w * 3)", 2),
        ("$act", "relu"),
    ],
)
def test_evaluates(text, value):
    assert evaluate(text, {"f": 16, "w": 0.5, "act": "relu"}) == value


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true') or $f",
        "$f.__class__",
        "[x for x in ()] or $f",
        "{$f: 1}",
        "open('/etc/passwd') and $f",
        "lambda: $f",
        "$f; 1",
        "$act * 2",
    ],
)
def test_refuses_anything_but_arithmetic(text):
    with pytest.raises(ExprError):
        evaluate(text, {"f": 16, "act": "relu"})


@pytest.mark.parametrize(
    "text, value",
    [
        ("8 if $f > 10 else 4", 8),
        ("($f >= 16) + ($f != 16)", 1),
        ("0 < $w < 1", 1),
        ("make_divisible($f * 1.1)", 16),
        ("make_divisible(16 * 0.35)", 8),
        ("make_divisible(72 * 0.75, 8)", 56),
        ("make_divisible(20, 8, 16)", 24),
    ],
)
def test_conditionals_and_channel_rounding(text, value):
    """Enough to write EfficientNet's round_filters (make_divisible) and any if/else of a family."""
    assert evaluate(text, {"f": 16, "w": 0.5}) == value


@pytest.mark.parametrize(
    "text, value",
    [
        ("conv_dw_$id", "conv_dw_3"),
        ("$(name)_stem_conv", "convnext_tiny_stem_conv"),
        ("block$id$letter", "block3b"),
        ("normal_concat_$($id - 2)", "normal_concat_1"),
        ("x$($w * 4)", "x2"),
        ("c$(max($id, 5) - 1)", "c4"),
    ],
)
def test_names_take_values(text, value):
    """A name written around variables is text with their values put in (Keras' generated names)."""
    assert evaluate(text, {"id": 3, "name": "convnext_tiny", "letter": "b", "w": 0.5}) == value


@pytest.mark.parametrize("text", ["$id - 2", "2*$id", "($id)"])
def test_arithmetic_is_not_mistaken_for_a_name(text):
    assert isinstance(evaluate(text, {"id": 3}), int)


def test_names_report_undefined_variables():
    with pytest.raises(ExprError, match=r"undefined variable \$idx"):
        evaluate("conv_$idx", {"id": 3})


def test_huge_power_refused():
    with pytest.raises(ExprError, match="exponent"):
        evaluate("$f ** 99999", {"f": 16})


def test_substitute_keeps_ints_and_reports_paths():
    errors = []
    out = substitute({"a": "$w * 64", "b": ["$missing"], "c": 3}, {"w": 0.5}, lambda p, m, h: errors.append((p, m)))
    assert out["a"] == 32 and type(out["a"]) is int and out["c"] == 3
    assert errors == [(("b", 0), "undefined variable $missing")]
