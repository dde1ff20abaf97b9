"""archspec's own Keras objects: layers Keras lacks, the epoch schedule and the sum-of-squares loss.

Written with keras.ops only and registered serializable under the ``archspec``
package, so a saved ``.keras`` file (a checkpoint included) reloads once this
module is imported (``import archspec`` does that when Keras is already
loaded; ``archspec.load_model`` always does). Kinds' emitters find the layers
by name in Keras' registry (``kinds.base.custom_layer``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import ops

from ..kinds.arith import conv_length
from .bases import Layer, LearningRateSchedule, Loss, serializable
from .metrics import PixelAccuracy, PixelMeanIoU


@serializable
class LocalResponseNormalization(Layer):
    """Krizhevsky et al. (2012) section 3.3, across channels:
    b = a / (bias + alpha * sum_{window of `size` channels} a^2) ^ beta."""

    def __init__(
        self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, bias: float = 2.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.bias = size, alpha, beta, bias

    def call(self, x: Any) -> Any:
        half = self.size // 2
        squared = ops.pad(ops.square(x), [[0, 0], [0, 0], [0, 0], [half, half]])
        channels = ops.shape(x)[-1]
        total = sum(squared[..., i : i + channels] for i in range(self.size))
        return x / ops.power(self.bias + self.alpha * total, self.beta)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size, "alpha": self.alpha, "beta": self.beta, "bias": self.bias}


@serializable
class SumPooling2D(Layer):
    """Sum over each window: average pooling times the window area, with
    'same' padding done as explicit zeros so border windows sum what they cover."""

    def __init__(
        self,
        pool_size: Sequence[int] = (2, 2),
        strides: Sequence[int] | None = None,
        padding: str = "valid",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pool_size = tuple(pool_size)
        self.strides = tuple(strides or pool_size)
        self.padding = padding

    def call(self, x: Any) -> Any:
        if self.padding == "same":
            pads = [[0, 0]]
            for axis in (1, 2):
                size, k, s = x.shape[axis], self.pool_size[axis - 1], self.strides[axis - 1]
                out = -(-size // s)
                total = max((out - 1) * s + k - size, 0)
                pads.append([total // 2, total - total // 2])
            x = ops.pad(x, [*pads, [0, 0]])
        area = self.pool_size[0] * self.pool_size[1]
        return ops.average_pool(x, self.pool_size, self.strides, padding="valid") * area

    def compute_output_shape(self, input_shape: Any) -> Any:
        b, h, w, c = input_shape
        oh, ow = (
            conv_length(n, k, s, self.padding) for n, k, s in zip((h, w), self.pool_size, self.strides, strict=True)
        )
        return (b, oh, ow, c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}


@serializable
class GlobalSumPooling2D(Layer):
    """Sum of each feature map (kept as a 1x1 map with ``keepdims``)."""

    def __init__(self, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keepdims = keepdims

    def call(self, x: Any) -> Any:
        return ops.sum(x, axis=(1, 2), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return (input_shape[0], 1, 1, input_shape[3]) if self.keepdims else (input_shape[0], input_shape[3])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "keepdims": self.keepdims}


@serializable
class LayerScale(Layer):
    """y = gamma * x with one learned factor per channel, each starting at ``init`` (ConvNeXt, CaiT)."""

    def __init__(self, init: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape: Any) -> None:
        self.gamma = self.add_weight(
            shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.init), name="gamma"
        )

    def call(self, x: Any) -> Any:
        return x * self.gamma

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "init": self.init}


@serializable
class ScaledAdd(Layer):
    """Sum of inputs, each times a constant: x + 0.17 r (InceptionResNet's residual scaling).
    A factor of 1 multiplies nothing, so the arithmetic is Keras' own x + r * s."""

    def __init__(self, scales: Sequence[float] = (1.0, 1.0), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scales = [float(v) for v in scales]

    def call(self, inputs: Any) -> Any:
        terms = [x if s == 1.0 else x * s for x, s in zip(inputs, self.scales, strict=True)]
        out = terms[0]
        for term in terms[1:]:
            out = out + term
        return out

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scales": self.scales}


ONE_CYCLE_START = 25.0
"""A one-cycle schedule starts at its peak divided by this (the div_factor of Smith's one-cycle policy)."""


@serializable
class EpochSchedule(LearningRateSchedule):
    """Learning rate as a function of the step, defined in epochs: warmup, then constant, step or cosine.

    Warmup rises linearly from lr/(warmup steps) to lr over ``warmup`` epochs. ``step`` multiplies by
    ``factor`` every ``every`` epochs after warmup; ``cosine`` falls from lr to ``min_learning_rate``
    between the end of warmup and the end of the last epoch. Under gradient accumulation (``accumulate`` batches per
    update; Keras counts batches) each update takes the rate of its first batch, so a run of accumulated batches
    follows the schedule that the same updates made of whole batches would.
    """

    def __init__(
        self,
        learning_rate: float,
        steps_per_epoch: int,
        epochs: int,
        kind: str = "constant",
        warmup: int = 0,
        every: int | None = None,
        factor: float = 0.1,
        min_learning_rate: float = 0.0,
        peak_at: float = 0.3,
        anneal: str = "cosine",
        accumulate: int = 1,
    ) -> None:
        self.learning_rate = float(learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)
        self.kind = kind
        self.warmup = int(warmup)
        self.every = every
        self.factor = float(factor)
        self.min_learning_rate = float(min_learning_rate)
        self.peak_at = float(peak_at)
        self.anneal = anneal
        self.accumulate = int(accumulate)

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        if self.accumulate > 1:
            step = ops.floor(step / self.accumulate) * self.accumulate
        spe = float(self.steps_per_epoch)
        lr = ops.convert_to_tensor(self.learning_rate, "float32")
        after = ops.maximum(step - self.warmup * spe, 0.0)  # steps since warmup ended
        if self.kind == "step":
            assert self.every is not None, "a step schedule has `every` (the spec's validation requires it)"
            lr = lr * ops.power(self.factor, ops.floor(after / (spe * self.every)))
        elif self.kind == "cosine":
            span = max(self.epochs - self.warmup, 1) * spe
            progress = ops.minimum(after / span, 1.0)
            low = self.min_learning_rate
            lr = low + (lr - low) * 0.5 * (1.0 + ops.cos(math.pi * progress))
        elif self.kind == "one_cycle":
            lr = self._one_cycle(step, lr)
        if self.warmup:
            ramp = ops.minimum((step + 1.0) / (self.warmup * spe), 1.0)
            lr = lr * ramp
        return lr

    def _one_cycle(self, step: Any, peak: Any) -> Any:
        """One cycle: linear from peak/ONE_CYCLE_START to the peak over the first peak_at of all steps, then down to
        min_learning_rate by the last step (half a cosine, or a line)."""
        total = max(self.epochs * self.steps_per_epoch, 1)
        rise = max(self.peak_at * total, 1.0)
        start = peak / ONE_CYCLE_START
        up = start + (peak - start) * ops.minimum(step / rise, 1.0)
        fall = ops.clip((step - rise) / max(total - 1 - rise, 1.0), 0.0, 1.0)
        low = self.min_learning_rate
        down = low + (peak - low) * (0.5 * (1.0 + ops.cos(math.pi * fall)) if self.anneal == "cosine" else 1.0 - fall)
        return ops.where(step < rise, up, down)

    def value_at(self, step: int) -> float:
        return float(ops.convert_to_numpy(self(step)))

    def get_config(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
            "kind": self.kind,
            "warmup": self.warmup,
            "every": self.every,
            "factor": self.factor,
            "min_learning_rate": self.min_learning_rate,
            "peak_at": self.peak_at,
            "anneal": self.anneal,
            "accumulate": self.accumulate,
        }


@serializable
class SumSquaredError(Loss):
    """The primer's total error: E = sum over classes of 1/2 (target - output)^2, averaged over the batch.

    Outputs are probabilities (a softmax layer); with ``from_logits`` the softmax is applied here.
    """

    def __init__(
        self, from_logits: bool = False, label_smoothing: float = 0.0, name: str = "sum_squared_error", **kwargs: Any
    ) -> None:
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


@serializable
class GroupedConv2D(Layer):
    """Conv2D with `groups`, computed from operations every converter knows: a depthwise convolution
    when there is one group per input channel (ConvNeXt), else one convolution per group on its slice
    of the channels, concatenated. The weights are Conv2D's, same shapes, so they are copied as they
    are. Keras runs grouped Conv2D on TensorFlow as an XLA function, which tf2onnx cannot convert;
    `archspec export` swaps this layer in for the ONNX file only."""

    def __init__(
        self,
        filters: int,
        kernel_size: Sequence[int] = (3, 3),
        strides: Sequence[int] = (1, 1),
        padding: str = "valid",
        dilation_rate: Sequence[int] = (1, 1),
        groups: int = 1,
        use_bias: bool = True,
        activation: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filters, self.groups, self.use_bias, self.padding = filters, groups, use_bias, padding
        self.kernel_size, self.strides, self.dilation_rate = tuple(kernel_size), tuple(strides), tuple(dilation_rate)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape: Any) -> None:
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, input_shape[-1] // self.groups, self.filters), name="kernel"
        )
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias") if self.use_bias else None

    def call(self, x: Any) -> Any:
        channels = x.shape[-1]
        if self.groups == channels:  # depthwise: output channel c*m + j reads input channel c
            kernel = ops.reshape(self.kernel, (*self.kernel_size, channels, self.filters // channels))
            y = ops.depthwise_conv(x, kernel, self.strides, self.padding, dilation_rate=self.dilation_rate)
        else:
            pieces = zip(ops.split(x, self.groups, axis=-1), ops.split(self.kernel, self.groups, axis=-1), strict=True)
            y = ops.concatenate(
                [ops.conv(xi, ki, self.strides, self.padding, dilation_rate=self.dilation_rate) for xi, ki in pieces],
                axis=-1,
            )
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape: Any) -> Any:
        b, h, w, _ = input_shape
        oh, ow = (
            conv_length(n, k, s, self.padding, d)
            for n, k, s, d in zip((h, w), self.kernel_size, self.strides, self.dilation_rate, strict=True)
        )
        return (b, oh, ow, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "use_bias": self.use_bias,
            "activation": keras.activations.serialize(self.activation),
        }


@serializable
def erf_gelu(x: Any) -> Any:
    """GELU as 0.5 x (1 + erf(x / sqrt 2)): Keras' exact GELU on TensorFlow uses erfc, which ONNX
    lacks; `archspec export` puts this in its place for the ONNX file only."""
    return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))


@serializable
class ErfGelu(Layer):
    """An Activation('gelu') layer computed as `erf_gelu`."""

    def call(self, x: Any) -> Any:
        return erf_gelu(x)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


@serializable
class ConstantNormalization(Layer):
    """Keras' Normalization, (x - mean) / max(sqrt(variance), epsilon), with the statistics as constants
    of the computation: Keras keeps them as tensors made when the layer is built, which tf2onnx takes
    for missing inputs. `archspec export` swaps this layer in for the ONNX file only."""

    def __init__(self, mean: Any = 0.0, variance: Any = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean, self.variance = mean, variance

    def call(self, x: Any) -> Any:
        mean = ops.convert_to_tensor(self.mean, dtype=x.dtype)
        std = ops.maximum(ops.sqrt(ops.convert_to_tensor(self.variance, dtype=x.dtype)), keras.config.epsilon())
        return (x - mean) / std

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "variance": self.variance}


class Steps(Layer):
    """Steps given as a function of keras.ops tensors (a run's preprocessing plan, the output step `predict` takes), run
    inside `call`: their constants are then made while the export traces the model, as constants of the computation
    (made outside, as tensors, tf2onnx takes them for missing inputs). For export only: not saved, not trained."""

    def __init__(self, steps: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(trainable=False, **kwargs)
        self.steps = steps

    def call(self, x: Any) -> Any:
        return self.steps(x)


@serializable
class SegmentationLoss(Loss):
    """A class per pixel: sparse cross-entropy averaged over the pixels, the Dice loss (1 - the mean over classes
    of 2|truth ∩ prediction| / (|truth| + |prediction|), soft), or their sum.

    Dice weighs every class alike however few its pixels, which cross-entropy alone does not: a digit is a small
    part of a canvas. It is taken over the whole batch (nnU-Net's "batch Dice"): an image holds few of the classes,
    and Dice per image would push every class it lacks towards zero, which can silence a class for good.
    `classes` 1 is one sigmoid channel (foreground or not), its masks (B, H, W, 1) of 0 and 1."""

    def __init__(
        self,
        classes: int,
        from_logits: bool = False,
        crossentropy: bool = True,
        dice: bool = False,
        name: str = "segmentation",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.classes, self.from_logits, self.crossentropy, self.dice = (
            int(classes),
            bool(from_logits),
            bool(crossentropy),
            bool(dice),
        )

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        if self.classes == 1:
            p = ops.sigmoid(y_pred) if self.from_logits else y_pred
            truth = ops.cast(y_true, p.dtype)
            probs, onehot = ops.concatenate([1 - p, p], axis=-1), ops.concatenate([1 - truth, truth], axis=-1)
            pixel = (
                ops.binary_crossentropy(truth, y_pred, from_logits=self.from_logits)[..., 0]
                if self.crossentropy
                else None
            )
        else:
            labels = ops.cast(y_true, "int32")
            probs = ops.softmax(y_pred, axis=-1) if self.from_logits else y_pred
            onehot = ops.one_hot(labels, self.classes, dtype=probs.dtype)
            pixel = (
                ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=self.from_logits)
                if self.crossentropy
                else None
            )
        total = ops.mean(pixel, axis=(1, 2)) if pixel is not None else ops.zeros(ops.shape(probs)[:1], probs.dtype)
        if self.dice:
            inter = ops.sum(onehot * probs, axis=(0, 1, 2))
            sizes = ops.sum(onehot + probs, axis=(0, 1, 2))
            total = total + (1.0 - ops.mean((2.0 * inter + 1.0) / (sizes + 1.0)))  # the batch's, for each of its images
        return total

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "classes": self.classes,
            "from_logits": self.from_logits,
            "crossentropy": self.crossentropy,
            "dice": self.dice,
        }


# Keyed by the registered name (`archspec>LayerScale`), never the bare class name: a bare `LayerScale` here would
# stand in for every class of that name in a file, and Keras' own (keras.applications' ConvNeXt saves its
# LayerScale under that bare name) would then be built from archspec's class and fail to load.
CUSTOM_OBJECTS = {
    keras.saving.get_registered_name(cls): cls
    for cls in (
        LocalResponseNormalization,
        SumPooling2D,
        GlobalSumPooling2D,
        LayerScale,
        ScaledAdd,
        GroupedConv2D,
        ErfGelu,
        ConstantNormalization,
        EpochSchedule,
        SumSquaredError,
        SegmentationLoss,
        PixelMeanIoU,
        PixelAccuracy,
    )
}
