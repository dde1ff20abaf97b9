"""Precise batch norm: each batch normalisation's moving statistics recomputed with the weights they will serve.

Why (issue 24, measured): Keras' ``BatchNormalization`` keeps exponential moving averages of its batch means and
variances. They start at mean 0 and variance 1 and carry no bias correction, so after T steps at momentum m they
still hold m^T of those starting values. The first batch normalisation of a small MNIST network (pixels in [0, 1],
a Glorot-initialised 3x3 convolution) sees variances of 0.002 to 0.03. After 4 epochs of 125 steps at m = 0.99,
0.99^500 = 0.0066 of the starting 1.0 is left, so its moving variances are 1.2 to 3.7 times too large: the ratio
(m^T + (1 - m^T) var) / var predicts the measured ratio of every channel to two decimals. At the end of epoch 1
(m^T = 0.28) the same arithmetic gives 10 to 100 times, and validation sits at chance. A plain ``model.fit`` of the
same Keras model on the same arrays does the same thing: archspec's training loop, its training flag and its
preprocessing are not at fault. At m = 0.999 (MobileNetV2), a run of 375 steps leaves 0.999^375 = 69 % of the start, and
inference stays at chance.

What this module does (``training.precise_bn``; ``callbacks.recorder`` calls it at each epoch's end, before
validation and before the checkpoint is saved): every batch normalisation that trains its statistics (trainable;
frozen ones keep theirs) gets, as its moving mean and variance, the average of its batch means and variances over
up to `batches` training batches, computed with the epoch's final weights. This is the "precise BN" of pycls and
Detectron2. The choices:

- the exact average, not a moving one: each layer's momentum is 0 during the passes, so its moving values are the
  batch's own statistics, and they are averaged here in float64;
- the batch normalisations compute their batch's statistics, and every other layer runs as it does in prediction
  (no dropout, no stochastic depth). The statistics are those of the inputs each layer sees when the model predicts,
  and no random numbers are drawn, so a run with recalibration trains exactly as one without it (resumes included);
- training images as prediction prepares them (the plan's steps, no augmentation), at most one pass: more passes
  over the same un-augmented images add nothing (``data.pipeline.calibration_order``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .data.pipeline import calibration_size

FORGET = 10
"""Time constants (1/(1 - momentum) steps each) a moving average needs to forget its start: m^T <= e^-10 after them."""


def updating(model: Any) -> list[Any]:
    """The batch normalisations whose statistics training updates (frozen ones run in inference mode and keep
    theirs)."""
    import keras

    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
    ]


def recalibrate(model: Any, batches: Iterable[Any]) -> int:
    """Set every updating batch normalisation's moving mean and variance to the average of its batch statistics over
    `batches` (model inputs, as the model takes them). Returns the number of batches used (0: nothing changed)."""
    import keras

    layers = updating(model)
    if not layers:
        return 0
    before = [
        (keras.ops.convert_to_numpy(layer.moving_mean), keras.ops.convert_to_numpy(layer.moving_variance))
        for layer in layers
    ]
    momenta = [layer.momentum for layer in layers]
    sums: list[np.ndarray] | None = None
    count = 0
    try:
        for layer in layers:
            _batch_statistics(layer)
            layer.momentum = 0.0  # the moving values become the batch's own statistics
        step = _compiled(model, layers)
        for x in batches:
            stats = [np.asarray(keras.ops.convert_to_numpy(s), np.float64) for s in step(x)]
            sums = stats if sums is None else [a + b for a, b in zip(sums, stats, strict=True)]
            count += 1
    except BaseException:
        for layer, (mean, variance) in zip(layers, before, strict=True):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        raise
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
            layer.__dict__.pop("call", None)
    for i, layer in enumerate(layers):
        mean, variance = (sums[2 * i] / count, sums[2 * i + 1] / count) if sums is not None else before[i]
        layer.moving_mean.assign(np.asarray(mean, dtype=before[i][0].dtype))
        layer.moving_variance.assign(np.asarray(variance, dtype=before[i][1].dtype))
    return count


def _batch_statistics(layer: Any) -> None:
    """This layer normalises with its batch's statistics (and writes them to its moving values) whatever the call's
    `training` says; the model is called in inference mode, so every other layer predicts. Undone by removing the
    instance attribute."""
    call = type(layer).call

    def batch_statistics(inputs: Any, training: Any = None, mask: Any = None) -> Any:
        return call(layer, inputs, training=True, mask=mask)

    object.__setattr__(layer, "call", batch_statistics)  # past Keras' attribute tracking: a function, not state


CACHE = "_archspec_precise_bn"
"""The model's attribute holding its traced step and the layers it was traced for: the next epoch reuses the trace."""


def _compiled(model: Any, layers: list[Any]) -> Any:
    """x -> the layers' moving means and variances after the model saw x, with `layers` forced to batch statistics
    and momentum 0 (as `recalibrate` sets them, every time): a tf.function on TensorFlow, traced once per model and
    set of layers, the plain call on another backend."""
    import keras

    def step(x: Any) -> list[Any]:
        model(x, training=False)
        return [v.value for layer in layers for v in (layer.moving_mean, layer.moving_variance)]

    if keras.backend.backend() != "tensorflow":
        return lambda x: step(keras.tree.map_structure(np.asarray, x))
    import tensorflow as tf

    key = tuple(id(layer) for layer in layers)
    cached = model.__dict__.get(CACHE)
    if cached is None or cached[0] != key:
        cached = (key, tf.function(step, reduce_retracing=True))
        object.__setattr__(model, CACHE, cached)  # past Keras' tracking: not part of the model's state
    return cached[1]


def record(settings: Any, count: int, batch_size: int) -> dict[str, Any]:
    """What run.json says about it."""
    return {
        "enabled": settings.enabled,
        "batches": settings.batches,
        "images": calibration_size(count, batch_size, settings.batches) if settings.enabled else 0,
    }


def momentum_warnings(model: Any, steps: int) -> list[str]:
    """Warnings (one per momentum value) for a run without recalibration: batch normalisations whose moving averages
    `steps` steps leave holding more than e^-FORGET of their starting values (mean 0, variance 1)."""
    groups: dict[float, list[str]] = {}
    for layer in updating(model):
        groups.setdefault(float(layer.momentum), []).append(layer.name)
    out = []
    for m, names in sorted(groups.items()):
        which = f"{len(names)} batch normalisation{'s' if len(names) > 1 else ''} (e.g. {names[0]})"
        if m >= 1:
            out.append(
                f"{which} at momentum 1: the moving statistics never update, and without training.precise_bn the "
                "saved model predicts with their starting values (mean 0, variance 1); leave training.precise_bn "
                "on (the default), or give them a momentum below 1"
            )
            continue
        tau = 1 / (1 - m)
        need = math.ceil(round(FORGET * tau, 6))  # 1 / (1 - 0.99) is 100.00000000000009
        if steps >= need:
            continue
        top = math.floor(max(0.0, 1 - FORGET / steps) * 100) / 100  # two decimals, rounded down
        out.append(
            f"{which} at momentum {m:g}: moving averages over about {tau:,.0f} steps, and this run has {steps:,}; "
            f"without training.precise_bn the moving statistics will still hold {m**steps:.2%} of their starting "
            "values "
            "(mean 0, variance 1) when the model is saved, and in inference mode it may predict far worse than its "
            f"training accuracy says; leave training.precise_bn on (the default), or lower the momentum to {top:g} "
            f"or less (e.g. `defaults: {{batchnorm: {{momentum: {min(0.9, top):g}}}}}` in the spec), or train at "
            f"least {need:,} steps"
        )
    return out
