"""`KEY=VALUE` assignments from the command line (`--set`, `--train-set`), read once, one way.

Values are read as YAML by the spec reader's own rules (safe tags, no alias
inside its own anchor, `5e-1` a number, NaN refused), so numbers, booleans,
lists and mappings keep their types (`--set classes=10`, `--train-set
data.mean=[0.5,0.5,0.5]`). A value that cannot be read is an error located at
the option, never a traceback and never silently kept as text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import Problem, SpecError, shown
from .read import parse_value


def parse_assignments(items: Iterable[str], option: str = "--set") -> dict[str, Any]:
    """`key=value` strings -> {key: value}; an empty value is null."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise SpecError(
                Problem(
                    f"expected KEY=VALUE, got {shown(item)}",
                    file=option,
                    hint=f"e.g. {option} classes=10" if option == "--set" else f"e.g. {option} optimizer.momentum=0.9",
                )
            )
        try:
            out[key] = parse_value(value)
        except SpecError as exc:
            problem = exc.problems[0]
            raise SpecError(
                Problem(
                    f"{key}: cannot read {shown(value)} as a value: {problem.message}",
                    file=option,
                    hint=problem.hint
                    or "values are read as YAML: quote text that is not a number, list or "
                    f"mapping ({option} '{key}=\"...\"')",
                )
            ) from None
    return out
