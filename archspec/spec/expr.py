"""A tiny, safe evaluator for the arithmetic specs may write: ``4 * $filters``.

A string value containing ``$`` is an expression. ``$name`` alone stands for
the variable's value, whatever its type; anything longer must be arithmetic
over numbers: ``+ - * / // % **``, parentheses, comparisons, ``a if c else b``
and the functions below. Python's ``ast`` parses the text; only the node types
listed here are walked, so nothing is ever executed.

A name written around variables (``conv_dw_$id``, ``$(model)_stem``,
``normal_concat_$($n - 2)``) is text with the values put in: how a template
gives each instance Keras' own names.

Work is bounded before it is done: the text's length and the tree's depth
are checked before evaluating, exponents are small, and every value met on the
way must be a finite real number no larger than ``MAX_MAGNITUDE``, so no
operation ever sees operands large enough to be slow, and nothing (overflow,
infinity, a complex power) escapes as a Python exception.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import Any

from ..errors import SpecPath, did_you_mean, shown

_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_ONLY_VAR = re.compile(r"\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*")
_PART = re.compile(r"\$\(([^()]*(?:\([^()]*\)[^()]*)*)\)|\$([A-Za-z_][A-Za-z0-9_]*)")
"""A value put into text: `$(expression)` (one level of parentheses inside) or `$name`.
Parentheses, not braces, so that names stay plain in YAML's `{...}` mappings."""
_TEXT = re.compile(r"[A-Za-z0-9_.\-]*[A-Za-z_][A-Za-z0-9_.\-]*")
"""What is left of a name template once its values are taken out: name characters, a letter among them."""
_DUNDER = re.compile(r"__[A-Za-z0-9]+__")
"""`$f.__class__` is not a name: anything that looks like Python's special names is refused."""

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
MAX_LENGTH = 500
"""Longest expression accepted, in characters."""
MAX_DEPTH = 32
"""Deepest nesting of operations and calls accepted."""
MAX_MAGNITUDE = 10**15
"""Largest absolute value an expression may produce, finally or on the way."""


def _round(x: Any, ndigits: Any = None) -> Any:
    """`round`, with the digits bounded: round(10, -10**9) would compute a billion-digit power."""
    if ndigits is not None and (type(ndigits) is not int or abs(ndigits) > 15):
        raise ValueError(f"the digits to round to must be an integer from -15 to 15, got {ndigits!r}")
    return round(x, ndigits)


_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def make_divisible(value: float, divisor: int = 8, minimum: int | None = None) -> int:
    """Channels rounded to a multiple of `divisor`, never below `minimum` (the divisor) nor
    10% under `value`: the rounding MobileNet v2/v3 and EfficientNet apply to every width.

    >>> make_divisible(32 * 1.1), make_divisible(16 * 0.35), make_divisible(72 * 0.75)
    (32, 8, 56)
    """
    minimum = divisor if minimum is None else minimum
    rounded = max(minimum, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "int": int,
    "round": _round,
    "floor": math.floor,
    "ceil": math.ceil,
    "min": min,
    "max": max,
    "make_divisible": make_divisible,
}
_MAX_POWER = 64


class ExprError(ValueError):
    """An expression is malformed or refers to something undefined (message is user-facing)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def is_name(text: str) -> bool:
    """Whether `$text` refers to a variable named `text` (a name `$` can reach)."""
    return _ONLY_VAR.fullmatch("$" + text) is not None and text.strip() == text


def is_expr(value: Any) -> bool:
    return isinstance(value, str) and "$" in value


def names(text: str) -> set[str]:
    """Variables an expression refers to."""
    return set(_VAR.findall(text))


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """Value of an expression given variable values.

    >>> evaluate("4 * $filters", {"filters": 16})
    64
    >>> evaluate("int($width * 64)", {"width": 0.5})
    32
    >>> evaluate("$act", {"act": "relu"})
    'relu'
    >>> evaluate("conv_dw_$id", {"id": 3}), evaluate("$(m)_$($i + 1)", {"m": "stage", "i": 0})
    ('conv_dw_3', 'stage_1')
    """
    only = _ONLY_VAR.fullmatch(text)
    if only:
        return _lookup(only.group(1), env)
    if len(text) > MAX_LENGTH:
        raise ExprError(
            f"expression of {len(text):,} characters, longer than {MAX_LENGTH}: {shown(text)}",
            "compute it in steps, through variables",
        )
    rest = _PART.sub("", text)
    if rest != text and _TEXT.fullmatch(rest) and not _DUNDER.search(rest):  # text around $parts: a name
        return _PART.sub(lambda m: _text(_part(m, env)), text)
    python = _VAR.sub(lambda m: f"__v_{m.group(1)}", text)
    try:
        tree = ast.parse(python.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(
            f"cannot parse expression {shown(text)}" + (f" ({exc.msg})" if "nested" in (exc.msg or "") else "")
        ) from None
    except (RecursionError, MemoryError):
        raise ExprError(f"expression {shown(text)} is nested too deeply to parse") from None
    _check_depth(tree.body, text)
    return _eval(tree.body, env, text)


def _check_depth(root: ast.AST, text: str) -> None:
    """Refuse deep trees before walking them recursively (iteratively, so this cannot overflow)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(f"expression {shown(text)} is nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _number(value: Any, text: str) -> Any:
    """`value` when it is a finite real number within bounds; the error saying what it is otherwise."""
    if isinstance(value, complex):
        raise ExprError(f"{shown(text)} is not a real number (a negative number to a fractional power?)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError(f"{shown(text)} is not finite: a value on the way is {value}")
    if abs(value) > MAX_MAGNITUDE:
        raise ExprError(f"a value in {shown(text)} is too large: {shown(value)} (the limit is 1e15)")
    return value


def _part(match: re.Match[str], env: Mapping[str, Any]) -> Any:
    """The value of `$name`, `$(name)` or `$(expression)` inside a name."""
    inner = match.group(1)
    if inner is None or re.fullmatch(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*", inner):
        return _lookup((match.group(2) or inner).strip(), env)
    return evaluate(inner, env)


def _text(value: Any) -> str:
    """A value as it reads inside a name: 2.0 is `2`, true is `true`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _lookup(name: str, env: Mapping[str, Any]) -> Any:
    if name not in env:
        known = ", ".join(f"${k}" for k in sorted(env)) or "none"
        raise ExprError(f"undefined variable ${name}", did_you_mean(name, env, "$") + f"defined: {known}")
    return env[name]


def _eval(node: ast.AST, env: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _number(node.value, text)
    if isinstance(node, ast.Name) and node.id.startswith("__v_"):
        value = _lookup(node.id[4:], env)
        if type(value) not in (int, float):
            raise ExprError(f"${node.id[4:]} is {shown(value)}, not a number, in {shown(text)}")
        return _number(value, text)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, env, text), _eval(node.right, env, text)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_POWER:
            raise ExprError(f"exponent {right} too large in {shown(text)}")
        try:
            return _number(_BINARY[type(node.op)](left, right), text)
        except ZeroDivisionError:
            raise ExprError(f"division by zero in {shown(text)}") from None
        except OverflowError:
            raise ExprError(f"a value in {shown(text)} is too large (the limit is 1e15)") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, env, text))
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        values = [_eval(v, env, text) for v in (node.left, *node.comparators)]
        return int(all(_COMPARE[type(op)](a, b) for op, (a, b) in zip(node.ops, pairwise(values), strict=True)))
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env, text) else node.orelse, env, text)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and not node.keywords
    ):
        args = [_eval(a, env, text) for a in node.args]
        try:
            return _number(FUNCTIONS[node.func.id](*args), text)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            raise ExprError(f"{node.func.id}() in {shown(text)}: {exc}") from None
    raise ExprError(
        f"unsupported expression {shown(text)}: use numbers, $variables, + - * / // % **, "
        f"comparisons, `a if condition else b`, parentheses and {', '.join(FUNCTIONS)}"
    )


def substitute(
    value: Any, env: Mapping[str, Any], on_error: Callable[[SpecPath, str, str | None], None], path: SpecPath = ()
) -> Any:
    """Replace every expression inside plain data; report failures through ``on_error``.

    Integral floats become ints so ``$width * 64`` can feed an integer field.
    """
    if is_expr(value):
        try:
            out = evaluate(value, env)
        except ExprError as exc:
            on_error(path, str(exc), exc.hint)
            return value
        if isinstance(out, float) and out.is_integer() and not _ONLY_VAR.fullmatch(value):
            return int(out)
        return out
    if isinstance(value, dict):
        return {k: substitute(v, env, on_error, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env, on_error, (*path, i)) for i, v in enumerate(value)]
    return value
