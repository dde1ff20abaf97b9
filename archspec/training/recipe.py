"""Keras objects from the spec's `training` section: optimizer, learning-rate schedule, loss, metrics.

The schedule and the sum-of-squares loss are Keras-serialisable classes
registered under the ``archspec`` package, so checkpoints reload with their
optimizer state and loss (``archspec.load_model`` imports this module).
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from ..errors import Problem, SpecError


@keras.saving.register_keras_serializable(package="archspec")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate as a function of the step, defined in epochs: warmup, then constant, step or cosine.

    Warmup rises linearly from lr/(warmup steps) to lr over ``warmup`` epochs. ``step`` multiplies by
    ``factor`` every ``every`` epochs after warmup; ``cosine`` falls from lr to ``min_learning_rate``
    between the end of warmup and the end of the last epoch.
    """

    def __init__(self, learning_rate: float, steps_per_epoch: int, epochs: int, kind: str = "constant",
                 warmup: int = 0, every: int | None = None, factor: float = 0.1, min_learning_rate: float = 0.0) -> None:
        self.learning_rate = float(learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)
        self.kind = kind
        self.warmup = int(warmup)
        self.every = every
        self.factor = float(factor)
        self.min_learning_rate = float(min_learning_rate)

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        spe = float(self.steps_per_epoch)
        lr = ops.convert_to_tensor(self.learning_rate, "float32")
        after = ops.maximum(step - self.warmup * spe, 0.0)  # steps since warmup ended
        if self.kind == "step":
            lr = lr * ops.power(self.factor, ops.floor(after / (spe * self.every)))
        elif self.kind == "cosine":
            span = max(self.epochs - self.warmup, 1) * spe
            progress = ops.minimum(after / span, 1.0)
            low = self.min_learning_rate
            lr = low + (lr - low) * 0.5 * (1.0 + ops.cos(math.pi * progress))
        if self.warmup:
            ramp = ops.minimum((step + 1.0) / (self.warmup * spe), 1.0)
            lr = lr * ramp
        return lr

    def value_at(self, step: int) -> float:
        return float(ops.convert_to_numpy(self(step)))

    def get_config(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate, "steps_per_epoch": self.steps_per_epoch, "epochs": self.epochs,
            "kind": self.kind, "warmup": self.warmup, "every": self.every, "factor": self.factor,
            "min_learning_rate": self.min_learning_rate,
        }


@keras.saving.register_keras_serializable(package="archspec")
class SumSquaredError(keras.losses.Loss):
    """The primer's total error: E = sum over classes of 1/2 (target - output)^2, averaged over the batch.

    Outputs are probabilities (a softmax layer); with ``from_logits`` the softmax is applied here.
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, name: str = "sum_squared_error", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        if self.from_logits:
            y_pred = ops.softmax(y_pred, axis=-1)
        if self.label_smoothing:
            k = ops.cast(ops.shape(y_true)[-1], y_pred.dtype)
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / k
        return 0.5 * ops.sum(ops.square(y_true - y_pred), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


FLOAT32_OUTPUT = "output_float32"
"""Name of the float32 cast archspec appends to the network under mixed precision."""


def last_layer(model: Any) -> Any:
    """The layer producing the model's output (looking through the mixed-precision float32 cast)."""
    layer = model.outputs[0]._keras_history.operation
    if layer.name == FLOAT32_OUTPUT:
        layer = layer._inbound_nodes[0].input_tensors[0]._keras_history.operation
    return layer


def output_kind(model: Any) -> str:
    """'probabilities' when the network ends in a softmax, 'logits' when it ends without an activation."""
    layer = last_layer(model)
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None) or (str(activation) if activation is not None else "linear")
    if name == "softmax":
        return "probabilities"
    if name == "linear":
        return "logits"
    raise SpecError(Problem(
        f"the network's last layer ({layer.name}) ends in {name}; training a classifier needs softmax (probabilities) or no activation (logits)",
        file="spec", hint="end the spec with `- dense: {units: $classes, activation: softmax}`",
    ))


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


def make_schedule(training: Any, steps_per_epoch: int) -> EpochSchedule:
    s = training.schedule
    return EpochSchedule(training.learning_rate, steps_per_epoch, training.epochs, kind=s.kind, warmup=s.warmup,
                         every=s.every, factor=s.factor, min_learning_rate=s.min_learning_rate)


def make_optimizer(training: Any, steps_per_epoch: int) -> Any:
    """The Keras optimizer named in the spec, with its settings and the schedule as its learning rate."""
    cls = {
        "sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad, "adadelta": keras.optimizers.Adadelta,
        "adamax": keras.optimizers.Adamax, "nadam": keras.optimizers.Nadam, "lion": keras.optimizers.Lion,
    }[training.optimizer.name]
    settings = training.optimizer.settings()
    if training.optimizer.name == "adamw" and "weight_decay" not in settings:
        settings["weight_decay"] = 0.004  # Keras' AdamW default, stated so the saved recipe shows it
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
            except Exception:  # noqa: BLE001 - a property that needs state the layer lacks
                variable = None
            if not isinstance(variable, keras.Variable) or not variable.trainable:
                continue
            variable.regularizer = regulariser
            if hasattr(layer, f"{attr}_regularizer"):
                setattr(layer, f"{attr}_regularizer", regulariser)
            count += 1
    return count
