"""Data for training: sources (``sources``), checks against the spec and the steps decided (``plan``),
tf.data pipelines (``pipeline``).

Images are checked against the spec before any training: size (with the
``fit`` rule), channels (with the ``channels`` rule), labels against the number
of classes the network outputs. Every mismatch is a ``SpecError``.
"""

from .pipeline import augment, eval_dataset, steps_per_epoch, train_dataset
from .plan import Plan, normalise, plan, preprocess
from .sources import (Images, SourceRef, absolute, from_arrays, keras_home, load, load_folder, load_idx, load_keras,
                      load_npz, parse_source, read_idx, split_validation)

__all__ = ["Images", "Plan", "SourceRef", "absolute", "augment", "eval_dataset", "from_arrays", "keras_home", "load",
           "load_folder", "load_idx", "load_keras", "load_npz", "normalise", "parse_source", "plan", "preprocess",
           "read_idx", "split_validation", "steps_per_epoch", "train_dataset"]
