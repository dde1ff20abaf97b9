"""How fast the training input is, measured while training runs: is the model or the input the bottleneck?

Two clocks, read by the tf.data pipeline as it runs: ``tf.timestamp`` where it may run, and
``time.time`` through a ``tf.numpy_function`` under op determinism (which a seeded run enables and
which refuses ``tf.timestamp``; the Python call takes the GIL). A few readings per batch, not per
image, except that a folder's first epoch stamps each image's start:

- **waiting**: for each batch, how long after the training loop asked the pipeline for it the batch
  was ready (0 when it was waiting in the prefetch buffer). A first stage stamps the ask (pulled
  just before the batch); the batch carries the stamp taken when its making ended. Its share of the
  training loop's time is ``input_wait``: near 0 the model is the bottleneck, near 1 the input is.
- **busy**: the wall time during which the pipeline was working on at least one batch: each stage
  (gathering from the cache, or decoding and fitting an image, putting a batch in the cache,
  augmenting it) reports when it started and ended, and the union of those times is taken, so
  parallel work counts once and time a batch spends queued between stages not at all. Images / busy
  time is what the input could deliver if nothing waited for it: ``input_images_per_second``. It is
  measured under the run's conditions, the model's use of the same CPU cores included.

Under a tf.distribute strategy the strategy's own per-device prefetch stands between the pipeline and
the step, so waiting is measured where the strategy asks, and can read lower than a step feels.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np


class InputMeter:
    """The seconds waited and images handed over so far, and every stage's working time, as batches are handed over."""

    def __init__(self) -> None:
        self.waited = 0.0
        self.images = 0
        self.intervals: list[np.ndarray] = []  # (k, 2) start and end times, one array per batch
        self._lock = threading.Lock()

    @staticmethod
    def now() -> Any:
        """A tensor: seconds since the epoch when it is computed (order it with control dependencies)."""
        import tensorflow as tf

        if _determinism():
            return tf.numpy_function(lambda: np.float64(time.time()), [], tf.float64, stateful=True)
        return tf.timestamp()

    def timed(self, stage: Any) -> Any:
        """A tf.data stage function -> the same, also giving a (1, 2) tensor: when it started and ended."""
        import tensorflow as tf

        def run(*args: Any) -> Any:
            start = self.now()
            with tf.control_dependencies([start]):
                args = tf.nest.map_structure(tf.identity, args)
            out = stage(*args)
            with tf.control_dependencies(tf.nest.flatten(out)):
                end = self.now()
            return out, tf.reshape(tf.stack([start, end]), [1, 2])

        return run

    def wrap(self, dataset: Any) -> Any:
        """The pipeline's last stage: (x, y, intervals) batches -> (x, y), adding to the totals as each is taken
        (x and y may be mappings of several inputs or outputs; the images are counted along the first one's batch axis).

        `intervals` (k, 2) holds when each stage that made the batch started and ended, the last stage last."""
        import tensorflow as tf

        plain = tf.autograph.experimental.do_not_convert
        asked = tf.data.Dataset.counter().map(plain(lambda _: self.now()))  # pulled first by zip: when the loop asks

        def hand_over(asked_at: Any, batch: Any) -> Any:
            *rest, intervals = batch  # (x, y) or (x, y, sample weights); x and y may be mappings by name
            tensors = tf.nest.flatten(rest)
            with tf.control_dependencies(tensors):
                count = tf.shape(tensors[0])[0]
                done = tf.numpy_function(self._add, [asked_at, intervals, count], tf.int64, stateful=True)
            with tf.control_dependencies([done]):
                return tf.nest.map_structure(tf.identity, tuple(rest))

        return tf.data.Dataset.zip((asked, dataset)).map(plain(hand_over))

    def _add(self, asked_at: np.float64, intervals: np.ndarray, images: np.int32) -> np.int64:
        """One batch handed over; no clock is read here (under determinism this call waits for the GIL first)."""
        with self._lock:
            self.waited += max(float(intervals[-1, 1] - asked_at), 0.0)  # ready when its last stage ended
            self.images += int(images)
            self.intervals.append(intervals)
        return np.int64(images)

    def read(self) -> tuple[float, int, int]:
        """A mark to measure from: (seconds waited, images, batches) so far."""
        with self._lock:
            return self.waited, self.images, len(self.intervals)

    def rates(self, before: tuple[float, int, int], after: tuple[float, int, int], seconds: float) -> dict[str, float]:
        """The figures of the training loop between two marks, `seconds` apart."""
        with self._lock:
            batches = self.intervals[before[2] : after[2]]
        images, waited = after[1] - before[1], after[0] - before[0]
        busy = _union(np.concatenate(batches)) if batches else 0.0
        return {
            "images_per_second": round(images / seconds, 1) if seconds > 0 else 0.0,
            "input_images_per_second": round(images / busy, 1) if busy > 0 else 0.0,
            "input_wait": round(min(max(waited / seconds, 0.0), 1.0), 4) if seconds > 0 else 0.0,
        }


def _union(intervals: np.ndarray) -> float:
    """Seconds covered by at least one of the (start, end) rows."""
    intervals = intervals[np.argsort(intervals[:, 0])]
    total, until = 0.0, -np.inf
    for start, end in intervals:
        if end > until:
            total += end - max(start, until)
            until = end
    return float(total)


def _determinism() -> bool:
    """Whether TensorFlow's op determinism is on (unknown counts as on: the clock that always runs)."""
    try:
        from tensorflow.python.framework import config as tf_config

        return bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError):
        return True
