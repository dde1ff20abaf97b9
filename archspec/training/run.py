"""`archspec.train`: train a spec's network on a data source, in a crash-safe run folder.

Everything the user can get wrong (the recipe, the data, the data against the
spec, the strategy settings) is checked before the run folder is made and
before the first step; each is a ``SpecError``. See ``rundir.py`` for the run
folder and why a killed run resumes without losing or repeating an epoch.

`_run` is the run, step by step: `heads.network` (what the spec takes and outputs, each output's task),
`_seeded`, `_data` (sources read, split and planned), `_changes` (a resumed run:
what differs from its record, ``provenance.py``), `_settings` (TensorFlow's
process-wide settings, put back afterwards), `_steps_per_epoch`, `_model`,
`_run_folder` (made only now, and locked), `_announce`, `_fit` and `_finish`.

A write the disk refuses (no space, read-only, permissions, quota) stops the
run with every completed epoch kept and a message saying how to resume it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel

from ..errors import Problem, SpecError
from ..files import WriteError
from ..graph import graph_of
from ..keras_side.saving import load_model, save_model
from ..spec.loading import coerce, load
from ..spec.network import SpecBase
from ..spec.training import Training
from ..version import __version__
from . import config, ema, execution, finetune, heads, loggers, precise_bn, provenance, weighting
from . import data as D
from .callbacks import progress, recorder
from .distribute import Env, check_options, default_seed, is_chief, make_env, prebuild, rank1_logs, tf_config
from .rundir import STATE_VERSION, RunDir, RunLock, atomic_write_json, atomic_write_text, in_use, start_folder

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
    """The weight-transfer report when the run started from trained weights (``keras_side/weights.py``)."""

    @property
    def accuracy(self) -> float | None:
        """Validation accuracy of the final model when there was validation data, else training accuracy."""
        return self.metrics.get("val_accuracy", self.metrics.get("accuracy"))


@dataclass(frozen=True)
class Job:
    """One `train` call, resolved: the spec and its recipe, the data, how to run; a resumed run carries its folder."""

    spec: SpecBase
    training: Training
    data: Any
    val: Any
    strategy: str
    precision: str | None
    jit: bool | None
    verbose: int
    say: Log
    variables: Mapping[str, Any] = field(default_factory=dict)
    run_dir: Any = None
    runs: Any = "runs"
    files: RunDir | None = None  # the run folder being resumed
    state: dict[str, Any] | None = None  # its last commit (None: no epoch completed)
    run_config: dict[str, Any] | None = None  # its run.json
    deterministic: bool = False
    weights: Any = None  # trained weights a new run starts from
    strict_weights: bool = False
    weights_by_shape: bool = False
    given: frozenset[str] = frozenset()  # a resumed run: the provenance.RESUMABLE settings its command line gave
    callbacks: tuple[Any, ...] = ()  # the caller's Keras callbacks, called after the recorder has committed each epoch

    @property
    def seed(self) -> int:
        return int(self.training.seed)  # type: ignore[arg-type]  # fixed by _seeded

    @property
    def completed(self) -> int:
        return int(self.state["epoch"]) if self.state else 0

    @property
    def stopped(self) -> bool:
        return bool(self.state and self.state.get("stopped_early"))


@dataclass(frozen=True)
class Data:
    """The run's data: read, divided by validation_split, and planned against the spec."""

    train: D.Images
    train_plan: D.Plan
    val: D.Images | None
    val_plan: D.Plan | None
    split: dict[str, Any] | None  # how validation_split divided the source, as run.json records it
    digests: dict[str, str | None]  # of each source as read (before any split): provenance.data_digest

    def class_names(self, classes: int) -> list[str]:
        return (
            self.train.class_names
            or (self.val.class_names if self.val is not None else None)
            or [str(i) for i in range(classes)]
        )

    def record(self) -> dict[str, Any]:
        """What run.json says about the data."""
        return {
            "train_examples": self.train.count,
            "val_examples": self.val.count if self.val is not None else 0,
            "preprocessing": {
                "train": self.train_plan.describe(),
                "val": self.val_plan.describe() if self.val_plan else None,
                "plan": self.train_plan.to_json(),
                "val_plan": self.val_plan.to_json() if self.val_plan else None,
            },
            "validation_split": self.split,
            "sample_weights": self.train.weights is not None,
        }

    def training_input(self, net: heads.Network, **settings: Any) -> D.TrainingInput:
        return D.TrainingInput(self.train, self.train_plan, **settings)

    def val_dataset(self, net: heads.Network, batch_size: int) -> Any:
        return (
            D.eval_dataset(self.val, self.val_plan, batch_size=batch_size)
            if self.val is not None and self.val_plan
            else None
        )


@dataclass(frozen=True)
class ExamplesData:
    """The data of a network with named inputs or outputs or a head other than one classification: per input and output
    arrays, planned and checked (``data/examples.py``). It answers what `Data` answers."""

    train: D.Prepared
    val: D.Prepared | None
    split: dict[str, Any] | None
    digests: dict[str, str | None]  # of each source as read (before any split): provenance.examples_digest

    train_plan = property(lambda self: self.train)
    val_plan = property(lambda self: self.val)

    def class_names(self, classes: int) -> list[str]:
        return self.train.examples.class_names or [str(i) for i in range(classes)]

    def record(self) -> dict[str, Any]:
        return {
            "train_examples": self.train.count,
            "val_examples": self.val.count if self.val is not None else 0,
            "preprocessing": {
                "train": self.train.describe(),
                "val": self.val.describe() if self.val else None,
                "plan": {"text": self.train.describe(), "inputs": self.train.to_json()},
                "val_plan": {"text": self.val.describe(), "inputs": self.val.to_json()} if self.val else None,
            },
            "validation_split": self.split,
        }

    def training_input(self, net: heads.Network, **settings: Any) -> D.ExamplesInput:
        return D.ExamplesInput(self.train, net, **settings)

    def val_dataset(self, net: heads.Network, batch_size: int) -> Any:
        return D.examples_eval_dataset(self.val, net, batch_size=batch_size) if self.val is not None else None


def _print(text: str) -> None:
    print(text, flush=True)


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
    strategy: str | None = None,
    precision: str | None = None,
    jit: bool | None = None,
    verbose: int | None = None,
    log: Log | None = _print,
    weights: Any = None,
    strict_weights: bool = False,
    weights_by_shape: bool = False,
    callbacks: Sequence[Any] = (),
    training: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train the spec's network; returns history, final metrics and the run folder's paths.

    ``data``/``val``: a source name (``"mnist"``, ``"idx:DIR[:8000]"``, ``"x.npz"``, an image folder) or an
    ``(x, y)`` pair of arrays. ``training`` sets fields of the spec's ``training`` section
    (``{"batch_size": 64, "optimizer": "sgd", "optimizer.momentum": 0.9}``: dotted keys reach inside);
    ``variables`` overrides spec variables. ``resume`` continues a run folder from its last completed epoch;
    ``epochs`` (to train longer), ``data``/``val``, ``strategy`` and ``jit`` may be given and are recorded in its
    run.json, anything else is the run's (see ``provenance.py``). ``strategy``: default ``auto`` (a resumed run:
    its own). A run folder is trained by one process at a time (a second is refused). ``verbose``: 0 silent, 1 a live
    progress bar and one line per epoch, 2 one line per epoch; default: 1 on a terminal, else 2. ``weights``: start from
    trained weights (a .keras or weights file, a run folder, ``keras:NAME``; see ``archspec.build``), the report in
    ``result.transfer`` and ``transfer.json``; ``strict_weights``: fail unless everything matched;
    ``weights_by_shape``: pair another network's layers by kind and shape. Fine-tuning fields of ``training``:
    ``freeze=["conv4"]``, ``freeze_bn=True``, ``phases=[...]`` (``training/finetune.py``). ``callbacks``: Keras
    callbacks of your own (a new or a resumed run), called after archspec's recorder has committed each epoch to the
    run folder (`archspec search` reports epochs to its pruner through one); ``logs`` in their
    ``on_epoch_end`` are Keras' (the run's history is ``result.history``).
    """
    overrides = dict(training or {})
    check_options(strategy or "auto", precision)
    extra = _callbacks(callbacks)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    say: Log = (log or (lambda _text: None)) if verbose else (lambda _text: None)
    if resume is not None and weights is not None:
        raise SpecError(
            Problem("a resumed run continues from its checkpoint; --weights starts a new run", file="--weights")
        )
    if resume is not None:
        if overrides or variables or run_dir is not None:
            given = ", ".join(
                [*overrides, *(["variables"] if variables else []), *(["run_dir"] if run_dir is not None else [])]
            )
            raise SpecError(
                Problem(
                    f"a resumed run keeps its recipe; cannot change {given}",
                    file="--resume",
                    hint="only --epochs (to train longer), --data, --val, --strategy and --jit may be given with "
                    "--resume",
                )
            )
        files = RunDir.open_existing(resume)
        run_config = files.read_json(files.run_json)
        strategy = strategy or run_config.get("strategy") or "auto"
        chief = is_chief(tf_config()) if strategy == "multi-worker" else True
        with RunLock(files.root) if chief else nullcontext():  # other workers only read it
            job = _resumed(
                files, run_config, data, val, epochs, precision, strategy=strategy, jit=jit, verbose=verbose, say=say
            )
            return _run(replace(job, callbacks=extra))
    if spec is None:
        raise SpecError(
            Problem(
                "no spec given", file="spec", hint="archspec.train('specs/lenet.yaml', data=...), or resume=RUN_DIR"
            )
        )
    if data is None:
        raise SpecError(
            Problem(
                "no training data given",
                file="--data",
                hint="e.g. --data mnist, --data idx:DIR, --data arrays.npz, --data images/",
            )
        )
    spec_model = _load_spec(spec, variables or {})
    if epochs is not None:
        overrides = {**overrides, "epochs": epochs}
    recipe = config.resolve_training(spec_model, overrides)
    finetune.check(spec_model, recipe, weights, freeze_option="freeze" in overrides)
    if (
        run_dir is not None and Path(run_dir).exists() and any(Path(run_dir).iterdir())
    ):  # before the slow work; the rename decides
        pid = RunLock.holder(Path(run_dir))
        raise (
            in_use(Path(run_dir), pid)
            if pid is not None
            else SpecError(
                Problem(
                    f"{run_dir} exists and is not empty",
                    file=str(run_dir),
                    hint="pick a new --run-dir, or continue that run with --resume",
                )
            )
        )
    return _run(
        Job(
            spec_model,
            recipe,
            data,
            val,
            strategy or "auto",
            precision,
            jit,
            verbose,
            say,
            variables=variables or {},
            run_dir=run_dir,
            runs=runs,
            weights=weights,
            strict_weights=strict_weights,
            weights_by_shape=weights_by_shape,
            callbacks=extra,
        )
    )


def _callbacks(given: Any) -> tuple[Any, ...]:
    """The caller's callbacks, each a Keras callback (checked now: a wrong one would fail only after the run folder
    is made, inside `fit`). Keras is imported only when there are some: data checks run without TensorFlow."""
    if given is None or (isinstance(given, (list, tuple)) and not given):
        return ()
    import keras

    items = (given,) if isinstance(given, keras.callbacks.Callback) else tuple(given or ())
    for i, item in enumerate(items):
        if not isinstance(item, keras.callbacks.Callback):
            raise SpecError(
                Problem(
                    f"callbacks[{i}] is a {type(item).__name__}, not a Keras callback",
                    file="callbacks",
                    hint="pass instances of keras.callbacks.Callback (or a subclass), e.g. callbacks=[MyCallback()]",
                )
            )
    return items


def _load_spec(spec: Any, variables: Mapping[str, Any]) -> SpecBase:
    if isinstance(spec, BaseModel) and variables:
        raise SpecError(Problem("variables apply when reading a spec; pass a path, text or dict", file="variables"))
    loaded: BaseModel = spec if isinstance(spec, BaseModel) else coerce(spec, variables)
    return cast(SpecBase, loaded)  # the Spec model is made at run time, on SpecBase


def _resumed(
    files: RunDir,
    run_config: dict[str, Any],
    data: Any,
    val: Any,
    epochs: int | None,
    precision: str | None,
    *,
    strategy: str,
    jit: bool | None,
    verbose: int,
    say: Log,
) -> Job:
    """A run folder's job: its spec, recipe (with a new epoch count), data sources, precision and last commit; the
    spec.yaml checked against what the run recorded (``provenance.check_spec``)."""
    root = files.root
    chief = is_chief(tf_config()) if strategy == "multi-worker" else True
    state = files.repair() if chief else files.read_state()
    spec_model = load(files.spec)
    training = provenance.check_spec(spec_model, config.resolve_training(spec_model), run_config, str(files.spec))
    if epochs is not None:
        training = config.resolve_training(spec_model, {"epochs": epochs})
    if precision not in (None, run_config.get("precision")):
        raise SpecError(
            Problem(
                f"this run trains in {run_config.get('precision') or 'float32'}; cannot resume in {precision}",
                file="--precision",
            )
        )
    given = {name for name, value in (("data", data), ("val", val)) if value is not None}
    data = data if data is not None else run_config.get("data")
    val = val if val is not None else run_config.get("val")
    jit = jit if jit is not None else run_config.get("jit")
    if data is None:
        raise SpecError(
            Problem("this run was trained from in-memory arrays: pass the same data again to resume it", file="--data")
        )
    if state is not None and training.epochs < state["epoch"]:
        raise SpecError(
            Problem(
                f"this run has completed {state['epoch']} epochs; --epochs {training.epochs} would undo some",
                file="--epochs",
                hint=f"give at least {state['epoch']}, or start a new run",
            )
        )
    if (
        state is not None
        and (state.get("finished") or state.get("stopped_early"))
        and training.epochs <= state["epoch"]
    ):
        say(f"{root}: already finished ({state['epoch']} epochs)")
    return Job(
        spec_model,
        training,
        data,
        val,
        strategy,
        run_config.get("precision"),
        jit,
        verbose,
        say,
        runs=None,
        files=files,
        state=state,
        run_config=run_config,
        given=frozenset(given),
    )


def _run(job: Job) -> TrainResult:
    """The steps of a run, in order. Everything the user can get wrong is checked before the run folder is made."""
    net = heads.network(job.spec, job.training)
    loggers.check(job.training, graph_of(job.spec).problem)
    job = _seeded(job)
    env = make_env(job.strategy) if job.strategy == "multi-worker" else None  # before any other TensorFlow op
    data, net = _data(job, net)
    _class_weights(job, data, net)  # a class the data lacks is refused before a run folder is made
    change = _changes(job, data)
    monitor = _monitor(job.training, data.val is not None, net)
    env = env or make_env(job.strategy)
    with _settings(job):
        steps, drop = _steps_per_epoch(job.training, data, env)
        how = _execution(job, env, steps)
        model, net, transfer = _model(job, env, steps, net, how)
        with _run_folder(job, env, data, net, transfer, change, how) as files:
            _announce(job, files, env, data, transfer, change, how)
            _announce_bn(job, model, data, steps)
            mirror = _mirror(job, files, env)
            try:
                record, wall = _fit(job, files, env, model, data, steps, drop, monitor, net, how, mirror)
                result = _finish(job, files, env, model, record, data, wall, transfer)
            except BaseException as exc:
                if mirror is not None:
                    mirror.stop("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
                raise
            if mirror is not None:
                mirror.finish(result.metrics)
            return result


def _mirror(job: Job, files: RunDir, env: Env) -> loggers.MLflowLog | None:
    """The MLflow run mirroring this one when training.log asks for it (the chief's only), its parameters logged."""
    if "mlflow" not in job.training.log or not env.chief:
        return None
    try:
        mirror = loggers.MLflowLog(files, job.spec.name, files.root.name, job.say)
        mirror.start(
            loggers.params(
                job.spec.name, files.read_json(files.run_json), job.training.model_dump(mode="json", exclude_none=True)
            ),
            list(job.state["history"]) if job.state else [],
        )
    except Exception as exc:  # the store refused (a bad MLFLOW_TRACKING_URI, a server that is down, a locked file)
        raise SpecError(
            Problem(
                f"could not log to MLflow: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                file=os.environ.get("MLFLOW_TRACKING_URI") or str(files.root),
                hint=f"fix the tracking store (MLFLOW_TRACKING_URI), then `archspec train --resume {files.root}`",
            )
        ) from None
    return mirror


# ----------------------------------------------------------------------------- the steps


def _seeded(job: Job) -> Job:
    """The run's seed (given, the resumed run's, or drawn now) and op determinism (on when the user gave a seed)."""
    seed = job.training.seed
    if seed is None:
        seed = int(job.run_config["seed"]) if job.run_config else default_seed(job.strategy)
    deterministic = bool(job.run_config["deterministic"]) if job.run_config else job.training.seed is not None
    return replace(job, training=job.training.model_copy(update={"seed": seed}), deterministic=deterministic)


def _data(job: Job, net: heads.Network) -> tuple[Data | ExamplesData, heads.Network]:
    """Read the sources, hold out validation_split, and plan each against the spec (no TensorFlow for idx, npz and
    arrays); the network comes back with its regression outputs' target scaling fixed from the training data."""
    training = job.training
    if job.val is not None and training.validation_split:
        raise SpecError(Problem("give validation data (--val) or validation_split, not both", file="--val"))
    if not net.classic:
        return _examples_data(job, net)
    (input_shape,), (classes,) = net.inputs.values(), (out.classes for out in net.outputs.values())
    images = D.load(job.data)
    val_images = D.load(job.val) if job.val is not None else None
    digests = {
        "data": provenance.data_digest(images),
        "val": provenance.data_digest(val_images) if val_images is not None else None,
    }
    split = None
    if training.validation_split:
        # A run folder written before splits were stratified (no "validation_split" in run.json) keeps its own split.
        stratified = job.run_config is None or "validation_split" in job.run_config
        images, val_images = D.split_validation(images, training.validation_split, job.seed if stratified else None)
        split = {"fraction": training.validation_split, "stratified": True, "seed": job.seed} if stratified else None
    train_plan = D.plan(images, input_shape, classes, training.data, role="training data")
    val_plan = (
        D.plan(val_images, input_shape, classes, training.data, role="validation data")
        if val_images is not None
        else None
    )
    _same_data(job, train_plan.describe())
    return Data(images, train_plan, val_images, val_plan, split, digests), net


def _examples_data(job: Job, net: heads.Network) -> tuple[ExamplesData, heads.Network]:
    training = job.training
    examples = D.load_examples(job.data, net)
    val = D.load_examples(job.val, net) if job.val is not None else None
    digests = {
        "data": provenance.examples_digest(examples),
        "val": provenance.examples_digest(val) if val is not None else None,
    }
    split = None
    if training.validation_split:
        examples, val = D.split_examples(examples, training.validation_split, job.seed)
        split = {"fraction": training.validation_split, "stratified": False, "seed": job.seed}
    net = D.fit_scales(net, examples)
    train = D.prepare(examples, net, training.data, role="training data")
    checked = D.prepare(val, net, training.data, role="validation data") if val is not None else None
    _same_data(job, train.describe())
    return ExamplesData(train, checked, split, digests), net


def _same_data(job: Job, plan: str) -> None:
    """A resumed run trains on what it started with."""
    recorded = ((job.run_config or {}).get("preprocessing") or {}).get("plan")
    if recorded and recorded.get("text") != plan:
        raise SpecError(
            Problem(
                f"this run trained on {recorded.get('text')}; the data given now gives {plan}",
                file="--data",
                hint="resume with the data the run started with",
            )
        )


def _changes(job: Job, data: Data | ExamplesData) -> dict[str, list[Any]]:
    """A resumed run: the settings that differ from its run.json, each asked for on the command line (others are
    refused)."""
    if job.run_config is None:
        return {}
    recorded, digests = job.run_config, job.run_config.get("digests") or {}
    before = {
        "data": recorded.get("data"),
        "val": recorded.get("val"),
        "strategy": recorded.get("strategy", job.strategy),
        "jit": recorded.get("jit"),
        "epochs": _recorded_epochs(job),
        "data_digest": digests.get("data"),
        "val_digest": digests.get("val"),
    }
    return provenance.changes(before, _in_force(job, data), set(job.given))


def _in_force(job: Job, data: Data | ExamplesData) -> dict[str, Any]:
    """The provenance.RESUMABLE settings of this call, and the data's digests."""
    return {
        "data": D.absolute(job.data),
        "val": D.absolute(job.val),
        "strategy": job.strategy,
        "jit": job.jit,
        "epochs": job.training.epochs,
        "data_digest": data.digests["data"],
        "val_digest": data.digests["val"],
    }


def _recorded_epochs(job: Job) -> int:
    """The epoch count in force before this call: run.json's, else (a folder written before it was recorded)
    spec.yaml's."""
    if job.run_config and "epochs" in job.run_config:
        return int(job.run_config["epochs"])
    try:
        spec = load(job.files.spec)  # type: ignore[union-attr]  # a resumed job has its folder
        return int(spec.training.epochs)
    except SpecError:
        return job.training.epochs


@contextmanager
def _settings(job: Job) -> Iterator[None]:
    """TensorFlow's process-wide settings for the run (seed, op determinism, dtype policy), put back afterwards."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(job.seed)
    was_deterministic = _determinism_enabled()
    if job.deterministic:
        tf.config.experimental.enable_op_determinism()
    previous_policy = keras.config.dtype_policy()
    if job.precision and job.precision != "float32":
        keras.config.set_dtype_policy(job.precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if job.deterministic and not was_deterministic:
            _disable_determinism()


def _steps_per_epoch(training: Training, data: Data | ExamplesData, env: Env) -> tuple[int, bool]:
    """Steps per epoch, and whether the last partial batch is dropped (it is when replicas share each batch)."""
    drop = env.replicas > 1
    if training.batch_size % env.replicas:
        raise SpecError(
            Problem(
                f"batch_size {training.batch_size} does not split evenly over {env.replicas} replicas",
                file="--batch-size",
                hint=f"use a multiple of {env.replicas}",
            )
        )
    count = data.train.count
    steps = D.steps_per_epoch(count, training.batch_size, drop)
    if steps < 1:
        raise SpecError(
            Problem(
                f"batch_size {training.batch_size} is larger than the {count} training examples", file="--batch-size"
            )
        )
    return steps, drop


def _execution(job: Job, env: Env, steps: int) -> execution.Execution:
    """XLA or not and the steps per call (``execution.py``): from the device, the network's MACs and the batch."""
    import tensorflow as tf

    from ..graph import shapes

    return execution.choose(
        jit=job.jit,
        gpu=bool(tf.config.list_physical_devices("GPU")),
        macs=shapes(job.spec, max_params=None, max_activations=None).macs,
        batch_size=job.training.batch_size,
        steps_per_epoch=steps,
        replicas=env.replicas,
        default=env.name == "default",
        deterministic=job.deterministic,
    )


def _model(
    job: Job, env: Env, steps: int, net: heads.Network, how: execution.Execution
) -> tuple[Any, heads.Network, Any]:
    """The network under the strategy's scope, compiled: the resumed checkpoint (optimizer state included) or a new
    build (frozen as the first phase says, starting from `job.weights` when given).

    Returns it with the network (each output's kind known: probabilities or logits) and the weight-transfer report (or
    None)."""
    import keras

    from . import recipe

    training = job.training
    transfer = None
    with env.strategy.scope():
        if job.state is not None:
            model = load_model(job.files.root / job.state["checkpoint"])  # type: ignore[union-attr]  # resumed: files
            optimizer = model.optimizer
            recipe.resume_schedule(optimizer, training, steps)
        else:
            model, transfer = finetune.build(job.spec, training, job.weights, job.strict_weights, job.weights_by_shape)
            if job.precision and job.precision != "float32":
                model = _float32_outputs(keras, model, recipe.FLOAT32_OUTPUT)
            optimizer = recipe.make_optimizer(training, steps)
        net = heads.with_logits(model, net)
        recipe.apply_weight_decay(model, training.weight_decay)
        finetune.compile_model(model, optimizer, training, net, how.jit, how.steps_per_execution)
        if env.name != "default":
            prebuild(model, heads.zero_batch(net))
        if env.name == "multi-worker":
            rank1_logs(model)
    return model, net, transfer


def _float32_outputs(keras: Any, model: Any, name: str) -> Any:
    """Under mixed precision, each output cast to float32 (`output_float32`, or `NAME_float32` for named outputs)."""
    if isinstance(model.output, dict):
        outputs = {
            k: keras.layers.Activation("linear", dtype="float32", name=f"{k}_float32")(t)
            for k, t in model.output.items()
        }
    else:
        outputs = keras.layers.Activation("linear", dtype="float32", name=name)(model.output)
    return keras.Model(model.input, outputs, name=model.name)


@contextmanager
def _run_folder(
    job: Job,
    env: Env,
    data: Data | ExamplesData,
    net: heads.Network,
    transfer: Any,
    change: dict[str, list[Any]],
    how: execution.Execution,
) -> Iterator[RunDir]:
    """The run folder: made now that everything checked out, whole and locked (``rundir.start_folder``), or the resumed
    one with this call's changes recorded. A worker other than the chief writes to a scratch folder instead, deleted
    when the run ends."""
    files = job.files
    scratch: Path | None = None
    lock: RunLock | None = None
    try:
        if files is None:

            def fill(folder: RunDir) -> None:
                _start_folder(job, folder, data, net, transfer, how)

            if env.chief:
                files, lock = start_folder(
                    Path(job.run_dir) if job.run_dir is not None else None, Path(job.runs), job.spec.name, fill
                )
            else:
                files = RunDir(scratch := Path(tempfile.mkdtemp(prefix="archspec-worker-")))
                fill(files)
        elif not env.chief:
            scratch = Path(tempfile.mkdtemp(prefix="archspec-worker-"))
            shutil.copy(files.run_json, scratch / "run.json")
            shutil.copy(files.spec, scratch / "spec.yaml")
            files = RunDir(scratch)
        else:
            _record_changes(job, files, data, change)
        yield files
    finally:
        if lock is not None:
            lock.release()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _start_folder(
    job: Job, files: RunDir, data: Data | ExamplesData, net: heads.Network, transfer: Any, how: execution.Execution
) -> None:
    """A new run's spec.yaml (the resolved recipe, re-runnable), run.json (everything else needed to resume or ask it,
    with the digests a resume checks) and, when it starts from trained weights, transfer.json (what came from where)."""
    name = job.spec.name
    first = next(iter(net.outputs))
    classes = net.outputs[first].classes
    header = (
        f"# {name}: resolved by `archspec train` on {time.strftime('%Y-%m-%d %H:%M:%S')}; "
        "rerun with `archspec train THIS_FILE --data ...`"
    )
    atomic_write_text(files.spec, config.spec_yaml(job.spec, job.training, job.variables, header))
    written = load(files.spec)  # digested as a resume will read it
    atomic_write_json(
        files.run_json,
        {
            "archspec": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "spec": "spec.yaml",
            "data": D.absolute(job.data),
            "val": D.absolute(job.val),
            "epochs": job.training.epochs,
            "strategy": job.strategy,
            "precision": job.precision,
            "jit": job.jit,
            "execution": how.record(),
            "seed": job.seed,
            "deterministic": job.deterministic,
            "input_shape": list(next(iter(net.inputs.values()))),
            "classes": classes,
            "output": "logits" if net.logits[first] else "probabilities",
            "class_names": data.class_names(classes),
            "network": net.to_json(),
            **data.record(),
            "augmentation": D.augmentation.record(job.training.data.augment),  # training only: not in the plan
            "weights": str(job.weights) if job.weights is not None else None,
            "precise_bn": precise_bn.record(job.training.precise_bn, data.train.count, job.training.batch_size),
            "ema": job.training.ema.model_dump() if job.training.ema is not None else None,
            "class_weight": _named_weights(job, data, net, classes),
            "digests": {
                "network": provenance.network_digest(written),
                "training": provenance.training_digest(config.resolve_training(written)),
                **data.digests,
            },
        },
    )
    if transfer is not None:
        atomic_write_json(files.transfer, transfer.to_json())


def _record_changes(job: Job, files: RunDir, data: Data | ExamplesData, change: dict[str, list[Any]]) -> None:
    """A resumed run's changes, appended to run.json; then spec.yaml brought in line with the training in force
    (written second, so that a kill in between leaves a folder ``provenance.check_spec`` still accepts)."""
    current = _in_force(job, data)
    if change:
        recorded = provenance.record(
            job.run_config or {},
            job.completed,
            change,
            {**{k: current[k] for k in provenance.RESUMABLE}, **_counts(data)},
            {
                **data.digests,
                "network": provenance.network_digest(job.spec),
                "training": provenance.training_digest(job.training),
            },
        )
        atomic_write_json(files.run_json, recorded)
    on_file = load(files.spec)
    if provenance.training_digest(config.resolve_training(on_file)) != provenance.training_digest(job.training):
        header = (files.spec.read_text(encoding="utf-8").splitlines() or [""])[0]
        atomic_write_text(
            files.spec, config.spec_yaml(on_file, job.training, {}, header if header.startswith("#") else "")
        )


def _counts(data: Data | ExamplesData) -> dict[str, int]:
    return {"train_examples": data.train.count, "val_examples": data.val.count if data.val is not None else 0}


def _announce(
    job: Job,
    files: RunDir,
    env: Env,
    data: Data | ExamplesData,
    transfer: Any,
    change: dict[str, list[Any]],
    how: execution.Execution,
) -> None:
    say = job.say
    say(f"run folder: {files.root}" + ("" if env.chief else " (worker scratch)"))
    say(f"training data: {data.train.count} examples from {data.train.name}: {data.train_plan.describe()}")
    for warning in data.train_plan.warnings:
        say(f"warning: {warning}")
    augmented = D.augmentation.describe(job.training.data.augment)
    if augmented != "none":
        say(f"augmentation (training images only): {augmented}")
    if data.val is not None and data.val_plan is not None:
        say(f"validation data: {data.val.count} examples from {data.val.name}: {data.val_plan.describe()}")
        missing = D.missing_classes(data.train, data.val) if isinstance(data, Data) else []
        if missing:
            say(
                f"warning: the validation data has no examples of {len(missing)} of the training data's classes "
                f"({', '.join(missing[:8])}{', ...' if len(missing) > 8 else ''}): its accuracy says nothing about them"
            )
    say(
        f"strategy: {env.name} ({env.replicas} replica{'s' if env.replicas > 1 else ''})"
        + (f", precision {job.precision}" if job.precision else "")
        + f"; {how.describe()}"
    )
    if job.training.accumulate > 1:
        t = job.training
        say(
            f"gradient accumulation: one update per {t.accumulate} batches of {t.batch_size} (an effective batch of "
            f"{t.accumulate * t.batch_size})"
        )
    if job.state is not None:
        say(f"resuming after epoch {job.completed} of {job.training.epochs}")
    if change:
        say(f"changed from epoch {job.completed + 1} on (recorded in run.json): {provenance.describe(change)}")
    if transfer is not None:
        say(transfer.text().rstrip())


def _announce_bn(job: Job, model: Any, data: Data | ExamplesData, steps: int) -> None:
    """What the run does about batch-norm statistics: recomputes them (``precise_bn``), or, when that is off, a warning
    for each momentum whose moving averages the run is too short to settle."""
    layers = precise_bn.updating(model)
    if not layers:
        return
    settings = job.training.precise_bn
    if settings.enabled:
        used = precise_bn.record(settings, data.train.count, job.training.batch_size)["images"]
        job.say(
            f"batch norm: the statistics of {len(layers)} layer{'s' if len(layers) > 1 else ''} are recomputed from "
            f"{used:,} training images at each epoch's end (training.precise_bn)"
        )
        return
    for text in precise_bn.momentum_warnings(model, steps * job.training.epochs):
        job.say(f"warning: {text}")


def _bn_hint(job: Job, model: Any) -> str:
    """What a validation accuracy far below the training accuracy likely means in this run
    (``callbacks.accuracy_gaps``)."""
    layers = precise_bn.updating(model)
    if not layers or job.training.precise_bn.enabled:
        return ""  # the recorder's general hint
    momenta = sorted({float(layer.momentum) for layer in layers})
    return (
        "in inference mode the batch normalisations use their moving statistics, which have not caught up with the "
        f"weights (momentum {', '.join(f'{m:g}' for m in momenta)}; training accuracy used each batch's own "
        "statistics): turn training.precise_bn on (--precise-bn) to recompute them, or lower the momentum"
    )


def _fit(
    job: Job,
    files: RunDir,
    env: Env,
    model: Any,
    data: Data | ExamplesData,
    steps: int,
    drop: bool,
    monitor: tuple[str, str],
    net: heads.Network,
    how: execution.Execution,
    mirror: loggers.MLflowLog | None = None,
) -> tuple[Any, float]:
    """Train from the last completed epoch on, phase by phase (``finetune.fit``); the recorder commits each epoch.
    Returns it and the wall time."""
    training = job.training
    es = training.early_stopping
    weights = _class_weights(job, data, net)
    if weights and isinstance(data, Data) and data.train.weights is not None:
        data, weights = replace(data, train=weighted(data.train, weights)), None  # one weight per example: Keras'
    source = data.training_input(
        net,
        batch_size=training.batch_size,
        seed=job.seed,
        aug=training.data.augment,
        drop_remainder=drop,
        deterministic=job.deterministic,
        log=job.say,
    )

    swap = ema.swapper() if training.ema is not None else None

    def settle() -> None:
        # the saved weights (the averages under EMA) get their own batch-norm statistics, before validation and the
        # checkpoint
        with env.strategy.scope():
            if swap is not None:
                swap.swap_in()
            if training.precise_bn.enabled:
                precise_bn.recalibrate(model, source.calibration(training.precise_bn.batches))

    try:  # the recorder rebuilds TensorBoard's missing epochs as it starts
        record = recorder(
            files,
            job.state,
            epochs=training.epochs,
            monitor=monitor[0],
            mode=monitor[1],
            min_delta=es.min_delta if es else 0.0,
            patience=es.patience if es else None,
            log=job.say,
            chief=env.chief,
            meter=source.meter,
            settle=settle if training.precise_bn.enabled or swap is not None else None,
            gap_hint=_bn_hint(job, model),
            note=how.short(),
        )
    except WriteError as exc:
        raise _stopped(job, files, job.completed, exc) from None
    from . import recipe  # imports Keras

    callbacks: list[Any] = [
        *([swap] if swap is not None else []),
        *recipe.epoch_callbacks(training, monitor[0]),
        record,
        *([loggers.callback(mirror, lambda: record.history)] if mirror is not None else []),
        *job.callbacks,
    ]
    if job.verbose == 1:  # drawn first at an epoch's end, so the recorder's line replaces the bar
        callbacks.insert(
            0, progress(steps=steps, batch_size=training.batch_size, count=data.train.count, epochs=training.epochs)
        )
    started = time.perf_counter()
    if job.completed < training.epochs and not job.stopped:

        def train_ds(first_epoch: int) -> Any:
            return source.dataset(first_epoch, training.epochs)

        val_ds = data.val_dataset(net, training.batch_size)
        try:
            finetune.fit(
                model,
                job.spec,
                training,
                job.completed,
                dataset=train_ds,
                steps=steps,
                scope=env.strategy.scope,
                net=net,
                jit=how.jit,
                steps_per_execution=how.steps_per_execution,
                steps_per_epoch=steps,
                validation_data=val_ds,
                callbacks=callbacks,
                verbose=0,
                shuffle=False,
                **({"class_weight": weights} if weights else {}),
            )
        except KeyboardInterrupt:
            if env.chief:
                job.say(
                    f"interrupted after epoch {len(record.history)}; continue with: archspec train --resume "
                    f"{files.root}"
                )
            raise
        except WriteError as exc:
            raise _stopped(job, files, len(record.history), exc) from None
        except Exception as exc:  # a folder's file that broke when the input decoded it: say which
            located = D.unreadable(exc, *[s for s in (data.train, data.val) if isinstance(s, D.Images)])
            if located is None:
                raise
            raise located from None
    return record, time.perf_counter() - started


def _class_weights(job: Job, data: Data | ExamplesData, net: heads.Network) -> dict[int, float] | None:
    """training.class_weight as Keras takes it (class index: weight), from the training labels and class names."""
    setting = job.training.class_weight
    if setting is None:
        return None
    graph = graph_of(job.spec)
    if not isinstance(data, Data):  # the static check refuses more than one output; named inputs read other data
        raise SpecError(
            graph.problem(
                ("training", "class_weight"),
                "class_weight needs one image input and one classification output",
                "remove training.class_weight",
            )
        )
    classes = next(iter(net.outputs.values())).classes
    labels = data.train.y
    assert labels is not None, "class-labelled images have labels"
    return weighting.class_weights(setting, labels, data.class_names(classes), graph.problem)


def weighted(images: D.Images, class_weight: dict[int, float]) -> D.Images:
    """A source's example weights times their classes' weights: Keras takes sample weights or class weights, not
    both, and the product is what both together mean."""
    import numpy as np

    assert images.weights is not None and images.y is not None, "weighted, labelled examples"
    per_class = np.asarray([class_weight.get(i, 1.0) for i in range(int(images.y.max()) + 1)], np.float32)
    return replace(images, weights=images.weights * per_class[images.y])


def _named_weights(job: Job, data: Data | ExamplesData, net: heads.Network, classes: int) -> dict[str, float] | None:
    """The class weights in force, by class name (run.json)."""
    weights = _class_weights(job, data, net)
    return None if weights is None else {name: round(weights[i], 6) for i, name in enumerate(data.class_names(classes))}


def _finish(
    job: Job, files: RunDir, env: Env, model: Any, record: Any, data: Data | ExamplesData, wall: float, transfer: Any
) -> TrainResult:
    """The final model (the best epoch's weights under restore_best), metrics.json, the finished state, the last
    line."""
    import keras

    training = job.training
    history, best = record.history, record.best
    stopped = record.stopped or job.stopped
    model_epoch = history[-1]["epoch"] if history else 0
    es = training.early_stopping
    if es is not None and es.restore_best and best and best["epoch"] != model_epoch and files.best.is_file():
        model.set_weights(load_model(files.best).get_weights())
        model_epoch = best["epoch"]
    metrics = _metrics(
        history,
        model_epoch,
        best,
        training,
        data.train.count,
        data.val.count if data.val is not None else 0,
        stopped=stopped,
        wall=wall,
    )
    try:
        # The final model is for inference: the same layers and weights, without optimizer state or
        # training config, so it loads anywhere archspec's layers do (checkpoints keep the full state).
        save_model(keras.Model(model.input, model.output, name=model.name), files.model, force=True)
        atomic_write_json(files.metrics, metrics)
        if history:
            final_state = files.read_state() or {}
            final_state.update(finished=True, stopped_early=stopped)
            final_state.pop("version", None)
            atomic_write_json(files.state_json, {**final_state, "version": STATE_VERSION})
    except WriteError as exc:
        raise _stopped(job, files, len(history), exc) from None
    if env.chief:
        last = history[-1] if history else {}
        figures = ", ".join(
            f"{k} {last[k]:.4f}"
            for k in last
            if k not in ("epoch", "seconds", "learning_rate") and isinstance(last[k], (int, float))
        )
        job.say(f"done: {len(history)} epochs{', ' + figures if figures else ''}; model {files.model}")
    return TrainResult(
        files.root, history, metrics, files.paths(), model, resumed_from=job.completed, transfer=transfer
    )


# ----------------------------------------------------------------------------- helpers


def _stopped(job: Job, files: RunDir, done: int, exc: WriteError) -> WriteError:
    """A write the disk refused, as the stop of a run that `--resume` continues: every completed epoch is committed."""
    try:
        where = exc.target.relative_to(files.root)
    except ValueError:
        where = exc.target
    return WriteError(
        exc.target,
        exc.reason,
        exc.remedy,
        Problem(
            f"stopped at epoch {done} of {job.training.epochs}: {exc.reason} writing {where}",
            file=str(files.root),
            hint=f"{exc.remedy} and run `archspec train --resume {files.root}`; every completed epoch is kept, nothing "
            "half-written",
        ),
    )


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


def _monitor(training: Training, has_val: bool, net: heads.Network) -> tuple[str, str]:
    es = training.early_stopping
    monitor = es.monitor if es is not None else "auto"
    if monitor == "auto":
        monitor = "val_loss" if has_val else "loss"
    known = net.metric_names(
        training
    )  # a name reported with validation data or without was checked with the spec (graph/checks.py)
    if monitor not in known and not has_val:
        raise SpecError(
            Problem(
                f"early_stopping.monitor {monitor!r} is reported only with validation data",
                file="training.early_stopping",
                hint=f"there is no validation data: give --val or validation_split (reported: {', '.join(known)})",
            )
        )
    mode = es.mode if es is not None else "auto"
    if mode == "auto":
        mode = "max" if "accuracy" in monitor or "iou" in monitor else "min"
    return monitor, mode


def _metrics(
    history: list[dict[str, Any]],
    model_epoch: int,
    best: dict[str, Any] | None,
    training: Training,
    n_train: int,
    n_val: int,
    *,
    stopped: bool,
    wall: float,
) -> dict[str, Any]:
    row = next((r for r in history if r["epoch"] == model_epoch), history[-1] if history else {})
    seconds = [r["seconds"] for r in history]
    out: dict[str, Any] = {k: v for k, v in row.items() if k not in ("epoch", "seconds")}
    out.update(
        {
            "model_epoch": model_epoch,
            "epochs_completed": len(history),
            "epochs": training.epochs,
            "stopped_early": stopped,
            "best_epoch": best["epoch"] if best else None,
            "monitor": best["monitor"] if best else None,
            "best_value": best["value"] if best else None,
            "train_examples": n_train,
            "val_examples": n_val,
            "seconds_total": round(sum(seconds), 3),
            "seconds_per_epoch": round(sum(seconds) / len(seconds), 3) if seconds else None,
            "examples_per_second": round(n_train * len(seconds) / sum(seconds), 1)
            if seconds and sum(seconds)
            else None,
            "seconds_this_call": round(wall, 3),
        }
    )
    return out
