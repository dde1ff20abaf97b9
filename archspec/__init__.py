"""archspec: write a network down as a spec, see its shapes, compile it to Keras.

    import archspec
    spec = archspec.load("specs/lenet.yaml")
    report = archspec.shapes(spec)      # pure Python, no TensorFlow
    model = archspec.build(spec)        # keras.Model
    result = archspec.train(spec, data="mnist", epochs=3)   # run folder, history, metrics

Importing archspec does not import TensorFlow or Keras (``train``, ``evaluate`` and
``predict`` import them when called).
"""

from __future__ import annotations

import sys

from .api import build, check, evaluate, graph, load, load_model, loads, predict, save_model, shapes, train
from .errors import ArchspecError, Problem, SpecError
from .kinds.base import LayerSpec
from .kinds.registry import Block, Primitive, ShapeError
from .kinds.registry import register as register_kind
from .version import __version__
__all__ = [
    "ArchspecError", "Block", "LayerSpec", "Primitive", "Problem", "ShapeError", "SpecError", "build", "check",
    "evaluate", "graph", "load", "load_model", "loads", "predict", "register_kind", "save_model", "shapes", "train",
    "__version__",
]

if "keras" in sys.modules:  # Keras is already paid for: register custom layers so saved models reload
    from .keras_side import custom as _custom  # noqa: F401
