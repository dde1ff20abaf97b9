"""The outputs of a network as training sees them: each output's task, checked against its static shape,
and everything the task decides, in one table (TASKS): the Keras loss and metrics, what a target array must
look like, and the figures `evaluate` reports.

Tasks: classification (softmax, categorical cross-entropy, accuracy: what archspec always trained),
multilabel (a sigmoid per label, binary cross-entropy, per-label accuracy), regression (MSE/MAE/Huber on
standardised targets, errors reported in the targets' units) and segmentation (a class per pixel: sparse
cross-entropy and/or Dice, mean IoU and pixel accuracy; one channel is foreground or not).

`network` reads the spec statically (no TensorFlow); the Keras parts import Keras when they run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydantic import BaseModel

from ..errors import Problem, SpecError
from ..graph import checked
from ..graph.checks import default_task, probabilities, reported
from ..spec.training import Head, Training

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Output:
    """One output of the network with its head: what it is trained and judged as."""

    name: str
    layer: str
    shape: Shape
    head: Head
    scale: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """Regression: (mean, std) per value, once known (the data's for `scale: auto`)."""

    @property
    def task(self) -> str:
        task: str = self.head.task  # a Literal of the task names, which the checker sees as Any
        return task

    @property
    def binary(self) -> bool:
        """A one-channel segmentation: each pixel foreground or not."""
        return self.task == "segmentation" and self.shape[-1] == 1

    @property
    def classes(self) -> int:
        """Classes (classification, segmentation), labels (multilabel) or values (regression)."""
        return 2 if self.binary else int(self.shape[-1])

    @property
    def activation(self) -> str | None:
        """The activation that makes this output probabilities (None: regression takes any)."""
        return probabilities(self.task, self.shape)

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "shape": list(self.shape),
            "task": self.task,
            "loss": list(self.head.losses),
            "weight": self.head.weight,
            "threshold": self.head.threshold,
            "scale": {"mean": list(self.scale[0]), "std": list(self.scale[1])} if self.scale else None,
        }


@dataclass(frozen=True)
class Network:
    """What a spec's network takes and gives, as training needs it."""

    name: str
    inputs: dict[str, Shape]
    outputs: dict[str, Output]
    named_inputs: bool = False
    named_outputs: bool = False
    logits: dict[str, bool] = field(default_factory=dict)
    """Per output: the network gives logits (no final activation); known once the model is built."""

    @property
    def classic(self) -> bool:
        """One image in, one classification out, neither named: the path archspec has always trained."""
        outputs, inputs = list(self.outputs.values()), list(self.inputs.values())
        return (
            len(outputs) == 1
            and outputs[0].task == "classification"
            and len(inputs) == 1
            and len(inputs[0]) == 3
            and not self.named_inputs
            and not self.named_outputs
        )

    @property
    def several(self) -> bool:
        """Keras names each output's metrics after it (`digit_accuracy`) only when there are several."""
        return len(self.outputs) > 1

    def metric_names(self, training: Training) -> list[str]:
        """The quantities `fit` reports (without `val_`), in Keras' names."""
        return reported({key: out.task for key, out in self.outputs.items()}, training)

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": {k: list(v) for k, v in self.inputs.items()},
            "named_inputs": self.named_inputs,
            "named_outputs": self.named_outputs,
            "outputs": {k: {**o.to_json(), "logits": self.logits.get(k)} for k, o in self.outputs.items()},
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Network:
        """A network as run.json records it (what evaluate and predict need, without the spec)."""
        outputs = {}
        for key, o in data["outputs"].items():
            settings = {"task": o["task"], "loss": o["loss"], "weight": o["weight"]}
            if o["task"] in ("multilabel", "segmentation"):
                settings["threshold"] = o.get("threshold", 0.5)
            head = Head.model_validate(settings)
            scale = (tuple(o["scale"]["mean"]), tuple(o["scale"]["std"])) if o.get("scale") else None
            outputs[key] = Output(key, o["layer"], tuple(o["shape"]), head, scale)
        return cls(
            name,
            {k: tuple(v) for k, v in data["inputs"].items()},
            outputs,
            data["named_inputs"],
            data["named_outputs"],
            {k: bool(o.get("logits")) for k, o in data["outputs"].items()},
        )


def network(spec: BaseModel, training: Training | None) -> Network:
    """The network's inputs and outputs with their heads, from the spec's static shapes. Every check that needs no data
    runs first, the very ones `validate` runs (``graph.checked``): a head naming no output, an output whose shape or
    final activation its task cannot train, each phase's freeze list, ..."""
    graph, report = checked(spec, training=training if training is not None else Training())
    heads = training.heads if training is not None else {}
    outputs = {}
    for key, layer in graph.output_map.items():
        shape = report.layer(layer).output_shape
        head = heads.get(key) or Head(task=default_task(shape))
        if head.task == "classification" and head.loss is None and training is not None:
            head = head.model_copy(update={"loss": [training.loss]})  # the section's loss is the classifier's default
        outputs[key] = Output(key, layer, shape, head)
    return Network(graph.name, dict(graph.inputs), outputs, graph.named_inputs, bool(graph.outputs))


# ----------------------------------------------------------------------------- the Keras side


def source_layer(tensor: Any) -> Any:
    """The layer that makes a model output, looking through the float32 cast mixed precision adds (`*float32`)."""
    layer = tensor._keras_history.operation
    if layer.name.endswith("float32") and type(layer).__name__ == "Activation" and layer._inbound_nodes:
        layer = layer._inbound_nodes[0].input_tensors[0]._keras_history.operation
    return layer


def activation_name(layer: Any) -> str:
    """A Keras layer's activation as a name (`linear` for none); Softmax and ReLU layers are their activation."""
    cls = type(layer).__name__
    if cls == "Softmax":
        return "softmax"
    fn = getattr(layer, "activation", None)
    return getattr(fn, "__name__", None) or (str(fn) if fn is not None else "linear")


def with_logits(model: Any, net: Network) -> Network:
    """The network with each output's kind read from the built model: probabilities (its task's activation) or logits
    (none); SpecError for an output ending in anything else (regression outputs may end in any)."""
    logits, problems = {}, []
    for key, out in net.outputs.items():
        name = activation_name(model.get_layer(out.layer))
        logits[key] = name == "linear"
        if out.activation is not None and name not in ("linear", out.activation):
            problems.append(
                Problem(
                    f"output {key!r} ({out.layer}) ends in {name}; a {out.task} output needs {out.activation} "
                    "(probabilities) or no activation (logits)",
                    file="spec",
                    hint=f"end it with `activation: {out.activation}`, or set its task in training.heads",
                )
            )
    if problems:
        raise SpecError(problems)
    return replace(net, logits=logits)


def zero_batch(net: Network) -> tuple[Any, Any]:
    """One example of zeros, shaped as the model takes (x, y): for building a distributed model's state from shapes
    alone."""
    x = {k: np.zeros((1, *shape), np.float32) for k, shape in net.inputs.items()}
    y = {}
    for key, out in net.outputs.items():
        if out.task == "segmentation":
            y[key] = (
                np.zeros((1, *out.shape[:2], 1), np.float32) if out.binary else np.zeros((1, *out.shape[:2]), np.int32)
            )
        else:
            y[key] = np.zeros((1, out.classes), np.float32)
    return (x if net.named_inputs else next(iter(x.values()))), (y if net.named_outputs else next(iter(y.values())))


def compile_args(net: Network, training: Training) -> dict[str, Any]:
    """`loss`, `metrics` and `loss_weights` for Keras' compile: plain for one unnamed output, by name otherwise."""
    losses = {k: TASKS[o.task].loss(o, net.logits.get(k, False), training) for k, o in net.outputs.items()}
    metrics = {k: TASKS[o.task].metrics(o, net.logits.get(k, False), training) for k, o in net.outputs.items()}
    if not net.named_outputs:
        ((key, loss),) = losses.items()
        return {"loss": loss, "metrics": metrics[key]}
    return {"loss": losses, "metrics": metrics, "loss_weights": {k: o.head.weight for k, o in net.outputs.items()}}


def _classification_loss(out: Output, logits: bool, training: Training) -> Any:
    from . import recipe

    return recipe.make_loss(training.model_copy(update={"loss": out.head.losses[0]}), logits)


def _multilabel_loss(out: Output, logits: bool, training: Training) -> Any:
    import keras

    return keras.losses.BinaryCrossentropy(from_logits=logits)


def _regression_loss(out: Output, logits: bool, training: Training) -> Any:
    import keras

    return {"mse": keras.losses.MeanSquaredError, "mae": keras.losses.MeanAbsoluteError, "huber": keras.losses.Huber}[
        out.head.losses[0]
    ]()


def _segmentation_loss(out: Output, logits: bool, training: Training) -> Any:
    from ..keras_side.custom import SegmentationLoss

    return SegmentationLoss(
        out.shape[-1],
        from_logits=logits,
        crossentropy="crossentropy" in out.head.losses,
        dice="dice" in out.head.losses,
    )


def _threshold(out: Output, logits: bool) -> float:
    """The decision threshold on what the network gives: a probability, or its logit."""
    t = out.head.threshold
    return math.log(t / (1 - t)) if logits else t


def _classification_metrics(out: Output, logits: bool, training: Training) -> list[Any]:
    from . import recipe

    return recipe.make_metrics(training, logits)


def _multilabel_metrics(out: Output, logits: bool, training: Training) -> list[Any]:
    import keras

    return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=_threshold(out, logits))]


def _regression_metrics(out: Output, logits: bool, training: Training) -> list[Any]:
    import keras

    return [keras.metrics.MeanAbsoluteError(name="mae")]


def _segmentation_metrics(out: Output, logits: bool, training: Training) -> list[Any]:
    """Mean IoU and pixel accuracy. Classes: archspec's pair, which shares one argmax and one confusion matrix per
    batch (``keras_side/metrics.py``). One channel: Keras' own, which disagree at the threshold itself (the IoU
    counts a pixel there as foreground, the accuracy as background), so one thresholding cannot stand for both."""
    import keras

    from ..keras_side.metrics import pixel_metrics

    if out.binary:
        t = _threshold(out, logits)
        return [
            keras.metrics.BinaryIoU(target_class_ids=[0, 1], threshold=t, name="mean_iou"),
            keras.metrics.BinaryAccuracy(threshold=t, name="pixel_accuracy"),
        ]
    return pixel_metrics(out.classes, logits)


# ----------------------------------------------------------------------------- targets


def _fail(source: str, message: str, hint: str | None = None) -> SpecError:
    return SpecError(Problem(f"{source}: {message}", file="data", hint=hint))


def _classification_target(out: Output, y: np.ndarray, source: str) -> np.ndarray:
    """Class indices (N,), from indices or one-hot rows (N, K)."""
    if y.ndim == 2 and y.shape[1] == out.classes:
        y = y.argmax(axis=1)
    elif y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise _fail(
            source,
            f"output {out.name!r} takes class indices (N,) or one-hot rows (N, {out.classes}); got shape "
            f"{tuple(y.shape)}",
        )
    return _indices(out, y, source, out.classes)


def _indices(out: Output, y: np.ndarray, source: str, classes: int) -> np.ndarray:
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_)) and (
        not np.issubdtype(y.dtype, np.floating) or not np.all(np.equal(np.mod(y, 1), 0))
    ):
        raise _fail(source, f"output {out.name!r} takes whole class numbers; got {y.dtype} values")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise _fail(
            source,
            f"output {out.name!r} has {classes} classes (0..{classes - 1}) but the data holds "
            f"{int(y.min())}..{int(y.max())}",
            f"make the output's channels or units match the number of classes (here {int(y.max()) + 1})",
        )
    return y.astype(np.int32)


def _multilabel_target(out: Output, y: np.ndarray, source: str) -> np.ndarray:
    if y.ndim == 1 and out.classes == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != out.classes:
        raise _fail(
            source,
            f"output {out.name!r} takes {out.classes} labels per example (N, {out.classes}); got shape "
            f"{tuple(y.shape)}",
        )
    if not np.isin(y, (0, 1)).all():
        raise _fail(source, f"output {out.name!r} takes labels of 0 or 1")
    return y.astype(np.float32)


def _regression_target(out: Output, y: np.ndarray, source: str) -> np.ndarray:
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != out.classes:
        raise _fail(
            source,
            f"output {out.name!r} takes {out.classes} value(s) per example (N, {out.classes}); got shape "
            f"{tuple(y.shape)}",
        )
    if not np.issubdtype(y.dtype, np.number) or not np.isfinite(y).all():
        raise _fail(source, f"output {out.name!r} takes finite numbers")
    return y.astype(np.float32)


def _segmentation_target(out: Output, y: np.ndarray, source: str) -> np.ndarray:
    """Class per pixel: (N, H, W) indices (0 or 1 for one channel, kept as (N, H, W, 1))."""
    if y.ndim == 4 and y.shape[-1] == 1:
        y = y[..., 0]
    h, w = out.shape[:2]
    if y.ndim != 3 or y.shape[1:] != (h, w):
        raise _fail(
            source,
            f"output {out.name!r} gives {h}x{w} maps, so it takes masks (N, {h}, {w}); got shape {tuple(y.shape)}",
            "masks have the size of the network's output: one class number per pixel",
        )
    y = _indices(out, y, source, out.classes)
    return y[..., None].astype(np.float32) if out.binary else y


# ----------------------------------------------------------------------------- figures


def _classification_figures(out: Output, probs: np.ndarray, y: np.ndarray, names: list[str] | None) -> dict[str, Any]:
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((out.classes, out.classes), np.int64)
    np.add.at(confusion, (y, predicted), 1)
    totals = confusion.sum(axis=1)
    return {
        "accuracy": float(np.mean(predicted == y)),
        "loss": float(np.mean(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0)))),
        "per_class_accuracy": [float(confusion[i, i] / t) if t else None for i, t in enumerate(totals)],
        "class_names": names or [str(i) for i in range(out.classes)],
        "confusion": confusion.tolist(),
    }


def _multilabel_figures(out: Output, pred: np.ndarray, y: np.ndarray, names: list[str] | None) -> dict[str, Any]:
    on = pred > out.head.threshold
    truth = y > 0.5
    tp, fp, fn = (on & truth).sum(0), (on & ~truth).sum(0), (~on & truth).sum(0)

    def ratio(a: Any, b: Any) -> list[float | None]:
        return [float(x / d) if d else None for x, d in zip(a, b, strict=True)]

    return {
        "accuracy": float(np.mean(on == truth)),
        "exact_match": float(np.mean((on == truth).all(axis=1))),
        "per_label_accuracy": [float(v) for v in np.mean(on == truth, axis=0)],
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
    }


def _regression_figures(out: Output, pred: np.ndarray, y: np.ndarray, names: list[str] | None) -> dict[str, Any]:
    error = pred - y
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "per_value_mae": [float(v) for v in np.mean(np.abs(error), axis=0)],
    }


def _segmentation_figures(out: Output, pred: np.ndarray, y: np.ndarray, names: list[str] | None) -> dict[str, Any]:
    """Pixel accuracy and the IoU of each class over all pixels; the mean is over classes present in the truth or the
    prediction."""
    if out.binary:
        predicted, truth = (pred[..., 0] > out.head.threshold).astype(np.int64), y[..., 0].astype(np.int64)
    else:
        predicted, truth = pred.argmax(axis=-1), y.astype(np.int64)
    confusion = np.bincount(truth.ravel() * out.classes + predicted.ravel(), minlength=out.classes**2).reshape(
        out.classes, out.classes
    )
    inter = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - inter
    iou = [float(i / u) if u else None for i, u in zip(inter, union, strict=True)]
    present = [v for v in iou if v is not None]
    return {
        "mean_iou": float(np.mean(present)) if present else 0.0,
        "pixel_accuracy": float(inter.sum() / max(confusion.sum(), 1)),
        "per_class_iou": iou,
        "class_names": names or [str(i) for i in range(out.classes)],
    }


def readable(out: Output, raw: Any, logits: bool, xp: Any = None) -> Any:
    """What the network gave, as the task reads it: probabilities (softmax or sigmoid applied to logits), or a
    regression's values in the targets' own units. `xp`: NumPy (default, in float64), or keras.ops for a model
    that gives what `predict` gives (an export of a run folder)."""
    z, dtype = (np.asarray(raw, dtype=np.float64), np.float64) if xp is None else (raw, np.float32)
    xp = np if xp is None else xp
    if out.task == "regression":
        return z * np.asarray(out.scale[1], dtype) + np.asarray(out.scale[0], dtype) if out.scale else z
    if not logits:
        return z
    if out.task == "multilabel" or out.binary:
        return 1 / (1 + xp.exp(-z))
    e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
    return e / xp.sum(e, axis=-1, keepdims=True)


@dataclass(frozen=True)
class Task:
    """What a task decides on the Keras side, as functions of the output (and the recipe, the data). What it decides
    statically (the shapes it trains, its activation, its metrics' names) is in ``graph/checks.py``."""

    loss: Callable[[Output, bool, Training], Any]
    metrics: Callable[[Output, bool, Training], list[Any]]
    target: Callable[[Output, np.ndarray, str], np.ndarray]
    """A data set's array for this output, checked and converted to what the loss takes."""
    figures: Callable[[Output, np.ndarray, np.ndarray, list[str] | None], dict[str, Any]]
    """Evaluation figures from the probabilities (or values) and the targets."""
    headline: tuple[str, ...]
    """The figures `evaluate` prints first."""


TASKS: dict[str, Task] = {
    "classification": Task(
        _classification_loss,
        _classification_metrics,
        _classification_target,
        _classification_figures,
        ("accuracy", "loss"),
    ),
    "multilabel": Task(
        _multilabel_loss, _multilabel_metrics, _multilabel_target, _multilabel_figures, ("accuracy", "exact_match")
    ),
    "regression": Task(_regression_loss, _regression_metrics, _regression_target, _regression_figures, ("mae", "rmse")),
    "segmentation": Task(
        _segmentation_loss,
        _segmentation_metrics,
        _segmentation_target,
        _segmentation_figures,
        ("mean_iou", "pixel_accuracy"),
    ),
}
