"""The Python API: the names ``import archspec`` gives, each a thin door into the package.

Nothing inside the package imports this module (an import contract test holds
to that); the CLI calls the same library functions these do. Importing it does
not import TensorFlow or Keras: ``build``, ``check``, ``train``, ``evaluate``,
``predict`` and ``load_model`` import them when called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Never

from pydantic import BaseModel

from .errors import Problem, SpecError, did_you_mean
from .graph import checked as _checked
from .graph import graph_of as _graph_of
from .graph.infer import MAX_ACTIVATIONS, MAX_PARAMS
from .graph.ir import Graph
from .graph.report import Report
from .keras_side.check import check as _check
from .keras_side.emitter import build as _build
from .keras_side.saving import load_model, save_model
from .spec import loading
from .spec.loading import SpecLike
from .spec.network import SpecBase
from .tools.zoo import describe_specs, list_specs

if TYPE_CHECKING:
    import numpy as np
    from keras import Model

    from .study.run import Study
    from .training.evaluate import Evaluation, Evaluations
    from .training.predict import Answers, Prediction
    from .training.run import Log, TrainResult

__all__ = [
    "augmented",
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
    "search",
    "shapes",
    "train",
    "write_images",
]

Variables = Mapping[str, Any]
"""Values for a spec's variables (``{"classes": 10}``), and for the top-level fields a value may replace
(``{"input": [96, 96, 3]}``, ``{"training.epochs": 3}``): what ``--set KEY=VALUE`` gives on the command line."""


_PRINTED: Log = partial(print, flush=True)
"""``train``'s progress lines: printed as they come, even when the output is a pipe."""


def _values(variables: Variables | None, variant: str | None) -> dict[str, Any]:
    """The one mapping the library reads: variables, with the variant as its key ``variant``."""
    values = dict(variables or {})
    if variant is not None:
        if "variant" in values:
            raise TypeError("variant given twice: as variant= and as variables['variant']; give it once, as variant=")
        values["variant"] = variant
    return values


def _refuse(function: str, old: Mapping[str, Any], keyword: str = "variables", what: str = "spec variables") -> None:
    """An old-style call (``build(spec, classes=10)``: keywords that were spec variables) is refused, naming the
    keyword that takes them now: guessing which it meant could change what the call does, silently."""
    if old:
        example = ", ".join(f"{k!r}: ..." for k in sorted(old))
        raise TypeError(
            f"{function}() takes no keyword {', '.join(sorted(old))}: {what} are given as {keyword}={{{example}}}"
            + (" (and a variant as variant=...)" if keyword == "variables" else "")
        )


def load(
    path: str | os.PathLike[str], *, variables: Variables | None = None, variant: str | None = None, **old: Never
) -> SpecBase:
    """The validated spec of a file, or of a zoo network by its name (``archspec.load("resnet50")``).

    A str is always a path or a zoo name, never spec text: text goes through ``loads``."""
    _refuse("load", old)
    return loading.load(path, **_values(variables, variant))


def loads(
    text: str | Mapping[str, Any],
    *,
    format: str = "yaml",
    variables: Variables | None = None,
    variant: str | None = None,
    **old: Never,
) -> SpecBase:
    """The validated spec of YAML or JSON text (``format="json"``), or of a dict: the one door for spec text."""
    _refuse("loads", old)
    return loading.loads(text, format=format, **_values(variables, variant))


def graph_of(
    spec: SpecLike,
    *,
    variables: Variables | None = None,
    variant: str | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    features: Sequence[str] | None = None,
    **old: Never,
) -> Graph:
    """The expanded graph IR of a spec (a spec model, a path or zoo name, or a dict), frozen as its training
    section says. ``include_top``/``pooling``/``features`` as for ``create_model``."""
    _refuse("graph_of", old)
    return _graph_of(spec, include_top=include_top, pooling=pooling, features=features, **_values(variables, variant))


def shapes(
    spec: SpecLike,
    *,
    variables: Variables | None = None,
    variant: str | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    features: Sequence[str] | None = None,
    max_params: int | None = MAX_PARAMS,
    max_activations: int | None = MAX_ACTIVATIONS,
    freeze: Sequence[str] | None = None,
    freeze_bn: bool | None = None,
    **old: Never,
) -> Report:
    """Static shapes, parameters, MACs, receptive fields and warnings (a ``Report``); pure Python, no TensorFlow.

    Models over the parameter or activation budget are refused (None disables a budget). ``freeze`` and
    ``freeze_bn`` replace the spec's ``training.freeze`` / ``freeze_bn`` (the counts then say what trains)."""
    _refuse("shapes", old)
    return _checked(
        spec,
        include_top=include_top,
        pooling=pooling,
        features=features,
        max_params=max_params,
        max_activations=max_activations,
        freeze=freeze,
        freeze_bn=freeze_bn,
        **_values(variables, variant),
    )[1]


def build(
    spec: SpecLike,
    *,
    variables: Variables | None = None,
    variant: str | None = None,
    weights: Any = None,
    strict_weights: bool = False,
    weights_by_shape: bool = False,
    freeze: Sequence[str] | None = None,
    freeze_bn: bool | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    features: Sequence[str] | None = None,
    max_params: int | None = MAX_PARAMS,
    max_activations: int | None = MAX_ACTIVATIONS,
    **old: Never,
) -> Model:
    """A Keras model (``keras.Model``) for the spec. Shapes are checked first, before Keras allocates.

    ``variables``: values for the spec's variables (``{"classes": 10}``); ``variant``: one of its variants (``"b3"``).
    ``weights``: start from trained weights: a .keras file, a .weights.h5 file, a legacy HDF5 weights file,
    a run folder, or ``keras:NAME`` (keras.applications' ImageNet weights). Layers are matched by name, then
    by position when the rest is the same network renamed; ``model.transfer`` is the report
    (``print(model.transfer.text())``). ``strict_weights``: fail unless everything matched. ``weights_by_shape``: pair
    another network's layers by kind and weight shape (a guess; refused otherwise). ``freeze``: freeze everything up to
    and including these nodes or blocks; ``freeze_bn``: freeze every batch normalisation. ``include_top=False`` leaves
    a classifier's head out and ``pooling`` ('avg', 'max') pools the last feature map then; ``features``
    adds feature maps at named points as outputs (see ``create_model``)."""
    _refuse("build", old)
    return _build(
        spec,
        weights=weights,
        strict_weights=strict_weights,
        weights_by_shape=weights_by_shape,
        freeze=freeze,
        freeze_bn=freeze_bn,
        include_top=include_top,
        pooling=pooling,
        features=features,
        max_params=max_params,
        max_activations=max_activations,
        **_values(variables, variant),
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
) -> Model:
    """A Keras model (``keras.Model``) of a zoo network or spec, with keras.applications' arguments.

    ``archspec.create_model("efficientnet", variant="b3", classes=5, input_shape=(96, 96, 3), include_top=False,
    pooling="avg")``. ``classes`` sets the spec's variable `classes` and ``input_shape`` its `input` (as
    ``--set classes=5 --set input=[96,96,3]`` do); ``include_top=False`` leaves the classifier head out and
    ``pooling`` ('avg', 'max') pools the last feature map then. ``features`` (``["stride8", "stride16"]``, or layer
    names) adds the feature maps at those points as outputs, timm's ``features_only``: with ``include_top=False``
    and no pooling the model gives those alone, a mapping by name. ``weights`` and ``freeze`` are ``build``'s.
    Built by ``build``: the same checks, the same network as `archspec build` gives."""
    spec = loading.coerce(name_or_path)
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
        variables=variables,
        weights=weights,
        freeze=freeze,
        include_top=include_top,
        pooling=pooling,
        features=features,
    )


def import_model(model: Any, *, input_shape: Sequence[int] | None = None) -> str:
    """The spec (YAML text) of a Keras model: a ``keras.Model`` (functional or Sequential) or the path of a saved
    .keras file, as `archspec import` writes it. ``input_shape`` (height, width, channels) is the image size for a
    model that takes any size (MobileNetV3). Weights are not part of a spec. The spec is checked before it is
    returned: its static shapes and parameter counts equal the model's, layer by layer."""
    from .keras_side.importer import import_from

    return import_from(model, input_shape)


def check(spec: SpecLike, *, variables: Variables | None = None, variant: str | None = None, **old: Never) -> Model:
    """Build the model and verify static shapes and parameter counts against Keras, node by node.

    Returns the model; raises SpecError naming each kind whose shape rule disagrees with its emitter."""
    _refuse("check", old)
    return _check(spec, **_values(variables, variant))


def search(
    spec: SpecLike | None,
    data: Any = None,
    *,
    trials: int | None = None,
    val: Any = None,
    epochs: int | None = None,
    variables: Variables | None = None,
    variant: str | None = None,
    study_dir: str | os.PathLike[str] | None = None,
    storage: str | None = None,
    study: str | None = None,
    resume: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    log: Log | None = _PRINTED,
) -> Study:
    """Search the spec's ``search`` space on Optuna (what ``archspec search`` does); returns the study's rows, its
    Pareto front and the path of ``best.yaml``.

    ``archspec.search("net.yaml", data="idx:data/mnist[:8000]", trials=20, epochs=3)``: each candidate is judged by
    the shape engine first (``budget``, and whether it is a network at all) and trained only when it passes;
    ``study_dir`` an existing study folder joins it as another worker, ``resume`` continues one after a kill,
    ``storage``/``study`` an Optuna storage URL and study name shared by workers on several machines. Needs
    ``pip install 'archspec[search]'`` (Optuna)."""
    from .study.run import search as _search

    return _search(
        spec,
        data,
        val=val,
        trials=trials,
        epochs=epochs,
        study_dir=study_dir,
        storage=storage,
        study=study,
        resume=resume,
        variables=_values(variables, variant),
        seed=seed,
        log=log,
    )


def train(
    spec: SpecLike,
    data: Any = None,
    *,
    variables: Variables | None = None,
    variant: str | None = None,
    training: Mapping[str, Any] | None = None,
    val: Any = None,
    epochs: int | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    runs: str | os.PathLike[str] = "runs",
    resume: str | os.PathLike[str] | None = None,
    strategy: str | None = None,
    precision: str | None = None,
    jit: bool | None = None,
    verbose: int | None = None,
    log: Log | None = _PRINTED,
    weights: Any = None,
    strict_weights: bool = False,
    weights_by_shape: bool = False,
    callbacks: Sequence[Any] = (),
    **old: Never,
) -> TrainResult:
    """Train a spec's network on a data source; returns a ``TrainResult`` (history, metrics, paths, model).

    ``archspec.train("lenet", data="mnist", epochs=3, training={"batch_size": 64, "learning_rate": 0.01})``:
    ``training`` sets fields of the spec's ``training`` section (dotted keys reach inside:
    ``{"optimizer.momentum": 0.9}``), ``variables``/``variant`` the network's as for ``build``; ``callbacks``: Keras
    callbacks of your own, called after each epoch is committed; every other argument is documented on
    ``archspec.training.run.train``."""
    _refuse("train", old, "training", "fields of the spec's training section")
    from .training.run import train as _train

    fields = dict(training or {})
    if "epochs" in fields:  # a field of the training section and this function's own argument: one of them
        if epochs is not None:
            raise TypeError("epochs given twice: as epochs= and as training['epochs']; give it once")
        epochs = fields.pop("epochs")

    return _train(
        spec,
        data,
        val=val,
        epochs=epochs,
        variables=_values(variables, variant) or None,
        run_dir=run_dir,
        runs=runs,
        resume=resume,
        strategy=strategy,
        precision=precision,
        jit=jit,
        verbose=verbose,
        log=log,
        weights=weights,
        strict_weights=strict_weights,
        weights_by_shape=weights_by_shape,
        callbacks=callbacks,
        training=fields,
    )


def write_images(source: Any, to: str | os.PathLike[str], *, force: bool = False) -> Any:
    """Write a data source (anything ``train`` reads: ``"mnist"``, ``"idx:DIR[:1000]"``, an .npz file, an image folder,
    an ``(x, y)`` pair) as an image folder ``to`` of PNG files, one folder per class, itself a data source; returns
    what was written (``.text()`` says it in a line). A non-empty folder is replaced only with ``force=True``.
    ``archspec data SOURCE --to DIR`` on the command line."""
    from .training.data.to_folder import write_folder

    return write_folder(source, to, force=force)


def evaluate(
    model_path: Any, data: Any, *, batch_size: int = 256, spec: SpecLike | None = None
) -> Evaluation | Evaluations:
    """Accuracy, loss and confusion matrix of a trained model (run folder, .keras file or keras.Model) on data
    (an ``Evaluation``); for a network with several outputs or other heads, every output's figures by its task
    (``Evaluations``). ``spec``: the spec a bare .keras model was trained from (a run folder records its own)."""
    from .training.evaluate import evaluate as _evaluate

    return _evaluate(model_path, data, batch_size=batch_size, spec=spec)


def export(
    source: Any,
    output: Any = None,
    fmt: str | None = None,
    *,
    preprocessing: bool = True,
    force: bool = False,
    weights: Any = None,
    strict_weights: bool = False,
    variables: Variables | None = None,
    variant: str | None = None,
    **old: Never,
) -> Path:
    """Write a SavedModel directory, an ONNX or a TFLite file (`fmt`, else from the output's extension); returns its
    path.

    A run folder's model carries the run's recorded preprocessing (``preprocessing=False`` leaves it out): it takes
    uint8 pixels at the size the run trained on and gives what ``predict`` gives, outputs named as in the spec. A .keras
    model or a spec (``weights``, ``strict_weights``, ``variables`` and ``variant`` as for ``build``) is exported as the
    network takes its input."""
    _refuse("export", old)
    from .training.export import export as _export

    given: dict[str, Any] = _values(variables, variant)
    if weights is not None:
        given["weights"] = weights
    if strict_weights:
        given["strict_weights"] = strict_weights
    return _export(source, output, fmt, preprocessing=preprocessing, force=force, **given)


def augmented(model: Any, image: Any, *, count: int = 8, seed: int = 0) -> np.ndarray:
    """``count`` views of one image as a run's training augmentation (``training.data.augment``) draws them, as the
    network receives them, (count, H, W, C): what ``archspec inspect RUN --input IMAGE --augment N`` shows. ``model``
    is a run folder or its model, ``image`` a file or an array (H, W[, C]); the same ``seed`` gives the same views."""
    from .tools.inspection import augmented_views

    views: np.ndarray = augmented_views(model, image, count, seed)
    return views


def predict(
    model_path: Any,
    inputs: Any,
    *,
    top_k: int = 5,
    spec: SpecLike | None = None,
    masks: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> list[Prediction] | list[Answers]:
    """Class probabilities and top-k classes for image files, .npy files or arrays (``Prediction``s); for other
    networks every output's answer (``Answers``; ``masks=FOLDER`` writes segmentation masks there as PNG files)."""
    from .training.predict import predict as _predict

    return _predict(model_path, inputs, top_k=top_k, spec=spec, masks=masks, force=force)
