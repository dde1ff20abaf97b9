"""`training.log`: where a run's epochs go besides its run folder.

The run folder always holds history.csv (``csv``) and TensorBoard's event files (``tensorboard``), so naming those
two asks for nothing more. ``mlflow`` mirrors the run into an MLflow tracking store (``MLflowLog``): the resolved
recipe and the run's settings as parameters, every committed epoch's figures as metrics (step: the epoch number),
the final figures, and at the end the run folder itself (its checkpoints left out: model.keras is the model) as
artifacts. The store is ``MLFLOW_TRACKING_URI`` when set, else a local SQLite file, ``mlflow.db`` beside the run
folder, with the artifacts in ``mlartifacts/`` next to it: no server is needed, and ``mlflow ui
--backend-store-uri sqlite:///runs/mlflow.db`` shows it. A resumed run continues its MLflow run (``mlflow.json`` in
the run folder names it) and logs the epochs that run lacks.

MLflow is an optional extra; asking for it without it installed is refused before the run folder is made.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError
from .rundir import RunDir, atomic_write_json

EXTRA = "pip install 'archspec[mlflow]'"
RECORD = "mlflow.json"
"""The run folder's note of its MLflow run (tracking URI, experiment, run id), read when the run is resumed."""
LEFT_OUT = ("checkpoints", ".lock")
"""What of the run folder is not logged as artifacts: the checkpoints repeat model.keras; the lock is the process's."""

Locate = Callable[[tuple[Any, ...], str, str | None], Problem]


def check(training: Any, problem: Locate) -> None:
    """Refuse a logger that cannot run here (MLflow not installed), before any work: one message naming the extra."""
    if "mlflow" in training.log and importlib.util.find_spec("mlflow") is None:
        raise SpecError(
            problem(
                ("training", "log"),
                "training.log names mlflow, which is not installed",
                f"{EXTRA} (or remove mlflow from training.log)",
            )
        )


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's own INFO lines (creating its tables) and its dependencies' deprecation warnings stay out of the run's
    log."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def tracking_uri(folder: Path) -> tuple[str, str | None]:
    """(tracking URI, artifact location for a new experiment): the environment's, else SQLite beside the run folder."""
    given = os.environ.get("MLFLOW_TRACKING_URI")
    if given:
        return given, None
    home = folder.parent.absolute()
    return f"sqlite:///{home / 'mlflow.db'}", (home / "mlartifacts").as_uri()


def params(spec_name: str, run_config: Mapping[str, Any], training: Mapping[str, Any]) -> dict[str, str]:
    """The run's parameters as MLflow keeps them (text): the recipe flattened to dotted keys, and the run's settings."""
    out: dict[str, str] = {"spec": spec_name}
    for key in ("data", "val", "strategy", "precision", "jit", "seed", "train_examples", "val_examples"):
        if run_config.get(key) is not None:
            out[key] = str(run_config[key])

    def flatten(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                flatten(f"{prefix}.{k}" if prefix else str(k), v)
        elif value is not None:
            out[f"training.{prefix}"] = value if isinstance(value, str) else json.dumps(value)

    flatten("", training)
    return {k: v[:6000] for k, v in out.items()}  # MLflow's limit on a value


def figures(entry: Mapping[str, Any]) -> dict[str, float]:
    """An epoch's (or the final) numbers that are metrics: finite numbers, the epoch number itself left out."""
    return {
        k: float(v)
        for k, v in entry.items()
        if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


class MLflowLog:
    """One archspec run mirrored as one MLflow run. Each call is MLflow's client API (no global active run)."""

    def __init__(self, files: RunDir, experiment: str, run_name: str, say: Callable[[str], Any]) -> None:
        with _quiet():
            from mlflow.tracking import MlflowClient

            recorded = _read(files.root / RECORD)
            if recorded is not None:
                self.uri, self.run_id = recorded["tracking_uri"], recorded["run_id"]
                self.client = MlflowClient(tracking_uri=self.uri)
                self.client.update_run(self.run_id, status="RUNNING")
            else:
                self.uri, artifacts = tracking_uri(files.root)
                self.client = MlflowClient(tracking_uri=self.uri)
                found = self.client.get_experiment_by_name(experiment)
                experiment_id = (
                    found.experiment_id
                    if found is not None
                    else self.client.create_experiment(experiment, artifact_location=artifacts)
                )
                self.run_id = self.client.create_run(experiment_id, run_name=run_name).info.run_id
                atomic_write_json(
                    files.root / RECORD, {"tracking_uri": self.uri, "experiment": experiment, "run_id": self.run_id}
                )
        self.files = files
        say(f"mlflow: run {self.run_id} in {self.uri}")

    def start(self, parameters: Mapping[str, str], history: list[dict[str, Any]]) -> None:
        """The parameters (a resumed run: those it lacks) and the committed epochs the MLflow run lacks."""
        with _quiet():
            have = self.client.get_run(self.run_id).data.params
            from mlflow.entities import Param

            new = [Param(k, v) for k, v in parameters.items() if k not in have]
            for i in range(0, len(new), 100):  # MLflow's limit per batch
                self.client.log_batch(self.run_id, params=new[i : i + 100])
            logged = {m.step for m in self.client.get_metric_history(self.run_id, "loss")}
        for entry in history:
            if entry["epoch"] not in logged:
                self.epoch(entry)

    def epoch(self, entry: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric

        stamp = _now_ms()
        metrics = [Metric(k, v, stamp, int(entry["epoch"])) for k, v in figures(entry).items()]
        with _quiet():
            self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self, metrics: Mapping[str, Any], status: str = "FINISHED") -> None:
        """The final figures (as tags: they describe the run, not a step), the run folder, and the run's end."""
        with _quiet():
            for key, value in metrics.items():
                if value is not None:
                    self.client.set_tag(self.run_id, f"final.{key}", str(value))
            for path in sorted(self.files.root.iterdir()):
                if path.name in LEFT_OUT:
                    continue
                if path.is_dir():
                    self.client.log_artifacts(self.run_id, str(path), path.name)
                else:
                    self.client.log_artifact(self.run_id, str(path))
            self.client.set_terminated(self.run_id, status=status)

    def stop(self, status: str) -> None:
        """The run ended without finishing (interrupted, failed): MLflow says so; it goes on when resumed."""
        with _quiet():
            self.client.set_terminated(self.run_id, status=status)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and {"tracking_uri", "run_id"} <= set(data) else None


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def callback(log: MLflowLog, history: Callable[[], list[dict[str, Any]]]) -> Any:
    """A Keras callback, after the recorder: each epoch the recorder committed goes to MLflow."""
    from ..keras_side.bases import Callback

    class ToMLflow(Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            rows = history()
            if rows and rows[-1]["epoch"] == epoch + 1:
                log.epoch(rows[-1])

    return ToMLflow()
