"""Training-time augmentation from Keras' own preprocessing layers, inside tf.data, keyed by the batch.

`training.data.augment` names what to do; `Augmenter` builds the Keras layers once (RandomZoom,
RandomRotation, RandomColorJitter, RandAugment, RandomErasing, MixUp, CutMix; the random resized
crop is ``tf.image.crop_and_resize`` on boxes drawn here, since this Keras has no layer for it) and
applies them to a batch after archspec's own flip/translate (``augment`` below, kept: it is
faster for what it does).

Why it works on pixels: the input pipeline's cache holds the plan's output (rescaled, normalised).
Keras' colour layers expect pixels in a known range (`value_range`) and fill in a constant, so a
batch is taken back to pixels (the plan's value step undone: 0..255 for 8-bit sources, 0..1 for
float ones), augmented there with black (0) filled in, and put through the value step again.

Why the seeds are keyed: Keras' layers draw from a `SeedGenerator`, a variable whose state moves
with every batch, so the batches would depend on the order tf.data's parallel map ran them and a
resumed run would see others. Each layer's seed generator is replaced by `Keyed`, which draws
every seed from the batch's key (seed, epoch, step) and a count of the draws in the traced
function: the same key gives the same augmentation, whatever ran before it.

None of this is in the preprocessing plan: `predict`, `evaluate` and export never augment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...spec.training import Augment

KERAS_KEY = 31337
"""Folded into a batch's key for the Keras stage: its draws are none of the flip/translate path's."""


def keras_stage(aug: Augment) -> bool:
    """Whether `aug` asks for anything beyond the fast flip/translate path."""
    return bool(aug.keras_steps())


def mixes(aug: Augment) -> bool:
    """Whether `aug` mixes images of a batch (and so their labels)."""
    return bool(aug.mixup or aug.cutmix)


def describe(aug: Augment) -> str:
    """One line, in the order the steps run: ``flip horizontal, translate 2 px, zoom ±10 %, mixup α=0.2``."""
    parts: list[str] = []
    if aug.flip != "none":
        parts.append(f"flip {aug.flip}")
    if aug.translate:
        parts.append(f"translate {aug.translate:g} px" if aug.translate >= 1 else f"translate ±{aug.translate:.0%}")
    if aug.crop:
        parts.append(
            f"resized crop {aug.crop.scale[0]:.0%}-{aug.crop.scale[1]:.0%} of the area, "
            f"ratio {aug.crop.ratio[0]:.3g}-{aug.crop.ratio[1]:.3g}"
        )
    if aug.zoom:
        parts.append(f"zoom ±{aug.zoom:.0%}")
    if aug.rotate:
        parts.append(f"rotate ±{aug.rotate:g}°")
    for name in ("brightness", "contrast", "saturation", "hue"):
        if getattr(aug, name):
            parts.append(f"{name} {getattr(aug, name):g}")
    if aug.randaugment:
        parts.append(f"randaugment {aug.randaugment.ops} ops at {aug.randaugment.magnitude:g}")
    if aug.erase:
        parts.append(
            f"erase p={aug.erase.probability:g} ({aug.erase.scale[0]:.0%}-{aug.erase.scale[1]:.0%} of the area)"
        )
    if aug.mixup and aug.cutmix:
        parts.append(f"mixup α={aug.mixup:g} or cutmix α={aug.cutmix:g} per batch")
    elif aug.mixup:
        parts.append(f"mixup α={aug.mixup:g}")
    elif aug.cutmix:
        parts.append(f"cutmix α={aug.cutmix:g}")
    return ", ".join(parts) or "none"


def record(aug: Augment) -> dict[str, Any]:
    """What run.json says about the augmentation (training images only; no part of the preprocessing plan)."""
    return {"text": describe(aug), "settings": aug.model_dump(mode="json"), "applies_to": "training images only"}


def _keyed() -> Any:
    """A `keras.random.SeedGenerator` whose every seed comes from the batch's key (set before each call), not from a
    variable: stateless, so a batch's augmentation depends on its key alone."""
    import tensorflow as tf
    from keras.random import SeedGenerator

    class Keyed(SeedGenerator):  # type: ignore[misc]  # keras is untyped
        def __init__(self) -> None:  # no variable: nothing to carry between batches
            self.name, self.key, self.count = "archspec_keyed_seed", None, 0

        def next(self, ordered: bool = True) -> Any:
            self.count += 1
            return tf.random.experimental.stateless_fold_in(self.key, self.count)

    return Keyed()


class Augmenter:
    """The Keras stage for one augmentation and one plan's pixel range, its layers built once.

    `__call__(x, y, key)` takes a batch of plan values (B, H, W, C), its one-hot labels and its key (int64 (2,)), and
    returns both augmented: per-image steps first, then MixUp or CutMix on the batch."""

    def __init__(
        self,
        aug: Augment,
        *,
        channels: int,
        pixel_max: float,
        to_pixels: Callable[[Any], Any],
        from_pixels: Callable[[Any], Any],
    ) -> None:
        import keras

        self.aug, self.to_pixels, self.from_pixels = aug, to_pixels, from_pixels
        self.seeds = _keyed()
        span = (0.0, float(pixel_max))
        fill = {"fill_mode": "constant", "fill_value": 0.0}
        layers: list[Any] = []
        if aug.zoom:
            layers.append(keras.layers.RandomZoom((-aug.zoom, aug.zoom), **fill))
        if aug.rotate:
            layers.append(keras.layers.RandomRotation(aug.rotate / 360.0, **fill))
        if aug.brightness or aug.contrast or aug.saturation or aug.hue:
            layers.append(
                keras.layers.RandomColorJitter(
                    value_range=span,
                    brightness_factor=aug.brightness or None,
                    contrast_factor=aug.contrast or None,
                    saturation_factor=aug.saturation or None,  # colour inputs only (graph/checks.py)
                    hue_factor=aug.hue or None,
                )
            )
        if aug.randaugment:
            layers.append(
                keras.layers.RandAugment(
                    value_range=span, num_ops=aug.randaugment.ops, factor=aug.randaugment.magnitude
                )
            )
        if aug.erase:
            p = aug.erase.probability
            layers.append(
                keras.layers.RandomErasing(factor=(p, p), scale=aug.erase.scale, fill_value=0.0, value_range=span)
            )
        self.layers = layers
        self.mixup = keras.layers.MixUp(alpha=aug.mixup) if aug.mixup else None
        self.cutmix = keras.layers.CutMix(factor=aug.cutmix) if aug.cutmix else None
        self.gray = channels == 1
        for layer in [*layers, self.mixup, self.cutmix]:
            if layer is not None:
                layer._get_seed_generator = self._seed  # every draw from the batch's key

    def _seed(self, backend: Any = None) -> Any:
        return self.seeds

    def __call__(self, x: Any, y: Any, key: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        self.seeds.key, self.seeds.count = tf.random.experimental.stateless_fold_in(key, KERAS_KEY), 0
        pixels = self.to_pixels(x)
        if self.aug.crop:
            pixels = resized_crop(pixels, self.seeds.next(), self.aug.crop.scale, self.aug.crop.ratio)
        for layer in self.layers:
            pixels = self._per_image(layer, pixels)
        if self.mixup is not None or self.cutmix is not None:
            pixels, y = self._mix(pixels, y)
        return self.from_pixels(pixels), y

    def _per_image(self, layer: Any, pixels: Any) -> Any:
        """One Keras layer on the batch; RandAugment's colour operations want three channels, so a grey batch goes
        through it as RGB and comes back as the channels' mean."""
        import keras
        import tensorflow as tf

        if self.gray and isinstance(layer, keras.layers.RandAugment):
            return tf.reduce_mean(layer(tf.repeat(pixels, 3, axis=-1), training=True), axis=-1, keepdims=True)
        return layer(pixels, training=True)

    def _mix(self, pixels: Any, y: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        def run(layer: Any) -> Callable[[], tuple[Any, Any]]:
            def apply() -> tuple[Any, Any]:
                data = {"images": pixels, "labels": y}
                change = layer.get_random_transformation(data, training=True, seed=self.seeds)
                if layer is self.cutmix:  # Keras weighs by the box's real-valued area; the pixels pasted are a
                    # whole number of them: weigh the labels by the share of pixels actually pasted instead
                    pasted = tf.cast(change["batch_masks"][..., :1], tf.float32)
                    change["mix_weight"] = 1.0 - tf.reduce_mean(pasted, axis=[1, 2, 3])
                images = layer.transform_images(pixels, change, training=True)
                labels = layer.transform_labels(y, change, training=True)
                return tf.cast(images, pixels.dtype), tf.cast(labels, y.dtype)

            return apply

        if self.mixup is not None and self.cutmix is not None:
            coin = tf.random.stateless_uniform([], self.seeds.next()) < 0.5
            mixed: tuple[Any, Any] = tf.cond(coin, run(self.mixup), run(self.cutmix))
            return mixed
        return run(self.mixup if self.mixup is not None else self.cutmix)()


def resized_crop(pixels: Any, seed: Any, scale: tuple[float, float], ratio: tuple[float, float]) -> Any:
    """Random resized crop (as in Inception and timm): per image a box of a random share of the area (uniform in
    `scale`) and aspect ratio (log-uniform in `ratio`), inside the image, resized back to the batch's size."""
    import tensorflow as tf

    batch, h, w = tf.shape(pixels)[0], pixels.shape[1], pixels.shape[2]
    seeds = tf.random.experimental.stateless_split(seed, 4)
    area = tf.random.stateless_uniform([batch], seeds[0], scale[0], scale[1])
    log_ratio = tf.random.stateless_uniform([batch], seeds[1], math.log(ratio[0]), math.log(ratio[1]))
    aspect = tf.exp(log_ratio) * (h / w)  # width / height in pixels -> in shares of each side
    bw = tf.minimum(tf.sqrt(area * aspect), 1.0)
    bh = tf.minimum(tf.sqrt(area / aspect), 1.0)
    y0 = tf.random.stateless_uniform([batch], seeds[2]) * (1.0 - bh)
    x0 = tf.random.stateless_uniform([batch], seeds[3]) * (1.0 - bw)
    boxes = tf.stack([y0, x0, y0 + bh, x0 + bw], axis=1)
    return tf.image.crop_and_resize(pixels, boxes, tf.range(batch), (h, w))


def for_plan(aug: Augment, p: Any) -> Augmenter | None:
    """The Keras stage for a run whose images follow plan `p` (``plan.Plan``), or None when `aug` asks for none."""
    if not keras_stage(aug):
        return None
    import tensorflow as tf

    channels = p.input_shape[2]
    scale = tf.constant(p.scale, tf.float32)
    mean = tf.constant(np.broadcast_to(p.mean if p.mean else 0.0, [channels]), tf.float32)
    std = tf.constant(np.broadcast_to(p.std if p.std else 1.0, [channels]), tf.float32)
    return Augmenter(
        aug,
        channels=channels,
        pixel_max=255.0 if p.pixels == "uint8" else 1.0,
        to_pixels=lambda x: (x * std + mean) / scale,
        from_pixels=lambda px: (px * scale - mean) / std,
    )


_VIEWERS: dict[tuple[Any, ...], Augmenter | None] = {}
"""The last Keras stage `views` built, by its settings and plan values."""


def views(aug: Augment, p: Any, x: Any, count: int, seed: int = 0) -> np.ndarray:
    """`count` augmented views of one image as training would draw them: `x` is the network's input by plan `p`
    ((H, W, C) or (1, H, W, C)), the views are too ((count, H, W, C)), each from its own draws of the same steps
    (keyed by `seed`). MixUp and CutMix mix an image with others of its batch, so they are not part of a view."""
    import tensorflow as tf

    image = np.asarray(x, np.float32).reshape((1, *p.input_shape))
    batch = tf.constant(np.repeat(image, count, axis=0))
    key = tf.constant([seed, 0], tf.int64)
    fill = p.values(tf.zeros([p.input_shape[2]], tf.float32))
    out = augment(batch, key, aug, fill)
    settings = aug.model_copy(update={"mixup": 0.0, "cutmix": 0.0})
    known = (settings.model_dump_json(), p.input_shape, p.scale, p.mean, p.std, p.pixels)
    if known not in _VIEWERS:  # built once: the serve pane asks for every stroke
        _VIEWERS.clear()
        _VIEWERS[known] = for_plan(settings, p)
    stage = _VIEWERS[known]
    if stage is not None:
        out, _ = stage(out, tf.zeros([count, 1]), key)
    return np.asarray(out)


def augment(x: Any, seed: Any, aug: Any, fill: Any = 0.0) -> Any:
    """Random flips and shifts of a batch, stateless: the same seed gives the same result.

    Flips first, then a shift by a whole number of pixels; pixels shifted in take `fill` (one value,
    or one per channel). Each image is flipped and shifted by slicing, so an image costs a few copies."""
    import tensorflow as tf

    if aug.flip == "none" and not aug.translate:
        return x
    seeds = tf.random.experimental.stateless_split(seed, 4)
    batch, channels = tf.shape(x)[0], x.shape[-1]
    no = tf.zeros([batch], tf.bool)
    across = (
        tf.reshape(tf.random.stateless_uniform([batch, 1, 1, 1], seeds[0]) < 0.5, [batch])
        if aug.flip in ("horizontal", "both")
        else no
    )
    down = (
        tf.reshape(tf.random.stateless_uniform([batch, 1, 1, 1], seeds[1]) < 0.5, [batch])
        if aug.flip in ("vertical", "both")
        else no
    )
    dy = dx = tf.zeros([batch], tf.int32)
    if aug.translate:
        h, w = tf.cast(tf.shape(x)[1], tf.float32), tf.cast(tf.shape(x)[2], tf.float32)
        limit_y = aug.translate * h if aug.translate < 1 else tf.constant(float(aug.translate))
        limit_x = aug.translate * w if aug.translate < 1 else tf.constant(float(aug.translate))
        dy = tf.cast(tf.round(tf.random.stateless_uniform([batch], seeds[2], -1.0, 1.0) * limit_y), tf.int32)
        dx = tf.cast(tf.round(tf.random.stateless_uniform([batch], seeds[3], -1.0, 1.0) * limit_x), tf.int32)
    fill = tf.broadcast_to(tf.cast(fill, x.dtype), [channels])

    def one(args: Any) -> Any:
        image, flip_x, flip_y, shift_y, shift_x = args
        image = tf.cond(flip_x, lambda: tf.reverse(image, [1]), lambda: image)
        image = tf.cond(flip_y, lambda: tf.reverse(image, [0]), lambda: image)
        return _shift(_shift(image, shift_y, 0, fill), shift_x, 1, fill)

    return tf.map_fn(one, (x, across, down, dy, dx), fn_output_signature=tf.TensorSpec(x.shape[1:], x.dtype))


def _shift(image: Any, d: Any, axis: int, fill: Any) -> Any:
    """output[i] = image[i - d] along `axis` (0 rows, 1 columns), `fill` where that is outside the image."""
    import tensorflow as tf

    n = tf.shape(image)[axis]
    gone = tf.minimum(tf.abs(d), n)
    at = tf.one_hot(axis, 3, dtype=tf.int32)
    kept = tf.slice(image, at * tf.minimum(tf.maximum(-d, 0), n), tf.where(at == 1, n - gone, -1))
    before = tf.broadcast_to(fill, tf.where(at == 1, tf.where(d > 0, gone, 0), tf.shape(image)))
    after = tf.broadcast_to(fill, tf.where(at == 1, tf.where(d < 0, gone, 0), tf.shape(image)))
    return tf.concat([before, kept, after], axis)
