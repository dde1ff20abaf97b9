"""Squeeze-and-excitation as an archspec kind, registered through the `archspec.kinds` entry point.

Importing this module registers the kind `se_dense` (archspec's own `se` block uses 1x1 convolutions;
this one is the paper's form, with dense layers, as one custom Keras layer): schema, shape rule, parameter
and MAC counts, a Keras emitter, the Keras class it imports from, its colour in
diagrams and that `inspect` shows its feature maps, with no change to archspec itself.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

import archspec


class SqueezeExcite(archspec.LayerSpec):
    """Squeeze-and-excitation (Hu et al. 2018): channel weights from a global pool and two dense layers."""

    ratio: int = Field(16, gt=0, description="Reduction ratio r of the hidden layer (C / r units).")


def _hidden(a: SqueezeExcite, channels: int) -> int:
    return max(1, channels // a.ratio)


def infer(a: SqueezeExcite, inputs: list) -> tuple:
    (shape,) = inputs
    if len(shape) != 3:
        raise archspec.ShapeError(f"se_dense needs a feature map (H, W, C), got {list(shape)}")
    return shape


def params(a: SqueezeExcite, inputs: list, out: tuple) -> tuple[int, int]:
    c = inputs[0][-1]
    h = _hidden(a, c)
    return c * h + h + h * c + c, 0


def macs(a: SqueezeExcite, inputs: list, out: tuple) -> int:
    c = inputs[0][-1]
    return 2 * c * _hidden(a, c) + out[0] * out[1] * c


def emit(node: Any, inputs: list, keras: Any) -> Any:
    layer_cls = _layer_class(keras)
    return layer_cls(ratio=node.attrs.ratio, name=node.name)(inputs[0])


_CLASS: Any = None


def _layer_class(keras: Any) -> Any:
    """The Keras layer, defined on first use so that importing the plugin stays TensorFlow-free."""
    global _CLASS
    if _CLASS is None:

        @keras.saving.register_keras_serializable(package="archspec_se")
        class SqueezeExcitation(keras.layers.Layer):
            def __init__(self, ratio: int = 16, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.ratio = ratio

            def build(self, input_shape: Any) -> None:
                c = input_shape[-1]
                h = max(1, c // self.ratio)
                self.squeeze = keras.layers.Dense(h, activation="relu")
                self.excite = keras.layers.Dense(c, activation="sigmoid")
                self.squeeze.build((None, c))
                self.excite.build((None, h))

            def call(self, x: Any) -> Any:
                weights = self.excite(self.squeeze(keras.ops.mean(x, axis=(1, 2))))
                return x * weights[:, None, None, :]

            def get_config(self) -> dict:
                return {**super().get_config(), "ratio": self.ratio}

        _CLASS = SqueezeExcitation
    return _CLASS


def from_keras(layer: Any, rank: int) -> dict:
    """`archspec import` reads a SqueezeExcitation layer back into `se_dense` settings (defaults left out)."""
    return {} if layer.ratio == 16 else {"ratio": int(layer.ratio)}


COLOR = "#d46fb0"

archspec.register_kind(
    archspec.Primitive(
        kind="se_dense",
        schema=SqueezeExcite,
        infer=infer,
        emit=emit,
        params=params,
        macs=macs,
        summary="squeeze-and-excitation",
        keras_classes=("SqueezeExcitation",),
        from_keras=from_keras,
        color=COLOR,
        feature_maps=True,
    )
)
