"""A spec's reference: what it is equal to, and its parameter count with where that figure comes from.

A zoo spec states these facts once, in its `reference` field, and everything else reads them from there: the
zoo's tests (each figure against the static count, and against Keras' count_params where Keras has the model),
`archspec zoo`, the zoo table of docs/zoo.md (``archspec.tools.zoo.reference_table``) and the check in
``graph.checks`` that warns when a spec's layers no longer give its declared figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ..kinds.base import Strict

Scalar = int | float | bool | str
Count = Annotated[int, Field(gt=0, le=10**15)]
"""A parameter count: larger than any layer size (``Count``), bounded so that a typo of many digits is refused."""


class Case(Strict):
    """The figure of the spec under other variable values than its own (`--set groups=1`)."""

    set: dict[str, Scalar] = Field(
        min_length=1, description="Variable values, as `--set` gives them: `{groups: 1}`.", examples=[{"groups": 1}]
    )
    params: Count = Field(description="Parameters under these values, as Keras' count_params() counts them.")


class Reference(Strict):
    """Where the spec comes from and the parameter count it must give (checked by the tests and by
    `archspec validate`, which warns when the layers give another count)."""

    equals: str | None = Field(
        None,
        description="The library model this spec builds exactly, layer for layer: `keras.applications.ResNet50`, "
        "`torchvision.models.resnet18`. `archspec zoo` shows it as `= NAME`.",
        pattern=r"^[A-Za-z_][\w.]*$",
        examples=["keras.applications.ResNet50"],
    )
    after: str | None = Field(
        None, description="The work the spec follows, where no library model is its equal: `He et al. 2015`."
    )
    params: Count | None = Field(
        None,
        description="Parameters of the spec as written (its own variable values), as Keras' count_params() counts "
        "them: batch-norm moving statistics included. A spec with `variants` may give them per variant instead.",
    )
    trainable: Count | None = Field(
        None, description="Trainable parameters, where the reference's own figure is that count (torchvision's)."
    )
    variants: dict[str, Count] = Field(
        default_factory=dict,
        description="Parameters of each variant (`--variant NAME`), one per name of the spec's `variants`.",
        examples=[{"small": 120000, "large": 480000}],
    )
    cases: list[Case] = Field(
        default_factory=list, description="Figures under other variable values (`--set`), each with its values."
    )
    source: str = Field(
        min_length=1,
        description="Where the figures come from: the library call that gives them "
        "(`keras.applications.ResNet50(weights=None).count_params()`), or how they were counted.",
    )

    @model_validator(mode="after")
    def _says_something(self) -> Reference:
        if self.params is None and not self.variants:
            raise PydanticCustomError(
                "reference_figure", "a reference gives `params` (the spec as written) or `variants` (each variant's)"
            )
        if self.equals is None and self.after is None:
            raise PydanticCustomError(
                "reference_origin", "a reference names `equals` (the library model) or `after` (the work it follows)"
            )
        return self

    def label(self) -> str:
        """`= keras.applications.ResNet50` or `after He et al. 2015`: what the spec is, in a few words."""
        return f"= {self.equals}" if self.equals else f"after {self.after}"

    def expected(
        self, overrides: Mapping[str, Any], own: str | None = None
    ) -> tuple[tuple[str | int, ...], int] | None:
        """Where the reference states the parameter count of the spec under `overrides` (`variant`, variables)
        and that count; None when it states none for exactly those values. `own`: the variant the spec's own
        variable values are (``own_variant``), whose figure is the spec's when `params` is not given."""
        rest = dict(overrides)
        variant = rest.pop("variant", None if rest or self.params is not None else own)
        if variant is not None:
            count = self.variants.get(str(variant)) if not rest else None
            return None if count is None else (("variants", str(variant)), count)
        if not rest:
            return None if self.params is None else (("params",), self.params)
        return next(((("cases", i), case.params) for i, case in enumerate(self.cases) if case.set == rest), None)

    def mismatch(
        self, overrides: Mapping[str, Any], total: int, trainable: int | None, own: str | None = None
    ) -> tuple[tuple[str | int, ...], str, str] | None:
        """(path under `reference`, message, hint) when the layers give another count than the one stated for
        these `overrides` (`trainable` None: some layers are frozen, so the trainable count is not the reference's):
        the spec no longer is what its reference says, or the figure has a typo."""
        stated = self.expected(overrides, own)
        problems = []
        if stated is not None and stated[1] != total:
            problems.append((stated[0], f"{stated[1]:,} parameters", f"{total:,}"))
        if None not in (self.trainable, trainable) and not overrides and self.trainable != trainable:
            problems.append((("trainable",), f"{self.trainable:,} trainable parameters", f"{trainable:,}"))
        if not problems:
            return None
        path, said, got = problems[0]
        whose = f"variant {path[1]!r}" if path[0] == "variants" else self.label()
        return (
            path,
            f"the reference states {said} ({whose}), but the layers give {got}",
            "correct the layers, or the figure if it was copied wrong; the figure's source: " + self.source,
        )


def own_variant(variables: Mapping[str, Any], variants: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The first variant whose values are the spec's own (MobileNet's variables are its `1.00_224`): a family's
    reference gives figures per variant, and this one is the spec's as written."""
    return next(
        (name for name, values in variants.items() if all(variables.get(k) == v for k, v in values.items())), None
    )
