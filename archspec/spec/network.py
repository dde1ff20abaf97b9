"""The spec language as Pydantic models: the single source of its truth.

The layer union is derived from the kind table (``kinds.registry.KINDS``):
each list item is a one-key mapping ``{kind: settings}`` (or a bare kind
name such as ``flatten``), modelled as a discriminated union of one-field
wrapper models so the generated JSON Schema documents exactly what people
write. The union is rebuilt when a kind is registered (this module listens
to the registry).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Union

from pydantic import BaseModel, Discriminator, Field, PrivateAttr, Tag, create_model, model_validator

from ..kinds import load_builtin_kinds
from ..kinds.base import PosInt, Strict
from ..kinds.blocks import Template
from ..kinds.registry import KINDS, on_change
from .training import Training

Scalar = int | float | bool | str


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


@lru_cache(maxsize=None)
def layer_type() -> Any:
    """The discriminated union of every registered kind, as one annotated type."""
    load_builtin_kinds()
    members = []
    for name, kind in sorted(KINDS.items()):
        wrapper = create_model(
            f"{name.title().replace('_', '')}Item",
            __base__=_Item,
            __doc__=kind.schema.__doc__,
            **{name: (kind.schema, Field(description=kind.summary or kind.schema.__doc__))},
        )
        members.append(Annotated[wrapper, Tag(name)])
    union = Annotated[
        Union[tuple(members)],  # type: ignore[valid-type]
        Discriminator(
            kind_of,
            custom_error_type="unknown_kind",
            custom_error_message="unknown layer kind",
        ),
    ]
    for kind in {id(k): k for k in KINDS.values()}.values():
        if kind.schema.nested:  # its fields hold layer lists: point them at this union
            kind.schema.model_rebuild(force=True, _types_namespace={"Layer": union})
    return union


@lru_cache(maxsize=None)
def spec_model() -> type[BaseModel]:
    """The top-level Spec model, built over the current layer union."""
    layer = layer_type()
    return create_model(
        "Spec",
        __base__=SpecBase,
        layers=(list[layer], Field(min_length=1, description="The network, in order; each layer reads the previous one unless it names an `input`.")),  # type: ignore[valid-type]
        blocks=(dict[str, Template], Field(default_factory=dict, description="Block templates with parameters, used by `use:` and `stage:`.")),
    )


class SpecBase(Strict):
    """An archspec network specification."""

    name: str = Field(description="Name of the network (the model's name).", pattern=r"^[A-Za-z0-9_.\-]+$", max_length=200)
    description: str | None = Field(None, description="Free text: reference, source of the figures.")
    input: tuple[PosInt, PosInt, PosInt] = Field(description="Input shape as [height, width, channels].", examples=[[32, 32, 1]])
    variables: dict[str, Scalar] = Field(default_factory=dict, description="Named values referenced as $name in layers and blocks.")
    variants: dict[str, dict[str, Scalar]] = Field(default_factory=dict, description="Named sets of variable values, one per member of "
                                                   "the family: `--variant b3` (Python: variant='b3') applies one.")
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Default settings per layer kind, e.g. {batchnorm: {epsilon: 1.001e-5}}.")
    training: Training | None = Field(None, description="Training recipe.")
    _source: Any = PrivateAttr(None)


def invalidate() -> None:
    """Forget the derived union and Spec model (a kind was registered)."""
    layer_type.cache_clear()
    spec_model.cache_clear()


on_change(invalidate)


def layer_of(item: BaseModel) -> tuple[str, Any]:
    """(kind name, settings model) of a validated list item."""
    (name,) = type(item).model_fields
    return name, getattr(item, name)
