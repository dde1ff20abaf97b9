"""archspec: write a network down as a spec, see its shapes, compile it to Keras.

    import archspec
    spec = archspec.load("specs/lenet.yaml")
    report = archspec.shapes(spec)      # pure Python, no TensorFlow
    model = archspec.build(spec)        # keras.Model
    graph = archspec.graph_of(spec)     # the expanded IR (`archspec.graph` is its subpackage)
    result = archspec.train(spec, data="mnist", epochs=3)   # run folder, history, metrics

Importing archspec does not import TensorFlow, Keras or NumPy (``build``, ``train``,
``evaluate`` and ``predict`` import them when called). The names below are imported
plainly: making them lazy saved under 10 ms of `archspec shapes` (bench/startup.py
--variant, issue 25), less than the code it took.
"""

from __future__ import annotations

import sys

from .api import (
    build,
    check,
    create_model,
    describe_specs,
    evaluate,
    export,
    graph_of,
    list_specs,
    load,
    load_model,
    loads,
    predict,
    save_model,
    shapes,
    train,
)
from .errors import ArchspecError, OutputError, Problem, SpecError
from .kinds.base import LayerSpec
from .kinds.registry import Block, Primitive, ShapeError
from .kinds.registry import register as register_kind
from .version import __version__

__all__ = [
    "ArchspecError",
    "Block",
    "LayerSpec",
    "OutputError",
    "Primitive",
    "Problem",
    "ShapeError",
    "SpecError",
    "__version__",
    "build",
    "check",
    "create_model",
    "describe_specs",
    "evaluate",
    "export",
    "graph_of",
    "list_specs",
    "load",
    "load_model",
    "loads",
    "predict",
    "register_kind",
    "save_model",
    "shapes",
    "train",
]

if "keras" in sys.modules:  # Keras is already paid for: register custom layers so saved models reload
    from .keras_side import custom as _custom  # noqa: F401 (imported for its side effect: registering the layers)
