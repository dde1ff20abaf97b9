"""The spec language as Pydantic models: the single source of its truth.

The layer union is derived from the kind table (``kinds.registry.KINDS``):
each list item is a one-key mapping ``{kind: settings}`` (or a bare kind
name such as ``flatten``), modelled as a discriminated union of one-field
wrapper models so the generated JSON Schema documents exactly what people
write. The union is rebuilt when a kind is registered.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Field, PrivateAttr, Tag, create_model, model_validator

from .kinds.base import PosInt, Strict
from .training.schema import LOSSES, METRICS, Data, EarlyStopping, Optimizer, Schedule

Scalar = int | float | bool | str


class Training(Strict):
    """How to train the network (used by `archspec train`; every field can be overridden there)."""

    optimizer: Optimizer = Field(default_factory=Optimizer, description="Optimizer: a name (sgd, adam, adamw, rmsprop, ...) or a mapping with `name` and its settings (momentum, nesterov, beta_1, beta_2, weight_decay, clipnorm, ...).")
    learning_rate: float = Field(1e-3, gt=0, description="Learning rate (the peak one, reached after any warmup).")
    schedule: Schedule = Field(default_factory=Schedule, description="Learning-rate schedule: constant, step {every, factor}, cosine; `warmup` epochs for any of them.")
    loss: Literal[LOSSES] = Field("categorical_crossentropy", description="categorical_crossentropy, or sum_squared_error: the primer's total error sum(1/2 (target - output)^2) over the classes.")  # type: ignore[valid-type]
    metrics: list[Literal[METRICS]] = Field(default_factory=lambda: ["accuracy"], description="Metrics reported each epoch: " + ", ".join(METRICS) + ".")  # type: ignore[valid-type]
    batch_size: PosInt = Field(32, description="Examples per step (all replicas together).")
    epochs: PosInt = Field(10, description="Passes over the training data.")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Targets become (1 - s) one-hot + s/classes.")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty: weight_decay/2 * sum(w^2) of every kernel added to the loss (the papers' weight decay). For decoupled decay use optimizer.weight_decay.")
    early_stopping: EarlyStopping | None = Field(None, description="Stop when a monitored quantity stops improving: a patience (`early_stopping: 3`) or {patience, monitor, mode, min_delta, restore_best}.")
    seed: int | None = Field(None, ge=0, lt=2**31, description="Random seed: the same seed gives the same run on CPU (weights, shuffling, augmentation).")
    validation_split: float = Field(0.0, ge=0, lt=1, description="Fraction of the training data held out for validation (the last examples, before shuffling); 0 for none.")
    data: Data = Field(default_factory=Data, description="Preprocessing: rescale, mean/std, fit to the input size, channel conversion, augmentation.")


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
    from .kinds import load_builtin_kinds
    from .kinds.registry import KINDS

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
    from .kinds.blocks import Template

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
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Default settings per layer kind, e.g. {batchnorm: {epsilon: 1.001e-5}}.")
    training: Training | None = Field(None, description="Training recipe.")
    _source: Any = PrivateAttr(None)


def invalidate() -> None:
    """Forget the derived union and Spec model (a kind was registered)."""
    layer_type.cache_clear()
    spec_model.cache_clear()


def layer_of(item: BaseModel) -> tuple[str, Any]:
    """(kind name, settings model) of a validated list item."""
    (name,) = type(item).model_fields
    return name, getattr(item, name)
