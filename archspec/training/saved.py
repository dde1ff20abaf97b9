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
from ..graph.checks import default_task
from ..keras_side.saving import load_model
from ..spec.loading import coerce
from ..spec.loading import load as load_spec
from ..spec.training import Head, Training
from . import data as D
from . import heads


@dataclass
class Trained:
    model: Any
    path: Path | None
    run_dir: Path | None
    data: Any  # schema.Data
    loss: str
    input_shape: tuple[int, ...]  # the first input: (H, W, C) for an image
    classes: int
    class_names: list[str]
    logits: bool
    net: heads.Network
    """Every input and output with its head (`classic`: one image in, one classification out)."""
    trained_on: tuple[int, int, int] | None = None
    """The size of the images the run trained on (run.json's plan), e.g. 28x28x1 for LeNet's 32x32 input."""

    def require_classic(self, doing: str, file: str, hint: str) -> None:
        """Refuse, saying what the network takes and gives, where `doing` shows image classifiers only."""
        net = self.net
        if not net.classic:
            raise SpecError(
                Problem(
                    f"{doing} image classifiers (one image in, one class out); {net.name} takes "
                    f"{', '.join(net.inputs)} and gives {', '.join(f'{k} ({o.task})' for k, o in net.outputs.items())}",
                    file=file,
                    hint=hint,
                )
            )

    def plan(self, images: D.Images, role: str) -> D.Plan:
        """The preprocessing training would give these images (checked against the model's input and classes)."""
        return D.plan(images, self.input_shape, self.classes, self.data, role=role)

    def prepare(self, image: np.ndarray, name: str) -> tuple[D.Plan, Any]:
        """One image (H, W, C) -> its plan and the network's input (1, H', W', C')."""
        source = D.from_arrays(image[None], np.zeros(1, np.int64), name)
        plan = self.plan(source, "input")
        return plan, plan.apply(source.x)

    def forward(self, x: Any) -> Any:
        """The network's outputs for a batch (NumPy; a mapping by name for named outputs), through ``forward``."""
        return forward(self.model, x)

    def probabilities(self, outputs: Any) -> np.ndarray:
        """The network's outputs (..., classes) as probabilities: softmax when it gives logits."""
        z = np.asarray(outputs, dtype=np.float64)
        if not self.logits:
            return z
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        probabilities: np.ndarray = e / e.sum(axis=-1, keepdims=True)
        return probabilities


def forward(model: Any, x: Any) -> Any:
    """`model`'s outputs for the batch `x` in inference mode, through Keras' compiled predict function (traced once
    per input shape and reused: an eager ``model(x)`` runs op by op, several times slower), with `x` in the structure
    the model was built with (a one-element list for a model built on ``[input]``), so Keras has nothing to warn of."""
    inputs = model.input
    return model.predict_on_batch([x] if isinstance(inputs, list) and not isinstance(x, (list, dict)) else x)


def _run_dir_of(path: Path) -> Path | None:
    for folder in (path.parent, path.parent.parent):
        if (folder / "run.json").is_file() and (folder / "spec.yaml").is_file():
            return folder
    return None


def load(model: Any, *, spec: Any = None) -> Trained:
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
    run_json: dict[str, Any] = {}
    if spec is not None:
        loaded = coerce(spec)
        training = getattr(loaded, "training", None)
    elif run_dir is not None:
        training = getattr(load_spec(run_dir / "spec.yaml"), "training", None)
        try:
            run_json = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            run_json = {}
        if not isinstance(run_json, dict):
            run_json = {}
    training = training or Training()
    net = heads.with_logits(keras_model, _network(keras_model, training, run_json, path))
    first = next(iter(net.outputs.values()))
    class_names = run_json.get("class_names")
    names = (
        class_names
        if isinstance(class_names, list) and len(class_names) == first.classes
        else [str(i) for i in range(first.classes)]
    )
    shape = next(iter(net.inputs.values()))
    return Trained(
        keras_model,
        path,
        run_dir,
        training.data,
        training.loss,
        shape,
        first.classes,
        names,
        net.logits[first.name],
        net,
        _trained_on(run_json),
    )


def _trained_on(run_json: dict[str, Any]) -> tuple[int, int, int] | None:
    """The size of the images a run trained on, as its run.json's plan records it (None where it does not)."""
    try:
        shape = tuple(int(v) for v in run_json["preprocessing"]["plan"]["sizes"][0]["shape"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return shape if len(shape) == 3 else None


def _network(model: Any, training: Training, run_json: dict[str, Any], path: Path | None) -> heads.Network:
    """What the model takes and gives: as its run folder recorded it (target scaling included), else read from the model
    with the heads its spec's training section names (or the default by shape)."""
    if "network" in run_json:
        return heads.Network.from_json(model.name, run_json["network"])
    named_in, named_out = isinstance(model.input, dict), isinstance(model.output, dict)
    tensors_in = model.input if named_in else {"input": model.inputs[0]}
    inputs = {k: tuple(t.shape[1:]) for k, t in tensors_in.items()}
    tensors_out = model.output if named_out else {None: model.outputs[0]}
    outputs = {}
    for key, tensor in tensors_out.items():
        layer = heads.source_layer(tensor)
        name = key if key is not None else layer.name
        shape = tuple(tensor.shape[1:])
        if None in shape or any(None in s or len(s) not in (1, 3) for s in inputs.values()):
            raise SpecError(
                Problem(
                    f"the model takes {list(inputs.values())} and gives {shape}; archspec evaluates fixed-size images "
                    "and vectors",
                    file=str(path) if path else "model",
                )
            )
        head = training.heads.get(name) or Head(task=default_task(shape))
        scale = None
        if head.task == "regression" and not isinstance(head.scale, str):
            scale = ((head.scale.mean,) * shape[-1], (head.scale.std,) * shape[-1])
        outputs[name] = heads.Output(name, layer.name, shape, head, scale)
    return heads.Network(model.name, inputs, outputs, named_in, named_out)
