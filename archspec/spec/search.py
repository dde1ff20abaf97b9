"""The search space of `archspec search`: the spec's `search`, `budget` and `objectives` sections.

A spec describes one network (its variables' values); these sections say which of those values may vary, within
which limits the network must stay, and what a search optimises. They are validated with the rest of the spec
(located errors, hints for typos) and read by `archspec search` only: every other command builds the spec's own
network, its `variables` as written.

A domain names what varies: a variable (`w1`) or a field of the training section (`training.learning_rate`). Its
values reach the spec as `--set` assignments do, so a candidate is validated, expanded and inferred exactly as
`archspec shapes --set w1=8 --set training.learning_rate=0.01` would be.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, RootModel, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from ..errors import Problem, did_you_mean
from ..kinds.base import Strict
from .read import Source

Scalar = int | float | bool | str

_SUFFIXES = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9}
_COUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][0-9]+)?)\s*([kKMG]?)\s*$")


def _count(value: Any) -> Any:
    """`2M`, `1.5k`, `20000`, `1e6` -> a whole number (figures are written as people say them)."""
    if isinstance(value, str):
        found = _COUNT.match(value)
        if found is None:
            raise PydanticCustomError(
                "count", "expected a count such as 20000, 20k, 2M or 1G, got {value}", {"value": repr(value)}
            )
        number = float(found[1]) * _SUFFIXES.get(found[2], 1)
        if number != int(number):
            raise PydanticCustomError("count", "{value} is not a whole number", {"value": repr(value)})
        return int(number)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Count = Annotated[
    int,
    BeforeValidator(_count),
    Field(gt=0, le=10**18),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "exclusiveMinimum": 0},
                {"type": "string", "pattern": _COUNT.pattern, "patternErrorMessage": "a count: 20000, 20k, 2M, 1G"},
            ]
        }
    ),
]


class Domain(Strict):
    """The values one variable or training field may take: `{choice: [...]}`, `{int: [low, high], step: N}` or
    `{float: [low, high], log: true}` (Optuna's categorical, integer and float distributions)."""

    choice: list[Scalar] | None = Field(None, min_length=1, description="The values to choose from, in any order.")
    int_: tuple[int, int] | None = Field(None, alias="int", description="Whole numbers from low to high, both in.")
    float_: tuple[float, float] | None = Field(None, alias="float", description="Numbers from low to high.")
    step: float | None = Field(None, gt=0, description="Spacing of the values of `int` (default 1) or `float`.")
    log: bool = Field(False, description="Sample on a log scale (`int`/`float`; low must be above 0).")

    @model_validator(mode="after")
    def _one_kind(self) -> Domain:
        kinds = [k for k, v in (("choice", self.choice), ("int", self.int_), ("float", self.float_)) if v is not None]
        if len(kinds) != 1:
            raise PydanticCustomError(
                "domain",
                "a domain is one of {choice: [...]}, {int: [low, high]} or {float: [low, high]}; got {got}",
                {"got": ", ".join(kinds) or "none of them"},
            )
        if self.choice is not None:
            if self.step is not None or self.log:
                raise PydanticCustomError("domain", "`step` and `log` belong to `int` and `float` domains")
            if len({(type(v), v) for v in self.choice}) != len(self.choice):
                raise PydanticCustomError("domain", "a value is given twice in `choice`")
            return self
        low, high = self.int_ or self.float_ or (0, 0)
        if low > high:
            raise PydanticCustomError("domain", "low {low} is above high {high}", {"low": low, "high": high})
        if self.log and low <= 0:
            raise PydanticCustomError("domain", "a log-scale domain needs low above 0, got {low}", {"low": low})
        if self.log and self.step is not None:
            raise PydanticCustomError("domain", "give `step` or `log`, not both (Optuna samples one or the other)")
        if self.int_ is not None and self.step is not None and not float(self.step).is_integer():
            raise PydanticCustomError("domain", "the step of an `int` domain is whole, got {s}", {"s": self.step})
        return self

    @property
    def kind(self) -> Literal["choice", "int", "float"]:
        return "choice" if self.choice is not None else "int" if self.int_ is not None else "float"

    def points(self) -> list[Any] | None:
        """Every value, when there are finitely many (a float domain without a step has not)."""
        if self.choice is not None:
            return list(self.choice)
        if self.int_ is not None and not self.log:
            step = int(self.step or 1)
            return list(range(self.int_[0], self.int_[1] + 1, step))
        if self.int_ is not None:
            return list(range(self.int_[0], self.int_[1] + 1))
        if self.float_ is not None and self.step is not None:
            low, high = self.float_
            n = math.floor((high - low) / self.step + 1e-9)
            return [low + i * self.step for i in range(n + 1)]
        return None


class Search(RootModel[dict[str, Domain]]):
    """What varies: each key a variable of the spec (`w1`) or a field of `training` (`training.learning_rate`),
    each value its domain. The spec's own values (`variables`) stay its one network for every other command."""

    root: dict[str, Domain] = Field(min_length=1)


class Budget(Strict):
    """Limits every candidate of a search must meet, checked from the static figures before anything is built.
    Counts may be written with a suffix: `20k`, `2M`, `1G`."""

    max_params: Count | None = Field(None, description="Most parameters (trainable and not).")
    max_macs: Count | None = Field(None, description="Most multiply-accumulates for one example.")
    max_activations: Count | None = Field(
        None, description="Most activation values one example produces (every layer's output together)."
    )
    min_receptive_field: Count | None = Field(
        None, description="Least receptive field, in input pixels, of the network's last spatial layer."
    )

    def limits(self) -> dict[str, int]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


STATIC = ("params", "macs", "activations")
"""Objectives known without training: they come from the shape engine."""
DIRECTIONS = ("max", "min")


class Objectives(RootModel[list[str]]):
    """What a search optimises, each `NAME max` or `NAME min`: a figure of training (`val_accuracy`, `val_loss`,
    `accuracy`, `loss`, any reported metric) or a static one (`params`, `macs`, `activations`). One objective gives one
    best network; several give a Pareto front. Default: `[val_accuracy max]`."""

    root: list[str] = Field(min_length=1, examples=[["val_accuracy max", "params min"]])

    @model_validator(mode="after")
    def _read(self) -> Objectives:
        seen = set()
        for text in self.root:
            name, _direction = parse_objective(text)
            if name in seen:
                raise PydanticCustomError("objective", "objective {name} is given twice", {"name": repr(name)})
            seen.add(name)
        return self

    def pairs(self) -> list[tuple[str, str]]:
        return [parse_objective(text) for text in self.root]


def parse_objective(text: str) -> tuple[str, str]:
    """`val_accuracy max` -> ('val_accuracy', 'max'); a metric of training or a static figure."""
    parts = str(text).split()
    if len(parts) != 2 or parts[1] not in DIRECTIONS:
        raise PydanticCustomError(
            "objective",
            "an objective is `NAME max` or `NAME min` (e.g. `val_accuracy max`), got {text}",
            {"text": repr(text)},
        )
    name = parts[0]
    known = objective_names()
    if name not in known:
        close = did_you_mean(name, known)
        raise PydanticCustomError(
            "objective",
            "{name} is not a figure a search can optimise: {hint}names: {names}",
            {"name": repr(name), "hint": close, "names": ", ".join(known)},
        )
    return name, parts[1]


def objective_names() -> list[str]:
    from .training import METRICS

    trained = ["loss", *METRICS]
    return [*(f"val_{m}" for m in trained), *trained, *STATIC]


TRAINING = "training"


def search_problems(data: Mapping[str, Any], source: Source) -> list[Problem]:
    """`search` keys that name no variable of the spec and no field of `training`, located at the key with the
    closest name as a hint; `search` given without the variables it varies is the commonest slip."""
    table = data.get("search")
    if not isinstance(table, dict):
        return []
    written = data.get("variables")
    variables = [str(k) for k in written] if isinstance(written, dict) else []
    problems = []
    for key in table:
        text = str(key)
        if text.split(".")[0] == TRAINING:
            wrong = _training_path_problem(text.split(".")[1:])
            if wrong is not None:
                problems.append(source.problem(("search", key), wrong[0], wrong[1], at_key=True))
            continue
        if text in variables:
            continue
        problems.append(
            source.problem(
                ("search", key),
                f"{text!r} is not a variable of the spec",
                did_you_mean(text, [*variables, "training.learning_rate"])
                + "a search varies the spec's variables (declare it under `variables:` with its default) or fields "
                "of training (`training.learning_rate`)",
                at_key=True,
            )
        )
    return problems


def _training_path_problem(parts: list[str]) -> tuple[str, str] | None:
    """(message, hint) when `training.` + parts names no field of the training section."""
    from .training import Training

    model: type[BaseModel] | None = Training
    for depth, part in enumerate(parts):
        if model is None:
            return (
                f"training.{'.'.join(parts[:depth])} has no fields: it is a value",
                "vary the field itself",
            )
        fields = _field_names(model)
        if part not in fields:
            where = "training" + "".join(f".{p}" for p in parts[:depth])
            return (
                f"{where} has no field {part!r}",
                did_you_mean(part, fields) + f"fields: {', '.join(sorted(fields))}",
            )
        model = _submodel(model.model_fields[_field_key(model, part)].annotation)
    if not parts:
        return "`training` is a section, not a value", "name a field: training.learning_rate"
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_key(model: type[BaseModel], written: str) -> str:
    for name, info in model.model_fields.items():
        if (info.alias or name) == written:
            return name
    return written


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (through `| None`), when it holds one; None for plain values."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for a in typing.get_args(annotation) if (m := _submodel(a)) is not None]
        return models[0] if len(models) == 1 else None
    if typing.get_origin(annotation) is Annotated:
        return _submodel(typing.get_args(annotation)[0])
    return None
