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

The schema is a helper for editors. ``archspec validate`` remains the
authority: it also checks shapes, references and expression values.
"""

from __future__ import annotations

import copy
import json
from typing import Any, get_args

from pydantic import AliasChoices, BaseModel, ValidationError

from ..kinds import load_builtin_kinds
from ..kinds.base import LayerSpec, Pair
from ..kinds.registry import KINDS
from .network import spec_model
from .training import Training

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXPRESSION = {
    "type": "string",
    "pattern": r"\$",
    "description": "An expression over `$variables` or template `$params`, e.g. `$classes` or `int(64 * $width)`.",
}
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


def _item_def(kind_name: str) -> str:
    """The $defs name of a kind's one-key wrapper model (`network.item_model`)."""
    return f"{kind_name.title().replace('_', '')}Item"


def _accepts_nothing(model: type) -> bool:
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


def _widen_model(defs: dict[str, Any], model: type) -> None:
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
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            others = [c for c in alias.choices if isinstance(c, str) and c != key]
            for other in others:
                props[other] = {**props[key], "description": f"Same as `{key}`."}
            if key in required:  # one of the names is required, not the first
                required.remove(key)
                body.setdefault("allOf", []).append({"oneOf": [{"required": [n]} for n in (key, *others)]})
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
_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null", list: "array"}


def _short_forms(model: type, props: dict[str, Any]) -> list[dict[str, Any]]:
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
        key = (field.alias if field is not None and field.alias else f)
        if key in props:
            form = copy.deepcopy(props[key])
            for k in ("title", "default"):
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
        declared[name] = copy.deepcopy(extra.get("", []))
    for name, m in models.items():
        alternatives = _short_forms(m, defs[name].get("properties", {})) + declared[name]
        if alternatives:
            body = defs[name]
            outer = {k: body.pop(k) for k in ("title", "description") if k in body}
            defs[name] = {**outer, "anyOf": [body, *alternatives]}


def _widen_kinds(defs: dict[str, Any]) -> None:
    """`- flatten`: a kind whose settings may be empty may be written as its bare name."""
    for name, kind in KINDS.items():
        item = defs.get(_item_def(name))
        if item is None or not _accepts_nothing(kind.schema):
            continue
        item.setdefault("description", kind.summary)
        defs[_item_def(name)] = {"anyOf": [{"const": name, "description": f"`{name}` with default settings."}, item],
                                 **{k: item[k] for k in ("title", "description") if k in item}}


def _widen_template(defs: dict[str, Any], layer_items: dict[str, Any]) -> None:
    """Template bodies are layers; a one-layer template may be written as {params, <kind>: ...}."""
    template = defs["Template"]
    template["properties"]["layers"]["items"] = copy.deepcopy(layer_items)
    shared = {k: template["properties"][k] for k in ("params", "description")}
    single = []
    for name in sorted(KINDS):
        item = defs.get(_item_def(name))
        if item is None:
            continue
        body = next(alt for alt in item.get("anyOf", [item]) if alt.get("type") == "object")  # the mapping form
        single.append({"type": "object", "properties": {**shared, name: body["properties"][name]}, "required": [name], "additionalProperties": False})
    outer = {k: template.pop(k) for k in _META if k in template}
    defs["Template"] = {**outer, "anyOf": [template, {"oneOf": single, "description": "A one-layer template: `params` and that layer's kind as a key."}]}


def _allow_expressions(node: Any, *, skip: bool = False) -> Any:
    """Every number, boolean, enumeration or patterned string may also be a `$` expression."""
    if isinstance(node, list):
        return [_allow_expressions(v, skip=skip) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "patternProperties"):
            # keys of these map names to schemas: descend into each schema
            out[key] = {k: _allow_expressions(v, skip=skip or k in ("variables", "params")) for k, v in value.items()}
        elif key in _META or key in ("const", "enum", "required", "pattern", "type"):
            out[key] = value
        else:
            out[key] = _allow_expressions(value, skip=skip)
    leaf = out.get("type") in ("integer", "number", "boolean") or "enum" in out or ("pattern" in out and out.get("type") == "string")
    if leaf and not skip and out is not EXPRESSION and out.get("pattern") != EXPRESSION["pattern"]:
        return _with_alternatives(out, [dict(EXPRESSION)])
    return out


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an archspec spec file."""
    load_builtin_kinds()
    raw = spec_model().model_json_schema()
    defs = raw["$defs"]
    _widen_models(defs)
    _widen_kinds(defs)
    _widen_template(defs, raw["properties"]["layers"]["items"])
    raw = _allow_expressions(raw)
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
