"""Options several commands share, and turning their values into library arguments."""

from __future__ import annotations

import functools
import json
from typing import Any, Callable

import click

from ..spec.overrides import parse_assignments

def set_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--set KEY=VALUE` (repeatable) and `--variant NAME`, both handed to the command as `sets`:
    a variant is the override `variant=NAME`, applied before the others."""

    @functools.wraps(f)
    def command(*args: Any, variant: str | None = None, **kwargs: Any) -> Any:
        if variant is not None:
            kwargs["sets"] = (f"variant={json.dumps(variant)}", *kwargs.get("sets", ()))
        return f(*args, **kwargs)

    command = variant_option(command)
    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a spec variable (repeatable).")(command)


variant_option = click.option("--variant", metavar="NAME", help="Use one of the spec's variants (`archspec shapes SPEC --variants` lists them).")
force_option = click.option("--force", is_flag=True, help="Overwrite an existing output.")


def budget_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--max-activations", type=int, default=None, help="Budget of activation values per example (default 2e9).")(f)
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
    for problem in report.warnings:
        click.echo(str(problem), err=True)
