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
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Problem, SpecError
from ..keras_side.saving import load_model
from ..spec.loading import coerce, load as load_spec
from ..spec.training import Training
from . import data as D

# What a file that is not a Keras model most likely is, by its first bytes (None: a format Keras reads).
_SIGNATURES = ((b"PK\x03\x04", None), (b"\x89HDF\r\n\x1a\n", None), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
               (b"GIF8", "a GIF image"), (b"BM", "a BMP image"), (b"\x93NUMPY", "a NumPy .npy array"), (b"\x1f\x8b", "gzip data"))


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
        keras_model = _keras_model(path)
    else:
        keras_model = model
    training: Training | None = None
    class_names: list[str] | None = None
    if spec is not None:
        loaded = coerce(spec)
        training = getattr(loaded, "training", None)
    elif run_dir is not None:
        training = getattr(load_spec(run_dir / "spec.yaml"), "training", None)
        try:
            class_names = json.loads((run_dir / "run.json").read_text(encoding="utf-8")).get("class_names")
        except (OSError, ValueError):
            class_names = None
    training = training or Training()
    shape = tuple(keras_model.inputs[0].shape[1:])
    out = tuple(keras_model.outputs[0].shape[1:])
    if len(shape) != 3 or None in shape or len(out) != 1 or not out[0]:
        raise SpecError(Problem(f"the model takes {shape} and gives {out}; archspec evaluates image classifiers ((H, W, C) -> classes)",
                                file=str(path) if path else "model"))
    classes = int(out[0])
    names = class_names if class_names and len(class_names) == classes else [str(i) for i in range(classes)]
    logits = recipe.output_kind(keras_model) == "logits"
    return Trained(keras_model, path, run_dir, training.data, training.loss, tuple(int(v) for v in shape), classes, names, logits)  # type: ignore[arg-type]


def _keras_model(path: Path) -> Any:
    """Load a model file; one that is not a Keras model is a SpecError saying what it is, not Keras' traceback."""
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise SpecError(Problem(f"cannot read the model ({exc.strerror or exc})", file=str(path))) from None
    kind = next((what for magic, what in _SIGNATURES if head.startswith(magic)), "neither a .keras archive nor an .h5 file")
    if kind is None and head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            names = []
        if "config.json" not in names:
            kind = "a zip archive without the config.json of a .keras model"
    if kind is not None:
        raise SpecError(Problem(f"not a Keras model: this file is {kind}", file=str(path),
                                hint="give a run folder, or a .keras file written by `archspec train` or `archspec build`"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_model(path)
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken archive, unknown layers, a newer Keras
        reason = " ".join(str(exc).split()).replace(str(path), "the file")[:300]
        raise SpecError(Problem(f"not a Keras model archspec can load ({reason})", file=str(path))) from None
