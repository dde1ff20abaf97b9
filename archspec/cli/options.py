"""Options several commands share, and turning their values into library arguments."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click

from ..errors import Problem, SpecError, labelled
from ..spec.overrides import parse_assignments


def set_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--set KEY=VALUE` (repeatable) and `--variant NAME`, both handed to the command as `sets`:
    a variant is the override `variant=NAME`, applied before the others."""

    @functools.wraps(f)
    def command(*args: Any, variant: str | None = None, **kwargs: Any) -> Any:
        if variant is not None:
            also = [s for s in kwargs.get("sets", ()) if str(s).partition("=")[0].strip() == "variant"]
            if also:  # the later one silently won
                raise SpecError(
                    Problem(
                        f"--variant {variant} and --set {also[0]} both pick a variant",
                        file="--variant",
                        hint="give the variant once",
                    )
                )
            kwargs["sets"] = (f"variant={json.dumps(variant)}", *kwargs.get("sets", ()))
        return f(*args, **kwargs)

    command = variant_option(command)
    return click.option(
        "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a spec variable (repeatable)."
    )(command)


variant_option = click.option(
    "--variant", metavar="NAME", help="Use one of the spec's variants (`archspec shapes SPEC --variants` lists them)."
)
force_option = click.option("--force", is_flag=True, help="Overwrite an existing output.")


def weights_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--weights SOURCE, --strict-weights and --weights-by-shape: start from trained weights (keras_side/weights.py)."""
    f = click.option(
        "--strict-weights",
        "strict_weights",
        is_flag=True,
        help="Fail unless every weight tensor matched (no new, changed or unused layers).",
    )(f)
    f = click.option(
        "--weights-by-shape",
        "weights_by_shape",
        is_flag=True,
        help="Pair the layers left after name matching by kind and weight shape even when SOURCE is another network "
        "(a guess: by default only the same network under other names is matched by position).",
    )(f)
    return click.option(
        "--weights",
        "weights",
        metavar="SOURCE",
        help="Start from trained weights: a .keras file, a .weights.h5 file, a legacy HDF5 weights file, a run folder, "
        "or keras:NAME (keras.applications' ImageNet weights, e.g. keras:ResNet50). Matched by layer name, then by "
        "position in the same network renamed.",
    )(f)


def freeze_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--freeze NODE (repeatable) and --freeze-bn, in place of the spec's training.freeze / freeze_bn."""
    f = click.option(
        "--freeze-bn",
        "freeze_bn",
        is_flag=True,
        default=None,
        help="Freeze every batch normalisation (it then runs in inference mode).",
    )(f)
    return click.option(
        "--freeze",
        "freeze",
        multiple=True,
        metavar="NODE",
        help="Freeze everything up to and including this node or block (repeatable), e.g. --freeze conv4.",
    )(f)


def frozen(freeze: tuple[str, ...], freeze_bn: bool | None) -> dict[str, Any]:
    """Only the freeze options given, so the spec's training section decides the rest."""
    return {**({"freeze": list(freeze)} if freeze else {}), **({"freeze_bn": True} if freeze_bn else {})}


def top_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--no-top and --pooling avg|max: a zoo classifier as a backbone (``graph/backbone.py``), keras.applications'
    include_top=False and pooling=; --features POINT,... the feature maps there as outputs (timm's features_only)."""
    f = click.option(
        "--features",
        "features",
        multiple=True,
        metavar="POINTS",
        help="Add feature maps as outputs: stride4,stride8,stride16,stride32 (the end of each stride) or layer names;"
        " with --no-top, the features alone.",
    )(f)
    f = click.option(
        "--pooling",
        type=click.Choice(["avg", "max"]),
        default=None,
        help="With --no-top: pool the last feature map globally (average or max), giving one vector.",
    )(f)
    return click.option(
        "--no-top",
        "no_top",
        is_flag=True,
        help="Leave the classifier head out: the network ends at its last feature map.",
    )(f)


def top(no_top: bool, pooling: str | None, features: tuple[str, ...] = ()) -> dict[str, Any]:
    """The library's include_top/pooling/features arguments; --pooling without --no-top is refused in the options'
    words. --features takes points separated by commas, the option repeated, or both."""
    if pooling is not None and not no_top:
        raise SpecError(
            Problem(
                f"--pooling {pooling} applies to the network without its head",
                file="--pooling",
                hint=f"add --no-top (--no-top --pooling {pooling})",
            )
        )
    points = [point.strip() for given in features for point in given.split(",") if point.strip()]
    return {
        **({"include_top": False, "pooling": pooling} if no_top else {}),
        **({"features": points} if points else {}),
    }


def budget_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--max-activations", type=int, default=None, help="Budget of activation values per example (default 2e9)."
    )(f)
    return click.option("--max-params", type=int, default=None, help="Parameter budget (default 2e9).")(f)


def overrides(sets: tuple[str, ...]) -> dict[str, Any]:
    """`--set` values as keyword overrides of the spec's variables and fields."""
    return parse_assignments(sets, "--set")


def budget(max_params: int | None, max_activations: int | None = None) -> dict[str, Any]:
    """Only the budgets given, so the library's defaults apply to the others."""
    out: dict[str, Any] = {}
    if max_params is not None:
        out["max_params"] = max_params
    if max_activations is not None:
        out["max_activations"] = max_activations
    return out


def print_warnings(report: Any) -> None:
    for problem in labelled(report.warnings, "warning"):
        click.echo(str(problem), err=True)
