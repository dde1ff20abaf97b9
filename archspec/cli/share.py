"""Commands for seeing and sharing a network: draw, inspect, serve, export, import.

Thin wrappers: each parses its options and calls one library function.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import Problem, SpecError
from ..files import refuse_existing, write_text
from ..keras_side.importer import CLI, import_from
from ..spec.loading import load
from ..tools.draw import draw as draw_diagram
from ..tools.serve import serve as serve_page
from .options import force_option, overrides, set_option, weights_options

if TYPE_CHECKING:
    pass


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="net.svg, net.html or net.png (default build/NAME.html).",
)
@click.option("--expand", is_flag=True, help="Open every block (default: blocks closed, one volume each).")
@force_option
@set_option
def draw(spec: Path, output: Path | None, expand: bool, force: bool, sets: tuple[str, ...]) -> None:
    """Draw a network: SVG, interactive HTML (click blocks to open them) or PNG. No TensorFlow.

    \b
    archspec draw specs/resnet50.yaml -o resnet50.html
    archspec draw specs/lenet.yaml -o lenet.svg
    archspec draw specs/lenet.yaml -o lenet.png      # needs Chromium
    """
    given = overrides(sets)
    if output is None:
        loaded = load(spec, **given)
        output = Path("build") / f"{loaded.name}.html"
    target = draw_diagram(spec, output, force=force, expand=expand, **given)
    click.echo(f"wrote {target}")


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--input",
    "-i",
    "image",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Image (PNG, JPEG, GIF, BMP, WebP) or .npy array.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Report file (default build/MODEL_inspect.html).",
)
@click.option(
    "--labels",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Class names, one per line (default: the run folder's).",
)
@click.option(
    "--max-maps", type=click.IntRange(1, 4096), default=64, show_default=True, help="Feature maps shown per layer."
)
@click.option(
    "--spec",
    "spec",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Spec whose training.data preprocessing to use (default: the model's run folder).",
)
@click.option(
    "--rescale",
    default=None,
    help="Multiply pixels by this instead of the model's rescale rule (auto: 1/255 for 8-bit images).",
)
@click.option(
    "--fit",
    type=click.Choice(["auto", "pad", "resize", "crop", "none"]),
    default=None,
    help="How the image reaches the input size, instead of the model's fit rule (auto pads smaller images, resizes "
    "others).",
)
@click.option(
    "--augment",
    type=click.IntRange(0, 64),
    default=0,
    metavar="N",
    help="Also show N views of the image as the run's training augmentation draws them (training.data.augment).",
)
@force_option
@weights_options
def inspect(
    model: Path,
    image: Path,
    output: Path | None,
    labels: Path | None,
    max_maps: int,
    spec: Path | None,
    rescale: str | None,
    fit: str | None,
    force: bool,
    weights: str | None,
    strict_weights: bool,
    weights_by_shape: bool,
    augment: int,
) -> None:
    """Feature maps, first-layer filters and class probabilities of a trained model for one image (static HTML).

    MODEL is a run folder or a .keras file; the image is preprocessed as in training (as evaluate and predict do).
    MODEL may also be a spec, with --weights: a pretrained network seen without training it.

    \b
    archspec inspect runs/lenet-20250101-120000 --input digit.png -o report.html
    archspec inspect build/lenet.keras --input digit.png -o report.html
    archspec inspect specs/resnet50.yaml --weights keras:ResNet50 --input cat.jpg
    archspec inspect runs/lenet-20250101-120000 --input digit.png --augment 8   # what augmentation does to it
    """
    from ..tools.inspection import inspect as run  # imports TensorFlow

    scale: float | str | None = rescale
    if rescale not in (None, "auto"):
        try:
            scale = float(eval_fraction(rescale))
        except (ValueError, ZeroDivisionError):
            raise click.BadParameter(
                f"expected a number, a fraction such as 1/255, or auto; got {rescale!r}", param_hint="--rescale"
            ) from None
    name = model.name if model.is_dir() else model.stem
    target = run(
        model,
        image,
        output or Path("build") / f"{name}_inspect.html",
        force=force,
        labels_path=labels,
        spec=spec,
        max_maps=max_maps,
        rescale=scale,
        fit=fit,
        weights=weights,
        strict_weights=strict_weights,
        weights_by_shape=weights_by_shape,
        log=click.echo,
        augment=augment,
    )
    click.echo(f"wrote {target}")


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface, reachable from other machines).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option("--read-only", "read_only", is_flag=True, help="Never write the spec file (the page's save is refused).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default web browser.")
@set_option
def serve(target: Path, host: str, port: int, read_only: bool, open_browser: bool, sets: tuple[str, ...]) -> None:
    """A live page: edit a spec and watch its shapes and diagram; draw a digit and watch a trained model see it.

    TARGET is a spec (editor, shapes table, diagram; saving writes that file), or a run folder or
    .keras file (a pad to draw on or an image to drop, probabilities and every layer's feature maps,
    and the run's spec, read-only). Needs `pip install 'archspec[serve]'`. Ctrl-C stops it.

    \b
    archspec serve specs/resnet50.yaml
    archspec serve runs/lenet-20261125-1200
    archspec serve specs/lenet.yaml --set classes=100 --read-only
    """
    serve_page(target, host=host, port=port, sets=sets, read_only=read_only, say=click.echo, open_browser=open_browser)
    # stopped, and nothing left to write (a save is atomic, done when answered): end the process now. With a model
    # loaded, Python's own teardown of TensorFlow takes seconds more (4 s measured), and Ctrl-C should end it at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def eval_fraction(text: str) -> float:
    """'0.5' or '1/255' -> a float (no eval)."""
    num, sep, den = text.partition("/")
    return float(num) / float(den) if sep else float(num)


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["savedmodel", "onnx", "tflite"]),
    help="Default: from the output's extension (.onnx, .tflite, else savedmodel).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output file, or directory for savedmodel (default under build/).",
)
@click.option(
    "--no-preprocessing",
    "no_preprocessing",
    is_flag=True,
    help="A run folder: leave its preprocessing out (the model then takes the network's input: scaled, at the input's "
    "size).",
)
@force_option
@set_option
@weights_options
def export(
    source: Path,
    fmt: str | None,
    output: Path | None,
    no_preprocessing: bool,
    force: bool,
    sets: tuple[str, ...],
    weights: str | None,
    strict_weights: bool,
    weights_by_shape: bool,
) -> None:
    """Export a run folder (with its preprocessing), a .keras model or a spec to SavedModel, ONNX or TFLite.

    A run folder's model carries the run's preprocessing (channels, size, rescale, mean/std): it takes
    uint8 pixels as image files hold them, at the size the run trained on, and gives what `predict` gives.
    A .keras model or a spec is exported as the network takes its input, with no preprocessing.

    \b
    archspec export runs/lenet-20261125-1200 -o lenet.onnx
    archspec export runs/lenet-20261125-1200 -o lenet.tflite --no-preprocessing
    archspec export build/lenet.keras --format savedmodel -o lenet_savedmodel
    archspec export specs/resnet50.yaml --weights keras:ResNet50 -o resnet50.onnx
    """
    from ..training.export import export as export_model

    if fmt is None and output is None:
        raise SpecError(Problem("give --format (savedmodel, onnx, tflite) or -o with a .onnx or .tflite name"))
    options = {
        **({"weights": weights} if weights is not None else {}),
        **({"strict_weights": True} if strict_weights else {}),
        **({"weights_by_shape": True} if weights_by_shape else {}),
        **overrides(sets),
    }
    target = export_model(
        source, output, fmt, preprocessing=not no_preprocessing, force=force, log=click.echo, **options
    )
    click.echo(f"wrote {target}")


def _shape_option(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    try:
        h, w, c = (int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise SpecError(
            Problem(f"--input-shape {text!r}: expected HEIGHT,WIDTH,CHANNELS, e.g. 224,224,3", file="--input-shape")
        ) from None
    return h, w, c


@click.command("import")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Spec file to write (default: standard output).",
)
@click.option(
    "--input-shape", metavar="H,W,C", help="Image size for a model that takes any size (e.g. MobileNetV3: 224,224,3)."
)
@force_option
def import_(model: Path, output: Path | None, input_shape: str | None, force: bool) -> None:
    """Turn a Keras model (.keras) into a spec.

    \b
    archspec import build/lenet.keras -o lenet.yaml
    archspec import mobilenet_v3.keras --input-shape 224,224,3 -o mnv3.yaml
    """
    if output is not None:
        refuse_existing(output, force)
    text = import_from(model, _shape_option(input_shape), option=CLI)
    if output is None:
        sys.stdout.write(text)
    else:
        write_text(output, text, force=force)
        click.echo(f"wrote {output}")
