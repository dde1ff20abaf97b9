"""Commands about the spec itself: shapes, validate, build, check, render, diff, reference, schema.

None of them imports TensorFlow except `build` and `check`, which make a Keras model. `shapes` and
`validate` must start instantly (tests/test_startup.py holds the modules they may load), so the
other commands import what they call when they run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import Problem, SpecError, labelled
from ..graph import shapes as static_shapes
from ..tools.table import layer_table
from .options import (
    budget,
    budget_options,
    force_option,
    freeze_options,
    frozen,
    overrides,
    print_warnings,
    set_option,
    top,
    top_options,
    weights_options,
)

if TYPE_CHECKING:
    pass


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--expand", is_flag=True, help="One row per primitive layer instead of per block.")
@click.option("--variants", "list_variants", is_flag=True, help="The table of the spec's variants instead.")
@set_option
@top_options
@freeze_options
@budget_options
def shapes(
    spec: Path,
    as_json: bool,
    expand: bool,
    list_variants: bool,
    sets: tuple[str, ...],
    max_params: int | None,
    max_activations: int | None,
    freeze: tuple[str, ...],
    freeze_bn: bool | None,
    no_top: bool,
    pooling: str | None,
    features: tuple[str, ...],
) -> None:
    """Per-layer output shapes, parameters, MACs and receptive field. No TensorFlow.

    \b
    archspec shapes specs/lenet.yaml
    archspec shapes specs/resnet50.yaml --expand
    archspec shapes specs/lenet.yaml --json | jq .total_params
    archspec shapes specs/efficientnet.yaml --variants
    archspec shapes specs/efficientnet.yaml --variant b3 --set classes=10
    archspec shapes resnet50 --no-top --pooling avg   # the backbone, pooled
    archspec shapes resnet18 --no-top --features stride8,stride16,stride32   # its feature maps
    """
    if list_variants:
        from ..tools.variants import variant_table

        click.echo(variant_table(spec, **overrides(sets)), nl=False)
        return
    report = static_shapes(
        spec,
        **top(no_top, pooling, features),
        **budget(max_params, max_activations),
        **frozen(freeze, freeze_bn),
        **overrides(sets),
    )
    print_warnings(report)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(layer_table(report, expand=expand), nl=False)


@click.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@set_option
@budget_options
def validate(
    specs: tuple[Path, ...], strict: bool, sets: tuple[str, ...], max_params: int | None, max_activations: int | None
) -> None:
    """Check specs: syntax, schema, references and shapes. Exit 0 when all are valid.

    \b
    archspec validate specs/*.yaml
    archspec validate --strict specs/lenet.yaml     # warnings are errors
    """
    failed: list[SpecError] = []
    for path in specs:
        try:
            report = static_shapes(path, **budget(max_params, max_activations), **overrides(sets))
        except SpecError as exc:
            failed.append(exc)
            continue
        if strict and report.warnings:
            failed.append(SpecError(labelled(report.warnings, "error (--strict)")))
            continue
        print_warnings(report)
        click.echo(f"{path}: ok ({len(report.layers)} layers, {report.total_params:,} parameters)")
    if failed:
        raise SpecError([p for exc in failed for p in exc.problems])


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Model file (default build/NAME.keras)."
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the layer table.")
@set_option
@top_options
@weights_options
@freeze_options
@budget_options
def build(
    spec: Path,
    output: Path | None,
    force: bool,
    quiet: bool,
    sets: tuple[str, ...],
    max_params: int | None,
    max_activations: int | None,
    weights: str | None,
    strict_weights: bool,
    weights_by_shape: bool,
    freeze: tuple[str, ...],
    freeze_bn: bool | None,
    no_top: bool,
    pooling: str | None,
    features: tuple[str, ...],
) -> None:
    """Compile a spec to a Keras model file and print its layer table.

    \b
    archspec build specs/lenet.yaml                 # -> build/lenet.keras
    archspec build specs/vgg16.yaml -o vgg.keras --force
    archspec build specs/resnet50.yaml --set classes=5 --weights keras:ResNet50 --freeze conv4 -o r50-5.keras
    archspec build mobilenet_v2 --no-top --pooling avg -o backbone.keras
    """
    from ..files import refuse_existing
    from ..keras_side.emitter import build as build_model
    from ..keras_side.saving import save_model
    from ..spec.loading import load

    # load says BaseModel: the Spec model is made at run time, on SpecBase
    loaded = load(spec, **overrides(sets))
    report = static_shapes(
        loaded, **top(no_top, pooling, features), **budget(max_params, max_activations), **frozen(freeze, freeze_bn)
    )
    print_warnings(report)
    target = output or Path("build") / f"{loaded.name}.keras"
    refuse_existing(target, force)
    model = build_model(
        loaded,
        weights=weights,
        strict_weights=strict_weights,
        weights_by_shape=weights_by_shape,
        **top(no_top, pooling, features),
        **frozen(freeze, freeze_bn),
        **budget(max_params, max_activations),
    )
    if not quiet:
        click.echo(layer_table(report), nl=False)
    if weights is not None:
        click.echo(model.transfer.text(), nl=False)
    save_model(model, target, force=force)
    click.echo(f"wrote {target} ({model.count_params():,} parameters)")


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@set_option
def check(spec: Path, sets: tuple[str, ...]) -> None:
    """Build the model and verify every static shape and parameter count against Keras.

    \b
    archspec check specs/resnet50.yaml
    archspec check my_plugin_spec.yaml      # does a plugin's shape rule match its emitter?
    """
    from ..keras_side.check import check as run_check

    model = run_check(spec, **overrides(sets))
    click.echo(
        f"{spec}: static shapes and parameters agree with Keras ({len(model.layers) - len(model.inputs)} layers, "
        f"{model.count_params():,} parameters)"
    )


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of printing."
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@set_option
def render(spec: Path, output: Path | None, force: bool, sets: tuple[str, ...]) -> None:
    """Print the fully resolved spec: templates, repeats, variables and defaults expanded.

    \b
    archspec render specs/resnet50.yaml > resnet50.flat.yaml
    archspec render specs/resnet50.yaml --set classes=10 -o r50-10.yaml
    """
    from ..files import write_text
    from ..spec.loading import load
    from ..tools.resolve import resolved_yaml

    text = resolved_yaml(load(spec, **overrides(sets)))
    if output:
        write_text(output, text, force=force)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("b", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--changed", is_flag=True, help="Show only blocks that differ.")
@click.option(
    "--variant", "variants", multiple=True, metavar="NAME", help="A variant for B; given twice, for A then B."
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a variable of B (repeatable).")
def diff(
    a: Path, b: Path | None, as_json: bool, changed: bool, variants: tuple[str, ...], sets: tuple[str, ...]
) -> None:
    """Compare two specs block by block (shapes, parameters, MACs, layers), or one spec
    with itself under --set overrides or another variant.

    \b
    archspec diff specs/resnet50.yaml specs/resnet101.yaml
    archspec diff specs/resnet50.yaml --set width=0.5
    archspec diff specs/efficientnet.yaml --variant b0 --variant b3
    """
    from ..tools.diff import diff as diff_reports
    from ..tools.diff import diff_table

    if len(variants) > 2:
        raise SpecError(
            Problem(f"--variant given {len(variants)} times; give one (for B) or two (A, then B)", file="--variant")
        )
    first: dict[str, Any] = {"variant": variants[0]} if len(variants) == 2 else {}
    last: dict[str, Any] = {"variant": variants[-1]} if variants else {}
    result = diff_reports(static_shapes(a, **first), static_shapes(b or a, **last, **overrides(sets)))
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(diff_table(result, only_changed=changed), nl=False)


@click.command()
def reference() -> None:
    """Print the reference of every layer kind (markdown), generated from the schemas.

    \b
    archspec reference > kinds.md
    """
    from ..tools.reference import reference as kinds_reference

    click.echo(kinds_reference(), nl=False)


@click.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to a file instead of standard output.",
)
@force_option
def schema(output: Path | None, force: bool) -> None:
    """Print the JSON Schema of spec files, for editors.

    \b
    archspec schema > archspec.schema.json
    then start a spec with:
    # yaml-language-server: $schema=archspec.schema.json
    """
    from ..files import write_text
    from ..spec.jsonschema import schema_json

    text = schema_json()
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text, force=force)
        click.echo(f"wrote {output}", err=True)


@click.command()
@click.argument("pattern", default="*")
def zoo(pattern: str) -> None:
    """List the specs that ship with archspec: family, variants, parameters, MACs and the reference each is exact to.

    Parameters and MACs are at each spec's default input and variables; a name is what `shapes`, `train`
    and `archspec.load` take. A reference `= keras.applications.X` means the spec is that model exactly.

    \b
    archspec zoo
    archspec zoo 'efficientnet*'
    archspec shapes resnet50
    archspec shapes efficientnet --variant b3
    """
    from ..tools.zoo import list_specs, zoo_table

    if not list_specs(pattern):
        raise SpecError(
            Problem(
                "no zoo spec matches this pattern",
                file=pattern,
                hint="patterns are shell-style: 'resnet*', 'efficientnet_v?'; `archspec zoo` lists them all",
            )
        )
    click.echo(zoo_table(pattern), nl=False)
