"""What every layer kind's schema shares: strictness, common fields, normalisers.

Normalisation happens here, at the edge (an int kernel becomes a pair), so
shape rules and emitters only ever see one form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from ..errors import ArchspecError, closest

MAX_SIZE = 65_536
"""Largest spatial size, kernel, stride or filter count a spec may ask for."""

NAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"
"""What a layer or network name may hold (Keras, file names and diagrams all take these)."""

_NAME_CHAR = re.compile(r"[A-Za-z0-9_.\-]")


def illegal_name_characters(text: str) -> str:
    """The characters of `text` a layer name may not hold (Keras refuses '/', files and diagrams spaces),
    quoted once each."""
    return ", ".join(repr(c) for c in dict.fromkeys(c for c in text if not _NAME_CHAR.fullmatch(c)))


def _name_pattern(text: str) -> str:
    """A pattern of names (`instances: "{name}_block{n}"`): what is left once its tokens are filled must be a name."""
    bad = illegal_name_characters(re.sub(r"\{(name|n|i|letter)\}", "", text))
    if bad:
        raise PydanticCustomError(
            "name_pattern",
            "the names it makes would hold {bad}; a layer name may hold letters, digits, "
            "'_', '.' and '-' only (besides the tokens {name}, {n}, {i}, {letter})",
            {"bad": bad},
        )
    return text


NamePattern = Annotated[str, AfterValidator(_name_pattern)]
"""A pattern instance names are made from; refused here, where it is written, when it would make names Keras refuses."""
NodeName = Annotated[str, Field(pattern=NAME_PATTERN, max_length=200)]
"""A name (or name suffix) of a node."""

PosInt = Annotated[int, Field(gt=0, le=MAX_SIZE)]
NonNegInt = Annotated[int, Field(ge=0, le=MAX_SIZE)]
Pair = tuple[PosInt, PosInt]
Positive = Annotated[float, Field(gt=0)]
PositiveNumbers = Positive | list[Positive]
"""One value for every channel, or one per channel, each above zero: a variance or a standard deviation
(zero or less leaves the layer undefined: a division by zero, or the square root of a negative number)."""

ActivationName = Literal[
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "hard_swish",
    "hard_silu",
    "mish",
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "softmax",
    "softplus",
    "softsign",
    "exponential",
    "linear",
]
"""Keras' names. hard_swish is MobileNetV3's x * relu6(x + 3) / 6 (Keras also calls it hard_silu)."""
ACTIVATIONS: tuple[str, ...] = get_args(ActivationName)
_KERAS_NAMES = {"swish": "silu", "hard_silu": "hard_swish"}
"""Keras function name -> the name a spec is written with, where the two differ."""


@dataclass(frozen=True, eq=False, kw_only=True)
class ValueNotes:
    """Annotated metadata for a Literal: one line about each value, which editors show beside it
    when they offer the values and on hover (the schema's `enumDescriptions`)."""

    notes: Mapping[str, str]

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["enumDescriptions"] = [self.notes.get(value, "") for value in schema.get("enum", [])]
        return schema


ACTIVATION_NOTES = {
    "relu": "max(0, x)",
    "relu6": "min(max(0, x), 6): ReLU capped at 6 (MobileNet)",
    "leaky_relu": "x for x > 0, else 0.2·x (Keras' slope)",
    "elu": "x for x > 0, else exp(x) - 1",
    "selu": "scaled ELU, for self-normalising networks",
    "gelu": "x·Φ(x): Gaussian error linear unit (ConvNeXt, transformers)",
    "silu": "x·sigmoid(x), also called swish (EfficientNet)",
    "swish": "the same as silu",
    "hard_swish": "x·relu6(x + 3)/6: MobileNetV3's cheap swish",
    "hard_silu": "the same as hard_swish (Keras' other name)",
    "mish": "x·tanh(softplus(x))",
    "tanh": "hyperbolic tangent, -1 to 1",
    "sigmoid": "1 / (1 + exp(-x)), 0 to 1",
    "hard_sigmoid": "piecewise-linear sigmoid: 0 below -3, 1 above 3, x/6 + 1/2 between",
    "softmax": "exponentials normalised to sum to 1 over the channels: class probabilities, for the last layer",
    "softplus": "log(1 + exp(x)), a smooth ReLU",
    "softsign": "x / (1 + |x|)",
    "exponential": "exp(x)",
    "linear": "x unchanged (no activation)",
}
Activation = Annotated[ActivationName, ValueNotes(notes=ACTIVATION_NOTES)]


def _holds_bool(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, (list, tuple)) and any(_holds_bool(v) for v in value))


@cache
def _number_words(model: type[BaseModel], field: str) -> str | None:
    """'an integer' or 'a number' when the field's type holds numbers but never a boolean, else None.

    Pydantic reads True as 1 for such a field; in YAML `filters: yes` is True, so that would
    silently make a one-filter layer."""
    numbers: set[type] = set()
    stack: list[Any] = [model.model_fields[field].annotation]
    while stack:
        tp = stack.pop()
        if tp is bool or tp is Any:
            return None
        if tp in (int, float):
            numbers.add(tp)
        elif get_origin(tp) is Annotated:
            stack.append(get_args(tp)[0])
        elif get_origin(tp) in (Union, tuple, list) or type(tp).__name__ == "UnionType":
            stack.extend(get_args(tp))
    return None if not numbers else "an integer" if numbers == {int} else "a number"


class Strict(BaseModel):
    """Unknown keys are errors, with the closest valid key as a hint; booleans are not numbers.

    Models are built when first used (``defer_build``): a command reading one spec needs the
    models of the few kinds it uses, and building all of them would double `archspec shapes`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    open_keys: ClassVar[bool] = False
    """True where extra keys are meaningful (template parameters)."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and not cls.open_keys:
            refuse_unknown_keys(data, _valid_keys(cls))
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _boolean_is_not_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        if _holds_bool(value) and info.field_name and (words := _number_words(cls, info.field_name)):
            raise PydanticCustomError(
                "bool_not_number",
                "expected {words}, got {what}",
                {
                    "words": words,
                    "what": f"a boolean ({str(value).lower()})"
                    if isinstance(value, bool)
                    else f"a boolean in {value!r}",
                },
            )
        return value


def refuse_unknown_keys(data: Mapping[Any, Any], valid: frozenset[str]) -> None:
    """The first key of `data` that is not in `valid`, refused with the closest valid key as a hint."""
    for key in data:
        if key not in valid:
            near = closest(str(key), valid)
            raise PydanticCustomError(
                "unknown_key",
                "unknown key {key!r}{hint}; valid keys: {valid}",
                {
                    "key": key,
                    "hint": f" (did you mean {near!r}?)" if near else "",
                    "valid": ", ".join(sorted(valid)),
                    "suggestion": near,
                },
            )


def valid_keys(model: type[BaseModel]) -> frozenset[str]:
    """The keys a model takes: its field names and their aliases."""
    return _valid_keys(model)


@cache
def _valid_keys(model: type[BaseModel]) -> frozenset[str]:
    """Field names and aliases of a model, once per class: every layer of every spec asks."""
    valid = set()
    for fname, finfo in model.model_fields.items():
        valid.add(fname)
        if finfo.alias:
            valid.add(finfo.alias)
        alias = finfo.validation_alias
        if isinstance(alias, str):
            valid.add(alias)
        elif isinstance(alias, AliasChoices):
            valid.update(c for c in alias.choices if isinstance(c, str))
    return frozenset(valid)


class LayerSpec(Strict):
    """Fields every layer kind accepts."""

    short: ClassVar[str | None] = None
    """Field a non-mapping value fills: `dropout: 0.5` means `dropout: {rate: 0.5}`."""
    nested: ClassVar[bool] = False
    """True for block kinds whose fields hold layer lists (typed with the forward reference "Layer")."""
    json_alternatives: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    """JSON Schema forms people may also write, per field ("" for the whole layer), that the
    model's "before" validators accept but Pydantic's generated schema cannot know (for editors)."""

    name: str | None = Field(
        None,
        description="Node name; referenced by `input`/`inputs` of later layers.",
        pattern=NAME_PATTERN,
        max_length=200,
    )
    input: str | None = Field(
        None,
        description="Name of the layer this one reads; the previous layer by default, `input` for the model input.",
    )
    when: bool = Field(
        True,
        description="False leaves the layer out (a reference to its name then reads its input; of its other "
        "settings only the keys are checked): for layers only some variants have, `when: $flag`.",
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if data is None:
            return {}
        if not isinstance(data, dict) and cls.short is not None:
            return {cls.short: data}
        return data


class LeftOut(LayerSpec):
    """A layer whose own `when` is false: only what a left-out layer still does is validated.

    Such a layer is never built, so a value only a built layer needs (`units: $fc` with `fc` 0,
    `when: $fc > 0`) is not refused: its settings other than `name`, `input` and `when` are kept
    as written, unchecked. Its `name` keeps its pattern (later layers reference it) and its `input`
    is still resolved when the spec expands (a reference to it reads that input). Its keys are still
    checked against its kind's: a misspelt key (`unitz`) does not depend on any value, and keeping it
    would leave the typo to be found only by the variant that turns the layer on.
    One subclass per kind (``spec.network``), naming the kind's settings model in `kind`."""

    model_config = ConfigDict(extra="allow")
    open_keys: ClassVar[bool] = True
    """Its keys are its kind's, checked by `_kind_keys`, not its own three fields."""
    kind: ClassVar[type[Strict]]
    """The settings model of the layer's kind (whose own `open_keys` say whether its keys are checked: a `use`'s
    extra keys are its template's parameters)."""

    @model_validator(mode="before")
    @classmethod
    def _kind_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and not cls.kind.open_keys:
            refuse_unknown_keys(data, _valid_keys(cls.kind))
        return data


def pair(value: Any) -> Any:
    """5 -> (5, 5); [3, 5] stays; anything else is left for Pydantic to reject."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    return value


def as_written(value: Any) -> Any:
    """(5, 5) -> 5, the way people write a pair (the inverse of `pair`); anything else stays."""
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and value[0] == value[1]
        and not isinstance(value[0], (tuple, list))
    ):
        return value[0]
    return value


PADDING_NOTES = {
    "valid": "no padding: the window stays inside the input, which shrinks by the window size minus one",
    "same": "zeros around the input so that the output is ceil(input / stride)",
}
Padding = (
    Annotated[Literal["valid", "same"], ValueNotes(notes=PADDING_NOTES)]
    | NonNegInt
    | tuple[NonNegInt, NonNegInt]
    | tuple[tuple[NonNegInt, NonNegInt], tuple[NonNegInt, NonNegInt]]
)
"""'valid', 'same', p (all sides), [ph, pw], or [[top, bottom], [left, right]]."""


def explicit_padding(padding: Any) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Explicit padding as ((top, bottom), (left, right)); None for 'valid'/'same'."""
    if isinstance(padding, str):
        return None
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    if isinstance(padding[0], int):
        return ((padding[0], padding[0]), (padding[1], padding[1]))
    return (tuple(padding[0]), tuple(padding[1]))


def explicit_padding_before(v: Any) -> Any:
    """A `mode="before"` validator's step: p, [ph, pw] or [[t, b], [l, r]] as ((t, b), (l, r)); anything else is
    left for the field's own type to refuse with its message."""
    if isinstance(v, (int, list, tuple)) and not isinstance(v, bool):
        try:
            return explicit_padding(v)
        except (TypeError, IndexError):
            return v
    return v


class Unsupported(ArchspecError):
    """A Keras layer's settings have no spec equivalent (raised by a kind's ``from_keras``; the importer
    turns it into a SpecError naming the layer)."""


@dataclass(frozen=True, kw_only=True)
class ConstantOp:
    """A Keras operation between one tensor and a number (`x + 3.0`, `x * (1 / 6)`), as the
    importer hands it to ``from_keras`` in place of a layer. Its table key is
    ``ops.<Class>:constant`` (``ops.Add:constant``); between two tensors, ``ops.<Class>``."""

    name: str
    op: str
    """Keras' class name: Add, Subtract, Multiply, Divide or TrueDivide."""
    constant: float
    constant_first: bool
    """True for `3.0 - x`: the number is the left operand."""


# -- reading Keras layers back (for `from_keras`; plain attribute access, no Keras import) --
def keras_pair(value: Any) -> int | list[int]:
    """A Keras size pair as a spec writes it: 3 for (3, 3), [1, 7] otherwise."""
    a, b = (int(v) for v in value)
    return a if a == b else [a, b]


def keras_activation(fn: Any) -> str | None:
    """The spec name of a Keras activation (None for linear); Unsupported for one archspec lacks."""
    name = fn if isinstance(fn, str) else getattr(fn, "__name__", None)
    if isinstance(name, str):
        name = _KERAS_NAMES.get(name, name)
    if name in (None, "linear"):
        return None
    if name not in ACTIVATIONS:
        raise Unsupported(f"activation {name!r} (archspec has: {', '.join(ACTIVATIONS)})")
    return name


def keras_channels_last(layer: Any) -> None:
    fmt = getattr(layer, "data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise Unsupported(f"data_format={fmt!r} (archspec is channels_last)")


def keras_channel_axis(axis: Any, rank: int) -> bool:
    """True when a Keras `axis` argument names the channel axis of a rank-`rank` tensor."""
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    return len(axes) == 1 and axes[0] in (-1, rank - 1)


def custom_layer(keras: Any, name: str) -> Any:
    """One of archspec's own Keras layers, by class name, from Keras' registry of serializable objects.

    Emitters receive the keras module; the layers themselves live on the Keras side of the
    package and register under ``archspec>`` when the emitter loads them."""
    return keras.saving.get_registered_object(f"archspec>{name}")
