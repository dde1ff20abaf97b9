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
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from ..errors import LOOKALIKES, PathPart, Problem, SpecError, SpecPath, did_you_mean, lookalike, shown
from ..kinds.base import NAME_PATTERN, valid_keys
from ..kinds.registry import KINDS
from . import expr
from .given import words
from .network import SpecBase, kind_of, spec_model
from .read import Source, parse_value

_QUOTED = re.compile(r"'([^']*)'")
_TYPE_WORDS = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_RELEVANT = {
    str: ("literal_error", "string_type", "unknown_kind"),
    int: ("int", "greater", "less"),
    float: ("float", "greater", "less", "finite"),
    list: ("tuple", "list", "too_"),
}
_LENGTHS = ("too_long", "too_short", "string_too_long", "string_too_short")
_BOOLEAN_HINT = "YAML reads yes/no, on/off and true/false as booleans: write the number"


OVERRIDABLE = ("name", "description", "input", "inputs", "outputs", "defaults", "training")
"""Top-level fields `--set` may replace (dotted keys reach inside: `training.epochs=3`)."""


SECTIONS = ("search", "budget", "objectives")
"""The top-level keys only `archspec search` reads (``spec/search.py``): read as written, never substituted, and left
out of a run folder's resolved spec (one network has no search space)."""


VARIANT = "variant"
"""The override key that picks one of a spec's `variants` (`--variant b3` is `--set variant=b3`)."""


def variant_values(data: dict[str, Any], variables: Mapping[str, Any], name: Any, source: Source) -> dict[str, Any]:
    """The variable values of the variant `name` (a name the spec has: ``option_problems`` refuses others); every
    variant may set declared variables only."""
    table = data.get("variants")
    table = table if isinstance(table, dict) else {}
    problems = [
        source.problem(
            ("variants", v, key),
            f"variant {v!r} sets {key!r}, which is not a variable of the spec",
            "variants give values to the spec's variables; declare it under `variables:` first",
        )
        for v, values in table.items()
        if isinstance(values, dict)
        for key in values
        if key not in variables
    ]
    if problems:
        raise SpecError(problems)
    chosen = table.get(_written(name, table)) if _known(name, table) else None
    return dict(chosen) if isinstance(chosen, dict) else {}


def reserved_names(variables: Mapping[str, Any], source: Source) -> None:
    """Refuse variables named like what an override key means without them: `variant` (`--variant b3`
    is `--set variant=b3`) and the top-level fields `--set` edits (`input`, `training.epochs`).
    A variable of such a name silently swallowed the option: `--variant b3` set it instead.
    And names `$` cannot reach (`fе` with a Cyrillic е): refused at the name, not at each use."""
    problems = []
    for key in variables:
        head = str(key).split(".")[0]
        if key == VARIANT:
            problems.append(
                source.problem(
                    ("variables", key),
                    "a variable may not be called 'variant': `--variant NAME` "
                    "(and `--set variant=NAME`, Python's variant=) picks one of the spec's variants",
                    "rename the variable",
                    at_key=True,
                )
            )
        elif head in OVERRIDABLE:
            problems.append(
                source.problem(
                    ("variables", key),
                    f"a variable may not be called {key!r}: `--set {key}=...` sets the spec's field `{head}`",
                    "rename the variable",
                    at_key=True,
                )
            )
        elif not expr.is_name(
            str(key)
        ):  # `$fе` (a Cyrillic е) can never be written: its uses were blamed, not the name
            problems.append(_unreachable(("variables", key), "variable", source))
    if problems:
        raise SpecError(problems)


def option_problems(data: Any, overrides: Mapping[str, Any], source: Source) -> list[Problem]:
    """What `--variant` and `--set` name that the spec lacks, whatever else is wrong with it: a command that opens a
    spec to fix it (`serve`) still refuses options that do not fit it, as `shapes` does."""
    data = data if isinstance(data, dict) else {}
    variables = data.get("variables") if isinstance(data.get("variables"), dict) else {}
    table = data.get("variants") if isinstance(data.get("variants"), dict) else {}
    problems = []
    for key, value in overrides.items():
        if key == VARIANT:
            if not _known(value, table):
                problems.append(
                    Problem(
                        f"{words().variant_named(value)}: the spec has no variant {value!r}",
                        file=source.file,
                        hint=did_you_mean(value, [str(k) for k in table])
                        + f"variants: {', '.join(map(str, table)) or 'none'}",
                    )
                )
        elif key not in variables and key.split(".")[0] not in OVERRIDABLE:
            problems.append(
                Problem(
                    f"{words().named(key)}: the spec has no variable or field {key!r}",
                    file=source.file,
                    hint=did_you_mean(key, [*variables, *OVERRIDABLE])
                    + f"variables: {', '.join(variables) or 'none'}; fields: {', '.join(OVERRIDABLE)}"
                    + ("; `variant` picks one of the spec's variants" if table else ""),
                )
            )
    return problems


def _known(name: Any, table: Mapping[str, Any]) -> bool:
    """Whether `name` picks a row of the variants table (as written, or as the text that reads as it)."""
    written = _written(name, table)
    return isinstance(written, (str, int, float, bool)) and written in table


def _unreachable(path: tuple[PathPart, ...], what: str, source: Source) -> Problem:
    key = str(path[-1])
    alike = lookalike(key, key.translate(LOOKALIKES))
    return source.problem(
        path,
        f"{what} {key!r} cannot be used: `$name` reaches names of ASCII letters, digits and '_', "
        "not starting with a digit",
        f"{alike}; rename it" if alike else "rename it",
        at_key=True,
    )


def parameter_problems(data: Mapping[str, Any], source: Source) -> list[Problem]:
    """Template parameters `$` cannot reach, refused at the name (as variables are), not at each use."""
    blocks = data.get("blocks")
    return [
        _unreachable(("blocks", name, "params", key), "parameter", source)
        for name, template in (blocks.items() if isinstance(blocks, dict) else ())
        if isinstance(template, dict) and isinstance(template.get("params"), dict)
        for key in template["params"]
        if not expr.is_name(str(key))
    ]


def defaults_problems(data: Mapping[str, Any], source: Source) -> list[Problem]:
    """`defaults` keys that are no layer kind, two names of one kind, and settings the kind does not take.
    Each was silently without effect: `defaults: {cоnv: ...}` (a Cyrillic о), `bn:` (looked up as
    `batchnorm` only), a misspelt setting of a kind no layer happens to use."""
    table = data.get("defaults")
    if not isinstance(table, dict):
        return []
    problems: list[Problem] = []
    seen: dict[str, Any] = {}
    for key, settings in table.items():
        kind = KINDS.get(str(key))
        if kind is None:
            problems.append(
                source.problem(
                    ("defaults", key),
                    f"defaults: unknown layer kind {key!r}",
                    (did_you_mean(key, KINDS) or f"kinds: {', '.join(sorted(KINDS))}").strip(),
                    at_key=True,
                )
            )
            continue
        if kind.kind in seen:
            problems.append(
                source.problem(
                    ("defaults", key),
                    f"defaults: {key!r} and {seen[kind.kind]!r} are the same kind, {kind.kind!r}",
                    "give its defaults once",
                    at_key=True,
                )
            )
        seen[kind.kind] = key
        if isinstance(settings, dict) and not getattr(kind.schema, "open_keys", False):
            valid = valid_keys(kind.schema)
            problems += [
                source.problem(
                    ("defaults", key, name),
                    f"unknown key {name!r}",
                    f"{did_you_mean(name, valid)}valid keys: {', '.join(sorted(valid))}",
                    at_key=True,
                )
                for name in settings
                if name not in valid
            ]
    return problems


def _written(name: Any, table: Mapping[str, Any]) -> Any:
    """The variant key that reads as `name` (`--set variant=0.75` is the number 0.75; the key `0.75:` is
    the text '0.75', as written), or `name` itself when none or several do."""
    if isinstance(name, str):
        return name
    same = [key for key in table if isinstance(key, str) and _reads_as(key) == (type(name), name)]
    return same[0] if len(same) == 1 else name


def _reads_as(text: str) -> tuple[type, Any]:
    try:
        value = parse_value(text)
    except SpecError:
        return (str, text)
    return (type(value), value)


def apply_overrides(
    data: dict[str, Any], overrides: Mapping[str, Any], source: Source
) -> tuple[dict[str, Any], dict[str, Any], dict[tuple[PathPart, ...], str], dict[str, str]]:
    """Split `--set` overrides into variable values and edits of top-level fields (applied to a copy);
    the third result maps each replaced field's path to the assignment that replaced it, the fourth
    each variable given a value to where the value came from (`--set classes=4`, or the variant).

    `variant` picks a row of the spec's `variants` table; its values apply first, the other
    overrides over them. No variable may take a name these keys own (`reserved_names`)."""
    written = data.get("variables")
    variables: dict[str, Any] = written if isinstance(written, dict) else {}
    reserved_names(variables, source)
    out = dict(data)
    overrides = dict(overrides)
    problems = option_problems(data, overrides, source)
    variant = overrides.pop(VARIANT, None)
    var_values: dict[str, Any] = variant_values(data, variables, variant, source)
    origins = {key: _variant_origin(data, variant, key, value, source) for key, value in var_values.items()}
    fields: dict[tuple[PathPart, ...], str] = {}
    for key, value in overrides.items():
        parts = key.split(".")
        if key in variables:
            var_values[key] = value
            origins[key] = words().assigned(key, shown(value))
        elif parts[0] in OVERRIDABLE:
            target = out
            for part in parts[:-1]:
                child = target.get(part)
                target[part] = dict(child) if isinstance(child, dict) else {}
                target = target[part]
            for path in _merge(target, parts[-1], value, tuple(parts)):
                fields[path] = words().assigned(key, shown(value))
    if problems:
        raise SpecError(problems)
    return out, var_values, fields, origins


def _variant_origin(data: dict[str, Any], variant: Any, key: str, value: Any, source: Source) -> str:
    """Where a variant's value came from, for hints: the variant and its line (not `--set`, which was not given)."""
    name = _written(variant, data["variants"])
    spot = source.values.get(("variants", name, key))
    return f"variant {name!r}, {key}={shown(value)}" + (f" (line {spot[0]})" if spot else "")


def _merge(target: dict[str, Any], key: str, value: Any, path: tuple[PathPart, ...]) -> list[tuple[PathPart, ...]]:
    """Put `value` at `target[key]`: a mapping given for a mapping is merged into it, key by key and at
    every depth, so `--set defaults={batchnorm: {momentum: 0.9}}` keeps the spec's other defaults
    (replacing the whole mapping silently dropped them). Returns the paths the value replaced."""
    current = target.get(key)
    if not (isinstance(value, dict) and isinstance(current, dict) and value):
        target[key] = value
        return [path]
    merged = dict(current)
    target[key] = merged
    return [leaf for k, v in value.items() for leaf in _merge(merged, k, v, (*path, k))]


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
                    cycles.append((name, [*chain[chain.index(dep) :], dep]))
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


def _from_overrides(
    data: dict[str, Any], raw: dict[str, Any], var_values: Mapping[str, str], order: list[str]
) -> dict[tuple[PathPart, ...], str]:
    """Paths (outside `variables`) whose expression uses a variable `--set` or the variant gave,
    directly or through other variables -> where those values came from, for the hints of problems found there.
    `var_values`: each such variable -> its origin (`apply_overrides`)."""
    given: dict[str, set[str]] = {}
    for name in order:
        given[name] = ({name} if name in var_values else set()).union(
            *(given.get(d, set()) for d in _uses(raw[name]) if d not in var_values)
        )
    out: dict[tuple[PathPart, ...], str] = {}

    def walk(value: Any, path: tuple[PathPart, ...]) -> None:
        if expr.is_expr(value):
            names = set().union(*(given.get(n, set()) for n in expr.names(value)))
            if names:
                out[path] = ", ".join(f"${n} from {var_values[n]}" for n in sorted(names))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, i))

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


def resolve_variables(
    data: dict[str, Any], source: Source, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Substitute $variables outside block templates; variables may use each other in any order.

    An overridden variable takes its new value before other variables are computed from it.
    Variables defined through each other are one problem naming the cycle; expressions that
    use a variable which failed are not reported again."""
    return _resolve(data, source, overrides)[0]


def _resolve(
    data: dict[str, Any], source: Source, overrides: Mapping[str, Any] | None
) -> tuple[dict[str, Any], Source]:
    problems: list[Problem] = []
    data, var_values, fields, origins = apply_overrides(data, overrides or {}, source)
    written = data.get("variables")
    raw_vars: dict[str, Any] = written if isinstance(written, dict) else {}
    order, cycles = _variable_order(raw_vars, var_values)
    source = replace(source, overrides=fields, derived=_from_overrides(data, raw_vars, origins, order))
    problems.extend(defaults_problems(data, source) + parameter_problems(data, source))
    if "search" in data:  # the search space's module is imported by the specs that have one
        from .search import search_problems

        problems.extend(search_problems(data, source))
    broken: set[str] = set()

    def fail(path: SpecPath, message: str, hint: str | None = None) -> None:
        if _uses(_raw_at(data, path)) & broken:
            if path[:1] == ("variables",):
                broken.add(str(path[1]))
            return  # its cause is reported already
        if path[:1] == ("variables",):
            broken.add(str(path[1]))
        problems.append(source.problem(path, message, hint))

    for closer, cycle in cycles:
        if not broken.issuperset(cycle):
            problems.append(
                source.problem(
                    ("variables", closer),
                    f"variables defined through each other: cycle {' -> '.join(cycle)}",
                    "give one of them a value that does not use the others",
                )
            )
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
        key: value
        if key in ("blocks", "variables", "variants", "reference", *SECTIONS)
        else expr.substitute(value, env, fail, (key,))
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
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if (isinstance(current, dict) and part in current) or in_list:
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
        return (
            f"unknown key {ctx['key']!r}",
            f"{did_you_mean(ctx['key'], str(ctx['valid']).split(', '))}valid keys: {ctx['valid']}",
            True,
        )
    if kind == "unknown_kind":
        tag = kind_of(value)
        if isinstance(value, dict) and len(value) != 1:
            keys = ", ".join(map(str, value)) or "none"
            return (
                f"a layer is a mapping with exactly one key, its kind; got keys: {keys}",
                "settings such as `name` go inside the kind's mapping: `- conv: {filters: 6, kernel: 5, name: c1}`",
                False,
            )
        if tag is None:
            return (
                f"a layer must be a kind name or a one-key mapping, got {type(value).__name__}",
                f"kinds: {', '.join(sorted(KINDS))}",
                False,
            )
        return (
            f"unknown layer kind {tag!r}",
            (did_you_mean(tag, KINDS) or f"kinds: {', '.join(sorted(KINDS))}").strip(),
            True,
        )
    if kind == "missing":
        if isinstance(err["loc"][-1], int):
            return f"too few items: item {err['loc'][-1]} is missing", None, False
        return f"missing required key {err['loc'][-1]!r}", None, False
    if kind in _TYPE_WORDS:
        return (
            f"expected {_TYPE_WORDS[kind]}, got {shown(value)}",
            _BOOLEAN_HINT if isinstance(value, bool) else None,
            False,
        )
    if kind == "bool_not_number":
        return err["msg"], _BOOLEAN_HINT, False
    if kind in _LENGTHS:  # Pydantic's "Tuple should have at most 1 item after validation, not 2", in archspec's words
        bound = ctx.get("max_length") if kind.endswith("long") else ctx.get("min_length")
        what = ("character" if isinstance(value, str) else "item") + ("" if bound == 1 else "s")
        size = f"{len(value):,}" if hasattr(value, "__len__") else "?"
        return (
            f"expected {'at most' if kind.endswith('long') else 'at least'} {bound} {what}, got {size}: {shown(value)}",
            None,
            False,
        )
    message = err["msg"].replace("Input should be", "should be")
    if kind.startswith("value_error"):
        message = message.removeprefix("Value error, ")
    hint = None
    if kind == "literal_error":
        options = _QUOTED.findall(str(ctx.get("expected", "")))
        message = f"expected {ctx.get('expected')}, got {shown(value)}"
        hint = (did_you_mean(value, options) if isinstance(value, str) else "").strip() or None
    elif kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        message = f"a name may hold letters, digits, '_', '.' and '-' only, got {shown(value)}"
    elif kind in (
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "finite_number",
        "string_pattern_mismatch",
    ):
        message = f"{message}, got {shown(value)}"
    return message, hint, False


def _most_relevant(errors: list[Any], data: Any) -> list[Any]:
    """Of several errors at one spot (one per member of a union), keep those matching the value's type."""
    groups: dict[SpecPath, list[Any]] = {}
    for err in errors:
        groups.setdefault(data_path(err["loc"], data), []).append(err)
    typed = [path for path, errs in groups.items() if all(e["type"] in _TYPE_WORDS for e in errs)]
    for path in typed:  # `float | list[float]` given a list with a bad item: the list member's deeper error is the one
        if any(len(other) > len(path) and other[: len(path)] == path for other in groups):
            del groups[path]
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
        if err["loc"][-1:] == ("[key]",):  # a key that is not text (a dict from Python): blame the key, not its value
            key = err["input"]
            path = (*data_path(err["loc"][:-2], data), str(key))
            by_path.setdefault(path, []).append(
                (
                    f"a key here is a name, written as text; got the {type(key).__name__} {shown(key)}",
                    f"write it as text: {str(key)!r}",
                    True,
                )
            )
            continue
        path = data_path(err["loc"], data)
        try:
            value = _value_at(data, path)
        except (KeyError, IndexError, TypeError):
            value = None
        msg, hint, at_key = _message(err, value)
        if err["type"] == "unknown_key":
            path = (*path, err["ctx"]["key"])
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


def validate(source: Source, overrides: Mapping[str, Any] | None = None) -> SpecBase:
    """A validated Spec model from parsed data; the Source is kept for later error locations."""
    data, source = _resolve(source.data, source, overrides)
    try:
        spec = spec_model().model_validate(data)
    except ValidationError as exc:
        raise translate(exc, source, data) from None
    spec._source = source
    return spec
