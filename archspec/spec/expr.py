"""A tiny, safe evaluator for the arithmetic specs may write: ``4 * $filters``.

A string value containing ``$`` is an expression. ``$name`` alone stands for
the variable's value, whatever its type; anything longer must be arithmetic
over numbers: ``+ - * / // % **``, parentheses, and the functions below.
Python's ``ast`` parses the text; only the node types listed here are walked,
so nothing is ever executed.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any, Callable, Mapping

from ..errors import closest

_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_ONLY_VAR = re.compile(r"\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*")

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
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "int": int,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "min": min,
    "max": max,
}
_MAX_POWER = 64


class ExprError(ValueError):
    """An expression is malformed or refers to something undefined (message is user-facing)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


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
    """
    only = _ONLY_VAR.fullmatch(text)
    if only:
        return _lookup(only.group(1), env)
    python = _VAR.sub(lambda m: f"__v_{m.group(1)}", text)
    try:
        tree = ast.parse(python.strip(), mode="eval")
    except SyntaxError:
        raise ExprError(f"cannot parse expression {text!r}") from None
    return _eval(tree.body, env, text)


def _lookup(name: str, env: Mapping[str, Any]) -> Any:
    if name not in env:
        near = closest(name, env)
        known = ", ".join(f"${k}" for k in sorted(env)) or "none"
        raise ExprError(f"undefined variable ${name}", (f"did you mean ${near}? " if near else "") + f"defined: {known}")
    return env[name]


def _eval(node: ast.AST, env: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id.startswith("__v_"):
        value = _lookup(node.id[4:], env)
        if type(value) not in (int, float):
            raise ExprError(f"${node.id[4:]} is {value!r}, not a number, in {text!r}")
        return value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left, env, text), _eval(node.right, env, text)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_POWER:
            raise ExprError(f"exponent {right} too large in {text!r}")
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise ExprError(f"division by zero in {text!r}") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, env, text))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in FUNCTIONS
        and not node.keywords
    ):
        return FUNCTIONS[node.func.id](*(_eval(a, env, text) for a in node.args))
    raise ExprError(
        f"unsupported expression {text!r}: use numbers, $variables, + - * / // % **, "
        f"parentheses and {', '.join(FUNCTIONS)}"
    )


def substitute(value: Any, env: Mapping[str, Any], on_error: Callable[[tuple, str, str | None], None], path: tuple = ()) -> Any:
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
        return {k: substitute(v, env, on_error, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env, on_error, path + (i,)) for i, v in enumerate(value)]
    return value
