"""The tf.data options under which every archspec pipeline runs: no autotuning thread.

With autotuning on (TensorFlow's default), each iterator's root starts a thread that re-tunes the pipeline at
intervals that double, up to a minute, and sleeps in between. Deleting the iterator waits for that thread, and on
TensorFlow 2.21 the thread is not woken by the deletion: it finishes its sleep first. `fit` deletes its iterator as it
returns, so a run's last epoch line was followed by 0 to 20 s of nothing (issue 29: gdb showed the main thread in
``RootDataset::Iterator::~Iterator`` waiting on the thread pool, that thread in ``Model::OptimizeLoop``'s timed
wait; the same wait follows every `fit`, evaluation and batch-norm recalibration, in the suite too).

Without it, a parallel map's AUTOTUNE parallelism and a prefetch's AUTOTUNE buffer take tf.data's untuned defaults;
the training input ran as fast on 2 cores (BENCHMARKS.md's notes on issue 29; bench/train_tail.py times the tail).
"""

from __future__ import annotations

from typing import Any


def options(deterministic: bool = True) -> Any:
    """tf.data.Options with autotuning off and the order as asked; callers add their own settings."""
    import tensorflow as tf

    out = tf.data.Options()
    out.deterministic = deterministic
    out.autotune.enabled = False
    return out
