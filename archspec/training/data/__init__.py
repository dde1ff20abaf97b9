"""Data for training and for asking a trained model: one path from a source to the network's input.

- ``sources``: what a source string names and reading it (keras datasets, IDX, npz, image folders, arrays);
- ``decode``: image files and arrays to pixels (the one decoder folders, `predict` and `inspect` share);
- ``plan``: a source checked against the spec, and the preprocessing steps decided (the Plan);
- ``pipeline``: tf.data pipelines that apply a Plan, with augmentation for training;
- ``augmentation``: the training-only augmentation from Keras' preprocessing layers (zoom, MixUp, ...);
- ``cache``: where the prepared training images wait between epochs (memory, disk or nowhere);
- ``meter``: how fast the training input is, timed while training runs;
- ``tfdata``: the tf.data options every pipeline runs under (no autotuning thread: its teardown stalled `fit`'s end);
- ``examples``: data for networks with named inputs or outputs, or heads other than one classification (npz
  arrays by name, images with masks), each image input planned by the same Plan.
"""

from . import augmentation, cache, decode, examples, meter, pipeline, sources
from .augmentation import augment
from .decode import read_images
from .examples import Examples, Prepared, fit_scales, load_examples, prepare, split_examples
from .meter import InputMeter
from .pipeline import (
    ExamplesInput,
    TrainingInput,
    eval_dataset,
    examples_eval_dataset,
    steps_per_epoch,
    train_dataset,
)
from .plan import Fit, Plan, plan
from .sources import (
    Images,
    SourceRef,
    absolute,
    from_arrays,
    keras_home,
    load,
    load_folder,
    load_idx,
    load_keras,
    load_npz,
    match_classes,
    missing_classes,
    parse_source,
    read_idx,
    split_validation,
    unreadable,
)

__all__ = [
    "Examples",
    "ExamplesInput",
    "Fit",
    "Images",
    "InputMeter",
    "Plan",
    "Prepared",
    "SourceRef",
    "TrainingInput",
    "absolute",
    "augment",
    "augmentation",
    "cache",
    "decode",
    "eval_dataset",
    "examples",
    "examples_eval_dataset",
    "fit_scales",
    "from_arrays",
    "keras_home",
    "load",
    "load_examples",
    "load_folder",
    "load_idx",
    "load_keras",
    "load_npz",
    "match_classes",
    "meter",
    "missing_classes",
    "parse_source",
    "pipeline",
    "plan",
    "prepare",
    "read_idx",
    "read_images",
    "sources",
    "split_examples",
    "split_validation",
    "steps_per_epoch",
    "train_dataset",
    "unreadable",
]
