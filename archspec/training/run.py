"""`archspec.train`: train a spec's network on a data source, in a crash-safe run folder.

Everything the user can get wrong (the recipe, the data, the data against the
spec, the strategy settings) is checked before the run folder is made and
before the first step; each is a ``SpecError``. See ``rundir.py`` for the run
folder and why a killed run resumes without losing or repeating an epoch.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from pydantic import BaseModel

from ..errors import Problem, SpecError, closest
from ..graph import shapes
from ..keras_side.saving import load_model, save_model
from ..spec.loading import coerce, load
from ..spec.training import Training
from ..version import __version__
from . import config, finetune
from .rundir import RunDir, atomic_write_json, atomic_write_text, new_run_dir

STRATEGIES = ("auto", "one-device", "mirrored", "multi-worker")
PRECISIONS = ("mixed_float16", "mixed_bfloat16")
Log = Callable[[str], Any]


@dataclass
class TrainResult:
    """What a run produced. `history` has one dict per completed epoch (of the whole run, across resumes)."""

    run_dir: Path
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    paths: dict[str, Path]
    model: Any = field(default=None, repr=False)
    resumed_from: int = 0
    transfer: Any = None
    """What `weights=` transferred (keras_side/weights.TransferReport), for a run that started from trained weights."""

    @property
    def accuracy(self) -> float | None:
        """Validation accuracy of the final model when there was validation data, else training accuracy."""
        return self.metrics.get("val_accuracy", self.metrics.get("accuracy"))


def _print(text: str) -> None:
    print(text, flush=True)


# ----------------------------------------------------------------------------- environment


@dataclass
class Env:
    strategy: Any
    name: str
    replicas: int
    chief: bool
    workers: int = 1


def _tf_config() -> dict[str, Any]:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise SpecError(Problem("--strategy multi-worker needs the TF_CONFIG environment variable", file="TF_CONFIG",
                                hint='e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\''))
    try:
        cfg = json.loads(raw)
        cluster, task = cfg["cluster"], cfg["task"]
        kind, index = task["type"], int(task["index"])
        if kind not in cluster or not 0 <= index < len(cluster[kind]):
            raise ValueError(f"task {kind}:{index} is not in the cluster")
    except (ValueError, KeyError, TypeError) as exc:
        raise SpecError(Problem(f"TF_CONFIG is not a valid cluster description: {exc}", file="TF_CONFIG",
                                hint='needs {"cluster": {"worker": [...]}, "task": {"type": "worker", "index": N}}')) from None
    return cfg


def _is_chief(cfg: Mapping[str, Any]) -> bool:
    """The task that writes the run folder: the chief, or worker 0 when the cluster has no chief."""
    task, cluster = cfg["task"], cfg["cluster"]
    return task["type"] == "chief" or (task["type"] == "worker" and int(task["index"]) == 0 and "chief" not in cluster)


def check_options(strategy: str, precision: str | None) -> None:
    """The strategy and precision names, before TensorFlow is imported."""
    if strategy not in STRATEGIES:
        near = closest(strategy, STRATEGIES)
        raise SpecError(Problem(f"unknown strategy {strategy!r}", file="--strategy", hint=f"did you mean {near!r}?" if near else "one of " + ", ".join(STRATEGIES)))
    if precision not in (None, "float32", *PRECISIONS):
        near = closest(str(precision), PRECISIONS)
        raise SpecError(Problem(f"unknown precision {precision!r}", file="--precision", hint=f"did you mean {near!r}?" if near else "one of " + ", ".join(PRECISIONS)))
    if strategy == "multi-worker":
        _tf_config()


def make_env(strategy: str) -> Env:
    """The tf.distribute strategy. Called before any other TensorFlow work (multi-worker needs that)."""
    import tensorflow as tf

    if strategy == "multi-worker":
        cfg = _tf_config()
        try:
            strat = tf.distribute.MultiWorkerMirroredStrategy()
        except (RuntimeError, ValueError) as exc:
            raise SpecError(Problem(f"cannot start multi-worker training: {exc}", file="TF_CONFIG",
                                    hint="start it before any other TensorFlow work, one process per TF_CONFIG task")) from None
        workers = sum(len(v) for k, v in cfg["cluster"].items() if k in ("chief", "worker"))
        return Env(strat, "multi-worker", strat.num_replicas_in_sync, _is_chief(cfg), workers)
    gpus = tf.config.list_logical_devices("GPU")
    if strategy == "auto":
        strategy = "mirrored" if len(gpus) > 1 else "default"
    if strategy == "mirrored":
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        strat = tf.distribute.MirroredStrategy(devices=devices)
        return Env(strat, "mirrored", strat.num_replicas_in_sync, True)
    if strategy == "one-device":
        device = gpus[0].name if gpus else "/cpu:0"
        return Env(tf.distribute.OneDeviceStrategy(device), "one-device", 1, True)
    return Env(tf.distribute.get_strategy(), "default", 1, True)


# ----------------------------------------------------------------------------- the recorder callback


def _scalar_writer(root: Path) -> Callable[[str, str, float, int], None]:
    """TensorBoard scalars through TensorFlow's own summary ops (no tensorboard package needed)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    writers: dict[str, Any] = {}

    def write(split: str, tag: str, value: float, step: int) -> None:
        if split not in writers:
            writers[split] = tf.summary.create_file_writer(str(root / split))
        with writers[split].as_default():
            tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=meta)
        writers[split].flush()

    return write


def _better(mode: str, min_delta: float) -> Callable[[float, float | None], bool]:
    if mode == "max":
        return lambda value, best: best is None or value > best + min_delta
    return lambda value, best: best is None or value < best - min_delta


def _format(entry: Mapping[str, Any], epochs: int) -> str:
    parts = [f"epoch {entry['epoch']}/{epochs}"]
    for key, value in entry.items():
        if key in ("epoch", "seconds"):
            continue
        parts.append(f"{key} {value:.4g}" if key == "learning_rate" else f"{key} {value:.4f}")
    parts.append(f"{entry['seconds']:.1f}s")
    return "  ".join(parts)


def _recorder(files: RunDir, state: dict[str, Any] | None, *, epochs: int, monitor: str, mode: str, min_delta: float,
              patience: int | None, log: Log | None, chief: bool) -> Any:
    import keras

    better = _better(mode, min_delta)

    class Recorder(keras.callbacks.Callback):
        """Commits each completed epoch to the run folder; early stopping from the recorded history."""

        def __init__(self) -> None:
            super().__init__()
            self.history: list[dict[str, Any]] = list(state["history"]) if state else []
            self.best: dict[str, Any] | None = state.get("best") if state else None
            self.seconds = float(state.get("seconds", 0.0)) if state else 0.0
            self.stopped = False
            self.write_scalar = _scalar_writer(files.tensorboard) if chief else None
            self._t0 = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            seconds = time.perf_counter() - self._t0
            entry: dict[str, Any] = {"epoch": epoch + 1}
            logs = {k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"}
            order = sorted(logs, key=lambda k: (k.startswith("val_"), k.removeprefix("val_") != "loss"))
            entry.update((k, logs[k]) for k in order)
            entry["learning_rate"] = float(f"{_learning_rate(self.model.optimizer):.7g}")
            entry["seconds"] = round(seconds, 3)
            value = entry.get(monitor)
            best = self.best
            if value is not None and better(value, None if best is None else best["value"]):
                best = {"epoch": epoch + 1, "monitor": monitor, "value": value}
            stop = bool(patience and best and epoch + 1 - best["epoch"] >= patience and epoch + 1 < epochs)
            new_state = {"epoch": epoch + 1, "epochs": epochs, "history": [*self.history, entry], "best": best,
                         "stopped_early": stop, "finished": False, "seconds": round(self.seconds + seconds, 3)}
            files.commit(new_state, lambda path: save_model(self.model, path, force=True))
            self.history, self.best, self.seconds = new_state["history"], best, new_state["seconds"]
            if stop:
                self.stopped = True
                self.model.stop_training = True
            if log is not None:
                log(_format(entry, epochs) + ("  (best)" if best and best["epoch"] == epoch + 1 else ""))
                if stop:
                    log(f"early stopping: {monitor} has not improved for {patience} epochs (best {best['value']:.4f} at epoch {best['epoch']})")
            if self.write_scalar is not None:
                for key, val in entry.items():
                    if key in ("epoch", "seconds"):
                        continue
                    split, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
                    self.write_scalar(split, f"epoch_{tag}", val, epoch + 1)

    return Recorder()


def _learning_rate(optimizer: Any) -> float:
    import numpy as np

    from .recipe import EpochSchedule

    inner = getattr(optimizer, "inner_optimizer", optimizer)
    schedule = getattr(inner, "_learning_rate", None)
    if isinstance(schedule, EpochSchedule):
        return schedule.value_at(max(int(np.asarray(inner.iterations)) - 1, 0))
    return float(np.asarray(inner.learning_rate))


# ----------------------------------------------------------------------------- train


def train(
    spec: Any,
    data: Any = None,
    *,
    val: Any = None,
    epochs: int | None = None,
    variables: Mapping[str, Any] | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    runs: str | os.PathLike[str] = "runs",
    resume: str | os.PathLike[str] | None = None,
    strategy: str = "auto",
    precision: str | None = None,
    jit: bool | None = None,
    verbose: int | None = None,
    log: Log | None = _print,
    weights: Any = None,
    strict_weights: bool = False,
    **overrides: Any,
) -> TrainResult:
    """Train the spec's network; returns history, final metrics and the run folder's paths.

    ``data``/``val``: a source name (``"mnist"``, ``"idx:DIR[:8000]"``, ``"x.npz"``, an image folder) or an
    ``(x, y)`` pair of arrays. Keyword overrides set fields of the spec's ``training`` section
    (``batch_size=64``, ``learning_rate=0.01``, ``optimizer="sgd"``, ``**{"optimizer.momentum": 0.9}``);
    ``variables`` overrides spec variables. ``resume`` continues a run folder from its last completed epoch
    (``epochs`` may raise the epoch count; nothing else may change). ``verbose``: 0 silent, 1 progress bar,
    2 one line per epoch; default: 1 on a terminal, else 2. ``weights``: start from trained weights (a .keras
    or weights file, a run folder, ``keras:NAME``; see ``archspec.build``), the report in ``result.transfer``
    and ``transfer.json``; ``strict_weights``: fail unless everything matched. Fine-tuning fields of
    ``training``: ``freeze=["conv4"]``, ``freeze_bn=True``, ``phases=[...]`` (``training/finetune.py``).
    """
    check_options(strategy, precision)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    say: Log = (log or (lambda _text: None)) if verbose else (lambda _text: None)
    if resume is not None and weights is not None:  # fine-tuning hook
        raise SpecError(Problem("a resumed run continues from its checkpoint; --weights starts a new run", file="--weights"))
    if resume is not None:
        return _resume(Path(resume), data=data, val=val, epochs=epochs, variables=variables, run_dir=run_dir,
                       strategy=strategy, precision=precision, jit=jit, verbose=verbose, say=say, overrides=overrides)
    if spec is None:
        raise SpecError(Problem("no spec given", file="spec", hint="archspec.train('specs/lenet.yaml', data=...), or resume=RUN_DIR"))
    if data is None:
        raise SpecError(Problem("no training data given", file="--data", hint="e.g. --data mnist, --data idx:DIR, --data arrays.npz, --data images/"))
    spec_model = _load_spec(spec, variables or {})
    if epochs is not None:
        overrides = {**overrides, "epochs": epochs}
    training = config.resolve_training(spec_model, overrides)
    finetune.check(spec_model, training, weights, freeze_option="freeze" in overrides)  # fine-tuning hook
    if run_dir is not None and Path(run_dir).exists() and any(Path(run_dir).iterdir()):
        raise SpecError(Problem(f"{run_dir} exists and is not empty", file=str(run_dir), hint="pick a new --run-dir, or continue that run with --resume"))
    return _run(spec_model, training, data=data, val=val, files=None, state=None, run_dir=run_dir, runs=runs,
                variables=variables or {}, strategy=strategy, precision=precision, jit=jit, verbose=verbose, say=say,
                run_config=None, weights=weights, strict_weights=strict_weights)


def _load_spec(spec: Any, variables: Mapping[str, Any]) -> BaseModel:
    if isinstance(spec, BaseModel):
        if variables:
            raise SpecError(Problem("variables apply when reading a spec; pass a path, text or dict", file="variables"))
        return spec
    return coerce(spec, variables)


def _resume(root: Path, *, data: Any, val: Any, epochs: int | None, variables: Any, run_dir: Any, strategy: str,
            precision: str | None, jit: bool | None, verbose: int, say: Log, overrides: Mapping[str, Any]) -> TrainResult:
    files = RunDir.open_existing(root)
    if overrides or variables or run_dir is not None:
        given = ", ".join([*overrides, *(["variables"] if variables else []), *(["run_dir"] if run_dir is not None else [])])
        raise SpecError(Problem(f"a resumed run keeps its recipe; cannot change {given}", file="--resume",
                                hint="only --epochs (to train longer), the data location, --strategy and --jit may be given with --resume"))
    run_config = files.read_json(files.run_json)
    env_is_chief = _is_chief(_tf_config()) if strategy == "multi-worker" else True
    state = files.repair() if env_is_chief else files.read_state()
    spec_model = load(files.spec)
    training = config.resolve_training(spec_model, {"epochs": epochs} if epochs is not None else {})
    if precision not in (None, run_config.get("precision")):
        raise SpecError(Problem(f"this run trains in {run_config.get('precision') or 'float32'}; cannot resume in {precision}", file="--precision"))
    data = data if data is not None else run_config.get("data")
    val = val if val is not None else run_config.get("val")
    if data is None:
        raise SpecError(Problem("this run was trained from in-memory arrays: pass the same data again to resume it", file="--data"))
    if state is not None and training.epochs < state["epoch"]:
        raise SpecError(Problem(f"this run has completed {state['epoch']} epochs; --epochs {training.epochs} would undo some", file="--epochs",
                                hint=f"give at least {state['epoch']}, or start a new run"))
    if state is not None and (state.get("finished") or state.get("stopped_early")) and training.epochs <= state["epoch"]:
        say(f"{root}: already finished ({state['epoch']} epochs)")
    return _run(spec_model, training, data=data, val=val, files=files, state=state, run_dir=None, runs=None,
                variables={}, strategy=strategy, precision=run_config.get("precision"), jit=jit, verbose=verbose,
                say=say, run_config=run_config)


def _run(spec: BaseModel, training: Training, *, data: Any, val: Any, files: RunDir | None, state: dict[str, Any] | None,
         run_dir: Any, runs: Any, variables: Mapping[str, Any], strategy: str, precision: str | None, jit: bool | None,
         verbose: int, say: Log, run_config: dict[str, Any] | None, weights: Any = None, strict_weights: bool = False) -> TrainResult:
    from . import data as D

    report = shapes(spec)
    if len(report.output_shape) != 1 or report.output_shape[0] < 2:
        raise SpecError(Problem(f"the network's output is {'x'.join(map(str, report.output_shape))}; training needs a vector of class scores",
                                file="spec", hint="end the spec with `- dense: {units: $classes, activation: softmax}`"))
    classes = int(report.output_shape[0])
    input_shape = tuple(int(v) for v in report.input_shape)
    resumed = state is not None
    completed = int(state["epoch"]) if state else 0
    stopped = bool(state and state.get("stopped_early"))
    seed = training.seed
    user_seed = seed is not None
    if seed is None:
        seed = int(run_config["seed"]) if run_config else _default_seed(strategy)
        training = training.model_copy(update={"seed": seed})
    deterministic = bool(run_config["deterministic"]) if run_config else user_seed

    # --- multi-worker needs its strategy before any other TensorFlow op
    env = make_env(strategy) if strategy == "multi-worker" else None

    # --- data, checked against the spec (no TensorFlow for idx, npz and arrays)
    cfg = training.data
    if val is not None and training.validation_split:
        raise SpecError(Problem("give validation data (--val) or validation_split, not both", file="--val"))
    images = D.load(data, image_size=input_shape[:2], channels=input_shape[2], fit=cfg.fit)
    val_images = D.load(val, image_size=input_shape[:2], channels=input_shape[2], fit=cfg.fit) if val is not None else None
    if training.validation_split:
        images, val_images = D.split_validation(images, training.validation_split)
    train_plan = D.plan(images, input_shape, classes, cfg, role="training data")
    val_plan = D.plan(val_images, input_shape, classes, cfg, role="validation data") if val_images is not None else None
    monitor, mode = _monitor(training, val_images is not None)

    # --- TensorFlow from here on
    import keras
    import tensorflow as tf

    if env is None:
        env = make_env(strategy)
    keras.utils.set_random_seed(seed)
    was_deterministic = _determinism_enabled()
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    previous_policy = keras.config.dtype_policy()
    if precision and precision != "float32":
        keras.config.set_dtype_policy(precision)
    work_dir: Path | None = None
    try:
        drop = env.replicas > 1
        if training.batch_size % env.replicas:
            raise SpecError(Problem(f"batch_size {training.batch_size} does not split evenly over {env.replicas} replicas", file="--batch-size",
                                    hint=f"use a multiple of {env.replicas}"))
        steps = images.count // training.batch_size if images.x is None else D.steps_per_epoch(images.count, training.batch_size, drop)
        if steps < 1:
            raise SpecError(Problem(f"batch_size {training.batch_size} is larger than the {images.count} training examples", file="--batch-size"))

        # --- model, optimizer, loss
        from . import recipe

        with env.strategy.scope():
            transfer = None
            if resumed:
                model = load_model(files.root / state["checkpoint"])  # type: ignore[union-attr, index]
                optimizer = model.optimizer
                inner = getattr(optimizer, "inner_optimizer", optimizer)
                inner.learning_rate = recipe.make_schedule(training, steps)
            else:
                model, transfer = finetune.build(spec, training, weights, strict_weights)  # fine-tuning hook
                if precision and precision != "float32":
                    out = keras.layers.Activation("linear", dtype="float32", name=recipe.FLOAT32_OUTPUT)(model.outputs[0])
                    model = keras.Model(model.inputs, out, name=model.name)
                optimizer = recipe.make_optimizer(training, steps)
            output = recipe.output_kind(model)
            logits = output == "logits"
            recipe.apply_weight_decay(model, training.weight_decay)
            finetune.compile_model(model, optimizer, training, logits, jit)
            if env.name != "default":
                _prebuild(model, input_shape, classes)
            if env.name == "multi-worker":
                _rank1_logs(model)

        # --- the run folder: made only now that everything checked out
        if files is None:
            if env.chief:
                root = Path(run_dir) if run_dir is not None else new_run_dir(runs, spec.name)  # type: ignore[attr-defined]
                root.mkdir(parents=True, exist_ok=True)
            else:
                root = work_dir = Path(tempfile.mkdtemp(prefix="archspec-worker-"))
            files = RunDir(root)
            header = f"# {spec.name}: resolved by `archspec train` on {time.strftime('%Y-%m-%d %H:%M:%S')}; rerun with `archspec train {files.spec} --data ...`"  # type: ignore[attr-defined]
            atomic_write_text(files.spec, config.spec_yaml(spec, training, variables, header))
            run_config = {
                "archspec": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "spec": "spec.yaml",
                "data": D.absolute(data), "val": D.absolute(val),
                "strategy": strategy, "precision": precision, "jit": jit, "seed": seed, "deterministic": deterministic,
                "input_shape": list(input_shape), "classes": classes, "output": output,
                "class_names": images.class_names or (val_images.class_names if val_images is not None else None) or [str(i) for i in range(classes)],
                "train_examples": images.count, "val_examples": val_images.count if val_images is not None else 0,
                "preprocessing": {"train": train_plan.describe(), "val": val_plan.describe() if val_plan else None},
                "weights": str(weights) if weights is not None else None,
            }
            atomic_write_json(files.run_json, run_config)
            if transfer is not None:  # fine-tuning hook
                atomic_write_json(files.transfer, transfer.to_json())
        elif not env.chief:
            work_dir = Path(tempfile.mkdtemp(prefix="archspec-worker-"))
            shutil.copy(files.run_json, work_dir / "run.json")
            shutil.copy(files.spec, work_dir / "spec.yaml")
            files = RunDir(work_dir)
        elif epochs_changed(files, training):
            header = (files.spec.read_text(encoding="utf-8").splitlines() or [""])[0]
            atomic_write_text(files.spec, config.spec_yaml(spec, training, {}, header if header.startswith("#") else ""))

        say(f"run folder: {files.root}" + ("" if env.chief else " (worker scratch)"))
        say(f"training data: {images.count} examples from {images.name}: {train_plan.describe()}")
        if val_images is not None and val_plan is not None:
            say(f"validation data: {val_images.count} examples from {val_images.name}: {val_plan.describe()}")
        say(f"strategy: {env.name} ({env.replicas} replica{'s' if env.replicas > 1 else ''})" + (f", precision {precision}" if precision else ""))
        if resumed:
            say(f"resuming after epoch {completed} of {training.epochs}")
        if transfer is not None:  # fine-tuning hook
            say(transfer.text().rstrip())

        # --- fit
        recorder = _recorder(files, state, epochs=training.epochs, monitor=monitor, mode=mode,
                             min_delta=training.early_stopping.min_delta if training.early_stopping else 0.0,
                             patience=training.early_stopping.patience if training.early_stopping else None,
                             log=say if verbose == 2 else None, chief=env.chief)
        started = time.perf_counter()
        if completed < training.epochs and not stopped:
            def train_ds(first: int) -> Any:
                return D.train_dataset(images, train_plan, batch_size=training.batch_size, seed=seed, first_epoch=first,
                                       epochs=training.epochs, aug=cfg.augment, drop_remainder=drop)
            val_ds = D.eval_dataset(val_images, val_plan, batch_size=training.batch_size) if val_images is not None and val_plan else None
            try:
                finetune.fit(model, spec, training, completed, dataset=train_ds, steps=steps, scope=env.strategy.scope, logits=logits, jit=jit,
                             steps_per_epoch=steps, validation_data=val_ds, callbacks=[recorder], verbose=1 if verbose == 1 else 0, shuffle=False)
            except KeyboardInterrupt:
                if env.chief:
                    say(f"interrupted after epoch {len(recorder.history)}; continue with: archspec train --resume {files.root}")
                raise
        wall = time.perf_counter() - started

        # --- final files
        history = recorder.history
        best = recorder.best
        model_epoch = history[-1]["epoch"] if history else 0
        es = training.early_stopping
        if es is not None and es.restore_best and best and best["epoch"] != model_epoch and files.best.is_file():
            best_model = load_model(files.best)
            model.set_weights(best_model.get_weights())
            model_epoch = best["epoch"]
        # The final model is for inference: the same layers and weights, without optimizer state or
        # training config, so it loads anywhere archspec's layers do (checkpoints keep the full state).
        save_model(keras.Model(model.inputs, model.outputs, name=model.name), files.model, force=True)
        metrics = _metrics(history, model_epoch, best, training, images.count, val_images.count if val_images is not None else 0,
                           stopped=recorder.stopped or stopped, wall=wall)
        atomic_write_json(files.metrics, metrics)
        if history:
            final_state = files.read_state() or {}
            final_state.update(finished=True, stopped_early=recorder.stopped or stopped)
            final_state.pop("version", None)
            from .rundir import STATE_VERSION

            atomic_write_json(files.state_json, {**final_state, "version": STATE_VERSION})
        if env.chief:
            last = history[-1] if history else {}
            figures = ", ".join(f"{k} {last[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in last)
            say(f"done: {len(history)} epochs{', ' + figures if figures else ''}; model {files.model}")
        result = TrainResult(files.root, history, metrics, files.paths(), model, resumed_from=completed, transfer=transfer)
        return result
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if deterministic and not was_deterministic:
            _disable_determinism()
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)


def _determinism_enabled() -> bool:
    try:
        from tensorflow.python.framework import config as tf_config

        return bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError):
        return True  # unknown: leave it as it is


def _disable_determinism() -> None:
    """Leave the process as it was: a seeded `train` call should not slow later TensorFlow work down."""
    try:
        from tensorflow.python.framework import config as tf_config

        tf_config.disable_op_determinism()
    except (ImportError, AttributeError):
        pass


def _prebuild(model: Any, input_shape: tuple[int, ...], classes: int) -> None:
    """Build a distributed model's compiled state from shapes alone, before fit.

    Keras otherwise builds it from the first batch of the distributed iterator: that batch is then
    skipped by training, and under MultiWorkerMirroredStrategy reducing it fails (a nested
    all-reduce the collective strategy does not support)."""
    import numpy as np

    build = getattr(model, "_symbolic_build", None)
    if build is None or not hasattr(model, "_maybe_symbolic_build"):
        return
    build(data_batch=(np.zeros((1, *input_shape), np.float32), np.zeros((1, classes), np.float32)))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def _rank1_logs(model: Any) -> None:
    """Under MultiWorkerMirroredStrategy, Keras 3 reduces each step's logs with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on the scalar losses and metrics
    (tensorflow/tensorflow#72388). Returning them as shape-[1] tensors makes that reduction the mean
    over workers it was meant to be; the logs reaching callbacks are scalars again."""
    import tensorflow as tf

    for name in ("train_step", "test_step"):
        step = getattr(model, name)

        def wrapped(data: Any, _step: Any = step) -> Any:
            logs = _step(data)
            return {k: tf.reshape(v, [1]) for k, v in logs.items()} if isinstance(logs, dict) else logs

        setattr(model, name, wrapped)


def epochs_changed(files: RunDir, training: Training) -> bool:
    try:
        return load(files.spec).training.epochs != training.epochs  # type: ignore[union-attr]
    except SpecError:
        return True


def _default_seed(strategy: str) -> int:
    """A fresh seed; under multi-worker, one every worker agrees on (from the cluster description)."""
    if strategy == "multi-worker":
        cluster = json.dumps(json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {}), sort_keys=True)
        return zlib.crc32(cluster.encode()) & 0x7FFFFFFF
    return int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF


def _monitor(training: Training, has_val: bool) -> tuple[str, str]:
    es = training.early_stopping
    monitor = es.monitor if es is not None else "auto"
    if monitor == "auto":
        monitor = "val_loss" if has_val else "loss"
    known = ["loss", *dict.fromkeys(training.metrics)]
    valid = known + [f"val_{k}" for k in known] if has_val else known
    if monitor not in valid:
        near = closest(monitor, valid)
        hint = f"did you mean {near!r}? " if near else ""
        if monitor.startswith("val_") and not has_val:
            hint += "there is no validation data: give --val or validation_split"
        raise SpecError(Problem(f"early_stopping.monitor {monitor!r} is not a reported quantity", file="training.early_stopping",
                                hint=hint + f" (reported: {', '.join(valid)})"))
    mode = es.mode if es is not None else "auto"
    if mode == "auto":
        mode = "max" if "accuracy" in monitor else "min"
    return monitor, mode


def _metrics(history: list[dict[str, Any]], model_epoch: int, best: dict[str, Any] | None, training: Training,
             n_train: int, n_val: int, *, stopped: bool, wall: float) -> dict[str, Any]:
    row = next((r for r in history if r["epoch"] == model_epoch), history[-1] if history else {})
    seconds = [r["seconds"] for r in history]
    out: dict[str, Any] = {k: v for k, v in row.items() if k not in ("epoch", "seconds")}
    out.update({
        "model_epoch": model_epoch, "epochs_completed": len(history), "epochs": training.epochs, "stopped_early": stopped,
        "best_epoch": best["epoch"] if best else None, "monitor": best["monitor"] if best else None,
        "best_value": best["value"] if best else None, "train_examples": n_train, "val_examples": n_val,
        "seconds_total": round(sum(seconds), 3), "seconds_per_epoch": round(sum(seconds) / len(seconds), 3) if seconds else None,
        "examples_per_second": round(n_train * len(seconds) / sum(seconds), 1) if seconds and sum(seconds) else None,
        "seconds_this_call": round(wall, 3),
    })
    return out


