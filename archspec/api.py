"""The Python API. The CLI calls these functions and nothing else.

The public contract: ``load``, ``loads``, ``shapes``, ``build`` (and the CLI).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel

from .expand import expand
from .files import atomic_path
from .ir import Graph
from .read import Source, parse, read
from .inference import MAX_ACTIVATIONS, MAX_PARAMS, Report, infer
from .validate import validate

SpecLike = BaseModel | str | os.PathLike[str] | Mapping[str, Any]


def load(path: str | os.PathLike[str], **overrides: Any) -> BaseModel:
    """Read and validate a spec file (YAML, or JSON by extension).

    Keyword arguments override the spec's variables: ``load(p, classes=10)``.
    """
    return validate(read(path), overrides)


def loads(spec: str | Mapping[str, Any], *, format: str = "yaml", **overrides: Any) -> BaseModel:
    """Validate a spec given as YAML/JSON text or as a dict."""
    if isinstance(spec, Mapping):
        source = Source(dict(spec), "<dict>")
    else:
        source = parse(spec, "<string>", fmt=format)
    return validate(source, overrides)


def _spec(spec: SpecLike, overrides: Mapping[str, Any]) -> BaseModel:
    if isinstance(spec, BaseModel):
        if overrides:
            raise TypeError("overrides apply when reading a spec; pass a path, text or dict")
        return spec
    if isinstance(spec, Mapping):
        return loads(spec, **overrides)
    text = str(spec)
    if "\n" in text or text.lstrip().startswith("{"):
        return loads(text, format="json" if text.lstrip().startswith("{") else "yaml", **overrides)
    return load(spec, **overrides)


def graph(spec: SpecLike, **overrides: Any) -> Graph:
    """The expanded graph IR of a spec (a spec model, a path, text or a dict)."""
    return expand(_spec(spec, overrides))


def shapes(spec: SpecLike, *, max_params: int | None = MAX_PARAMS, max_activations: int | None = MAX_ACTIVATIONS, **overrides: Any) -> Report:
    """Static shapes, parameters, MACs, receptive fields and warnings; pure Python, no TensorFlow.

    Models over the parameter or activation budget are refused (None disables a budget)."""
    return infer(graph(spec, **overrides), max_params=max_params, max_activations=max_activations)


def build(spec: SpecLike, *, max_params: int | None = MAX_PARAMS, max_activations: int | None = MAX_ACTIVATIONS, **overrides: Any) -> Any:
    """A Keras model (``keras.Model``) for the spec. Shapes are checked first, before Keras allocates."""
    from .emit import to_keras

    g = graph(spec, **overrides)
    infer(g, max_params=max_params, max_activations=max_activations)
    return to_keras(g)


def check(spec: SpecLike, **overrides: Any) -> Any:
    """Build the model and verify static shapes and parameter counts against Keras, node by node.

    Returns the model; raises SpecError naming each kind whose shape rule disagrees with its emitter."""
    from .consistency import check as compare

    g = graph(spec, **overrides)
    return compare(g, infer(g, max_params=None, max_activations=None))


def train(spec: SpecLike, data: Any = None, *, epochs: int | None = None, **overrides: Any) -> Any:
    """Train a spec's network on a data source; returns a ``TrainResult`` (history, metrics, paths, model).

    ``archspec.train("specs/lenet.yaml", data="mnist", epochs=3, batch_size=64, learning_rate=0.01)``;
    every argument is documented on ``run.train`` (``from archspec.training import run``).
    """
    from .training.run import train as _train

    return _train(spec, data, epochs=epochs, **overrides)


def evaluate(model_path: Any, data: Any, **options: Any) -> Any:
    """Accuracy, loss and confusion matrix of a trained model (run folder, .keras file or keras.Model) on data."""
    from .training.evaluate import evaluate as _evaluate

    return _evaluate(model_path, data, **options)


def predict(model_path: Any, inputs: Any, **options: Any) -> Any:
    """Class probabilities and top-k classes for image files, .npy files or arrays."""
    from .training.predict import predict as _predict

    return _predict(model_path, inputs, **options)


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a saved ``.keras`` model, with archspec's custom layers available."""
    from .backend import keras as import_keras

    keras = import_keras()
    from .backend import deep_recursion
    from .layers import CUSTOM_OBJECTS
    from .training import recipe  # noqa: F401  (checkpoints hold archspec's schedule and loss)

    with deep_recursion(20_000):
        return keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS)


def save_model(model: Any, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Save a Keras model atomically; an existing file is kept unless ``force``."""
    with atomic_path(path, force=force) as tmp:
        model.save(tmp)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str, *, force: bool = False) -> Path:
    """Write text atomically, same rules as ``save_model``."""
    with atomic_path(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def report_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)
