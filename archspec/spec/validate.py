"""Validation pass: plain data (with positions) -> a Spec model, or one SpecError listing every problem.

Top-level ``variables`` are substituted first, everywhere but inside block
templates (those are resolved per use, with their parameters). Pydantic then
checks the whole document; its errors are translated back to positions in
the file, with the closest valid name for typos.

A `--set` value is not in the file: a problem with a field it replaced is
located at the option, and one with a value computed from a variable it set
says so in its hint (the Source carries both maps).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Mapping, Sequence

from pydantic import BaseModel, ValidationError

from . import expr
from ..errors import PathPart, Problem, SpecError, closest, shown
from .read import Source
from ..kinds.base import NAME_PATTERN
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
_BOOLEAN_HINT = "YAML reads yes/no, on/off and true/false as booleans: write the number"


OVERRIDABLE = ("name", "description", "input", "inputs", "outputs", "defaults", "training")
"""Top-level fields `--set` may replace (dotted keys reach inside: `training.epochs=3`)."""


VARIANT = "variant"
"""The override key that picks one of a spec's `variants` (`--variant b3` is `--set variant=b3`)."""


def variant_values(data: dict[str, Any], variables: Mapping[str, Any], name: Any, source: Source) -> dict[str, Any]:
    """The variable values of the variant `name` (a name the spec has: ``option_problems`` refuses others); every
    variant may set declared variables only."""
    table = data.get("variants")
    table = table if isinstance(table, dict) else {}
    problems = [source.problem(("variants", v, key), f"variant {v!r} sets {key!r}, which is not a variable of the spec",
                               "variants give values to the spec's variables; declare it under `variables:` first")
                for v, values in table.items() if isinstance(values, dict) for key in values if key not in variables]
    if problems:
        raise SpecError(problems)
    chosen = table.get(name) if name is not None else None
    return dict(chosen) if isinstance(chosen, dict) else {}


def option_problems(data: Any, overrides: Mapping[str, Any], source: Source) -> list[Problem]:
    """What `--variant` and `--set` name that the spec lacks, whatever else is wrong with it: a command that opens a
    spec to fix it (`serve`) still refuses options that do not fit it, as `shapes` does."""
    data = data if isinstance(data, dict) else {}
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else {}
    table = data.get("variants") if isinstance(data.get("variants"), dict) else {}
    problems = []
    for key in overrides:
        if key == VARIANT and VARIANT not in variables:
            name = overrides[key]
            if name not in table:
                near = closest(str(name), [str(k) for k in table])
                problems.append(Problem(f"--variant {name}: the spec has no variant {name!r}", file=source.file,
                                        hint=(f"did you mean {near!r}? " if near else "") + f"variants: {', '.join(map(str, table)) or 'none'}"))
        elif key not in variables and key.split(".")[0] not in OVERRIDABLE:
            near = closest(key, [*variables, *OVERRIDABLE])
            problems.append(Problem(
                f"--set {key}: the spec has no variable or field {key!r}", file=source.file,
                hint=(f"did you mean {near!r}? " if near else "") + f"variables: {', '.join(variables) or 'none'}; fields: {', '.join(OVERRIDABLE)}"
                     + ("; `variant` picks one of the spec's variants" if table else ""),
            ))
    return problems


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], source: Source) -> tuple[dict[str, Any], dict[str, Any], dict[tuple[PathPart, ...], str]]:
    """Split `--set` overrides into variable values and edits of top-level fields (applied to a copy);
    the third result maps each replaced field's path to the assignment that replaced it.

    `variant` picks a row of the spec's `variants` table (unless the spec has a variable of that
    name); its values apply first, the other overrides over them."""
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else {}
    out = dict(data)
    overrides = dict(overrides)
    problems = option_problems(data, overrides, source)
    variant = overrides.pop(VARIANT, None) if VARIANT not in variables else None
    var_values: dict[str, Any] = variant_values(data, variables, variant, source)
    fields: dict[tuple[PathPart, ...], str] = {}
    for key, value in overrides.items():
        parts = key.split(".")
        if key in variables:
            var_values[key] = value
        elif parts[0] in OVERRIDABLE:
            fields[tuple(parts)] = f"{key}={shown(value)}"
            target = out
            for i, part in enumerate(parts[:-1]):
                child = target.get(part)
                target[part] = dict(child) if isinstance(child, dict) else {}
                target = target[part]
            target[parts[-1]] = value
    if problems:
        raise SpecError(problems)
    return out, var_values, fields


def _uses(value: Any) -> set[str]:
    return expr.names(value) if expr.is_expr(value) else set()


def _variable_order(raw: dict[str, Any], fixed: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Variables ordered so each follows those it uses, and the cycles met: (the variable whose
    expression closes the cycle, the cycle). Depth-first with an explicit stack: a long chain of
    variables cannot overflow Python's."""
    deps = {name: [] if name in fixed else sorted(_uses(value) & raw.keys()) for name, value in raw.items()}
    order: list[str] = []
    cycles: list[tuple[str, list[str]]] = []
    state: dict[str, int] = {}  # 1: being resolved, 2: done
    for root in raw:
        if root in state:
            continue
        state[root] = 1
        stack, chain = [(root, iter(deps[root]))], [root]
        while stack:
            name, pending = stack[-1]
            for dep in pending:
                if state.get(dep) == 1:
                    cycles.append((name, chain[chain.index(dep):] + [dep]))
                elif dep not in state:
                    state[dep] = 1
                    stack.append((dep, iter(deps[dep])))
                    chain.append(dep)
                    break
            else:
                stack.pop()
                chain.pop()
                state[name] = 2
                order.append(name)
    return order, cycles


def _from_overrides(data: dict[str, Any], raw: dict[str, Any], var_values: Mapping[str, Any], order: list[str]) -> dict[tuple[PathPart, ...], str]:
    """Paths (outside `variables`) whose expression uses a variable `--set` gave, directly or
    through other variables -> those assignments, for the hints of problems found there."""
    given: dict[str, set[str]] = {}
    for name in order:
        given[name] = ({name} if name in var_values else set()).union(*(given.get(d, set()) for d in _uses(raw[name]) if d not in var_values))
    out: dict[tuple[PathPart, ...], str] = {}

    def walk(value: Any, path: tuple[PathPart, ...]) -> None:
        if expr.is_expr(value):
            names = set().union(*(given.get(n, set()) for n in expr.names(value)))
            if names:
                out[path] = ", ".join(f"${n} from --set {n}={shown(var_values[n])}" for n in sorted(names))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, path + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, path + (i,))

    if var_values:
        for key, value in data.items():
            if key != "variables":
                walk(value, (key,))
    return out


def _raw_at(data: Any, path: Sequence[PathPart]) -> Any:
    try:
        return _value_at(data, path)
    except (KeyError, IndexError, TypeError):
        return None


def resolve_variables(data: dict[str, Any], source: Source, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Substitute $variables outside block templates; variables may use each other in any order.

    An overridden variable takes its new value before other variables are computed from it.
    Variables defined through each other are one problem naming the cycle; expressions that
    use a variable which failed are not reported again."""
    return _resolve(data, source, overrides)[0]


def _resolve(data: dict[str, Any], source: Source, overrides: Mapping[str, Any] | None) -> tuple[dict[str, Any], Source]:
    problems: list[Problem] = []
    data, var_values, fields = apply_overrides(data, overrides or {}, source)
    raw_vars = data.get("variables") if isinstance(data.get("variables"), dict) else {}
    order, cycles = _variable_order(raw_vars, var_values)
    source = replace(source, overrides=fields, derived=_from_overrides(data, raw_vars, var_values, order))
    broken: set[str] = set()

    def fail(path: tuple, message: str, hint: str | None = None) -> None:
        if _uses(_raw_at(data, path)) & broken:
            if path[:1] == ("variables",):
                broken.add(str(path[1]))
            return  # its cause is reported already
        if path[:1] == ("variables",):
            broken.add(str(path[1]))
        problems.append(source.problem(path, message, hint))

    for closer, cycle in cycles:
        if not broken.issuperset(cycle):
            problems.append(source.problem(("variables", closer), f"variables defined through each other: cycle {' -> '.join(cycle)}",
                                           "give one of them a value that does not use the others"))
        broken.update(cycle)
    env: dict[str, Any] = {}
    for key in order:
        if key in var_values:
            env[key] = var_values[key]
        elif key not in broken:
            value = expr.substitute(raw_vars[key], env, fail, ("variables", key))
            if key not in broken:
                env[key] = value
    out = {
        key: value if key in ("blocks", "variables", "variants") else expr.substitute(value, env, fail, (key,))
        for key, value in data.items()
    }
    if "variables" in out and isinstance(data.get("variables"), dict):
        out["variables"] = {key: env[key] for key in raw_vars if key in env}
    if problems:
        raise SpecError(problems)
    return out, source


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
        return f"expected {_TYPE_WORDS[kind]}, got {shown(value)}", _BOOLEAN_HINT if isinstance(value, bool) else None, False
    if kind == "bool_not_number":
        return err["msg"], _BOOLEAN_HINT, False
    message = err["msg"].replace("Input should be", "should be")
    if kind.startswith("value_error"):
        message = message.removeprefix("Value error, ")
    hint = None
    if kind == "literal_error":
        options = _QUOTED.findall(str(ctx.get("expected", "")))
        near = closest(str(value), options) if isinstance(value, str) else None
        message = f"expected {ctx.get('expected')}, got {shown(value)}"
        hint = f"did you mean {near!r}?" if near else None
    elif kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        message = f"a name may hold letters, digits, '_', '.' and '-' only, got {shown(value)}"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number",
                  "string_pattern_mismatch", "string_too_long", "string_too_short"):
        message = f"{message}, got {shown(value)}"
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
            msg = f"invalid value {shown(value)}: " + "; or ".join(msgs) if len(msgs) > 1 else msgs[0]
            hint, at_key = (hints[0] if hints else None), found[0][2]
        problems.append(source.problem(prefix + path, msg, hint, at_key=at_key))
    return SpecError(problems)


def validate(source: Source, overrides: Mapping[str, Any] | None = None) -> BaseModel:
    """A validated Spec model from parsed data; the Source is kept for later error locations."""
    data, source = _resolve(source.data, source, overrides)
    try:
        spec = spec_model().model_validate(data)
    except ValidationError as exc:
        raise translate(exc, source, data) from None
    spec._source = source  # type: ignore[attr-defined]
    return spec
