"""The spec language as Pydantic models: the single source of its truth.

The layer union is derived from the kind table (``kinds.registry.KINDS``):
each list item is a one-key mapping ``{kind: settings}`` (or a bare kind
name such as ``flatten``), modelled as a union of one-field wrapper models
so the generated JSON Schema documents exactly what people write.

The union is lazy: an item is validated by the wrapper of its own kind, and
a kind's models are built (``defer_build``) the first time a spec uses it, so
reading a ResNet builds the models of the six kinds it uses, not of every
kind there is. The table is read at validation time, so a kind registered
later is part of the union without a rebuild.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from ..errors import did_you_mean
from ..kinds.base import NAME_PATTERN, LeftOut, PosInt, Strict
from ..kinds.blocks import Template
from ..kinds.registry import KINDS
from .figures import Reference

Scalar = int | float | bool | str
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=200)]
Image = tuple[PosInt, PosInt, PosInt]


def _shape_length(value: Any) -> Any:
    """An input's shape has 3 numbers or 1: said so, rather than one union member's "at most 1 item"."""
    if isinstance(value, (list, tuple)) and len(value) not in (1, 3):
        raise PydanticCustomError(
            "input_shape",
            "an input is an image [height, width, channels] or a vector [length]; got {n} numbers",
            {"n": len(value)},
        )
    return value


InputShape = Annotated[Image | tuple[PosInt], BeforeValidator(_shape_length)]
"""An input: an image [height, width, channels] or a vector [length]."""
INPUT = "input"
"""The name of the one input of a spec written with `input:` (the short form)."""


class _Item(Strict):
    """One entry of a layer list: exactly one key, the kind."""

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        return {data: None} if isinstance(data, str) else data


def kind_of(value: Any) -> str | None:
    """The discriminator: a bare name, or the single key of a one-key mapping."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if isinstance(key, str) else None
    if isinstance(value, _Item):
        return next(iter(value.model_fields_set))
    return None


@cache
def item_model(name: str) -> type[_Item]:
    """The one-key wrapper model of kind `name` (`{conv: {...}}`), built when a spec first uses the kind.

    The kind's own settings model is completed first, so the wrapper reuses its schema (and
    lowering code that makes settings directly, `Conv(...)`, finds it built). A kind whose
    fields hold layer lists reads them as `Layer`."""
    kind = KINDS[name]
    if not kind.schema.__pydantic_complete__:
        kind.schema.model_rebuild(_types_namespace={"Layer": Layer})
    field: dict[str, Any] = {name: (kind.schema, Field(description=kind.summary or kind.schema.__doc__))}
    return create_model(f"{name.title().replace('_', '')}Item", __base__=_Item, __doc__=kind.schema.__doc__, **field)


@cache
def left_out_model(name: str) -> type[_Item]:
    """The wrapper of a layer of kind `name` that its own `when` leaves out (``kinds.base.LeftOut``):
    a settings model checking its name, input and keys, never the values only a built layer needs."""
    kind = KINDS[name]
    settings = create_model(f"{kind.schema.__name__}LeftOut", __base__=LeftOut, __doc__=LeftOut.__doc__)
    settings.kind = kind.schema
    field: dict[str, Any] = {name: (settings, Field())}
    return create_model(f"{name.title().replace('_', '')}LeftOutItem", __base__=_Item, **field)


_WHEN = TypeAdapter(bool)
"""How a layer's `when` is read (`when: 0` is false, as the field reads it)."""


def _left_out(settings: Any) -> bool:
    """Whether a layer's own settings make `when` false. Decided on the data (variables are substituted by now),
    before its other values are checked: a `when` that is no boolean is the kind model's to refuse. A layer that
    `defaults` turn off (`defaults: {dense: {when: false}}`) is validated in full: defaults merge at expansion."""
    if not isinstance(settings, dict) or "when" not in settings:
        return False
    try:
        return not _WHEN.validate_python(settings["when"])
    except ValidationError:
        return False


def _validate_layer(value: Any) -> _Item:
    name = kind_of(value)
    if name not in KINDS:
        raise PydanticCustomError("unknown_kind", "unknown layer kind")
    settings = value.get(name) if isinstance(value, dict) else None
    return (left_out_model(name) if _left_out(settings) else item_model(name)).model_validate(value)


class _LayerUnion:
    """Pydantic's hooks for `Layer`: validation dispatches on the kind; the JSON Schema is the
    union of every kind's wrapper (`oneOf`). Block kinds hold `Layer` inside themselves: while
    the union is being written, a nested `Layer` refers to the wrappers instead of writing them again."""

    writing = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(_validate_layer)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        choices: dict[str, CoreSchema] = {}
        for name in sorted(KINDS):
            wrapper = item_model(name)
            wrapper.model_rebuild()
            item = wrapper.__pydantic_core_schema__
            ref = (item["schema"] if item["type"] == "definitions" else item)["ref"]
            choices[name] = core_schema.definition_reference_schema(ref) if _LayerUnion.writing else item
        union = core_schema.tagged_union_schema(choices, discriminator=kind_of)
        if _LayerUnion.writing:
            return handler(union)
        _LayerUnion.writing = True
        try:
            return handler(union)
        finally:
            _LayerUnion.writing = False


Layer = Annotated[Any, _LayerUnion()]
"""One item of a layer list: a kind name or a one-key mapping, validated by that kind's wrapper model."""


def layer_type() -> Any:
    """The type of one item of a layer list (for TypeAdapters over layer lists)."""
    return Layer


class _Optional:
    """An optional field whose model is imported and built only when a spec fills it in: the
    `training` section is a dozen models that `archspec shapes` never needs. Validation and the
    JSON Schema are those of `Model | None`."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def model(self) -> type[BaseModel]:
        model: type[BaseModel] = getattr(importlib.import_module(self.module, __package__), self.name)
        model.model_rebuild()
        return model

    def validate(self, value: Any) -> BaseModel | None:
        return None if value is None else self.model().model_validate(value)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return handler(core_schema.nullable_schema(self.model().__pydantic_core_schema__))


@cache
def spec_model() -> type[SpecBase]:
    """The top-level Spec model."""
    return create_model(
        "Spec",
        __base__=SpecBase,
        layers=(
            list[Layer],
            Field(
                min_length=1,
                description="The network, in order; each layer reads the previous one unless it names an `input`.",
            ),
        ),
        blocks=(
            dict[str, Template],
            Field(default_factory=dict, description="Block templates with parameters, used by `use:` and `stage:`."),
        ),
    )


class SpecBase(Strict):
    """An archspec network specification."""

    name: str = Field(
        description="Name of the network (the model's name).", pattern=r"^[A-Za-z0-9_.\-]+$", max_length=200
    )
    description: str | None = Field(None, description="Free text: what the network is (the zoo's table shows it).")
    input: Image | None = Field(
        None, description="Input shape as [height, width, channels]: one input, named `input`.", examples=[[32, 32, 1]]
    )
    inputs: dict[Name, InputShape] | None = Field(
        None,
        description="Several named inputs, each an image [height, width, channels] or a vector [length]: "
        "`inputs: {image: [128, 128, 3], meta: [8]}`. The first layer reads the first; layers read the others by name.",
        examples=[{"image": [128, 128, 3], "meta": [8]}],
    )
    outputs: dict[Name, Name] | None = Field(
        None,
        description="Named outputs, each the name of the layer it is: `outputs: {mask: seg_out, digit: head}`. "
        "Default: one output, the last layer.",
        examples=[{"mask": "seg_out", "digit": "head"}],
    )
    variables: dict[str, Scalar] = Field(
        default_factory=dict, description="Named values referenced as $name in layers and blocks."
    )
    variants: dict[str, dict[str, Scalar]] = Field(
        default_factory=dict,
        description="Named sets of variable values, one per member of "
        "the family: `--variant b3` (Python: variant='b3') applies one.",
    )
    defaults: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Default settings per layer kind, e.g. {batchnorm: {epsilon: 1.001e-5}}."
    )
    reference: Reference | None = Field(
        None,
        description="What the spec is equal to (or follows) and the parameter count it gives, with the figure's "
        "source: `{equals: keras.applications.ResNet50, params: N, source: ...}`. `archspec validate` "
        "warns when the layers give another count.",
    )
    training: Annotated[Any, _Optional(".training", "Training")] = Field(None, description="Training recipe.")
    search: Annotated[Any, _Optional(".search", "Search")] = Field(
        None,
        description="What `archspec search` varies: each variable (`w1`) or training field (`training.learning_rate`) "
        "and its domain. Every other command builds the spec's own network.",
        examples=[{"w1": {"choice": [8, 16]}, "training.learning_rate": {"float": [1e-4, 1e-2], "log": True}}],
    )
    budget: Annotated[Any, _Optional(".search", "Budget")] = Field(
        None,
        description="Limits every candidate of `archspec search` must meet, checked statically before it is built.",
        examples=[{"max_params": "20k", "max_macs": "2M"}],
    )
    objectives: Annotated[Any, _Optional(".search", "Objectives")] = Field(
        None,
        description="What `archspec search` optimises: `[val_accuracy max]`, or several for a Pareto front.",
        examples=[["val_accuracy max", "params min"]],
    )
    _source: Any = PrivateAttr(None)
    if TYPE_CHECKING:  # the fields `spec_model` adds: the layer union is built when first used
        layers: list[BaseModel]
        blocks: dict[str, Template]

    @field_validator("input", mode="before")
    @classmethod
    def _one_shape(cls, value: Any) -> Any:
        if isinstance(value, dict):
            raise PydanticCustomError(
                "several_inputs",
                "`input` is one shape, [height, width, channels]; several named inputs "
                "are written `inputs: {image: [128, 128, 3], meta: [8]}`",
            )
        return value

    @field_validator("inputs", "outputs")
    @classmethod
    def _named(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        if value is not None and not value:
            raise PydanticCustomError("empty", "give at least one name")
        if info.field_name == "inputs" and value is not None and info.data.get("input") is not None:
            raise PydanticCustomError("input_twice", "give `input` (one input) or `inputs` (several, named), not both")
        return value

    @field_validator("reference")
    @classmethod
    def _reference_variants(cls, value: Reference | None, info: ValidationInfo) -> Reference | None:
        known = info.data.get("variants") or {}
        for name in value.variants if value is not None else ():
            if name not in known:
                close = did_you_mean(name, list(known))
                raise PydanticCustomError(
                    "reference_variant",
                    "'{name}' under `variants` is not one of the spec's variants{hint}",
                    {"name": name, "hint": f": {close.strip()}" if close else ""},
                )
        return value

    @model_validator(mode="after")
    def _has_input(self) -> SpecBase:
        if self.input is None and self.inputs is None:
            raise PydanticCustomError(
                "missing_input",
                "missing required key 'input': the input shape [height, width, channels] "
                "(or `inputs` for several named inputs)",
            )
        return self

    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each input's name and shape, in order; a spec written with `input:` has one, named `input`."""
        if self.inputs is not None:
            return {name: tuple(shape) for name, shape in self.inputs.items()}
        return {INPUT: tuple(self.input or ())}  # `_has_input`: one of the two is given


def layer_of(item: BaseModel) -> tuple[str, Any]:
    """(kind name, settings model) of a validated list item."""
    (name,) = type(item).model_fields
    return name, getattr(item, name)
