"""tf.data pipelines: batches for training (shuffled, augmented) and for evaluation (in order).

In-memory sources (all but very large folders) go through one pipeline: each
epoch's order is a stateless shuffle keyed by (seed, epoch), each batch is
gathered, preprocessed and augmented in a parallel ``map`` whose random
augmentation is keyed by (seed, epoch, step). An epoch's data therefore
depends only on the seed and the epoch number: a resumed run sees exactly the
batches the uninterrupted run would have.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ...spec.training import Augment
from .plan import Plan
from .sources import Images

CACHE_BYTES = 1024**3
"""Largest preprocessed evaluation set cached in memory by tf.data."""


def augment(x: Any, seed: Any, aug: Any) -> Any:
    """Random flips and shifts of a batch, stateless: the same seed gives the same result."""
    import tensorflow as tf

    if aug.flip == "none" and not aug.translate:
        return x
    seeds = tf.random.experimental.stateless_split(seed, 4)
    batch = tf.shape(x)[0]
    if aug.flip in ("horizontal", "both"):
        flip = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[0]) < 0.5
        x = tf.where(flip, tf.reverse(x, axis=[2]), x)
    if aug.flip in ("vertical", "both"):
        flip = tf.random.stateless_uniform([batch, 1, 1, 1], seeds[1]) < 0.5
        x = tf.where(flip, tf.reverse(x, axis=[1]), x)
    if aug.translate:
        h, w = tf.cast(tf.shape(x)[1], tf.float32), tf.cast(tf.shape(x)[2], tf.float32)
        limit_y = aug.translate * h if aug.translate < 1 else tf.constant(float(aug.translate))
        limit_x = aug.translate * w if aug.translate < 1 else tf.constant(float(aug.translate))
        dy = tf.round(tf.random.stateless_uniform([batch], seeds[2], -1.0, 1.0) * limit_y)
        dx = tf.round(tf.random.stateless_uniform([batch], seeds[3], -1.0, 1.0) * limit_x)
        ones, zeros = tf.ones([batch]), tf.zeros([batch])
        # output(y, x) = input(y - dy, x - dx): the image moves by (dy, dx)
        transforms = tf.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], axis=1)
        x = tf.raw_ops.ImageProjectiveTransformV3(
            images=x, transforms=transforms, output_shape=tf.shape(x)[1:3], fill_value=0.0,
            interpolation="NEAREST", fill_mode="CONSTANT",
        )
    return x


def _options(shard: bool) -> Any:
    import tensorflow as tf

    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA if shard else tf.data.experimental.AutoShardPolicy.OFF
    )
    return options


def steps_per_epoch(count: int, batch_size: int, drop_remainder: bool) -> int:
    return count // batch_size if drop_remainder else -(-count // batch_size)


def train_dataset(images: Images, p: Plan, *, batch_size: int, seed: int, first_epoch: int, epochs: int, aug: Any, drop_remainder: bool = False) -> Any:
    """Batches for epochs first_epoch..epochs-1, (x, one-hot y); epoch e's order depends only on (seed, e)."""
    import tensorflow as tf

    if images.x is None:
        return _stream_train(images, p, batch_size=batch_size, seed=seed, aug=aug)
    pixels, fit = _pixels(images, p)
    x_all = tf.constant(pixels)
    y_all = tf.one_hot(tf.constant(images.y), p.classes, dtype=tf.float32)

    def fetch(key: Any, idx: Any) -> Any:
        return p.values(augment(fit(tf.gather(x_all, idx)), key, aug)), tf.gather(y_all, idx)

    ds = _epochs(images.count, batch_size=batch_size, seed=seed, first_epoch=first_epoch, epochs=epochs, drop_remainder=drop_remainder)
    ds = ds.map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(_options(shard=True))


def _epochs(n: int, *, batch_size: int, seed: int, first_epoch: int, epochs: int, drop_remainder: bool) -> Any:
    """(augmentation key, example indexes) of every batch of epochs first_epoch..epochs-1: each epoch's order a
    stateless shuffle keyed by (seed, epoch), each batch's key by (seed, epoch, step)."""
    import tensorflow as tf

    base = tf.constant(seed, tf.int64)

    def epoch(e: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=tf.stack([base, e]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=drop_remainder)
        return batches.enumerate().map(lambda step, idx: (tf.stack([base + 7919 * (e + 1), step]), idx))

    return tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch)


def _stream_train(images: Images, p: Plan, *, batch_size: int, seed: int, aug: Any) -> Any:
    import tensorflow as tf

    ds = _fitted_stream(images, p).map(lambda x, y: (x, tf.one_hot(y, p.classes)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.shuffle(min(images.count, 10_000), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    keys = tf.data.Dataset.counter().map(lambda step: tf.stack([tf.constant(seed, tf.int64), step]))
    ds = tf.data.Dataset.zip((ds, keys)).map(lambda xy, key: (p.values(augment(xy[0], key, aug)), xy[1]),
                                             num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options(shard=True))


def eval_dataset(images: Images, p: Plan, *, batch_size: int) -> Any:
    """Batches (x, one-hot y) in order, preprocessed, no augmentation; cached in memory when small enough."""
    import tensorflow as tf

    if images.x is None:
        ds = _fitted_stream(images, p).batch(batch_size)
    else:
        pixels, fit = _pixels(images, p)
        ds = tf.data.Dataset.from_tensor_slices((pixels, images.y)).batch(batch_size)
        ds = ds.map(lambda x, y: (fit(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda x, y: (p.values(x), tf.one_hot(y, p.classes)), num_parallel_calls=tf.data.AUTOTUNE)
    if images.count * math.prod(p.input_shape) * 4 <= CACHE_BYTES:
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options(shard=True))


def _pixels(images: Images, p: Plan) -> tuple[np.ndarray, Callable[[Any], Any]]:
    """The source's pixels, and the step that brings a batch of them to the input's size.

    A folder of several sizes is brought to the input's size here, once, each size by its own
    step (the one `predict` takes for an image of that size); any other source batch by batch."""
    if len(p.fits) == 1:
        return images.x, p.fits[0].apply  # type: ignore[return-value]
    import tensorflow as tf

    out = np.empty((images.count, *p.input_shape), np.float32)
    shapes = [image.shape for image in images.x]  # type: ignore[union-attr]
    for fit in p.fits:
        index = [i for i, shape in enumerate(shapes) if shape == fit.source]
        for start in range(0, len(index), 256):
            part = index[start : start + 256]
            out[part] = fit.apply(np.stack(list(images.x[part]))).numpy()  # type: ignore[index]
    return out, lambda x: tf.cast(x, tf.float32)


def _fitted_stream(images: Images, p: Plan) -> Any:
    """A streamed folder's (image at the input's size, label) pairs: each image fitted on its own."""
    import tensorflow as tf

    return images.stream.map(lambda x, y: (p.fits[0].apply(x), y), num_parallel_calls=tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------- named inputs and outputs


def examples_train_dataset(data: Any, net: Any, *, batch_size: int, seed: int, first_epoch: int, epochs: int, aug: Any,
                           drop_remainder: bool = False) -> Any:
    """Batches of a Prepared set (``examples.py``) for epochs first_epoch..epochs-1, in the order `train_dataset`
    takes: image inputs planned and augmented, a segmentation mask flipped with its image."""
    import tensorflow as tf

    constants = _constants(data, net)

    def fetch(key: Any, idx: Any) -> Any:
        return _structure(net, {k: f(tf.gather(v, idx), key, aug) for k, (v, f) in constants.items()})

    ds = _epochs(data.count, batch_size=batch_size, seed=seed, first_epoch=first_epoch, epochs=epochs, drop_remainder=drop_remainder)
    ds = ds.map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(_options(shard=True))


def examples_eval_dataset(data: Any, net: Any, *, batch_size: int) -> Any:
    """Batches of a Prepared set in order, preprocessed, no augmentation; cached in memory when small enough."""
    import tensorflow as tf

    constants = _constants(data, net)
    off = Augment()  # none
    ds = tf.data.Dataset.range(data.count).batch(batch_size)
    ds = ds.map(lambda idx: _structure(net, {k: f(tf.gather(v, idx), None, off) for k, (v, f) in constants.items()}),
                num_parallel_calls=tf.data.AUTOTUNE)
    size = sum(math.prod(shape) for shape in net.inputs.values()) * data.count * 4
    if size <= CACHE_BYTES:
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options(shard=True))


def _constants(data: Any, net: Any) -> dict[str, tuple[Any, Callable[[Any, Any, Any], Any]]]:
    """Per input and output (outputs as `out:NAME`): its array as a constant, and the step a batch of it goes through."""
    import tensorflow as tf

    out: dict[str, tuple[Any, Callable[[Any, Any, Any], Any]]] = {}
    for key, p in data.plans.items():
        pixels, fit = _pixels(data.examples.inputs[key], p)
        out[key] = (tf.constant(pixels), lambda x, k, aug, p=p, fit=fit: p.values(augment(fit(x), k, aug)))
    for key, vectors in data.vectors.items():
        out[key] = (tf.constant(vectors), lambda x, k, aug: x)
    for key, y in data.targets.items():
        output = net.outputs[key]
        if output.task == "classification":
            out[f"out:{key}"] = (tf.constant(y), lambda x, k, aug, n=output.classes: tf.one_hot(x, n, dtype=tf.float32))
        elif output.task == "segmentation":  # flipped as its image is: the same key draws the same flips
            out[f"out:{key}"] = (tf.constant(y), _mask_step)
        else:
            out[f"out:{key}"] = (tf.constant(y), lambda x, k, aug: x)
    return out


def _mask_step(mask: Any, key: Any, aug: Any) -> Any:
    import tensorflow as tf

    if aug.flip == "none":
        return mask
    plain = mask.dtype != tf.float32
    x = tf.cast(mask, tf.float32)[..., None] if plain else mask
    x = augment(x, key, aug)
    return tf.cast(x[..., 0], mask.dtype) if plain else x


def _structure(net: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
    """(x, y) as the Keras model takes them: mappings by name where the spec names them, else the one tensor."""
    x = {k: batch[k] for k in net.inputs}
    y = {k: batch[f"out:{k}"] for k in net.outputs}
    return (x if net.named_inputs else next(iter(x.values()))), (y if net.named_outputs else next(iter(y.values())))
