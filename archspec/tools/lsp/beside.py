"""Beside the YAML language server: which of archspec's problems its schema check reports too.

An editor may run the YAML language server on specs with archspec's JSON Schema (`archspec schema`)
next to `archspec lsp`. Both then check a spec's form (unknown keys, types, ranges, named values),
and the same mistake would be underlined twice. When the client says so (initialization option
``yamlSchema: true``), archspec leaves to the YAML language server the problems on lines where the
schema itself fails (worked out here with the same schema, by the `jsonschema` package) and keeps
everything the schema cannot see: shapes, references, variables, budgets, lint warnings, YAML
syntax. Without `jsonschema`, or without the option, archspec reports everything.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

from ...spec.read import Source


@cache
def _validator() -> Any:
    """The schema's validator, built once (None when `jsonschema` is not installed)."""
    try:
        jsonschema = importlib.import_module("jsonschema")  # an optional dependency (the `lsp` extra), untyped
    except ModuleNotFoundError:
        return None
    from ...spec.jsonschema import schema

    return jsonschema.Draft202012Validator(schema())


def schema_lines(source: Source) -> set[int] | None:
    """The 1-based lines the schema check fails on (each error's value, and an unexpected key's own line);
    None when it cannot be worked out here."""
    validator = _validator()
    if validator is None:
        return None
    lines: set[int] = set()
    for error in _all(validator.iter_errors(source.data)):
        path = tuple(error.absolute_path)
        mark = source.values.get(path) or source.keys.get(path)
        if mark:
            lines.add(mark[0])
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, dict) else {}
            for key in error.instance:
                if key not in known and not any(re.search(p, str(key)) for p in patterns):
                    key_mark = source.keys.get((*path, key))
                    if key_mark:
                        lines.add(key_mark[0])
    return lines


def _all(errors: Iterable[Any]) -> Iterable[Any]:
    """Each error and the errors of the alternatives it tried (anyOf/oneOf), depth first."""
    for error in errors:
        yield error
        yield from _all(error.context or ())
