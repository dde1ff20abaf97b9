"""The checks a spec's `training` section must pass against its network, before any data is read.

`validate`, `shapes`, `build` (CLI and Python), `serve`'s spec pane and `train` all reach them through
``graph.checked``, so a spec `validate` accepts is one `train` and `build` accept as far as the spec goes:
the data's own checks (classes, image sizes, batch size) wait for the data. One table per question a
task decides statically (what shape it trains, which activation makes it probabilities, which
quantities it reports): ``training/heads.py`` reads the same tables for the Keras side.

A spec with a `training` section says how it trains, so a problem here is an error. A spec without
one trains with the defaults (a vector output is a classifier, a map a segmentation); what `train`
would refuse then is a warning, so that specs never meant for training (imported models, a
regression net drawn for a paper) still validate, and `--strict` makes it an error.

Pure Python over the IR and the static report: no TensorFlow, and the training models are only named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import Problem, SpecError, closest
from .expand import head_problems
from .freeze import frozen_nodes
from .ir import Graph
from .report import Report

if TYPE_CHECKING:  # only named in annotations: a spec without a training section never loads them
    from ..spec.training import Training

Shape = tuple[int, ...]
TASK_NAMES = ("classification", "multilabel", "regression", "segmentation")


def _vector(what: str, least: int = 1) -> Callable[[Shape], str | None]:
    return lambda shape: (
        None
        if len(shape) == 1 and shape[0] >= least
        else f"a {what} output is a vector"
        + (
            f" of at least {least} values (for one number use task regression, for a yes/no label multilabel)"
            if least > 1
            else ""
        )
    )


TASK_SHAPES: dict[str, Callable[[Shape], str | None]] = {
    "classification": _vector("classification", 2),
    "multilabel": _vector("multilabel"),
    "regression": _vector("regression"),
    "segmentation": lambda shape: None if len(shape) == 3 else "a segmentation output is a map (H, W, classes)",
}
"""Why an output of this shape cannot train as this task (None: it can)."""

TASK_METRICS: dict[str, Callable[[Any], list[str]]] = {
    "classification": lambda training: list(dict.fromkeys(training.metrics)),
    "multilabel": lambda training: ["accuracy"],
    "regression": lambda training: ["mae"],
    "segmentation": lambda training: ["mean_iou", "pixel_accuracy"],
}
"""The metrics `fit` reports for an output of each task, in Keras' names (without `val_` or the output's name)."""


def default_task(shape: Shape) -> str:
    """The task of an output no head names: a vector is a classifier, a map a segmentation."""
    return "classification" if len(shape) == 1 else "segmentation"


def probabilities(task: str, shape: Shape) -> str | None:
    """The activation that makes an output of this task probabilities (None: regression takes any)."""
    if task == "segmentation":
        return "sigmoid" if shape[-1] == 1 else "softmax"
    return {"classification": "softmax", "multilabel": "sigmoid"}.get(task)


def reported(tasks: Mapping[str, str], training: Any) -> list[str]:
    """The quantities `fit` reports (without `val_`) for outputs of these tasks, in Keras' names: each output's
    own loss and metrics are prefixed with its name when there are several."""
    several = len(tasks) > 1
    names = ["loss"]
    for key, task in tasks.items():
        prefix = f"{key}_" if several else ""
        if several:
            names.append(f"{prefix}loss")
        names += [prefix + m for m in TASK_METRICS[task](training)]
    return list(dict.fromkeys(names))


def tasks(graph: Graph, report: Report, training: Training | None) -> dict[str, str]:
    """Each output's task: its head's, else the default for its shape."""
    heads = training.heads if training is not None else {}
    return {
        key: heads[key].task if key in heads else default_task(report.layer(layer).output_shape)
        for key, layer in graph.output_map.items()
    }


def problems(
    graph: Graph, report: Report, training: Training | None, *, freeze_origin: str | None = None
) -> list[Problem]:
    """Everything the training section (given, or the defaults) gets wrong about this network, each located."""
    found: list[Problem] = []
    heads = training.heads if training is not None else {}
    found.extend(head_problems(graph, heads))  # the spec's own heads met it at expansion; these may be --set's
    for key, layer in graph.output_map.items():
        found.extend(_output(graph, report, key, layer, heads))
    if training is None:
        return found
    for i, phase in enumerate(training.phase_recipes()):
        try:
            frozen_nodes(
                graph,
                phase.freeze,
                bn=phase.freeze_bn,
                where=training.freeze_path(i),
                origin=freeze_origin if not training.phases else None,
            )
        except SpecError as exc:
            found.extend(exc.problems)
    found.extend(_data(graph, report, training))
    found.extend(_monitor(graph, report, training))
    found.extend(_recipe(graph, report, training))
    return found


def _output(graph: Graph, report: Report, key: str, layer: str, heads: Mapping[str, Any]) -> Iterable[Problem]:
    """An output's shape against its task, and the activation it ends in against what the task reads."""
    shape = report.layer(layer).output_shape
    task = heads[key].task if key in heads else default_task(shape)
    node = graph.node(layer)
    where = ("training", "heads", key) if key in heads else ("outputs", key) if graph.outputs else node.path
    say_how = None if key in heads else f"say how it trains: training.heads: {{{key}: TASK}} ({', '.join(TASK_NAMES)})"
    why = TASK_SHAPES[task](shape)
    if why:
        yield graph.problem(where, f"output {key!r} ({layer}) is {'x'.join(map(str, shape))}; {why}", say_how)
        return
    wanted = probabilities(task, shape)
    ends = node.activation
    if wanted is not None and ends not in ("linear", wanted):
        yield graph.problem(
            node.path,
            f"output {key!r} ({layer}) ends in {ends}; a {task} output needs {wanted} (probabilities) "
            "or no activation (logits)",
            f"end it with `activation: {wanted}`" + ("" if key in heads else f", or {say_how}"),
        )


def _data(graph: Graph, report: Report, training: Training) -> Iterable[Problem]:
    """Preprocessing the spec alone shows cannot work: a mean or std per channel for another channel count, shifting
    masks in zeros."""
    cfg = training.data
    for what in ("mean", "std"):
        value = getattr(cfg, what)
        count = len(value) if isinstance(value, list) else 1
        for name, shape in graph.inputs.items():
            if len(shape) == 3 and count not in (1, shape[2]):
                yield graph.problem(
                    ("training", "data", what),
                    f"training.data.{what} has {count} values but the input"
                    f"{' ' + repr(name) if len(graph.inputs) > 1 else ''} has {shape[2]} "
                    f"channel{'s' if shape[2] != 1 else ''}",
                    f"give one value, or one per channel ({shape[2]})",
                )
                break
    if cfg.augment.translate and "segmentation" in tasks(graph, report, training).values():
        yield graph.problem(
            ("training", "data", "augment", "translate"),
            "data.augment.translate shifts images in zeros, and a mask has no class to fill the border with",
            "use flip with segmentation outputs, or no augmentation",
        )
    yield from _keras_augment(graph, report, training)


def _keras_augment(graph: Graph, report: Report, training: Training) -> Iterable[Problem]:
    """Keras' augmentation layers (zoom, mixup, ...) train one image input with one classification output; colour
    ones need colour."""
    steps = training.data.augment.keras_steps()
    if not steps:
        return
    inputs, outputs = list(graph.inputs.values()), list(tasks(graph, report, training).values())
    classic = len(inputs) == 1 and len(inputs[0]) == 3 and outputs == ["classification"]
    if not classic or graph.named_inputs or graph.outputs:
        yield graph.problem(
            ("training", "data", "augment", steps[0]),
            f"data.augment.{steps[0]} (Keras' augmentation layers) applies to a network with one image input and one "
            "classification output, neither named",
            "use flip and translate here, or no augmentation",
        )
        return
    for name in ("saturation", "hue"):
        if name in steps and inputs[0][2] != 3:
            yield graph.problem(
                ("training", "data", "augment", name),
                f"data.augment.{name} changes colours, and the input has {inputs[0][2]} channel"
                f"{'s' if inputs[0][2] != 1 else ''}",
                "use brightness and contrast for grey images",
            )


def _monitor(graph: Graph, report: Report, training: Training) -> Iterable[Problem]:
    """early_stopping.monitor names a quantity `fit` reports (with validation data or without: that waits for
    the data)."""
    es = training.early_stopping
    if es is not None:
        yield from _monitored(graph, report, training, es.monitor, "early_stopping")


def _monitored(graph: Graph, report: Report, training: Training, monitor: str, field: str) -> Iterable[Problem]:
    """`field.monitor` names a quantity `fit` reports, with or without its `val_` twin (`auto` is always one)."""
    if monitor == "auto":
        return
    known = reported(tasks(graph, report, training), training)
    valid = known + [f"val_{k}" for k in known]
    if monitor not in valid:
        near = closest(monitor, valid)
        yield graph.problem(
            ("training", field, "monitor"),
            f"{field}.monitor {monitor!r} is not a reported quantity",
            (f"did you mean {near!r}? " if near else "") + f"reported: {', '.join(valid)}",
        )


def _recipe(graph: Graph, report: Report, training: Training) -> Iterable[Problem]:
    """The schedule's monitor names a reported quantity; class weights meet one classification output (Keras weighs
    classes of a single output only) (its keys, names or indices, wait for the data: ``training/weighting.py``)."""
    s = training.schedule
    if s.kind == "reduce_on_plateau":
        yield from _monitored(graph, report, training, s.monitor, "schedule")
    for i, phase in enumerate(training.phases):
        if phase.schedule is not None and phase.schedule.kind == "reduce_on_plateau" and s.kind != "reduce_on_plateau":
            yield graph.problem(
                ("training", "phases", i, "schedule", "kind"),
                "a phase's schedule can be reduce_on_plateau only when training.schedule is too",
                "set training.schedule: reduce_on_plateau, or give this phase a step-based schedule",
            )
    if training.class_weight is None:
        return
    found = tasks(graph, report, training)
    if len(found) != 1 or next(iter(found.values())) != "classification":
        yield graph.problem(
            ("training", "class_weight"),
            "class_weight applies to a network with one classification output; this one has "
            + ", ".join(f"{key} ({task})" for key, task in found.items()),
            "remove training.class_weight",
        )
        return


def check(
    graph: Graph, report: Report, training: Training | None, *, declared: bool, freeze_origin: str | None = None
) -> None:
    """Raise every problem when the spec declares how it trains (``declared``); otherwise they become the report's
    warnings: `train` would refuse the spec until it says how its outputs train."""
    found = problems(graph, report, training, freeze_origin=freeze_origin)
    if not found:
        return
    if declared:
        raise SpecError(found)
    report.warnings.extend(found)
