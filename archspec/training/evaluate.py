"""`archspec.evaluate`: a trained model's figures on a data source: accuracy, loss and the confusion matrix of a
classifier; for a network with several outputs or other heads, every output's figures by its task (``heads.py``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import data as D
from . import heads, saved


@dataclass
class Evaluation:
    """Figures on `count` examples. `confusion[i, j]` counts examples of class i predicted as j."""

    accuracy: float
    loss: float
    loss_name: str
    count: int
    confusion: np.ndarray
    class_names: list[str]
    data: str
    preprocessing: str = ""  # the plan's line

    @property
    def per_class_accuracy(self) -> list[float | None]:
        totals = self.confusion.sum(axis=1)
        return [float(self.confusion[i, i] / t) if t else None for i, t in enumerate(totals)]

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "preprocessing": self.preprocessing,
            "count": self.count,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "loss_name": self.loss_name,
            "class_names": self.class_names,
            "per_class_accuracy": self.per_class_accuracy,
            "confusion": self.confusion.tolist(),
        }

    def table(self) -> str:
        """The confusion matrix as text: rows are true classes, columns predicted ones."""
        names = [n if len(n) <= 10 else n[:9] + "." for n in self.class_names]
        width = max(5, max(len(n) for n in names), len(str(int(self.confusion.max(initial=0)))))
        head = " " * (width + 2) + " ".join(f"{n:>{width}}" for n in names) + "   accuracy"
        lines = ["true \\ predicted", head]
        for i, name in enumerate(names):
            acc = self.per_class_accuracy[i]
            row = " ".join(f"{int(v):>{width}}" for v in self.confusion[i])
            lines.append(f"{name:>{width}}  {row}   {'-' if acc is None else f'{acc:.4f}'}")
        return "\n".join(lines) + "\n"


@dataclass
class OutputFigures:
    """One output's figures: those its task reports (``heads.TASKS[task].figures``)."""

    name: str
    task: str
    figures: dict[str, Any]

    def text(self) -> str:
        lead = "  ".join(f"{k} {self.figures[k]:.4f}" for k in heads.TASKS[self.task].headline)
        lines = [f"{self.name} ({self.task}): {lead}"]
        per = self.figures.get("per_class_iou") or self.figures.get("per_class_accuracy")
        if per is not None:
            label = "IoU" if "per_class_iou" in self.figures else "accuracy"
            names = self.figures["class_names"]  # the data's: may be fewer than the output's classes
            lines.append(
                f"  {label} per class: "
                + ", ".join(f"{n} {'-' if v is None else f'{v:.3f}'}" for n, v in zip(names, per, strict=False))
            )
        for key in ("per_label_accuracy", "per_value_mae"):
            if key in self.figures:
                lines.append(f"  {key.replace('_', ' ')}: " + ", ".join(f"{v:.3f}" for v in self.figures[key]))
        return "\n".join(lines) + "\n"


@dataclass
class Evaluations:
    """Every output's figures on `count` examples (a network with several outputs, or heads other than one
    classification)."""

    outputs: dict[str, OutputFigures]
    count: int
    data: str
    preprocessing: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "preprocessing": self.preprocessing,
            "count": self.count,
            "outputs": {k: {"task": o.task, **o.figures} for k, o in self.outputs.items()},
        }

    def text(self) -> str:
        return "".join(o.text() for o in self.outputs.values())


def evaluate(model: Any, data: Any, *, batch_size: int = 256, spec: Any = None) -> Evaluation | Evaluations:
    """Evaluate a model (a run folder, a .keras file or a keras.Model) on a data source.

    The data goes through the preprocessing the model was trained with (read from its run folder's
    spec.yaml, or from ``spec``), checked against the model's input and classes first. A classifier
    (one image in, one class out) gets an ``Evaluation``; any other network ``Evaluations``, with
    every output's figures.
    """
    trained = saved.load(model, spec=spec)
    source = str(data) if isinstance(data, (str, os.PathLike)) else "arrays"
    if not trained.net.classic:
        return _each_output(trained, data, source, batch_size)
    images = D.match_classes(D.load(data), trained.class_names, "evaluation data")
    plan = trained.plan(images, "evaluation data")
    probs_parts, labels_parts = [], []
    try:
        for x, y in D.eval_dataset(images, plan, batch_size=batch_size):
            probs_parts.append(trained.probabilities(trained.forward(x)))
            labels_parts.append(np.asarray(y).argmax(axis=1))
    except Exception as exc:  # a folder's file that broke when tf.data decoded it: say which
        located = D.unreadable(exc, images)
        if located is None:
            raise
        raise located from None
    probs = np.concatenate(probs_parts)
    labels = np.concatenate(labels_parts)
    predicted = probs.argmax(axis=1)
    confusion = np.zeros((trained.classes, trained.classes), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    onehot = np.eye(trained.classes)[labels]
    if trained.loss == "sum_squared_error":
        loss = float(np.mean(0.5 * np.sum((onehot - probs) ** 2, axis=1)))
    else:
        loss = float(np.mean(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0))))
    return Evaluation(
        float(np.mean(predicted == labels)),
        loss,
        trained.loss,
        len(labels),
        confusion,
        trained.class_names,
        source,
        plan.describe(),
    )


def _each_output(trained: saved.Trained, data: Any, source: str, batch_size: int) -> Evaluations:
    net = trained.net
    examples = D.load_examples(data, net)
    prepared = D.prepare(examples, net, trained.data, role="evaluation data")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in net.outputs}
    for x, _ in D.examples_eval_dataset(prepared, net, batch_size=batch_size):
        out = trained.forward(x)
        out = out if isinstance(out, dict) else {next(iter(net.outputs)): out}
        for key in net.outputs:
            parts[key].append(np.asarray(out[key]))
    results = {}
    for key, output in net.outputs.items():
        task = heads.TASKS[output.task]
        pred = heads.readable(output, np.concatenate(parts[key]), net.logits[key])
        truth = task.target(
            output, np.asarray(examples.targets[key]), f"evaluation data {examples.name}"
        )  # in the targets' own units
        names = (
            trained.class_names if output.task == "classification" and len(net.outputs) == 1 else examples.class_names
        )
        results[key] = OutputFigures(key, output.task, task.figures(output, pred, truth, names))
    return Evaluations(results, examples.count, source, prepared.describe())
