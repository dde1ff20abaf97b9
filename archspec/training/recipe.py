"""Keras objects from the spec's `training` section: optimizer, learning-rate schedule, loss, metrics.

The schedule and the sum-of-squares loss are archspec's own Keras classes
(``keras_side/custom.py``, registered so checkpoints reload with them).
"""

from __future__ import annotations

from typing import Any

import keras

from ..keras_side.custom import EpochSchedule, SumSquaredError

FLOAT32_OUTPUT = "output_float32"
"""Name of the float32 cast archspec appends to the network under mixed precision."""


def make_loss(training: Any, logits: bool) -> Any:
    if training.loss == "sum_squared_error":
        return SumSquaredError(from_logits=logits, label_smoothing=training.label_smoothing)
    return keras.losses.CategoricalCrossentropy(from_logits=logits, label_smoothing=training.label_smoothing)


def make_metrics(training: Any, logits: bool) -> list[Any]:
    out: list[Any] = []
    for name in dict.fromkeys(training.metrics):
        if name == "accuracy":
            out.append(keras.metrics.CategoricalAccuracy(name="accuracy"))
        elif name == "top5_accuracy":
            out.append(keras.metrics.TopKCategoricalAccuracy(k=5, name="top5_accuracy"))
        elif name == "crossentropy":
            out.append(keras.metrics.CategoricalCrossentropy(from_logits=logits, name="crossentropy"))
        elif name == "sum_squared_error":
            out.append(keras.metrics.MeanMetricWrapper(SumSquaredError(from_logits=logits), name="sum_squared_error"))
    return out


STEP_SCHEDULES = ("constant", "step", "cosine", "one_cycle")
"""Schedules that are a function of the step (``EpochSchedule``); the others (reduce_on_plateau) move a plain learning
rate from a callback (``epoch_callbacks``)."""


def make_schedule(training: Any, steps_per_epoch: int) -> Any:
    """The optimizer's learning rate: an ``EpochSchedule``, or the number a callback adjusts."""
    s = training.schedule
    if s.kind not in STEP_SCHEDULES:
        return training.learning_rate
    return EpochSchedule(
        training.learning_rate,
        steps_per_epoch,
        training.epochs,
        kind=s.kind,
        warmup=s.warmup,
        every=s.every,
        factor=s.factor,
        min_learning_rate=s.min_learning_rate,
        peak_at=s.peak_at,
        anneal=s.anneal,
        accumulate=training.accumulate,
    )


def resume_schedule(optimizer: Any, training: Any, steps_per_epoch: int) -> None:
    """A checkpoint's optimizer on the schedule in force; a learning rate a callback adjusts keeps its saved value."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if training.schedule.kind in STEP_SCHEDULES:
        inner.learning_rate = make_schedule(training, steps_per_epoch)


def epoch_callbacks(training: Any, monitor: str) -> list[Any]:
    """Keras callbacks a schedule needs (`monitor`: the quantity `auto` means in this run)."""
    s = training.schedule
    if s.kind != "reduce_on_plateau":
        return []
    watched = monitor if s.monitor == "auto" else s.monitor
    return [
        keras.callbacks.ReduceLROnPlateau(
            monitor=watched,
            factor=s.factor,
            patience=s.patience,
            min_lr=s.min_learning_rate,
            mode="max" if watched.endswith("accuracy") else "min",
            verbose=0,
        )
    ]


def make_optimizer(training: Any, steps_per_epoch: int) -> Any:
    """The Keras optimizer named in the spec, with its settings and the schedule as its learning rate."""
    cls = {
        "sgd": keras.optimizers.SGD,
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop,
        "adagrad": keras.optimizers.Adagrad,
        "adadelta": keras.optimizers.Adadelta,
        "adamax": keras.optimizers.Adamax,
        "nadam": keras.optimizers.Nadam,
        "lion": keras.optimizers.Lion,
    }[training.optimizer.name]
    settings = training.optimizer.settings()
    if training.optimizer.name == "adamw" and "weight_decay" not in settings:
        settings["weight_decay"] = 0.004  # Keras' AdamW default, stated so the saved recipe shows it
    steps = training.accumulate
    if steps > 1:  # Keras sums `steps` batches' gradients and applies their mean; schedules count batches
        settings["gradient_accumulation_steps"] = steps
    if getattr(training, "ema", None) is not None:  # Keras keeps the average; training/ema.py swaps it in
        # Keras moves the average at every batch, and the weights change once per `steps`: decay^(1/steps) per batch
        # is `decay` per update, as the recipe says
        settings.update(use_ema=True, ema_momentum=training.ema.decay ** (1 / steps))
    return cls(learning_rate=make_schedule(training, steps_per_epoch), **settings)


def apply_weight_decay(model: Any, weight_decay: float) -> int:
    """L2 penalty weight_decay/2 * sum(w^2) on every kernel (not biases, not batch-norm scales).

    Returns the number of kernels regularised."""
    if not weight_decay:
        return 0
    regulariser = keras.regularizers.L2(weight_decay / 2)
    count = 0
    for layer in model._flatten_layers(include_self=False):
        for attr in ("kernel", "depthwise_kernel", "pointwise_kernel"):
            try:
                variable = getattr(layer, attr, None)
            except Exception:
                variable = None
            if not isinstance(variable, keras.Variable) or not variable.trainable:
                continue
            variable.regularizer = regulariser
            if hasattr(layer, f"{attr}_regularizer"):
                setattr(layer, f"{attr}_regularizer", regulariser)
            count += 1
    return count
