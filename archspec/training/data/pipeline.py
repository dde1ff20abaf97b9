"""tf.data pipelines: batches for training (shuffled, augmented) and for evaluation (in order).

Training (``TrainingInput``) prepares every image once, in its first epoch: decoded (a folder's
files, in parallel), brought to the input's channels and size, and through the plan's values
(``Plan.prepare``). As that epoch makes its batches it puts the prepared images in the cache
(``cache``: memory, a file on disk, or nowhere when neither has room), so a later epoch only
gathers its batches from the cache and augments them:

- epoch e's order is a stateless shuffle keyed by (seed, e), and each batch's augmentation is
  keyed by (seed, e, step): an epoch's data depends only on the seed and the epoch number, so a
  resumed run sees exactly the batches the uninterrupted run would have, and every epoch draws
  its augmentation afresh;
- batches are made by a parallel ``map`` and prefetched (``AUTOTUNE``); they come in order when
  the run is seeded, in whichever order they are ready otherwise;
- a meter (``meter``) times the input while it runs.

The cache holds what the network would see without augmentation, computed by the same steps
as `evaluate` and `predict`; augmentation moves pixels and fills with the value a black pixel
takes after the plan's values, so augmenting the cached values is augmenting the pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...spec.training import Augment
from . import augmentation, cache, tfdata
from .augmentation import augment
from .decode import decode, orient, promote
from .meter import InputMeter
from .plan import Plan
from .sources import Images, file_names

CACHE_BYTES = 1024**3
"""Largest preprocessed evaluation set cached in memory by tf.data."""

Log = Callable[[str], Any]


def plain(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` as a tf.data function without AutoGraph: these functions branch in Python only, on what is known
    when they are traced, and converting them (and every function they call) takes seconds."""
    import tensorflow as tf

    unconverted: Callable[..., Any] = tf.autograph.experimental.do_not_convert(fn)
    return unconverted


def _options(deterministic: bool = True) -> Any:
    import tensorflow as tf

    options = tfdata.options(deterministic)  # no autotuning thread: its teardown stalled the end of `fit`
    options.experimental_optimization.inject_prefetch = False  # the meter's last stage must run when the batch is taken
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def steps_per_epoch(count: int, batch_size: int, drop_remainder: bool) -> int:
    return count // batch_size if drop_remainder else -(-count // batch_size)


CALIBRATION_KEY = 104729
"""Mixed into the seed for ``calibration_order``: its shuffle is none of the epochs' (those are keyed by the epoch)."""


def calibration_size(count: int, batch_size: int, batches: int) -> int:
    """Examples in `batches` full batches: fewer when the data hold fewer, all of them when they hold less than one."""
    return min(batches, count // batch_size) * batch_size or count


def calibration_order(count: int, batch_size: int, batches: int, seed: int) -> np.ndarray:
    """Example indices for ``calibration_size``, drawn without repeats by a shuffle keyed by the seed: the same run
    recalibrates on the same images."""
    return (
        np.random.default_rng([seed, CALIBRATION_KEY])
        .permutation(count)[: calibration_size(count, batch_size, batches)]
        .astype(np.int64)
    )


def _prepare_file(images: Images, p: Plan) -> Callable[[Any], Any]:
    """A TensorFlow function: index -> that file of a folder, decoded and through every step of the plan.

    The file must decode to the size its header gave `load`: one that does not, or does not decode, stops
    the pipeline with a TensorFlow error, which `sources.unreadable` turns into a located SpecError."""
    import tensorflow as tf

    files = tf.constant(file_names(images.files))  # bytes: a name that is not UTF-8 still names its file
    sizes = tf.constant(images.file_shapes[:, :2], tf.int32)  # type: ignore[index]  # a folder's: files, shapes
    turns = images.file_orientations if images.file_orientations is not None else np.ones(images.count, np.int64)
    orientations = tf.constant(turns, tf.int64)

    def one(i: Any) -> Any:
        image = orient(decode(tf.io.read_file(files[i])), orientations[i])
        with tf.control_dependencies([tf.debugging.assert_equal(tf.shape(image)[:2], sizes[i])]):
            return p.prepare(promote(image, images.shape[2]))

    return one


def prepared(images: Images, p: Plan) -> Callable[[Any], Any]:
    """A TensorFlow function: indices (B,) -> those images after every step of the plan, float32 (B, H, W, C)."""
    import tensorflow as tf

    if images.x is None:
        one = _prepare_file(images, p)
        return lambda idx: tf.map_fn(one, idx, fn_output_signature=tf.TensorSpec(p.input_shape, tf.float32))
    pixels = tf.constant(images.x)
    return lambda idx: p.apply(tf.gather(pixels, idx))


class TrainingInput:
    """A run's training batches, one dataset per `fit` call (``dataset``), timed by ``meter``.

    The first epoch of the first dataset prepares the images (the plan's every step, in parallel)
    and puts them in the cache as it makes its batches; later epochs gather from the cache. A cache
    that the first epoch did not finish (a `fit` stopped early) is filled again by the next dataset's
    first epoch. Where the cache goes (``cache.place``) is decided here; `log` says so when it is not
    memory, and what the first epoch does."""

    def __init__(
        self,
        images: Images,
        p: Plan,
        *,
        batch_size: int,
        seed: int,
        aug: Any,
        drop_remainder: bool = False,
        deterministic: bool = True,
        log: Log | None = None,
    ) -> None:
        self.images, self.plan, self.batch_size, self.seed, self.aug = images, p, batch_size, seed, aug
        self.drop_remainder, self.deterministic, self.log = drop_remainder, deterministic, log or (lambda _text: None)
        self.meter = InputMeter()
        self.keras = augmentation.for_plan(aug, p) if aug is not None else None  # Keras' layers, after flip/translate
        self.placement = cache.place((images.count, *p.input_shape), f"the {images.count:,} training images")
        if self.placement.message:
            self.log(f"input: {self.placement.message}")
        self._store: tuple[Callable[[Any, Any], Any], Callable[[Any], Any]] | None = None  # (put, fetch)
        self._written: Any = None  # a bool per image: in the cache

    def filled(self) -> bool:
        """Whether every image is in the cache."""
        return self._written is not None and bool(np.all(self._written.numpy()))

    def _cache(self) -> tuple[Callable[[Any, Any], Any], Callable[[Any], Any]]:
        """(put: (indices, images) -> the images, once in the cache; fetch: indices -> images from it), made once."""
        import tensorflow as tf

        if self._store is not None:
            return self._store
        shape = (self.images.count, *self.plan.input_shape)
        with tf.device("/cpu:0"):
            written = self._written = tf.Variable(tf.zeros([shape[0]], tf.bool), trainable=False, name="input_cached")
        if self.placement.where == "disk":
            disk = cache.disk_array(shape)

            def write(idx: np.ndarray, x: np.ndarray) -> np.ndarray:
                disk[idx] = x
                return idx

            def store(idx: Any, x: Any) -> Any:
                return tf.numpy_function(write, [idx, x], tf.int64)

            def fetch(idx: Any) -> Any:
                return tf.ensure_shape(tf.numpy_function(lambda i: disk[i], [idx], tf.float32), [None, *shape[1:]])
        else:
            with tf.device("/cpu:0"):
                memory = tf.Variable(tf.zeros(shape, tf.float32), trainable=False, name="input_cache")

            def store(idx: Any, x: Any) -> Any:
                return memory.scatter_update(tf.IndexedSlices(x, idx))

            def fetch(idx: Any) -> Any:
                return tf.gather(memory, idx)

        def put(idx: Any, x: Any) -> Any:
            with tf.control_dependencies([store(idx, x)]):
                marked = written.scatter_update(tf.IndexedSlices(tf.ones_like(idx, tf.bool), idx))
            with tf.control_dependencies([marked]):
                return tf.identity(x)

        self._store = (put, fetch)
        return self._store

    def dataset(self, first_epoch: int, epochs: int) -> Any:
        """Batches (x, one-hot y) for epochs first_epoch..epochs-1, with the examples' weights third when the source
        gives them (Keras' sample weights); epoch e's order depends only on (seed, e).

        The first epoch prepares its images from the source unless the cache is full already; the others
        gather from the cache (with no cache, every epoch prepares its own)."""
        import tensorflow as tf

        p, n, base = self.plan, self.images.count, tf.constant(self.seed, tf.int64)
        put, fetch = self._cache() if self.placement.where != "none" else (lambda idx, x: x, None)
        fill = p.values(tf.zeros([p.input_shape[2]], tf.float32))
        labels = tf.one_hot(tf.constant(self.images.y), p.classes, dtype=tf.float32)
        weights = None if self.images.weights is None else tf.constant(self.images.weights, tf.float32)
        parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": self.deterministic}
        timed = self.meter.timed

        def order(e: Any) -> Any:
            return tf.data.Dataset.from_tensor_slices(
                tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=tf.stack([base, e]))
            )

        def finish(e: Any, step: Any, idx: Any, x: Any, intervals: Any) -> Any:
            """A batch of prepared images augmented with its key, one-hot labels and the examples' weights when the
            source gives them; its stages' times, this one's last."""

            def make(x: Any, idx: Any) -> Any:
                key = tf.stack([base + 7919 * (e + 1), step])
                x, y = augment(x, key, self.aug, fill), tf.gather(labels, idx)
                if self.keras is not None:  # MixUp/CutMix: an example keeps the weight of the image it starts from
                    x, y = self.keras(x, y, key)
                return (x, y) + (() if weights is None else (tf.gather(weights, idx),))

            batch, interval = timed(make)(x, idx)
            return (*batch, tf.concat([intervals, interval], 0))

        def from_cache(first: int) -> Any:
            """Epochs first..epochs-1 gathered from the cache, in one parallel map across them (no pause between)."""

            def index_batches(e: Any) -> Any:
                batches = order(e).batch(self.batch_size, drop_remainder=self.drop_remainder).enumerate()
                return batches.map(plain(lambda step, idx: (e, step, idx)))

            def gather(e: Any, step: Any, idx: Any) -> Any:
                return (e, step, idx, *timed(fetch)(idx))

            return tf.data.Dataset.range(first, epochs).flat_map(plain(index_batches)).map(plain(gather), **parallel)

        def from_source(e: Any) -> Any:
            """Epoch e's batches prepared from the source, each put in the cache (when there is one)."""
            if self.images.x is None:  # a file per call: decoding dominates
                one = timed(_prepare_file(self.images, p))
                batches = order(e).map(plain(lambda i: (i, *one(i))), **parallel).batch(self.batch_size)
                batches = batches.map(plain(lambda idx, x, intervals: (idx, x, tf.reshape(intervals, [-1, 2]))))
            else:
                prepare = timed(prepared(self.images, p))
                batches = order(e).batch(self.batch_size).map(plain(lambda idx: (idx, *prepare(idx))), **parallel)

            def stored(step: Any, item: Any) -> Any:
                idx, x, intervals = item
                x, interval = timed(put)(idx, x)
                return e, step, idx, x, tf.concat([intervals, interval], 0)

            ds = batches.enumerate().map(plain(stored), **parallel)
            if self.drop_remainder:  # every image goes into the cache: the last partial batch is dropped only now
                ds = ds.filter(plain(lambda e, step, idx, x, intervals: tf.size(idx) == self.batch_size))
            return ds

        if fetch is None:
            ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(plain(from_source))
        elif self.filled():
            ds = from_cache(first_epoch)
        else:
            where = "in memory" if self.placement.where == "memory" else "on disk"
            self.log(
                f"input: epoch {first_epoch + 1} prepares the {n:,} training images and caches them {where} "
                f"({cache.gb(self.placement.nbytes)}) for the epochs after it"
            )
            # concatenate: the later epochs start gathering only once the first has put every image
            ds = from_source(tf.constant(first_epoch, tf.int64)).concatenate(from_cache(first_epoch + 1))
        ds = ds.map(plain(finish), **parallel)
        return self.meter.wrap(ds.prefetch(tf.data.AUTOTUNE)).with_options(_options(self.deterministic))

    def calibration(self, batches: int) -> Any:
        """Batches of training images as prediction sees them (the plan, no augmentation) for ``precise_bn``: up to
        `batches`, at most one pass, in an order fixed by the seed. From the cache once the first epoch filled it."""
        import tensorflow as tf

        fetch = (
            self._cache()[1] if self.placement.where != "none" and self.filled() else prepared(self.images, self.plan)
        )
        order = calibration_order(self.images.count, self.batch_size, batches, self.seed)
        ds = tf.data.Dataset.from_tensor_slices(order).batch(self.batch_size)
        return (
            ds.map(plain(fetch), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(1)
            .with_options(_options())
        )


def train_dataset(
    images: Images,
    p: Plan,
    *,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    aug: Any,
    drop_remainder: bool = False,
) -> Any:
    """Batches for epochs first_epoch..epochs-1, (x, one-hot y), from a `TrainingInput` of their own."""
    return TrainingInput(images, p, batch_size=batch_size, seed=seed, aug=aug, drop_remainder=drop_remainder).dataset(
        first_epoch, epochs
    )


def eval_dataset(images: Images, p: Plan, *, batch_size: int) -> Any:
    """Batches (x, one-hot y) in order, preprocessed, no augmentation; cached in memory when small enough."""
    import tensorflow as tf

    if (
        images.x is None
    ):  # a folder: its files decoded in parallel, then batched (a map_fn over a batch decodes in turn)
        one = _prepare_file(images, p)
        labels = tf.one_hot(tf.constant(images.y), p.classes)
        ds = tf.data.Dataset.range(images.count).map(
            plain(lambda i: (one(i), labels[i])), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        ds = ds.batch(batch_size)
    else:
        prepare = prepared(images, p)
        ds = tf.data.Dataset.range(images.count).batch(batch_size)
        ds = ds.map(
            plain(lambda idx: (prepare(idx), tf.one_hot(tf.gather(images.y, idx), p.classes))),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    nbytes = images.count * math.prod(p.input_shape) * 4
    if nbytes <= CACHE_BYTES and cache.fits_in_memory(nbytes):
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


# ----------------------------------------------------------------------------- named inputs and outputs


def _epochs(n: int, *, batch_size: int, seed: int, first_epoch: int, epochs: int, drop_remainder: bool) -> Any:
    """(augmentation key, example indexes) of every batch of epochs first_epoch..epochs-1, keyed as `TrainingInput`
    keys them: each epoch's order a stateless shuffle by (seed, epoch), each batch's augmentation by (seed, epoch,
    step)."""
    import tensorflow as tf

    base = tf.constant(seed, tf.int64)

    def epoch(e: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=tf.stack([base, e]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=drop_remainder)
        return batches.enumerate().map(plain(lambda step, idx: (tf.stack([base + 7919 * (e + 1), step]), idx)))

    return tf.data.Dataset.range(first_epoch, epochs).flat_map(plain(epoch))


class ExamplesInput:
    """A Prepared set's (``examples.py``) training batches, with `TrainingInput`'s interface: image inputs through
    their plans and augmented, a segmentation mask flipped and shifted with its image (the same key draws the same
    moves). Its arrays are in memory already, so there is no cache to fill; the meter times it as it times
    `TrainingInput`, so an epoch of any network reports its images per second."""

    def __init__(
        self,
        data: Any,
        net: Any,
        *,
        batch_size: int,
        seed: int,
        aug: Any,
        drop_remainder: bool = False,
        deterministic: bool = True,
        log: Log | None = None,
    ) -> None:
        self.data, self.net, self.batch_size, self.seed, self.aug, self.drop_remainder = (
            data,
            net,
            batch_size,
            seed,
            aug,
            drop_remainder,
        )
        self.meter = InputMeter()

    def dataset(self, first_epoch: int, epochs: int) -> Any:
        """Batches for epochs first_epoch..epochs-1, in the order `TrainingInput` takes them."""
        import tensorflow as tf

        if self.aug.keras_steps():  # graph/checks.py refuses it first, located; this is the backstop
            raise ValueError("Keras' augmentation layers apply to one image input and one classification output")

        steps = _steps(self.data, self.net)

        def make(key: Any, idx: Any) -> Any:
            return _structure(self.net, {k: step(idx, key, self.aug) for k, step in steps.items()})

        def fetch(key: Any, idx: Any) -> Any:
            (x, y), interval = self.meter.timed(make)(key, idx)
            return x, y, interval

        ds = _epochs(
            self.data.count,
            batch_size=self.batch_size,
            seed=self.seed,
            first_epoch=first_epoch,
            epochs=epochs,
            drop_remainder=self.drop_remainder,
        )
        ds = ds.map(plain(fetch), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
        return self.meter.wrap(ds).with_options(_options())

    def calibration(self, batches: int) -> Any:
        """The inputs of `TrainingInput.calibration`'s batches: the plans' steps, no augmentation, a seeded order."""
        import tensorflow as tf

        steps, off = _steps(self.data, self.net), Augment()
        order = calibration_order(self.data.count, self.batch_size, batches, self.seed)
        ds = tf.data.Dataset.from_tensor_slices(order).batch(self.batch_size)
        ds = ds.map(
            plain(lambda idx: _structure(self.net, {k: step(idx, None, off) for k, step in steps.items()})[0]),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        return ds.prefetch(1).with_options(_options())


def examples_eval_dataset(data: Any, net: Any, *, batch_size: int) -> Any:
    """Batches of a Prepared set in order, preprocessed, no augmentation; cached in memory when small enough."""
    import tensorflow as tf

    steps = _steps(data, net)
    off = Augment()  # none
    ds = tf.data.Dataset.range(data.count).batch(batch_size)
    ds = ds.map(
        plain(lambda idx: _structure(net, {k: step(idx, None, off) for k, step in steps.items()})),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    nbytes = sum(math.prod(shape) for shape in net.inputs.values()) * data.count * 4
    if nbytes <= CACHE_BYTES and cache.fits_in_memory(nbytes):
        ds = ds.cache()
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_options())


def _steps(data: Any, net: Any) -> dict[str, Callable[..., Any]]:
    """Per input and output (outputs as `out:NAME`): (indices, augmentation key, augmentation) -> that batch of it."""
    import tensorflow as tf

    out: dict[str, Callable[..., Any]] = {}  # (indices, key, augmentation), and the values each binds
    for key, p in data.plans.items():  # an image input: the plan's every step, as classic training takes them
        fill = p.values(tf.zeros([p.input_shape[2]], tf.float32))
        prep = prepared(data.examples.inputs[key], p)
        out[key] = lambda idx, k, aug, prep=prep, fill=fill: augment(prep(idx), k, aug, fill)
    for key, vectors in data.vectors.items():
        v = tf.constant(vectors)
        out[key] = lambda idx, k, aug, v=v: tf.gather(v, idx)
    for key, y in data.targets.items():
        output, y = net.outputs[key], tf.constant(y)
        if output.task == "classification":
            out[f"out:{key}"] = lambda idx, k, aug, y=y, n=output.classes: tf.one_hot(
                tf.gather(y, idx), n, dtype=tf.float32
            )
        elif output.task == "segmentation":
            out[f"out:{key}"] = lambda idx, k, aug, y=y: _mask_step(tf.gather(y, idx), k, aug)
        else:
            out[f"out:{key}"] = lambda idx, k, aug, y=y: tf.gather(y, idx)
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
