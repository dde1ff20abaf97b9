"""`archspec.evaluate`: accuracy, loss and the confusion matrix of a trained model on a data source."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import data as D, saved


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
            "data": self.data, "preprocessing": self.preprocessing, "count": self.count, "accuracy": self.accuracy, "loss": self.loss, "loss_name": self.loss_name,
            "class_names": self.class_names, "per_class_accuracy": self.per_class_accuracy,
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


def evaluate(model: Any, data: Any, *, batch_size: int = 256, spec: Any = None) -> Evaluation:
    """Evaluate a model (a run folder, a .keras file or a keras.Model) on a data source.

    The data goes through the preprocessing the model was trained with (read from its run folder's
    spec.yaml, or from ``spec``), checked against the model's input and classes first.
    """
    trained = saved.load(model, spec=spec)
    source = str(data) if isinstance(data, (str, os.PathLike)) else "arrays"
    images = D.load(data)
    plan = trained.plan(images, "evaluation data")
    probs_parts, labels_parts = [], []
    for x, y in D.eval_dataset(images, plan, batch_size=batch_size):
        probs_parts.append(trained.probabilities(trained.model(x, training=False)))
        labels_parts.append(np.asarray(y).argmax(axis=1))
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
    return Evaluation(float(np.mean(predicted == labels)), loss, trained.loss, int(len(labels)), confusion, trained.class_names, source,
                      plan.describe())
