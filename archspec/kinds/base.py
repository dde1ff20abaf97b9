"""What every layer kind's schema shares: strictness, common fields, normalisers.

Normalisation happens here, at the edge (an int kernel becomes a pair), so
shape rules and emitters only ever see one form.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ..errors import closest

MAX_SIZE = 65_536
"""Largest spatial size, kernel, stride or filter count a spec may ask for."""

PosInt = Annotated[int, Field(gt=0, le=MAX_SIZE)]
NonNegInt = Annotated[int, Field(ge=0, le=MAX_SIZE)]
Pair = tuple[PosInt, PosInt]

ACTIVATIONS = (
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "tanh",
    "sigmoid", "hard_sigmoid", "softmax", "softplus", "softsign", "exponential", "linear",
)
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]


class Strict(BaseModel):
    """Unknown keys are errors, with the closest valid key as a hint.

    Models are built when first used (``defer_build``): a command reading one spec needs the
    models of the few kinds it uses, and building all of them would double `archspec shapes`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    open_keys: ClassVar[bool] = False
    """True where extra keys are meaningful (template parameters)."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and not cls.open_keys:
            valid = _valid_keys(cls)
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
        return data


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

    name: str | None = Field(None, description="Node name; referenced by `input`/`inputs` of later layers.", pattern=r"^[A-Za-z0-9_.\-]+$", max_length=200)
    input: str | None = Field(None, description="Name of the layer this one reads; the previous layer by default, `input` for the model input.")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        if data is None:
            return {}
        if not isinstance(data, dict) and cls.short is not None:
            return {cls.short: data}
        return data


def pair(value: Any) -> Any:
    """5 -> (5, 5); [3, 5] stays; anything else is left for Pydantic to reject."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    return value


Padding = Literal["valid", "same"] | NonNegInt | tuple[NonNegInt, NonNegInt] | tuple[
    tuple[NonNegInt, NonNegInt], tuple[NonNegInt, NonNegInt]
]
"""'valid', 'same', p (all sides), [ph, pw], or [[top, bottom], [left, right]]."""


def explicit_padding(padding: Any) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Explicit padding as ((top, bottom), (left, right)); None for 'valid'/'same'."""
    if isinstance(padding, str):
        return None
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    if isinstance(padding[0], int):
        return ((padding[0], padding[0]), (padding[1], padding[1]))
    return (tuple(padding[0]), tuple(padding[1]))  # type: ignore[return-value]


class Unsupported(Exception):
    """A Keras layer's settings have no spec equivalent (raised by a kind's ``from_keras``)."""


# -- reading Keras layers back (for `from_keras`; plain attribute access, no Keras import) --
def keras_pair(value: Any) -> int | list[int]:
    """A Keras size pair as a spec writes it: 3 for (3, 3), [1, 7] otherwise."""
    a, b = (int(v) for v in value)
    return a if a == b else [a, b]


def keras_activation(fn: Any) -> str | None:
    """The spec name of a Keras activation (None for linear); Unsupported for one archspec lacks."""
    name = getattr(fn, "__name__", None) if not isinstance(fn, str) else fn
    if name == "swish":
        name = "silu"
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
