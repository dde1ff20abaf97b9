"""`archspec search`: parse options, call the library, print the summary. Nothing here imports TensorFlow or Optuna."""

from __future__ import annotations

from pathlib import Path

import click

from .options import overrides as variable_overrides
from .options import set_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("spec", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", "data", metavar="SOURCE", help="Training data (as `archspec train --data`).")
@click.option("--val", "val", metavar="SOURCE", help="Validation data, instead of training.validation_split.")
@click.option("--trials", type=int, help="Trained trials of the whole study (all workers together).")
@click.option("--epochs", type=int, help="Epochs of each trial (training.epochs).")
@click.option(
    "--study-dir",
    "study_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The study folder (default searches/NAME-TIMESTAMP); an existing one is joined as another worker.",
)
@click.option(
    "--storage",
    metavar="URL",
    help="An Optuna storage shared by workers on several machines: sqlite:///x.db, postgresql://..., mysql://..., "
    "or journal:PATH (a journal file on a shared disk). Default: a journal file in the study folder.",
)
@click.option("--study", "study", metavar="NAME", help="The study's name in the storage (default: the spec's name).")
@click.option(
    "--resume",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Continue a study folder after a kill: trials a stopped worker left running continue from their last epoch.",
)
@click.option("--seed", type=int, help="Seed of the sampler (TPE).")
@set_option
def search(
    spec: Path | None,
    data: str | None,
    val: str | None,
    trials: int | None,
    epochs: int | None,
    study_dir: Path | None,
    storage: str | None,
    study: str | None,
    resume: Path | None,
    seed: int | None,
    sets: tuple[str, ...],
) -> None:
    """Search the spec's `search` space on Optuna; candidates over `budget` or not a network are rejected statically.

    \b
    archspec search net.yaml --data idx:data/mnist[:1000] --trials 20 --epochs 3
    archspec search net.yaml --data mnist --trials 100 --storage postgresql://host/db --study net   # on each machine
    archspec search --resume searches/net-20250101-120000
    optuna-dashboard searches/net-20250101-120000/study.log
    """
    from ..study.run import search as run_search

    if resume is None and spec is None:
        raise click.UsageError("give a SPEC to search (or --resume DIR)")
    result = run_search(
        str(spec) if spec is not None else None,
        data,
        val=val,
        trials=trials,
        epochs=epochs,
        study_dir=study_dir,
        storage=storage,
        study=study,
        resume=resume,
        variables=variable_overrides(sets),
        seed=seed,
        log=click.echo,
    )
    rejected = ", ".join(f"{n} {k}" for k, n in sorted(result.rejected.items())) or "none"
    median = f", median {result.rejection_ms:.1f} ms each" if result.rejection_ms is not None else ""
    click.echo(f"rejected statically: {rejected}{median}")
    if result.repeated:
        click.echo(f"proposed again after training (told the earlier outcome, not trained): {result.repeated}")
    for row in result.front:
        figures = "  ".join(
            f"{k} {_shown(row[k])}" for k in row if k not in ("state", "reason") and row[k] not in (None, "")
        )
        click.echo(f"front: {figures}")
    click.echo(
        f"results: {result.folder} (trials.csv, pareto.csv, plot.svg" + (", best.yaml)" if result.best_spec else ")")
    )


def _shown(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)
