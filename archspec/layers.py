"""Keras layers archspec needs that Keras lacks, written with keras.ops only.

Registered serializable under the ``archspec`` package so a saved ``.keras``
file reloads once this module is imported (``import archspec`` does that
when Keras is already loaded; ``archspec.load_model`` always does).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="archspec")
class LocalResponseNormalization(keras.layers.Layer):
    """Krizhevsky et al. (2012) section 3.3, across channels:
    b = a / (bias + alpha * sum_{window of `size` channels} a^2) ^ beta."""

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, bias: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.bias = size, alpha, beta, bias

    def call(self, x):
        half = self.size // 2
        squared = ops.pad(ops.square(x), [[0, 0], [0, 0], [0, 0], [half, half]])
        channels = ops.shape(x)[-1]
        total = sum(squared[..., i : i + channels] for i in range(self.size))
        return x / ops.power(self.bias + self.alpha * total, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha, "beta": self.beta, "bias": self.bias}


@keras.saving.register_keras_serializable(package="archspec")
class SumPooling2D(keras.layers.Layer):
    """Sum over each window: average pooling times the window area, with
    'same' padding done as explicit zeros so border windows sum what they cover."""

    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = tuple(pool_size)
        self.strides = tuple(strides or pool_size)
        self.padding = padding

    def call(self, x):
        if self.padding == "same":
            pads = [[0, 0]]
            for axis in (1, 2):
                size, k, s = x.shape[axis], self.pool_size[axis - 1], self.strides[axis - 1]
                out = -(-size // s)
                total = max((out - 1) * s + k - size, 0)
                pads.append([total // 2, total - total // 2])
            x = ops.pad(x, pads + [[0, 0]])
        area = self.pool_size[0] * self.pool_size[1]
        return ops.average_pool(x, self.pool_size, self.strides, padding="valid") * area

    def compute_output_shape(self, input_shape):
        from .arith import conv_length

        b, h, w, c = input_shape
        oh, ow = (conv_length(n, k, s, self.padding) for n, k, s in zip((h, w), self.pool_size, self.strides))
        return (b, oh, ow, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}


@keras.saving.register_keras_serializable(package="archspec")
class GlobalSumPooling2D(keras.layers.Layer):
    """Sum of each feature map."""

    def call(self, x):
        return ops.sum(x, axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[3])


CUSTOM_OBJECTS = {
    cls.__name__: cls for cls in (LocalResponseNormalization, SumPooling2D, GlobalSumPooling2D)
}
