"""`archspec search`: a spec's search space searched on Optuna, every candidate judged statically first.

The study folder::

    study.json          what the study is: spec, data, epochs, objectives, trials, storage, study name
    study.log           the Optuna study (a JournalFile storage), unless --storage names another
    trials/trial-NNNN/  one run folder per trained trial (``archspec train``'s: lock, resume, history)
    trials/trial-NNNN.claim   held (flock) by the worker running that trial
    trials.csv, pareto.csv, best.yaml, plot.svg     the results, rewritten after every trial

How Optuna is told: a candidate the shape engine rejects (not a network, or over the budget) is told PRUNED, with its
budget excess as Optuna's constraint value (``constraints_func``): TPE then ranks it with the infeasible trials, below
every feasible one, graded by how far over it was, and samples away from it. FAIL would be ignored by the sampler,
which would keep proposing the same region; a made-up objective value would be a lie in the results.

`--trials N` counts trained trials, the study's total across workers. Each worker claims a trained slot from a
companion study (``NAME.slots``): Optuna numbers trials atomically in every storage, so slot numbers are a counter no
two workers share, and a slot at or past N means the study is done. A worker killed mid-trial leaves its trial
RUNNING with its claim file free: `--resume` finds it, continues its run folder from the last committed epoch (or
starts it) and tells the same trial, so nothing is lost and nothing counted twice.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError
from ..files import write_text
from ..spec.loading import SpecLike, coerce
from ..spec.network import SpecBase
from ..spec.read import Source
from ..spec.search import Budget, Domain, Objectives
from . import results
from .static import Candidate, Census, census, judge, unreachable

Log = Callable[[str], Any]
MAX_REJECTED = 500
"""Rejections in a row after which a worker stops: the sampler keeps finding infeasible points."""
DEFAULT_OBJECTIVES = ["val_accuracy max"]


@dataclass
class Study:
    """The results: every trial of the study as a row, the Pareto front (one objective: the best), the folder."""

    folder: Path
    rows: list[dict[str, Any]]
    front: list[dict[str, Any]]
    best_spec: Path | None
    rejected: dict[str, int] = field(default_factory=dict)
    rejection_ms: float | None = None
    census: Census | None = None
    repeated: int = 0
    """Candidates the sampler proposed again after they were trained: told the earlier outcome, not trained."""
    rejection_seconds: float = 0.0
    """The time spent rejecting candidates, all together (the census before the search not included)."""

    @property
    def best(self) -> dict[str, Any] | None:
        return self.front[0] if self.front else None


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise SpecError(
            Problem(
                "archspec search needs Optuna, which is not installed",
                file="search",
                hint="pip install 'archspec[search]'",
            )
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def search(
    spec: SpecLike | None,
    data: Any = None,
    *,
    val: Any = None,
    trials: int | None = None,
    epochs: int | None = None,
    study_dir: str | os.PathLike[str] | None = None,
    storage: str | None = None,
    study: str | None = None,
    resume: str | os.PathLike[str] | None = None,
    variables: Mapping[str, Any] | None = None,
    static: bool = True,
    seed: int | None = None,
    log: Log | None = print,
) -> Study:
    """Search the spec's `search` space for the networks best at its `objectives` under its `budget` (see the module
    docstring). A study folder (``study_dir``) that exists is joined as another worker; ``resume`` continues a study
    folder after a kill. ``static=False`` builds every candidate in Keras and rejects it by Keras' own count (for
    comparison: what a search without the shape engine pays)."""
    say: Log = log or (lambda _text: None)
    folder, config, fresh = _settings(
        spec, data, val, trials, epochs, study_dir, storage, study, resume, variables, seed
    )
    model = coerce(config["spec"], config["variables"])  # a new study: the caller's file, named in its errors
    source: Source = model._source
    space, budget, objectives = _sections(model, source)
    _needs_validation(model, objectives, config["val"], source)
    found = census(source, space, budget, config["variables"]) if static else None
    wrong = unreachable(found, budget, source) if found is not None else None
    if wrong is not None:
        raise wrong
    optuna = _import_optuna()
    if fresh:
        _write(folder, config)
    if found is not None:
        say(_census_line(found))
    store = _storage(optuna, config["storage"], folder)
    directions = ["maximize" if d == "max" else "minimize" for _, d in objectives]
    # Optuna 5 takes constraint values set on the trial; earlier versions a function the sampler calls
    modern = {} if hasattr(optuna.trial.Trial, "set_constraint") else {"constraints_func": _constraints}
    sampler = optuna.samplers.TPESampler(seed=config["seed"], multivariate=True, **modern)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1) if len(directions) == 1 else None
    main = optuna.create_study(
        study_name=config["study"], storage=store, directions=directions, sampler=sampler, pruner=pruner,
        load_if_exists=True,
    )  # fmt: skip
    slots = optuna.create_study(study_name=config["study"] + ".slots", storage=store, load_if_exists=True)
    worker = _Worker(optuna, main, slots, folder, config, space, budget, objectives, source, static, say)
    try:
        if resume is not None:
            worker.recover()
        worker.run()
    except KeyboardInterrupt:
        say(f"interrupted; its trial continues from its last epoch with: archspec search --resume {folder}")
        raise
    return worker.finish(found)


def _settings(
    spec: SpecLike | None,
    data: Any,
    val: Any,
    trials: int | None,
    epochs: int | None,
    study_dir: str | os.PathLike[str] | None,
    storage: str | None,
    study: str | None,
    resume: str | os.PathLike[str] | None,
    variables: Mapping[str, Any] | None,
    seed: int | None,
) -> tuple[Path, dict[str, Any], bool]:
    """The study folder and its settings: study.json of an existing one (joined or resumed), or new ones (written by
    ``_write`` once the spec has passed its checks); True when new."""
    if resume is not None:
        folder = Path(resume)
        if not (folder / "study.json").is_file():
            raise SpecError(Problem("not a study folder (no study.json)", file=str(folder), hint="give a --study-dir"))
    else:
        if spec is None:
            raise SpecError(Problem("no spec given", file="spec", hint="archspec search SPEC --data ... --trials N"))
        if data is None:
            raise SpecError(Problem("no training data given", file="--data", hint="e.g. --data idx:DIR[:1000]"))
        if trials is None or trials < 1:
            raise SpecError(Problem("give --trials N (N >= 1): the study's trained trials", file="--trials"))
        if not isinstance(spec, (str, os.PathLike)):
            raise SpecError(Problem("a study keeps its spec by path: give the spec as a file", file="spec"))
        name = coerce(spec, variables or {}).name
        folder = (
            Path(study_dir) if study_dir is not None else Path("searches") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        )
    config_path = folder / "study.json"
    if config_path.is_file():
        config: dict[str, Any] = json.loads(config_path.read_text())
        if spec is not None and resume is None and _text(spec) != _text(config["spec"]):
            raise SpecError(
                Problem(
                    f"the study in {folder} searches another spec ({config['spec']})",
                    file=str(spec),
                    hint="a worker joins a study with the study's own spec; pick another --study-dir for this one",
                )
            )
        if trials is not None and trials != config["trials"] and resume is None:
            raise SpecError(
                Problem(
                    f"this study has --trials {config['trials']}; a worker joining it cannot ask for {trials}",
                    file="--trials",
                    hint="give the same --trials as the study's other workers",
                )
            )
        if trials is not None:
            config["trials"] = trials
        return folder, config, False
    config = {
        "spec": str(spec),
        "data": data,
        "val": val,
        "trials": trials,
        "epochs": epochs,
        "storage": storage,
        "study": study or name,
        "variables": dict(variables or {}),
        "seed": seed,
    }
    return folder, config, True


def _text(spec: Any) -> str:
    return Path(spec).read_text() if os.path.exists(spec) else _zoo_text(str(spec))


def _write(folder: Path, config: dict[str, Any]) -> None:
    """A new study folder: the spec copied in (the study's workers and `--resume` read the copy), study.json."""
    from ..training.data import absolute  # NumPy: imported once the spec has passed its checks

    (folder / "trials").mkdir(parents=True, exist_ok=True)
    config.update(data=absolute(config["data"]), val=absolute(config["val"]))
    spec = config["spec"]
    copy = folder / "spec.yaml"
    write_text(copy, _text(spec), force=True)
    config["spec"] = str(copy.resolve())
    write_text(folder / "study.json", json.dumps(config, indent=2) + "\n", force=True)


def _zoo_text(name: str) -> str:
    from ..spec.zoo import locate

    return Path(locate(name)).read_text()


def _sections(model: SpecBase, source: Source) -> tuple[dict[str, Domain], Budget | None, list[tuple[str, str]]]:
    if model.search is None:
        raise SpecError(
            source.problem(
                (),
                "the spec has no `search` section: nothing varies",
                "add `search: {VARIABLE: {choice: [...]}}` (see docs/search.md)",
            )
        )
    objectives = model.objectives if model.objectives is not None else Objectives(DEFAULT_OBJECTIVES)
    return dict(model.search.root), model.budget, objectives.pairs()


def _needs_validation(model: SpecBase, objectives: list[tuple[str, str]], val: Any, source: Source) -> None:
    """A `val_*` objective without validation data would fail after the first trial has trained: refused now."""
    split = getattr(model.training, "validation_split", 0.0) if model.training is not None else 0.0
    wanted = [name for name, _ in objectives if name.startswith("val_")]
    if wanted and val is None and not split:
        where = ("objectives",) if model.objectives is not None else ()
        raise SpecError(
            source.problem(
                where,
                f"the objective {wanted[0]!r} needs validation data"
                + ("" if model.objectives is not None else " (the default objective)"),
                "give --val SOURCE (Python: val=), or training.validation_split",
            )
        )


def _storage(optuna: Any, url: str | None, folder: Path) -> Any:
    """The study's storage: a JournalFile in the study folder (nothing to start; safe for workers sharing the
    folder), a journal file named `journal:PATH`, or any URL Optuna's RDB storage takes (sqlite, PostgreSQL, MySQL)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if url is None:
        return JournalStorage(JournalFileBackend(str(folder / "study.log")))
    if url.startswith("journal:"):
        return JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:  # a URL Optuna cannot open: say so at the option
        raise SpecError(Problem(f"cannot open the storage {url!r}: {exc}", file="--storage")) from None


def _constraints(trial: Any) -> Sequence[float]:
    """Optuna's constraint value of a trial: its static budget excess (0 inside the budget, told as a user attr)."""
    return (float(trial.user_attrs.get("violation", 0.0)),)


def _constrain(trial: Any, violation: float) -> None:
    """The trial's budget excess as Optuna's constraint (0: feasible)."""
    trial.set_user_attr("violation", violation)
    if hasattr(trial, "set_constraint"):
        trial.set_constraint("budget", violation)


def _census_line(found: Census) -> str:
    if found.whole:
        return (
            f"space: {found.points:,} networks, {found.feasible:,} feasible "
            f"(all judged statically in {found.seconds:.1f} s)"
        )
    return f"space: too large to count; {found.feasible} of {found.judged} sampled networks feasible"


@contextmanager
def _claim(path: Path) -> Iterator[bool]:
    """Hold `path`'s lock while a trial runs (False when another process holds it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # who runs it, for a person looking
        yield True
    finally:
        os.close(fd)


class _Worker:
    """One process's share of the study: ask, judge, train, tell, until the study has its trained trials."""

    def __init__(
        self,
        optuna: Any,
        main: Any,
        slots: Any,
        folder: Path,
        config: dict[str, Any],
        space: dict[str, Domain],
        budget: Budget | None,
        objectives: list[tuple[str, str]],
        source: Source,
        static: bool,
        say: Log,
    ) -> None:
        self.optuna, self.main, self.slots, self.folder = optuna, main, slots, folder
        self.config, self.space, self.budget, self.objectives = config, space, budget, objectives
        self.source, self.static, self.say = source, static, say
        self.total = int(config["trials"])
        self.where = f"{socket.gethostname()}:{folder.resolve()}"
        self.rejected: dict[str, int] = {}
        self.rejection_seconds: list[float] = []
        self.repeated = 0
        self.max_in_a_row = MAX_REJECTED

    # --------------------------------------------------------------- the loop

    def run(self) -> None:
        in_a_row = 0
        while self._trained() < self.total:
            trial = self.main.ask()
            trial.set_user_attr("worker", self.where)  # `--resume` continues only this folder's trials
            with _claim(self._claim_path(trial.number)):
                values = {key: _suggest(trial, key, domain) for key, domain in self.space.items()}
                earlier = self._trained_before(values)
                candidate = self._judge(values) if earlier is None else None
                if candidate is None or not candidate.feasible:
                    if candidate is None:
                        self._repeat(trial, earlier)
                    else:
                        self._reject(trial, candidate)
                    in_a_row += 1
                    if in_a_row >= self.max_in_a_row:
                        self.say(f"stopping: {in_a_row} candidates in a row were rejected or trained before")
                        return
                    continue
                in_a_row = 0
                slot = self.slots.ask()
                if slot.number >= self.total:  # another worker took the last slot meanwhile
                    self.slots.tell(slot, state=self.optuna.trial.TrialState.FAIL)
                    trial.set_user_attr("surplus", True)
                    self.main.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                    return
                self.slots.tell(slot, 0.0)
                trial.set_user_attr("slot", slot.number)
                self._train(trial.number, values, candidate.figures, trial)

    def recover(self) -> None:
        """Trials left RUNNING by a killed worker (their claim free): continue each from its run folder."""
        state = self.optuna.trial.TrialState
        for frozen in self.main.get_trials(deepcopy=False, states=(state.RUNNING,)):
            if frozen.user_attrs.get("worker") != self.where:
                continue  # another machine's (or study folder's) worker: its claim file is not here to judge by
            with _claim(self._claim_path(frozen.number)) as mine:
                if not mine:
                    continue  # a live worker runs it
                if "slot" not in frozen.user_attrs:  # killed while being judged: never trained, never counted
                    self.main.tell(frozen.number, state=state.FAIL)
                    continue
                self.say(f"trial {frozen.number}: resuming (left running by a stopped worker)")
                figures = {k: frozen.user_attrs[k] for k in ("params", "macs", "activations") if k in frozen.user_attrs}
                self._train(frozen.number, dict(frozen.params), figures, None)

    # --------------------------------------------------------------- the steps

    def _trained(self) -> int:
        return len(self.slots.get_trials(deepcopy=False, states=(self.optuna.trial.TrialState.COMPLETE,)))

    def _claim_path(self, number: int) -> Path:
        return self.folder / "trials" / f"trial-{number:04d}.claim"

    def _judge(self, values: dict[str, Any]) -> Candidate:
        if self.static:
            return judge(self.source, values, self.budget, self.config["variables"])
        return _judged_by_keras(self.source, values, self.budget, self.config["variables"])

    def _trained_before(self, values: dict[str, Any]) -> Any:
        """A finished trial (any worker's) of the same values: the same network and recipe, trained already."""
        state = self.optuna.trial.TrialState
        for frozen in self.main.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED)):
            if frozen.params == values and "slot" in frozen.user_attrs:
                return frozen
        return None

    def _repeat(self, trial: Any, earlier: Any) -> None:
        """A candidate trained before is not trained again: the sampler is told the earlier trial's outcome (the
        same values, or pruned), and the trial does not count towards --trials."""
        self.repeated += 1
        trial.set_user_attr("repeat_of", earlier.number)
        for key in ("params", "macs", "activations"):
            if key in earlier.user_attrs:
                trial.set_user_attr(key, earlier.user_attrs[key])
        _constrain(trial, 0.0)
        state = self.optuna.trial.TrialState
        if earlier.state == state.COMPLETE:
            self.main.tell(trial, earlier.values)
        else:
            for step, value in earlier.intermediate_values.items():
                trial.report(value, step)
            self.main.tell(trial, state=state.PRUNED)
        self.say(f"trial {trial.number:>4}  the same as trial {earlier.number}: not trained again")

    def _reject(self, trial: Any, candidate: Candidate) -> None:
        kind = candidate.kind or "invalid"
        self.rejected[kind] = self.rejected.get(kind, 0) + 1
        self.rejection_seconds.append(candidate.seconds)
        trial.set_user_attr("rejected", candidate.reason)
        _constrain(trial, max(candidate.violation, 1e-6))
        for key, value in candidate.figures.items():
            trial.set_user_attr(key, value)
        self.main.tell(trial, state=self.optuna.trial.TrialState.PRUNED)
        self.say(f"trial {trial.number:>4}  rejected ({candidate.seconds * 1000:.1f} ms): {candidate.reason}")

    def _train(self, number: int, values: dict[str, Any], figures: dict[str, int], trial: Any) -> None:

        state = self.optuna.trial.TrialState
        if trial is not None:
            for key, value in figures.items():
                trial.set_user_attr(key, value)
            _constrain(trial, 0.0)
        run_dir = self.folder / "trials" / f"trial-{number:04d}"
        reporter = _reporter(self.optuna, self.main, number, self.objectives)
        started = time.perf_counter()
        common: dict[str, Any] = {"verbose": 0, "log": None, "callbacks": [reporter] if reporter else []}
        try:
            result = self._fit(run_dir, values, common)
        except Exception:  # the error is the caller's to see; the trial is over (a kill leaves it to --resume)
            self.main.tell(number, state=state.FAIL)
            raise
        seconds = time.perf_counter() - started
        self.main._storage.set_trial_user_attr(_trial_id(self.main, number), "seconds", round(seconds, 2))
        pruned = reporter is not None and reporter.pruned
        if pruned:
            self.main.tell(number, state=state.PRUNED)
        else:
            self.main.tell(number, [_value(name, result, figures) for name, _ in self.objectives])
        shown = {name: _value(name, result, figures) for name, _ in self.objectives}
        self.say(
            f"trial {number:>4}  {progress(self._trained(), self.total)}  "
            + "  ".join(f"{k} {_fmt(v)}" for k, v in shown.items() if k not in ("params", "macs"))
            + f"  params {figures.get('params', 0):,}  MACs {figures.get('macs', 0):,}  {seconds:.1f} s"
            + ("  pruned" if pruned else "")
        )
        results.write(self.main, self.folder, self.objectives)

    def _fit(self, run_dir: Path, values: dict[str, Any], common: dict[str, Any]) -> Any:
        """Train the trial's run folder: continue it when it exists (a resumed trial), else start it."""
        from ..training.run import train

        if (run_dir / "run.json").is_file():
            return train(None, resume=run_dir, **common)
        variables = {k: v for k, v in values.items() if not k.startswith("training.")}
        recipe = {k.removeprefix("training."): v for k, v in values.items() if k.startswith("training.")}
        return train(
            self.config["spec"],
            self.config["data"],
            val=self.config["val"],
            epochs=self.config["epochs"],
            variables={**self.config["variables"], **variables},
            run_dir=run_dir,
            **common,
            training=recipe,
        )

    def finish(self, found: Census | None) -> Study:
        rows, front, best = results.write(self.main, self.folder, self.objectives)
        ms = statistics.median(self.rejection_seconds) * 1000 if self.rejection_seconds else None
        spent = sum(self.rejection_seconds)
        return Study(self.folder, rows, front, best, dict(self.rejected), ms, found, self.repeated, spent)


def progress(done: int, total: int, width: int = 20) -> str:
    """The study's trained trials as a bar, all workers' together: ``[#######.............]  7/20``. One line per
    finished trial, not a redrawn bar: several workers print at once, and a log file keeps every line."""
    filled = min(width, done * width // max(total, 1))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:>{len(str(total))}}/{total}"


def _fmt(value: float) -> str:
    return f"{value:.4f}" if isinstance(value, float) else f"{value:,}"


def _value(name: str, result: Any, figures: Mapping[str, int]) -> float:
    """An objective's value: a static figure, or the trained run's (its final model's metrics)."""
    if name in figures:
        return float(figures[name])
    for table in (result.metrics, result.history[-1] if result.history else {}):
        if name in table and isinstance(table[name], (int, float)):
            return float(table[name])
    raise SpecError(
        Problem(
            f"the objective {name!r} is not a figure the run reported",
            file="objectives",
            hint="val_* figures need validation data: give --val or training.validation_split",
        )
    )


def _trial_id(main: Any, number: int) -> int:
    """The storage's id of the study's trial `number` (a resumed trial is known by number only)."""
    return int(main._storage.get_trial_id_from_study_id_trial_number(main._study_id, number))


def _suggest(trial: Any, key: str, domain: Domain) -> Any:
    if domain.choice is not None:
        return trial.suggest_categorical(key, domain.choice)
    if domain.int_ is not None:
        low, high = domain.int_
        return trial.suggest_int(key, low, high, step=int(domain.step or 1), log=domain.log)
    low_f, high_f = domain.float_ or (0.0, 1.0)
    return trial.suggest_float(key, low_f, high_f, step=domain.step, log=domain.log)


def _reporter(optuna: Any, main: Any, number: int, objectives: list[tuple[str, str]]) -> Any:
    """A Keras callback telling Optuna each epoch's figure, stopping the run when the pruner says so (one
    objective only: Optuna prunes single-objective studies)."""
    if len(objectives) != 1 or objectives[0][0] in ("params", "macs", "activations"):
        return None
    import keras

    name = objectives[0][0]
    trial = optuna.trial.Trial(main, _trial_id(main, number))

    class Reporter(keras.callbacks.Callback):  # type: ignore[misc]  # Keras has no type information
        def __init__(self) -> None:
            super().__init__()
            self.pruned = False

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            value = (logs or {}).get(name)
            if value is None:
                return
            trial.report(float(value), epoch)
            if trial.should_prune():
                self.pruned = True
                self.model.stop_training = True

    return Reporter()


def _judged_by_keras(
    source: Source, values: dict[str, Any], budget: Budget | None, fixed: Mapping[str, Any]
) -> Candidate:
    """The comparison without the shape engine: build the candidate in Keras and reject it by count_params (as
    KerasTuner's max_model_size does). Only the parameter limit can be checked so; the others are not known."""
    from ..keras_side.emitter import build
    from ..spec.validate import validate

    started = time.perf_counter()
    candidate = Candidate(dict(values))
    try:
        spec = validate(source, {**fixed, **values})
        model = build(spec)
        params = int(model.count_params())
    except Exception as exc:  # what Keras raises for a network that does not fit together
        candidate.reason, candidate.kind, candidate.violation = str(exc).splitlines()[0][:200], "invalid", 1.0
    else:
        candidate.spec = spec
        candidate.figures = {"params": params, "macs": 0, "activations": 0}
        limit = budget.max_params if budget is not None else None
        if limit is not None and params > limit:
            candidate.reason = f"{params:,} parameters > max_params {limit:,} (Keras count_params)"
            candidate.kind, candidate.violation = "budget", (params - limit) / limit
    candidate.seconds = time.perf_counter() - started
    return candidate
