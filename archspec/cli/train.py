"""`archspec train`, `archspec evaluate`, `archspec predict`: parse options, call the library, print.

Nothing here imports TensorFlow; the library functions do when they run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import Problem, SpecError
from ..spec.overrides import parse_assignments
from .options import force_option, freeze_options, frozen, set_option, weights_options
from .options import overrides as variable_overrides

STRATEGY = click.Choice(["auto", "one-device", "mirrored", "multi-worker"])
PRECISION = click.Choice(["mixed_float16", "mixed_bfloat16"])

# Named options for the common fields of `training`; --train-set reaches every field.
_NAMED = (
    ("epochs", "epochs"),
    ("batch_size", "batch_size"),
    ("lr", "learning_rate"),
    ("optimizer", "optimizer"),
    ("momentum", "optimizer.momentum"),
    ("weight_decay", "weight_decay"),
    ("schedule", "schedule"),
    ("warmup", "schedule.warmup"),
    ("loss", "loss"),
    ("label_smoothing", "label_smoothing"),
    ("validation_split", "validation_split"),
    ("patience", "early_stopping.patience"),
    ("seed", "seed"),
    ("fit", "data.fit"),
    ("flip", "data.augment.flip"),
    ("translate", "data.augment.translate"),
    ("precise_bn", "precise_bn.enabled"),
)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("spec", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--data",
    "data",
    metavar="SOURCE",
    help="Training data: mnist, fashion_mnist, cifar10, cifar100, idx:DIR, FILE.npz or an image folder; a slice such "
    "as [:8000] selects examples.",
)
@click.option("--val", "val", metavar="SOURCE", help="Validation data (same forms), instead of validation_split.")
@click.option("--epochs", type=int, help="Passes over the training data (training.epochs).")
@click.option("--batch-size", "batch_size", type=int, help="Examples per step, all replicas together.")
@click.option("--lr", "--learning-rate", "lr", type=float, help="Learning rate (peak, after warmup).")
@click.option(
    "--optimizer",
    metavar="NAME",
    help="sgd, adam, adamw, rmsprop, adagrad, adadelta, adamax, nadam, lion. A different optimizer than the spec's "
    "starts from its defaults.",
)
@click.option("--momentum", type=float, help="Momentum (sgd, rmsprop).")
@click.option("--weight-decay", "weight_decay", type=float, help="L2 penalty on kernels (training.weight_decay).")
@click.option(
    "--schedule", metavar="KIND", help="Learning-rate schedule: constant, step, cosine, one_cycle, reduce_on_plateau."
)
@click.option("--warmup", type=int, help="Warmup epochs.")
@click.option("--loss", metavar="NAME", help="categorical_crossentropy or sum_squared_error.")
@click.option("--label-smoothing", "label_smoothing", type=float, help="Label smoothing (0..1).")
@click.option(
    "--validation-split", "validation_split", type=float, help="Fraction of the training data held out for validation."
)
@click.option("--patience", type=int, help="Early stopping after this many epochs without improvement.")
@click.option("--seed", type=int, help="Random seed (reproducible on CPU).")
@click.option("--fit", metavar="HOW", help="How images reach the input size: auto, pad, resize, crop, none.")
@click.option("--flip", metavar="HOW", help="Augmentation: none, horizontal, vertical, both.")
@click.option("--translate", type=float, help="Augmentation: random shift in pixels (>= 1) or fraction (< 1).")
@click.option(
    "--precise-bn/--no-precise-bn",
    "precise_bn",
    default=None,
    help="Recompute batch-norm statistics from training batches at each epoch's end (training.precise_bn; on by "
    "default).",
)
@click.option(
    "--train-set",
    "train_sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set any field of `training` (repeatable): optimizer.nesterov=true, schedule.every=30, data.mean=0.1307.",
)
@set_option
@click.option(
    "--run-dir",
    "run_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder (default runs/NAME-TIMESTAMP).",
)
@click.option(
    "--runs",
    default="runs",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Parent folder of timestamped run folders.",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="RUN_DIR",
    help="Continue a run from its last completed epoch (optimizer state included).",
)
@click.option(
    "--strategy",
    type=STRATEGY,
    default=None,
    help="tf.distribute: auto (mirrored when >1 GPU; the default, or a resumed run's own), one-device, mirrored, "
    "multi-worker (TF_CONFIG).",
)
@click.option("--precision", type=PRECISION, default=None, help="Mixed precision (default float32).")
@click.option(
    "--jit/--no-jit",
    default=None,
    help="XLA compilation (default: off on a CPU, where it was slower; Keras decides on a GPU).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the final line.")
@click.option(
    "--progress/--plain",
    default=None,
    help="A live progress bar (steps, images/s, time left) besides the line per epoch, or the lines only (default: the "
    "bar on a terminal).",
)
@weights_options
@freeze_options
def train(
    spec: Path | None,
    data: str | None,
    val: str | None,
    train_sets: tuple[str, ...],
    sets: tuple[str, ...],
    run_dir: Path | None,
    runs: Path,
    resume: Path | None,
    strategy: str | None,
    precision: str | None,
    jit: bool | None,
    quiet: bool,
    progress: bool | None,
    weights: str | None,
    strict_weights: bool,
    weights_by_shape: bool,
    freeze: tuple[str, ...],
    freeze_bn: bool | None,
    **named: Any,
) -> None:
    """Train a spec's network; writes a run folder (model, checkpoints, history, metrics, TensorBoard logs).

    \b
    archspec train specs/lenet.yaml --data mnist --epochs 3
    archspec train specs/lenet.yaml --data idx:data/mnist[:8000] --val idx:data/mnist[8000:] \\
        --optimizer sgd --momentum 0.9 --lr 0.01 --batch-size 64 --seed 1
    archspec train specs/resnet20_cifar.yaml --data cifar10 --val cifar10:test \\
        --schedule cosine --warmup 2 --flip horizontal --translate 4 --precision mixed_float16
    archspec train --resume runs/lenet-20250101-120000          # after a crash or Ctrl-C
    archspec train --resume runs/lenet-20250101-120000 --epochs 20   # train longer
    archspec train specs/resnet50.yaml --set classes=5 --weights keras:ResNet50 --freeze conv4 --data flowers/
    """
    from ..training.run import train as run_train  # imports TensorFlow when it trains

    overrides: dict[str, Any] = {key: named[opt] for opt, key in _NAMED if named.get(opt) is not None}
    overrides.update(parse_assignments(train_sets, "--train-set"))
    overrides.update(frozen(freeze, freeze_bn))
    if resume is None and spec is None:
        raise click.UsageError("give a SPEC to train (or --resume RUN_DIR)")
    if resume is not None and spec is not None:
        raise SpecError(Problem("give a SPEC or --resume, not both (a run folder holds its own spec)", file=str(spec)))
    verbose = 0 if quiet else None if progress is None else 1 if progress else 2
    epochs = overrides.pop("epochs", None)
    result = run_train(
        str(spec) if spec is not None else None,
        data,
        val=val,
        epochs=epochs,
        variables=variable_overrides(sets),
        run_dir=run_dir,
        runs=runs,
        resume=resume,
        strategy=strategy,
        precision=precision,
        jit=jit,
        verbose=verbose,
        log=click.echo,
        weights=weights,
        strict_weights=strict_weights,
        weights_by_shape=weights_by_shape,
        training=overrides,
    )
    if quiet:
        m = result.metrics
        last = result.history[-1] if result.history else {}
        figures = ", ".join(
            f"{k} {m[k]:.4f}"
            for k in last
            if k not in ("epoch", "seconds", "learning_rate") and isinstance(m.get(k), (int, float))
        )
        click.echo(f"{result.run_dir}: {m.get('epochs_completed', 0)} epochs, {figures}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--data", "data", required=True, metavar="SOURCE", help="Data to evaluate on (same forms as train --data)."
)
@click.option("--batch-size", "batch_size", type=int, default=256, show_default=True, help="Examples per batch.")
@click.option(
    "--spec",
    "spec",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Spec whose training.data preprocessing to use (default: the model's run folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def evaluate(model: Path, data: str, batch_size: int, spec: Path | None, as_json: bool) -> None:
    """Accuracy, loss and confusion matrix of a trained model on a data source.

    MODEL is a run folder or a .keras file; the data is preprocessed as in training.

    \b
    archspec evaluate runs/lenet-20250101-120000 --data mnist:test
    archspec evaluate runs/lenet-20250101-120000/checkpoints/best.keras --data idx:data/mnist[8000:] --json
    """
    from ..training.evaluate import Evaluations
    from ..training.evaluate import evaluate as run_evaluate

    if batch_size < 1:
        raise click.BadParameter("must be at least 1", param_hint="--batch-size")
    result = run_evaluate(model, data, batch_size=batch_size, spec=spec)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    click.echo(f"{result.data}: {result.count} examples, {result.preprocessing}")
    if isinstance(result, Evaluations):  # every output's figures
        click.echo(result.text(), nl=False)
        return
    click.echo(f"accuracy {result.accuracy:.4f}  loss {result.loss:.4f} ({result.loss_name})")
    click.echo(result.table(), nl=False)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--top-k", "top_k", type=int, default=3, show_default=True, help="Most likely classes to show.")
@click.option(
    "--spec",
    "spec",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Spec whose training.data preprocessing to use (default: the model's run folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (with every class probability).")
@click.option(
    "--masks",
    "masks",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("masks"),
    show_default=True,
    help="Folder for segmentation outputs' masks: SOURCE_OUTPUT.png, a class number per pixel.",
)
@force_option
def predict(
    model: Path, inputs: tuple[Path, ...], top_k: int, spec: Path | None, as_json: bool, masks: Path, force: bool
) -> None:
    """Class probabilities for images (PNG, JPEG, GIF, BMP, WebP) or .npy arrays.

    A network with other heads answers for every output: classes, labels, values, and masks written as PNG files.
    A network with several inputs reads .npz files holding an array per input.

    \b
    archspec predict runs/lenet-20250101-120000 digit.png
    archspec predict runs/lenet-20250101-120000/model.keras a.png b.jpg batch.npy --top-k 5 --json
    archspec predict runs/unet_digits-20250101-120000 canvas.png --masks out/
    """
    from ..training.predict import Answers
    from ..training.predict import predict as run_predict

    results = run_predict(model, list(inputs), top_k=top_k, spec=spec, masks=masks, force=force)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2))
        return
    for r in results:
        if isinstance(r, Answers):  # every output's answer
            click.echo(r.text())
            continue
        tops = "  ".join(f"{name} {p:.4f}" for _, name, p in r.top)
        click.echo(f"{r.source}: {tops}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("source")
@click.option("--to", "to", required=True, type=click.Path(path_type=Path), help="The image folder to write.")
@force_option
def data(source: str, to: Path, force: bool) -> None:
    """Write a data source as an image folder of PNG files, one folder per class.

    SOURCE is anything --data takes (mnist, idx:DIR, FILE.npz, an image folder, with a slice); the folder written
    is itself a source.

    \b
    archspec data idx:data/mnist[:1000] --to digits/
    archspec train specs/lenet.yaml --data digits/
    """
    from ..training.data.to_folder import write_folder

    click.echo(write_folder(source, to, force=force).text())
