"""`KEY=VALUE` assignments from the command line (`--set`, `--train-set`), read once, one way.

Values are read as YAML, so numbers, booleans, lists and mappings keep their
types (`--set classes=10`, `--train-set data.mean=[0.5,0.5,0.5]`). A value
YAML cannot read is an error located at the option, never a traceback and
never silently kept as text.
"""

from __future__ import annotations

from typing import Any, Iterable

import yaml

from ..errors import Problem, SpecError


def parse_assignments(items: Iterable[str], option: str = "--set") -> dict[str, Any]:
    """`key=value` strings -> {key: value}; an empty value is null."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise SpecError(Problem(f"{option}: expected KEY=VALUE, got {item!r}", file=option,
                                    hint=f"e.g. {option} classes=10" if option == "--set" else f"e.g. {option} optimizer.momentum=0.9"))
        try:
            out[key] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise SpecError(Problem(f"{option} {key}: cannot read {value!r} as a value ({problem})", file=option,
                                    hint="values are read as YAML: quote text that is not a number, list or mapping "
                                         f"({option} '{key}=\"...\"')")) from None
    return out
