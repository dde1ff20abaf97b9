"""The `archspec` command line: parse options, call the library, print.

Every SpecError is caught once, in ``main``, and printed without a traceback
(exit status 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .errors import Problem, SpecError


def _overrides(values: tuple[str, ...]) -> dict[str, Any]:
    """`--set key=value`, the value parsed as YAML (so numbers and lists keep their types)."""
    import yaml

    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        out[key.strip()] = yaml.safe_load(value)
    return out


set_option = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a spec variable (repeatable).")
def max_params_option(f: Any) -> Any:
    f = click.option("--max-activations", type=int, default=None, help="Budget of activation values per example (default 2e9).")(f)
    return click.option("--max-params", type=int, default=None, help="Parameter budget (default 2e9).")(f)


def _budget(max_params: int | None, max_activations: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if max_params is not None:
        out["max_params"] = max_params
    if max_activations is not None:
        out["max_activations"] = max_activations
    return out


def _warn(report: Any) -> None:
    for problem in report.warnings:
        click.echo(str(problem), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="archspec")
def cli() -> None:
    """archspec: declarative CNN architectures for Keras.

    \b
    archspec shapes specs/lenet.yaml     # shapes, params, MACs, receptive fields
    archspec build specs/lenet.yaml      # -> build/lenet.keras
    archspec validate specs/*.yaml
    """


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--expand", is_flag=True, help="One row per primitive layer instead of per block.")
@set_option
@max_params_option
def shapes(spec: Path, as_json: bool, expand: bool, sets: tuple[str, ...], max_params: int | None, max_activations: int | None) -> None:
    """Per-layer output shapes, parameters, MACs and receptive field. No TensorFlow.

    \b
    archspec shapes specs/lenet.yaml
    archspec shapes specs/resnet50.yaml --expand
    archspec shapes specs/lenet.yaml --json | jq .total_params
    """
    from . import api

    report = api.shapes(spec, **_budget(max_params, max_activations), **_overrides(sets))
    _warn(report)
    if as_json:
        click.echo(api.report_json(report))
    else:
        from .table import render

        click.echo(render(report, expand=expand), nl=False)


@cli.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@set_option
@max_params_option
def validate(specs: tuple[Path, ...], strict: bool, sets: tuple[str, ...], max_params: int | None, max_activations: int | None) -> None:
    """Check specs: syntax, schema, references and shapes. Exit 0 when all are valid.

    \b
    archspec validate specs/*.yaml
    archspec validate --strict specs/lenet.yaml     # warnings are errors
    """
    from . import api

    failed: list[SpecError] = []
    for path in specs:
        try:
            report = api.shapes(path, **_budget(max_params, max_activations), **_overrides(sets))
        except SpecError as exc:
            failed.append(exc)
            continue
        if strict and report.warnings:
            failed.append(SpecError(report.warnings))
            continue
        _warn(report)
        click.echo(f"{path}: ok ({len(report.layers)} layers, {report.total_params:,} parameters)")
    if failed:
        raise SpecError([p for exc in failed for p in exc.problems])


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Model file (default build/NAME.keras).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the layer table.")
@set_option
@max_params_option
def build(spec: Path, output: Path | None, force: bool, quiet: bool, sets: tuple[str, ...], max_params: int | None, max_activations: int | None) -> None:
    """Compile a spec to a Keras model file and print its layer table.

    \b
    archspec build specs/lenet.yaml                 # -> build/lenet.keras
    archspec build specs/vgg16.yaml -o vgg.keras --force
    """
    from . import api
    from .table import render

    loaded = api.load(spec, **_overrides(sets))
    report = api.shapes(loaded, **_budget(max_params, max_activations))
    _warn(report)
    target = output or Path("build") / f"{loaded.name}.keras"
    if target.exists() and not force:
        raise SpecError(Problem(f"{target} exists", file=str(target), hint="pass --force to overwrite"))
    model = api.build(loaded, **_budget(max_params, max_activations))
    if not quiet:
        click.echo(render(report), nl=False)
    api.save_model(model, target, force=force)
    click.echo(f"wrote {target} ({model.count_params():,} parameters)")


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@set_option
def check(spec: Path, sets: tuple[str, ...]) -> None:
    """Build the model and verify every static shape and parameter count against Keras.

    \b
    archspec check specs/resnet50.yaml
    archspec check my_plugin_spec.yaml      # does a plugin's shape rule match its emitter?
    """
    from . import api

    model = api.check(spec, **_overrides(sets))
    click.echo(f"{spec}: static shapes and parameters agree with Keras ({len(model.layers) - 1} layers, {model.count_params():,} parameters)")


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of printing.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@set_option
def render(spec: Path, output: Path | None, force: bool, sets: tuple[str, ...]) -> None:
    """Print the fully resolved spec: templates, repeats, variables and defaults expanded.

    \b
    archspec render specs/resnet50.yaml > resnet50.flat.yaml
    archspec render specs/resnet50.yaml --set classes=10 -o r50-10.yaml
    """
    from . import api
    from .render import render as resolve

    text = resolve(api.load(spec, **_overrides(sets)))
    if output:
        api.write_text(output, text, force=force)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--changed", is_flag=True, help="Show only blocks that differ.")
@set_option
def diff(a: Path, b: Path | None, as_json: bool, changed: bool, sets: tuple[str, ...]) -> None:
    """Compare two specs block by block (shapes, parameters, MACs, layers), or one spec
    with itself under --set overrides.

    \b
    archspec diff specs/resnet50.yaml specs/resnet101.yaml
    archspec diff specs/resnet50.yaml --set width=0.5
    """

    from . import api
    from .diff import diff as compare
    from .diff import render as show

    left = api.shapes(a)
    right = api.shapes(b or a, **_overrides(sets))
    result = compare(left, right)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(show(result, only_changed=changed), nl=False)


@cli.command()
def reference() -> None:
    """Print the reference of every layer kind (markdown), generated from the schemas.

    \b
    archspec reference > kinds.md
    """
    from .reference import reference as text

    click.echo(text(), nl=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the click group, turning SpecError into exit status 2."""
    try:
        cli.main(args=argv, prog_name="archspec", standalone_mode=False)
    except SpecError as exc:
        click.echo(str(exc), err=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    return 0


def run() -> None:
    sys.exit(main())



# Commands that live beside the features they drive.
from .cli_share import draw, export, import_, inspect, schema  # noqa: E402
from .cli_train import evaluate, predict, train  # noqa: E402

for _command in (train, evaluate, predict, draw, inspect, export, import_, schema):
    cli.add_command(_command)
