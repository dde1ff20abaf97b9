"""Data for training and for asking a trained model: one path from a source to the network's input.

- ``sources``: what a source string names and reading it (keras datasets, IDX, npz, image folders, arrays);
- ``decode``: image files and arrays to pixels (the one decoder folders, `predict` and `inspect` share);
- ``plan``: a source checked against the spec, and the preprocessing steps decided (the Plan);
- ``pipeline``: tf.data pipelines that apply a Plan, with augmentation for training;
- ``cache``: where the prepared training images wait between epochs (memory, disk or nowhere);
- ``meter``: how fast the training input is, timed while training runs.
"""

from . import cache, decode, meter, pipeline, sources
from .decode import read_images
from .meter import InputMeter
from .pipeline import TrainingInput, augment, eval_dataset, steps_per_epoch, train_dataset
from .plan import Fit, Plan, plan
from .sources import (Images, SourceRef, absolute, from_arrays, keras_home, load, load_folder, load_idx, load_keras,
                      load_npz, missing_classes, parse_source, read_idx, split_validation, unreadable)

__all__ = ["Fit", "Images", "InputMeter", "Plan", "SourceRef", "TrainingInput", "absolute", "augment", "cache", "decode",
           "eval_dataset", "from_arrays", "keras_home", "load", "load_folder", "load_idx", "load_keras", "load_npz", "meter", "missing_classes",
           "parse_source", "pipeline", "plan", "read_idx", "read_images", "sources", "split_validation", "steps_per_epoch",
           "train_dataset", "unreadable"]
