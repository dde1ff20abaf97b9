"""Validation pass: plain data (with positions) -> a Spec model, or one SpecError listing every problem.

Top-level ``variables`` are substituted first, everywhere but inside block
templates (those are resolved per use, with their parameters). Pydantic then
checks the whole document; its errors are translated back to positions in
the file, with the closest valid name for typos.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from pydantic import BaseModel, ValidationError

from . import expr
from ..errors import PathPart, Problem, SpecError, closest
from .read import Source
from ..kinds.registry import KINDS
from .network import kind_of, spec_model

_QUOTED = re.compile(r"'([^']*)'")
_TYPE_WORDS = {
    "int_parsing": "an integer", "int_type": "an integer", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "a string", "list_type": "a list", "tuple_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_RELEVANT = {str: ("literal_error", "string_type", "unknown_kind"), int: ("int", "greater", "less"), list: ("tuple", "list", "too_")}


OVERRIDABLE = ("name", "description", "input", "defaults", "training")
"""Top-level fields `--set` may replace (dotted keys reach inside: `training.epochs=3`)."""


VARIANT = "variant"
"""The override key that picks one of a spec's `variants` (`--variant b3` is `--set variant=b3`)."""


def variant_values(data: dict[str, Any], variables: Mapping[str, Any], name: Any, source: Source) -> dict[str, Any]:
    """The variable values of the variant `name`; every variant may set declared variables only."""
    table = data.get("variants")
    table = table if isinstance(table, dict) else {}
    problems = [source.problem(("variants", v, key), f"variant {v!r} sets {key!r}, which is not a variable of the spec",
                               "variants give values to the spec's variables; declare it under `variables:` first")
                for v, values in table.items() if isinstance(values, dict) for key in values if key not in variables]
    if name is not None and name not in table:
        near = closest(str(name), [str(k) for k in table])
        problems.append(Problem(f"--variant {name}: the spec has no variant {name!r}", file=source.file,
                                hint=(f"did you mean {near!r}? " if near else "") + f"variants: {', '.join(map(str, table)) or 'none'}"))
    if problems:
        raise SpecError(problems)
    chosen = table.get(name) if name is not None else None
    return dict(chosen) if isinstance(chosen, dict) else {}


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], source: Source) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split `--set` overrides into variable values and edits of top-level fields (applied to a copy).

    `variant` picks a row of the spec's `variants` table (unless the spec has a variable of that
    name); its values apply first, the other overrides over them."""
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else {}
    out = dict(data)
    overrides = dict(overrides)
    variant = overrides.pop(VARIANT, None) if VARIANT not in variables else None
    var_values: dict[str, Any] = variant_values(data, variables, variant, source)
    problems = []
    for key, value in overrides.items():
        parts = key.split(".")
        if key in variables:
            var_values[key] = value
        elif parts[0] in OVERRIDABLE:
            target = out
            for i, part in enumerate(parts[:-1]):
                child = target.get(part)
                target[part] = dict(child) if isinstance(child, dict) else {}
                target = target[part]
            target[parts[-1]] = value
        else:
            near = closest(key, [*variables, *OVERRIDABLE])
            problems.append(Problem(
                f"--set {key}: the spec has no variable or field {key!r}", file=source.file,
                hint=(f"did you mean {near!r}? " if near else "") + f"variables: {', '.join(variables) or 'none'}; fields: {', '.join(OVERRIDABLE)}"
                     + ("; `variant` picks one of the spec's variants" if isinstance(data.get("variants"), dict) else ""),
            ))
    if problems:
        raise SpecError(problems)
    return out, var_values


def resolve_variables(data: dict[str, Any], source: Source, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Substitute $variables outside block templates; variables may use earlier ones.

    An overridden variable takes its new value before later variables are computed from it."""
    problems: list[Problem] = []

    def fail(path: tuple, message: str, hint: str | None = None) -> None:
        problems.append(source.problem(path, message, hint))

    data, var_values = apply_overrides(data, overrides or {}, source)
    raw_vars = data.get("variables") or {}
    env: dict[str, Any] = {}
    if isinstance(raw_vars, dict):
        for key, value in raw_vars.items():
            env[key] = var_values[key] if key in var_values else expr.substitute(value, env, fail, ("variables", key))
    out = {
        key: value if key in ("blocks", "variables", "variants") else expr.substitute(value, env, fail, (key,))
        for key, value in data.items()
    }
    if "variables" in out and isinstance(raw_vars, dict):
        out["variables"] = env
    if problems:
        raise SpecError(problems)
    return out


def data_path(loc: Sequence[PathPart], data: Any) -> tuple[PathPart, ...]:
    """Pydantic's error location mapped onto the data: union tags and wrapper names are skipped."""
    path: list[PathPart] = []
    current = data
    for part in loc:
        if isinstance(current, dict) and part in current:
            current = current[part]
            path.append(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
            path.append(part)
        elif isinstance(current, dict) and isinstance(part, str) and part.endswith("_") and part[:-1] in current:
            current = current[part[:-1]]  # python-safe field names such as `global_`
            path.append(part[:-1])
    return tuple(path)


def _value_at(data: Any, path: Sequence[PathPart]) -> Any:
    for part in path:
        data = data[part]
    return data


def _message(err: Mapping[str, Any], value: Any) -> tuple[str, str | None, bool]:
    """(message, hint, located at the key) for one Pydantic error."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "unknown_key":
        near = ctx.get("suggestion")
        return f"unknown key {ctx['key']!r}", (f"did you mean {near!r}? valid keys: {ctx['valid']}" if near else f"valid keys: {ctx['valid']}"), True
    if kind == "unknown_kind":
        tag = kind_of(value)
        if isinstance(value, dict) and len(value) != 1:
            keys = ", ".join(map(str, value)) or "none"
            return (f"a layer is a mapping with exactly one key, its kind; got keys: {keys}",
                    "settings such as `name` go inside the kind's mapping: `- conv: {filters: 6, kernel: 5, name: c1}`", False)
        if tag is None:
            return f"a layer must be a kind name or a one-key mapping, got {type(value).__name__}", f"kinds: {', '.join(sorted(KINDS))}", False
        near = closest(tag, KINDS)
        return f"unknown layer kind {tag!r}", (f"did you mean {near!r}?" if near else f"kinds: {', '.join(sorted(KINDS))}"), True
    if kind == "missing":
        if isinstance(err["loc"][-1], int):
            return f"too few items: item {err['loc'][-1]} is missing", None, False
        return f"missing required key {err['loc'][-1]!r}", None, False
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {value!r}", None, False
    message = err["msg"].replace("Input should be", "should be")
    if kind.startswith("value_error"):
        message = message.removeprefix("Value error, ")
    hint = None
    if kind == "literal_error":
        options = _QUOTED.findall(str(ctx.get("expected", "")))
        near = closest(str(value), options) if isinstance(value, str) else None
        message = f"expected {ctx.get('expected')}, got {value!r}"
        hint = f"did you mean {near!r}?" if near else None
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        message = f"{message}, got {value!r}"
    return message, hint, False


def _most_relevant(errors: list[Any], data: Any) -> list[Any]:
    """Of several errors at one spot (one per member of a union), keep those matching the value's type."""
    groups: dict[tuple, list[Any]] = {}
    for err in errors:
        groups.setdefault(data_path(err["loc"], data), []).append(err)
    out = []
    for path, errs in groups.items():
        if len(errs) > 1:
            try:
                value = _value_at(data, path)
            except (KeyError, IndexError, TypeError):
                value = None
            prefixes = _RELEVANT.get(type(value), ())
            matching = [e for e in errs if e["type"].startswith(prefixes)] if prefixes else []
            errs = matching or errs
        out.extend(errs)
    return out


def translate(exc: ValidationError, source: Source, data: Any, prefix: tuple[PathPart, ...] = ()) -> SpecError:
    """Pydantic errors -> located Problems; several errors at one spot (a union's members) become one.

    `data` is what was validated; `prefix` is where it sits in the source (for template bodies)."""
    by_path: dict[tuple[PathPart, ...], list[tuple[str, str | None, bool]]] = {}
    errors = exc.errors(include_url=False)
    for err in _most_relevant(errors, data):
        path = data_path(err["loc"], data)
        try:
            value = _value_at(data, path)
        except (KeyError, IndexError, TypeError):
            value = None
        msg, hint, at_key = _message(err, value)
        if err["type"] == "unknown_key":
            path = path + (err["ctx"]["key"],)
        by_path.setdefault(path, []).append((msg, hint, at_key))
    problems = []
    for path, found in by_path.items():
        if len(found) == 1:
            msg, hint, at_key = found[0]
        else:
            try:
                value = _value_at(data, path)
            except (KeyError, IndexError, TypeError):
                value = None
            msgs = list(dict.fromkeys(m for m, _, _ in found))
            hints = [h for _, h, _ in found if h]
            msg = f"invalid value {value!r}: " + "; or ".join(msgs) if len(msgs) > 1 else msgs[0]
            hint, at_key = (hints[0] if hints else None), found[0][2]
        problems.append(source.problem(prefix + path, msg, hint, at_key=at_key))
    return SpecError(problems)


def validate(source: Source, overrides: Mapping[str, Any] | None = None) -> BaseModel:
    """A validated Spec model from parsed data; the Source is kept for later error locations."""
    data = resolve_variables(source.data, source, overrides)
    try:
        spec = spec_model().model_validate(data)
    except ValidationError as exc:
        raise translate(exc, source, data) from None
    spec._source = source  # type: ignore[attr-defined]
    return spec
