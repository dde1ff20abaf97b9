"""The Python API: the names ``import archspec`` gives, each a thin door into the package.

Nothing inside the package imports this module (an import contract test holds
to that); the CLI calls the same library functions these do. Importing it does
not import TensorFlow or Keras: ``build``, ``check``, ``train``, ``evaluate``,
``predict`` and ``load_model`` import them when called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from .errors import Problem, SpecError, did_you_mean
from .graph import graph_of, shapes
from .graph.infer import MAX_ACTIVATIONS, MAX_PARAMS
from .keras_side.check import check as _check
from .keras_side.emitter import build as _build
from .keras_side.saving import load_model, save_model
from .spec.loading import SpecLike, coerce, load, loads
from .tools.zoo import describe_specs, list_specs

__all__ = [
    "build",
    "check",
    "create_model",
    "describe_specs",
    "evaluate",
    "export",
    "graph_of",
    "import_model",
    "list_specs",
    "load",
    "load_model",
    "loads",
    "predict",
    "save_model",
    "shapes",
    "train",
]


def build(
    spec: SpecLike,
    *,
    weights: Any = None,
    strict_weights: bool = False,
    weights_by_shape: bool = False,
    freeze: Sequence[str] | None = None,
    freeze_bn: bool | None = None,
    max_params: int | None = MAX_PARAMS,
    max_activations: int | None = MAX_ACTIVATIONS,
    **overrides: Any,
) -> Any:
    """A Keras model (``keras.Model``) for the spec. Shapes are checked first, before Keras allocates.

    ``weights``: start from trained weights: a .keras file, a .weights.h5 file, a legacy HDF5 weights file,
    a run folder, or ``keras:NAME`` (keras.applications' ImageNet weights). Layers are matched by name, then
    by position when the rest is the same network renamed; ``model.transfer`` is the report
    (``print(model.transfer.text())``). ``strict_weights``: fail unless everything matched. ``weights_by_shape``: pair
    another network's layers by kind and weight shape (a guess; refused otherwise). ``freeze``: freeze everything up to
    and including these nodes or blocks; ``freeze_bn``: freeze every batch normalisation."""
    return _build(
        spec,
        weights=weights,
        strict_weights=strict_weights,
        weights_by_shape=weights_by_shape,
        freeze=freeze,
        freeze_bn=freeze_bn,
        max_params=max_params,
        max_activations=max_activations,
        **overrides,
    )


def create_model(
    name_or_path: SpecLike,
    *,
    variant: str | None = None,
    classes: int | None = None,
    input_shape: Sequence[int] | None = None,
    weights: Any = None,
    include_top: bool = True,
    pooling: str | None = None,
    features: Sequence[str] | None = None,
    freeze: Sequence[str] | None = None,
) -> Any:
    """A Keras model (``keras.Model``) of a zoo network or spec, with keras.applications' arguments.

    ``archspec.create_model("efficientnet", variant="b3", classes=5, input_shape=(96, 96, 3), include_top=False,
    pooling="avg")``. ``classes`` sets the spec's variable `classes` and ``input_shape`` its `input` (as
    ``--set classes=5 --set input=[96,96,3]`` do); ``include_top=False`` leaves the classifier head out and
    ``pooling`` ('avg', 'max') pools the last feature map then. ``features`` (``["stride8", "stride16"]``, or layer
    names) adds the feature maps at those points as outputs, timm's ``features_only``: with ``include_top=False``
    and no pooling the model gives those alone, a mapping by name. ``weights`` and ``freeze`` are ``build``'s.
    Built by ``build``: the same checks, the same network as `archspec build` gives."""
    spec = coerce(name_or_path)
    variables: dict[str, Any] = {}
    if variant is not None:
        if str(variant) not in map(str, spec.variants):
            raise SpecError(
                Problem(
                    f"variant={variant!r}: the spec {spec.name!r} has no variant {variant!r}",
                    hint=did_you_mean(str(variant), list(spec.variants))
                    + f"its variants: {', '.join(spec.variants) or 'none'}",
                )
            )
        variables["variant"] = variant
    if classes is not None:
        if not include_top:
            raise SpecError(
                Problem(
                    f"classes={classes!r} sizes the classifier head, which include_top=False leaves out",
                    hint="leave classes out, or keep the head (include_top=True)",
                )
            )
        if "classes" not in spec.variables:
            raise SpecError(
                Problem(
                    f"classes={classes!r}: the spec {spec.name!r} has no variable `classes`",
                    hint=f"its variables: {', '.join(spec.variables) or 'none'}",
                )
            )
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
            raise SpecError(
                Problem(f"classes={classes!r} is not a number of classes", hint="a whole number, 1 or more")
            )
        variables["classes"] = classes
    if input_shape is not None:
        shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
        if (
            shape is None
            or len(shape) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
        ):
            raise SpecError(
                Problem(
                    f"input_shape={input_shape!r} is not an image shape",
                    hint="(height, width, channels), e.g. (96, 96, 3)",
                )
            )
        variables["input"] = list(shape)
    if variables and isinstance(name_or_path, BaseModel):
        raise SpecError(
            Problem(
                f"{', '.join(variables)}: a spec already validated cannot take them",
                hint="pass the spec's name, path or text instead, or archspec.load(path, variables...) first",
            )
        )
    return build(
        name_or_path,
        weights=weights,
        freeze=freeze,
        include_top=include_top,
        pooling=pooling,
        features=features,
        **variables,
    )


def import_model(model: Any, *, input_shape: Sequence[int] | None = None) -> str:
    """The spec (YAML text) of a Keras model: a ``keras.Model`` (functional or Sequential) or the path of a saved
    .keras file, as `archspec import` writes it. ``input_shape`` (height, width, channels) is the image size for a
    model that takes any size (MobileNetV3). Weights are not part of a spec. The spec is checked before it is
    returned: its static shapes and parameter counts equal the model's, layer by layer."""
    from .keras_side.importer import import_from

    return import_from(model, input_shape)


def check(spec: SpecLike, **overrides: Any) -> Any:
    """Build the model and verify static shapes and parameter counts against Keras, node by node.

    Returns the model; raises SpecError naming each kind whose shape rule disagrees with its emitter."""
    return _check(spec, **overrides)


def train(spec: SpecLike, data: Any = None, *, epochs: int | None = None, **overrides: Any) -> Any:
    """Train a spec's network on a data source; returns a ``TrainResult`` (history, metrics, paths, model).

    ``archspec.train("specs/lenet.yaml", data="mnist", epochs=3, batch_size=64, learning_rate=0.01)``;
    every argument is documented on ``archspec.training.run.train``.
    """
    from .training.run import train as _train

    return _train(spec, data, epochs=epochs, **overrides)


def evaluate(model_path: Any, data: Any, **options: Any) -> Any:
    """Accuracy, loss and confusion matrix of a trained model (run folder, .keras file or keras.Model) on data;
    for a network with several outputs or other heads, every output's figures by its task."""
    from .training.evaluate import evaluate as _evaluate

    return _evaluate(model_path, data, **options)


def export(
    source: Any,
    output: Any = None,
    fmt: str | None = None,
    *,
    preprocessing: bool = True,
    force: bool = False,
    **options: Any,
) -> Any:
    """Write a SavedModel directory, an ONNX or a TFLite file (`fmt`, else from the output's extension); returns its
    path.

    A run folder's model carries the run's recorded preprocessing (``preprocessing=False`` leaves it out): it takes
    uint8 pixels at the size the run trained on and gives what ``predict`` gives, outputs named as in the spec. A .keras
    model or a spec (``weights=``, ``strict_weights=``, overrides as for ``build``) is exported as the network takes
    its input."""
    from .training.export import export as _export

    return _export(source, output, fmt, preprocessing=preprocessing, force=force, **options)


def predict(model_path: Any, inputs: Any, **options: Any) -> Any:
    """Class probabilities and top-k classes for image files, .npy files or arrays; for other networks every output's
    answer (``masks=FOLDER`` writes segmentation masks there as PNG files)."""
    from .training.predict import predict as _predict

    return _predict(model_path, inputs, **options)
