"""A JSON Schema for spec files, generated from the Pydantic models, for editors.

``archspec schema > archspec.schema.json``; then a YAML spec starting with
``# yaml-language-server: $schema=archspec.schema.json`` gets completion,
hover text and red squiggles in any editor that speaks the YAML language
server (VS Code, Neovim, Helix, ...).

Pydantic writes the schema of what the models *store*; a spec is what people
*write*, and the models' "before" validators accept more than that. This
module widens the generated schema to match, using what the kind table knows
about each kind:

- a layer may be a bare kind name (``- flatten``) or have a null body;
- a kind with a short form takes its main setting directly (``dense: 10``),
  ``pool`` its named forms (``pool: global_avg``);
- every alias of a field is a key (``depth`` for ``filters``);
- window sizes, strides and dilations may be one number (``kernel: 5``), a
  conv kernel may be a matrix, zeropad's padding one number or a pair;
- a block template may be written as a single layer (``{params, residual}``);
- any number, boolean, enumerated or patterned value may be an expression
  over ``$variables`` (a string containing ``$``): those are checked when
  the spec is read, not by the schema.

It is then shaped for what the YAML language server does with it (tests/test_editor.py
drives the real server): the layer union is one ``Layer`` definition whose keys are the
kind names, so completion offers each kind once and a misspelled kind is one message;
among alternatives, scalars come first, because the server reports the first
alternative's errors when none fits (``stride: 0`` then reads as a range error, not
"expected an array"); defaults read as people write them; titles are words, not class
names; descriptions are Markdown.

The schema is a helper for editors. ``archspec validate`` remains the
authority: it also checks shapes, references and expression values.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any, get_args

from pydantic import AliasChoices, BaseModel, ValidationError

from ..kinds.base import LayerSpec, Pair, as_written
from ..kinds.registry import KINDS, description
from .network import spec_model
from .training import Training

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
LAYER = "#/$defs/Layer"
EXPRESSION_EXAMPLES = "`$classes` or `int(64 * $width)`"
EXPRESSION = {  # no description: the server would show it on hover in place of the key's own
    "type": "string",
    "pattern": r"\$",
    "patternErrorMessage": f"Expected one of the values above, or a `$` expression such as {EXPRESSION_EXAMPLES}.",
}
_EXPECTED = {"integer": "an integer", "number": "a number", "boolean": "true or false"}
_META = ("title", "description", "default", "examples")
_EXAMPLE = {
    "name": "lenet",
    "input": [32, 32, 1],
    "variables": {"classes": 10},
    "layers": [
        {"conv": {"depth": 6, "kernel": 5, "activation": "relu"}},
        {"pool": {"kind": "max", "size": 2, "stride": 2}},
        {"conv": {"depth": 16, "kernel": 5, "activation": "relu"}},
        {"pool": {"kind": "max", "size": 2, "stride": 2}},
        "flatten",
        {"dense": {"units": 120, "activation": "relu"}},
        {"dense": {"units": 100, "activation": "relu"}},
        {"dense": {"units": "$classes", "activation": "softmax"}},
    ],
}


def _accepts_nothing(model: type[BaseModel]) -> bool:
    """True when `kind:` with no settings is valid (every field has a default)."""
    return all(not f.is_required() for f in model.model_fields.values())


def _is_pair(annotation: Any) -> bool:
    return annotation == Pair or Pair in get_args(annotation)


def _with_alternatives(schema: dict[str, Any], alternatives: list[dict[str, Any]]) -> dict[str, Any]:
    """`schema` or any of `alternatives`; title, description, default and examples stay on the outside."""
    outer = {k: schema.pop(k) for k in _META if k in schema}
    if list(schema) == ["anyOf"]:
        return {**outer, "anyOf": [*schema["anyOf"], *alternatives]}
    return {**outer, "anyOf": [schema, *alternatives]}


def _integer(schema: dict[str, Any]) -> dict[str, Any]:
    """The integer schema of a pair's items (so `kernel: 5` keeps the pair's bounds)."""
    items = schema.get("prefixItems") or [{"type": "integer"}]
    return {k: v for k, v in items[0].items() if k not in _META}


def _widen_model(defs: dict[str, Any], model: type[BaseModel]) -> None:
    """Field aliases and single-value forms of one settings model, in place."""
    name = model.__name__
    if name not in defs:
        return
    body = defs[name]
    props = body.get("properties", {})
    required = body.get("required", [])
    for fname, field in model.model_fields.items():
        key = field.alias or fname
        if key not in props:
            continue
        if _is_pair(field.annotation):
            props[key] = _with_alternatives(props[key], [_integer(props[key])])
            if "default" in props[key]:
                props[key]["default"] = as_written(props[key]["default"])
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            others = [c for c in alias.choices if isinstance(c, str) and c != key]
            for other in others:
                props[other] = {**props[key], "description": f"Same as `{key}`."}
            if key in required:  # one of the names is required: the first unless another is given
                required.remove(key)
                rule: dict[str, Any] = {"required": [key]}
                for other in reversed(others):
                    rule = {"if": {"required": [other]}, "then": True, "else": rule}
                body.setdefault("allOf", []).append(rule)
    if "required" in body and not body["required"]:
        del body["required"]


def _models(root: type) -> dict[str, type]:
    """Every Pydantic model reachable from `root` through field types, by class name."""
    found: dict[str, type] = {}

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for f in tp.model_fields.values():
                visit(f.annotation)
        for arg in get_args(tp):
            visit(arg)

    visit(root)
    visit(Training)  # the spec's `training` field holds it, imported when first needed
    for kind in KINDS.values():
        visit(kind.schema)
    return found


_PROBES: tuple[Any, ...] = ("\x00probe", 3, 0.37, True, None, [])


def _short_forms(model: type[BaseModel], props: dict[str, Any]) -> list[dict[str, Any]]:
    """What a model accepts besides a mapping, found by trying one value of each JSON type.

    A "before" validator that turns `dense: 10` into `{units: 10}` shows itself: the
    value is accepted as, or rejected at, exactly one field. That field's schema is then
    the alternative. A value that ends up as an empty mapping (`flatten: null`) is an
    alternative when the mapping is valid."""
    forms: list[dict[str, Any]] = []
    fields: list[str] = []
    for probe in _PROBES:
        try:
            made = model.model_validate(probe)
        except ValidationError as exc:
            errors = exc.errors()
            if any(e["type"] == "missing" for e in errors):
                continue
            locs = {e["loc"][0] for e in errors if e["loc"] and isinstance(e["loc"][0], str)}
            if len(locs) == 1 and all(e["loc"] for e in errors):
                fields.append(locs.pop())
            continue
        except (TypeError, ValueError, AttributeError):
            continue
        set_ = list(made.model_fields_set)
        if len(set_) == 1:
            fields.append(set_[0])
        elif probe is None and not set_:
            forms.append({"type": "null"})
    for f in dict.fromkeys(fields):
        field = model.model_fields.get(f)
        key = field.alias if field is not None and field.alias else f
        if key in props:
            form = copy.deepcopy(props[key])
            for k in ("title", "default", "description", "examples"):  # the words are the kind's, not the field's
                form.pop(k, None)
            forms.append(form)
    return forms


def _widen_models(defs: dict[str, Any]) -> None:
    """Aliases, single-value forms, short forms and each kind's declared alternatives, in place."""
    models = {name: m for name, m in _models(spec_model()).items() if name in defs and not name.endswith("Item")}
    for model in models.values():
        _widen_model(defs, model)
    declared: dict[str, list[dict[str, Any]]] = {}
    for name, model in models.items():
        extra = getattr(model, "json_alternatives", {}) if issubclass(model, LayerSpec) else {}
        props = defs[name].get("properties", {})
        for field_name, alternatives in extra.items():
            if field_name:
                props[field_name] = _with_alternatives(props[field_name], copy.deepcopy(alternatives))
        # words on a whole-layer form would be shown on hover in place of the kind's
        declared[name] = [
            {k: v for k, v in form.items() if k != "description"} for form in copy.deepcopy(extra.get("", []))
        ]
    for name, m in models.items():
        alternatives = _short_forms(m, defs[name].get("properties", {})) + declared[name]
        if alternatives:
            body = defs[name]
            outer = {k: body.pop(k) for k in ("title", "description") if k in body}
            defs[name] = {**outer, "anyOf": [body, *alternatives]}


def _def_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _kinds(defs: dict[str, Any], union: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Kind name -> the schema of its settings, taken out of the union's one-key wrapper models
    (which leave the schema: the `Layer` definition replaces them)."""
    kinds = {}
    for member in union["oneOf"]:
        wrapper = defs.pop(_def_name(member["$ref"]))
        ((name, settings),) = wrapper["properties"].items()
        kind = KINDS[name]
        text = description(kind)
        if name != kind.kind:
            text = f"Another name for `{kind.kind}`.\n\n{text}"
        kinds[name] = {"$ref": settings["$ref"], "title": name, "description": text}
        defs[_def_name(settings["$ref"])]["description"] = description(kind)
    return dict(sorted(kinds.items()))


def _layer(kinds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One list item: a one-key mapping {kind: settings} or a bare kind name.

    The mapping's keys are the kind names (completion offers each once, hover shows its
    reference text). Its messages say what is wrong with a key: not a kind (the closest
    mistakes: a typo, or settings not indented under their kind), or a second kind in the
    same item."""
    bare = [name for name in kinds if _accepts_nothing(KINDS[name].schema)]
    names = ", ".join(kinds)
    return {
        "title": "layer",
        "description": "One layer: its kind as the key and its settings as the value (`- conv: {filters: 32, kernel: "
        "3}`), "
        "or a kind that needs no settings as a bare name (`- flatten`).",
        "oneOf": [
            {
                "type": "object",
                "properties": kinds,
                "propertyNames": {  # (not offered: the properties are)
                    "enum": list(kinds),
                    "doNotSuggest": True,
                    "errorMessage": f"Not a layer kind. The kinds are: {names}. A kind's settings go indented under "
                    "it.",
                },
                "dependentSchemas": {  # another kind beside `name` (other keys have the message above)
                    name: {
                        "propertyNames": {
                            "if": {"enum": list(kinds)},
                            "then": {
                                "const": name,
                                "errorMessage": f"A layer has one kind, and this item is already a `{name}`: start a "
                                "new `- ` item for the next layer.",
                            },
                        }
                    }
                    for name in kinds
                },
                "minProperties": 1,
            },
            {
                "type": "string",
                "pattern": "^(?:" + "|".join(re.escape(n) for n in bare) + ")$",
                "patternErrorMessage": f"Not a kind that can stand alone. Written alone: {', '.join(bare)}; "
                "other kinds take settings, e.g. `- conv: {filters: 32, kernel: 3}`.",
            },
        ],
    }


def _point_at_layer(node: Any, union: dict[str, Any]) -> Any:
    """Every copy of the layer union (the spec's layers and each block kind's layer lists) -> `Layer`."""
    if isinstance(node, list):
        return [_point_at_layer(v, union) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("oneOf") == union["oneOf"]:
        return {**{k: v for k, v in node.items() if k != "oneOf"}, "$ref": LAYER}
    return {k: _point_at_layer(v, union) for k, v in node.items()}


def _widen_template(defs: dict[str, Any], kinds: dict[str, dict[str, Any]]) -> None:
    """Template bodies are layers; a one-layer template may be written as {params, <kind>: ...}."""
    template = defs["Template"]
    template["properties"]["layers"]["items"] = {"$ref": LAYER}
    shared = {k: template["properties"][k] for k in ("params", "description")}
    single = {
        "type": "object",
        "description": "A one-layer template: `params` and that layer's kind as a key.",
        "properties": {**shared, **kinds},
        "additionalProperties": False,
        "oneOf": [{"required": [name]} for name in kinds],
    }
    outer = {k: template.pop(k) for k in _META if k in template}
    defs["Template"] = {**outer, "anyOf": [template, single]}


def _allow_expressions(node: Any, *, skip: bool = False) -> Any:
    """Every number, boolean, enumeration or patterned string may also be a `$` expression.

    A number or boolean becomes "that, or a string with a `$`" in one schema (bounds bind
    numbers only, the pattern strings only), so that a word where a number belongs gets a
    message naming both; an enumeration gets the expression as an alternative."""
    if isinstance(node, list):
        return [_allow_expressions(v, skip=skip) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "patternProperties"):
            # keys of these map names to schemas: descend into each schema
            out[key] = {k: _allow_expressions(v, skip=skip or k in _LITERAL) for k, v in value.items()}
        elif key in _META or key in ("const", "enum", "enumDescriptions", "required", "pattern", "type"):
            out[key] = value
        else:
            out[key] = _allow_expressions(value, skip=skip)
    if skip or out.get("pattern") == EXPRESSION["pattern"]:
        return out
    if "enum" in out:
        return _with_alternatives(out, [dict(EXPRESSION)])
    kind = out.get("type")
    if kind in _EXPECTED:
        message = f"Expected {_EXPECTED[kind]}, or a `$` expression such as {EXPRESSION_EXAMPLES}."
        return {
            **out,
            "type": [kind, "string"],
            "pattern": EXPRESSION["pattern"],
            "errorMessage": message,
            "patternErrorMessage": message,
        }
    if kind == "string" and "pattern" in out:
        return {
            **out,
            "pattern": f"(?:{out['pattern']})|{EXPRESSION['pattern']}",
            "patternErrorMessage": f"Expected text matching `{out['pattern']}`, or a `$` expression.",
        }
    return out


_LITERAL = ("variables", "params", "search", "budget", "objectives", "Search", "Domain", "Budget", "Objectives")
"""Properties and definitions whose values are never `$` expressions: variables' own values, template parameters'
defaults, and the search sections (read as written, by `archspec search` only)."""


# -- shaping for the YAML language server --

_RANK = {"integer": 0, "number": 0, "boolean": 0, "string": 0, "null": 1, "array": 2, "object": 3}


def _rank(schema: dict[str, Any], defs: dict[str, Any], seen: frozenset[str] = frozenset()) -> int:
    """Scalars, then null, then lists, then mappings: the order alternatives are listed in."""
    if "$ref" in schema:
        name = _def_name(schema["$ref"])
        return 3 if name in seen else _rank(defs[name], defs, seen | {name})
    if "enum" in schema or "const" in schema:
        return 0
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return min(_rank(b, defs, seen) for b in branches)
    kind = schema.get("type")
    if isinstance(kind, list):
        return min(_RANK.get(k, 4) for k in kind)
    return _RANK.get(kind, 4) if isinstance(kind, str) else 4


def _accepts(schema: Any, defs: dict[str, Any], seen: frozenset[str] = frozenset()) -> set[str] | None:
    """Which sorts of JSON value a schema can accept (strings with and without a `$` apart,
    integers counted as numbers); None when it cannot tell."""
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        name = _def_name(schema["$ref"])
        return None if name in seen else _accepts(defs[name], defs, seen | {name})
    values = schema["enum"] if "enum" in schema else [schema["const"]] if "const" in schema else None
    if values is not None:
        sorts = set()
        for v in values:
            sorts.add(
                "null"
                if v is None
                else "boolean"
                if isinstance(v, bool)
                else "number"
                if isinstance(v, (int, float))
                else ("$" if "$" in v else "string")
                if isinstance(v, str)
                else "array"
                if isinstance(v, list)
                else "object"
            )
        return sorts
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        sorts_of: set[str] = set()
        for branch in branches:
            part = _accepts(branch, defs, seen)
            if part is None:
                return None
            sorts_of |= part
        return sorts_of
    kinds = schema.get("type")
    if kinds is None:
        return None
    sorts = set()
    for kind in kinds if isinstance(kinds, list) else [kinds]:
        if kind == "string":
            sorts |= {"$"} if schema.get("pattern") == EXPRESSION["pattern"] else {"$", "string"}
        else:
            sorts.add("number" if kind == "integer" else kind)
    return sorts


def _exclusive(branches: list[Any], defs: dict[str, Any]) -> bool:
    """True when no value fits two of the alternatives (so `oneOf` says the same as `anyOf`)."""
    seen: set[str] = set()
    for b in branches:
        sorts = _accepts(b, defs)
        if sorts is None or sorts & seen:
            return False
        seen |= sorts
    return True


def _flat_alternatives(branches: list[Any]) -> list[Any]:
    """anyOf inside anyOf, spliced (a wrapper holding only alternatives and words adds nothing)."""
    out = []
    for b in branches:
        if isinstance(b, dict) and "anyOf" in b and set(b) <= {"anyOf", "title", "description", "markdownDescription"}:
            out.extend(_flat_alternatives(b["anyOf"]))
        else:
            out.append(b)
    return out


def _markdown(text: str) -> str:
    """Descriptions are written with `code` spans; outside them a `*` is a product, not emphasis."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else p.replace("*", r"\*") for p in parts)


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _for_editors(node: Any, defs: dict[str, Any]) -> Any:
    """The generated schema, as the YAML language server presents it best (see the module doc)."""
    if isinstance(node, list):
        return [_for_editors(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "patternProperties", "dependentSchemas"):
            out[key] = {k: _for_editors(v, defs) for k, v in value.items()}
        elif key in ("title", "enum", "const", "examples", "default", "required", "enumDescriptions"):
            if key != "title" and not (
                key == "default" and value is None
            ):  # Pydantic's titles are class and field names
                out[key] = value
        else:
            out[key] = _for_editors(value, defs)
    if "anyOf" in out:
        branches = sorted(_flat_alternatives(out.pop("anyOf")), key=lambda b: _rank(b, defs))
        if len(branches) == 1:
            return {**branches[0], **out}
        # exclusive alternatives as `oneOf`: the server's hover then shows the property's own
        # title and words, where for `anyOf` it strings together those of every alternative
        out["oneOf" if _exclusive(branches, defs) else "anyOf"] = branches
    items = out.get("prefixItems")
    if items and all(i == items[0] for i in items) and out.get("minItems") == out.get("maxItems") == len(items):
        # [k, k] as "k items, each ..." : the server then weighs a pair and a matrix by the same count
        # of items, and a third size reads "too many items", not "expected an array" from the matrix form
        out["items"] = out.pop("prefixItems")[0]
    kind = out.get("type")
    if (kind == "integer" or (isinstance(kind, list) and "integer" in kind)) and "exclusiveMinimum" in out:
        out["minimum"] = math.floor(out.pop("exclusiveMinimum")) + 1  # `minimum of 1`, not `exclusive minimum of 0`
    if "description" in out:
        text = _markdown(out["description"])
        if "default" in out and not isinstance(out["default"], (dict, list)):
            text += f"\n\nDefault: `{_shown(out['default'])}`."
        out["markdownDescription"] = text
    return out


def _complete_as_key(defs: dict[str, Any], kinds: dict[str, dict[str, Any]]) -> None:
    """Completing a kind inserts `conv: `, and its keys complete inside.

    The server completes a key whose schema is an `anyOf` that way. For a plain mapping it
    would instead insert every key that has a default (and none of those required through an
    alias), indented for a mapping rather than a list item; for a `oneOf`, the bare key with no
    colon. So each kind's schema is wrapped as the only alternative of an `anyOf` (one, so that
    hover shows one heading)."""
    for name in {_def_name(k["$ref"]) for k in kinds.values()}:
        body = defs[name]
        defs[name] = {
            **{k: body.pop(k) for k in ("title", "description", "markdownDescription") if k in body},
            "anyOf": [body],
        }


def _titles(root: dict[str, Any], kinds: dict[str, dict[str, Any]]) -> None:
    """Words for headings and type errors, where Pydantic wrote class and field names.

    A definition is titled by the name people write: the kind whose settings it holds, or
    the key it is written under (`optimizer`); a property by its key. Alternatives after
    the first carry their parent's title: the server's hover otherwise joins every
    alternative's title into the heading (`stride || stride`)."""
    defs = root["$defs"]
    titles = {"Layer": "layer"}
    for name, prop in kinds.items():
        titles.setdefault(_def_name(prop["$ref"]), KINDS[name].kind)

    def refs(key: str, schema: dict[str, Any]) -> None:
        for s in (schema, *schema.get("anyOf", ()), *schema.get("oneOf", ())):
            if "$ref" in s:
                titles.setdefault(_def_name(s["$ref"]), key)

    def visit(node: Any, title: str | None = None) -> None:
        if isinstance(node, list):
            for v in node:
                visit(v, title)
        elif isinstance(node, dict):
            for key, prop in node.get("properties", {}).items():
                refs(key, prop)
                prop.setdefault("title", key)
            for later in node.get("anyOf", [])[1:]:
                if title:
                    later.setdefault("title", title)
            for key, v in node.items():
                if key not in ("examples", "default", "enum", "const", "enumDescriptions"):  # values, not schemas
                    visit(v, v.get("title") if isinstance(v, dict) else title)

    visit(root)
    for name, body in defs.items():
        body["title"] = titles.get(name) or re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()
    visit(defs)


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an archspec spec file."""
    raw = spec_model().model_json_schema()
    defs = raw["$defs"]
    _widen_models(defs)
    union = raw["properties"]["layers"]["items"]
    kinds = _kinds(defs, union)
    raw = _allow_expressions(_point_at_layer(raw, union))
    raw["$defs"]["Layer"] = _layer(kinds)
    _widen_template(raw["$defs"], kinds)
    raw = _for_editors(raw, raw["$defs"])
    _complete_as_key(raw["$defs"], kinds)
    _titles(raw, kinds)
    out = {
        "$schema": SCHEMA_DIALECT,
        "$id": "archspec.schema.json",
        "title": "archspec network specification",
        "description": (
            "A convolutional network written down as data: an input shape and a list of layers, each a kind "
            "and its settings. Generated by `archspec schema` from archspec's own models; `archspec validate` "
            "also checks shapes, references and expression values."
        ),
        "examples": [_EXAMPLE],
    }
    out.update({k: v for k, v in raw.items() if k not in ("title", "description")})
    return out


def schema_json() -> str:
    return json.dumps(schema(), indent=2, sort_keys=False) + "\n"
