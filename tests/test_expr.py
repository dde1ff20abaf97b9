"""The spec expression evaluator: arithmetic over variables, and nothing else."""

from __future__ import annotations

import pytest

from archspec.spec.expr import ExprError, evaluate, substitute


@pytest.mark.parametrize("text, value", [
    ("$f", 16), ("4 * $f", 64), ("($f + 2) // 3", 6), ("int($w * 64)", 32), ("max($f, 100)", 100),
    ("-$f", -16), ("$f ** 2", 256), ("$f / 4", 4.0), ("ceil($w * 3)", 2), ("$act", "relu"),
])
def test_evaluates(text, value):
    assert evaluate(text, {"f": 16, "w": 0.5, "act": "relu"}) == value


@pytest.mark.parametrize("text", [
    "__import__('os').system('true') or $f", "$f.__class__", "[x for x in ()] or $f", "$f if 1 else 2",
    "open('/etc/passwd') and $f", "lambda: $f", "$f; 1", "$act * 2",
])
def test_refuses_anything_but_arithmetic(text):
    with pytest.raises(ExprError):
        evaluate(text, {"f": 16, "act": "relu"})


def test_huge_power_refused():
    with pytest.raises(ExprError, match="exponent"):
        evaluate("$f ** 99999", {"f": 16})


def test_substitute_keeps_ints_and_reports_paths():
    errors = []
    out = substitute({"a": "$w * 64", "b": ["$missing"], "c": 3}, {"w": 0.5}, lambda p, m, h: errors.append((p, m)))
    assert out["a"] == 32 and type(out["a"]) is int and out["c"] == 3
    assert errors == [(("b", 0), "undefined variable $missing")]
