"""How fast the training input is, measured while training runs: is the model or the input the bottleneck?

Two clocks, read by the tf.data pipeline as it runs: ``tf.timestamp`` where it may run, and
``time.time`` through a ``tf.numpy_function`` under op determinism (which a seeded run enables and
which refuses ``tf.timestamp``; the Python call takes the GIL). A few readings per batch, not per
image, except that a folder's first epoch stamps each image's start:

- **waiting**: for each batch, the time from the training loop asking the pipeline for it to the
  batch being handed over. A first stage asks (a timestamp pulled just before the batch) and a last,
  sequential stage receives; with the pipeline's prefetch buffer full, the two are a few microseconds
  apart. Its share of the training loop's time is ``input_wait``: near 0 the model is the bottleneck,
  near 1 the input is.
- **busy**: the wall time during which at least one batch was being prepared (gathered from the
  cache, or decoded and fitted, then augmented), whatever the parallelism. Batches / busy time is what
  the input could deliver if nothing waited for it: ``input_images_per_second``. It is measured under the
  run's conditions, the model's use of the same CPU cores included.

Under a tf.distribute strategy the strategy's own per-device prefetch stands between the pipeline and
the step, so waiting is measured where the strategy asks, and can read lower than a step feels.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

WAITED, BUSY, BUSY_UNTIL, IMAGES = range(4)


class InputMeter:
    """Accumulates (seconds waited, seconds busy, end of the last busy time, images) as batches are handed over."""

    def __init__(self) -> None:
        self.totals = [0.0, 0.0, 0.0, 0.0]
        self._lock = threading.Lock()

    @staticmethod
    def now() -> Any:
        """A tensor: seconds since the epoch when it is computed (order it with control dependencies)."""
        import tensorflow as tf

        if _determinism():
            return tf.numpy_function(lambda: np.float64(time.time()), [], tf.float64, stateful=True)
        return tf.timestamp()

    def wrap(self, dataset: Any) -> Any:
        """The pipeline's last stage: (x, y, start, end) batches -> (x, y), adding to the totals as each is taken.

        `start` and `end` are `now()` when the batch's making started (its first image's, when it is made
        image by image) and ended."""
        import tensorflow as tf

        plain = tf.autograph.experimental.do_not_convert
        asked = tf.data.Dataset.counter().map(plain(lambda _: self.now()))  # pulled first by zip: when the loop asks

        def hand_over(asked_at: Any, batch: Any) -> Any:
            x, y, start, end = batch
            with tf.control_dependencies([x, y]):
                done = tf.numpy_function(self._add, [asked_at, start, end, tf.shape(x)[0]], tf.float64, stateful=True)
            with tf.control_dependencies([done]):
                return tf.identity(x), tf.identity(y)

        return tf.data.Dataset.zip((asked, dataset)).map(plain(hand_over))

    def _add(self, asked_at: float, start: float, end: float, images: int) -> np.float64:
        now = time.time()
        with self._lock:
            t = self.totals
            busy = max(end - max(start, t[BUSY_UNTIL]), 0.0)  # batches start in order: overlapping times count once
            self.totals = [t[WAITED] + now - asked_at, t[BUSY] + busy, max(t[BUSY_UNTIL], end), t[IMAGES] + images]
        return np.float64(now)

    def read(self) -> list[float]:
        with self._lock:
            return list(self.totals)


def _determinism() -> bool:
    """Whether TensorFlow's op determinism is on (unknown counts as on: the clock that always runs)."""
    try:
        from tensorflow.python.framework import config as tf_config

        return bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError):
        return True


def rates(before: list[float], after: list[float], seconds: float) -> dict[str, float]:
    """An epoch's figures from the totals at its start and at the end of its training loop (`seconds` later)."""
    images = after[IMAGES] - before[IMAGES]
    busy = after[BUSY] - before[BUSY]
    waited = after[WAITED] - before[WAITED]
    return {
        "images_per_second": round(images / seconds, 1) if seconds > 0 else 0.0,
        "input_images_per_second": round(images / busy, 1) if busy > 0 else 0.0,
        "input_wait": round(min(max(waited / seconds, 0.0), 1.0), 4) if seconds > 0 else 0.0,
    }
