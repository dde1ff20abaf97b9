"""A trained model and what `evaluate`, `predict` and `inspect` need to feed it as training did.

A model is named by a run folder (its model.keras, or checkpoints/last.keras for
an unfinished run), a .keras file (inside a run folder or not), or passed as a
keras.Model. When the file sits in a run folder, the folder's spec.yaml gives
the preprocessing (rescale, mean/std, fit, channels) and run.json the class
names; otherwise the defaults of `training.data` apply, or those of `spec=`.
Every input then goes through the plan training used (`data.plan`), and every
output through one softmax when the network gives logits.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Problem, SpecError
from ..keras_side.saving import load_model
from ..spec.loading import coerce, load as load_spec
from ..spec.training import Training
from . import data as D

@dataclass
class Trained:
    model: Any
    path: Path | None
    run_dir: Path | None
    data: Any  # schema.Data
    loss: str
    input_shape: tuple[int, int, int]
    classes: int
    class_names: list[str]
    logits: bool
    trained_on: tuple[int, int, int] | None = None
    """The size of the images the run trained on (run.json's plan), e.g. 28x28x1 for LeNet's 32x32 input."""

    def plan(self, images: D.Images, role: str) -> D.Plan:
        """The preprocessing training would give these images (checked against the model's input and classes)."""
        return D.plan(images, self.input_shape, self.classes, self.data, role=role)

    def prepare(self, image: np.ndarray, name: str) -> tuple[D.Plan, Any]:
        """One image (H, W, C) -> its plan and the network's input (1, H', W', C')."""
        source = D.from_arrays(image[None], np.zeros(1, np.int64), name)
        plan = self.plan(source, "input")
        return plan, plan.apply(source.x)

    def probabilities(self, outputs: Any) -> np.ndarray:
        """The network's outputs (..., classes) as probabilities: softmax when it gives logits."""
        z = np.asarray(outputs, dtype=np.float64)
        if not self.logits:
            return z
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


def _run_dir_of(path: Path) -> Path | None:
    for folder in (path.parent, path.parent.parent):
        if (folder / "run.json").is_file() and (folder / "spec.yaml").is_file():
            return folder
    return None


def _recorded(run_dir: Path) -> tuple[list[str] | None, tuple[int, int, int] | None]:
    """The class names and the training images' size a run folder's run.json records (None where it does not)."""
    try:
        record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    if not isinstance(record, dict):
        return None, None
    try:
        shape = tuple(int(v) for v in record["preprocessing"]["plan"]["sizes"][0]["shape"])
    except (KeyError, IndexError, TypeError, ValueError):
        shape = ()
    names = record.get("class_names")
    return (names if isinstance(names, list) else None), (shape if len(shape) == 3 else None)  # type: ignore[return-value]


def load(model: Any, *, spec: Any = None) -> Trained:
    from . import recipe  # imports Keras

    path: Path | None = None
    run_dir: Path | None = None
    if isinstance(model, (str, os.PathLike)):
        target = Path(model)
        if target.is_dir():
            run_dir = target
            for candidate in (target / "model.keras", target / "checkpoints" / "last.keras"):
                if candidate.is_file():
                    path = candidate
                    break
            else:
                raise SpecError(Problem("no model.keras or checkpoints/last.keras in this folder", file=str(target)))
        elif target.is_file():
            path = target
            run_dir = _run_dir_of(target)
        else:
            raise SpecError(Problem("no such model file or run folder", file=str(target)))
        keras_model = load_model(path)
    else:
        keras_model = model
    training: Training | None = None
    class_names: list[str] | None = None
    trained_on: tuple[int, int, int] | None = None
    if spec is not None:
        loaded = coerce(spec)
        training = getattr(loaded, "training", None)
    elif run_dir is not None:
        training = getattr(load_spec(run_dir / "spec.yaml"), "training", None)
        class_names, trained_on = _recorded(run_dir)
    training = training or Training()
    shape = tuple(keras_model.inputs[0].shape[1:])
    out = tuple(keras_model.outputs[0].shape[1:])
    if len(shape) != 3 or None in shape or len(out) != 1 or not out[0]:
        raise SpecError(Problem(f"the model takes {shape} and gives {out}; archspec evaluates image classifiers ((H, W, C) -> classes)",
                                file=str(path) if path else "model"))
    classes = int(out[0])
    names = class_names if class_names and len(class_names) == classes else [str(i) for i in range(classes)]
    logits = recipe.output_kind(keras_model) == "logits"
    return Trained(keras_model, path, run_dir, training.data, training.loss, tuple(int(v) for v in shape), classes, names, logits,  # type: ignore[arg-type]
                   trained_on)
