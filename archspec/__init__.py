"""archspec: write a network down as a spec, see its shapes, compile it to Keras.

    import archspec
    spec = archspec.load("specs/lenet.yaml")
    report = archspec.shapes(spec)      # pure Python, no TensorFlow
    model = archspec.build(spec)        # keras.Model
    graph = archspec.graph_of(spec)     # the expanded IR (`archspec.graph` is its subpackage)
    result = archspec.train(spec, data="mnist", epochs=3)   # run folder, history, metrics

Importing archspec does not import TensorFlow, Keras or NumPy (``build``, ``train``,
``evaluate`` and ``predict`` import them when called), nor Pydantic: the API's names are
looked up on first use (PEP 562), because every command, `archspec --help` included, imports
this package first, and the plain imports cost `--help` 0.24 s of CPU (bench/startup.py,
issue 25). No module-class swap: since the function is `graph_of`, nothing shadows a subpackage.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .api import (
        augmented,
        build,
        check,
        create_model,
        describe_specs,
        evaluate,
        export,
        graph_of,
        import_model,
        list_specs,
        load,
        load_model,
        loads,
        predict,
        save_model,
        shapes,
        train,
        write_images,
    )
    from .errors import ArchspecError, OutputError, Problem, SpecError
    from .kinds.base import LayerSpec
    from .kinds.registry import Block, Primitive, ShapeError
    from .kinds.registry import register as register_kind

_WHERE: dict[str, tuple[str, str]] = {  # public name -> (module, attribute), imported on first use
    **{
        name: ("api", name)
        for name in (
            "augmented",
            "build",
            "check",
            "create_model",
            "describe_specs",
            "evaluate",
            "export",
            "graph_of",
            "import_model",
            "list_specs",
            "load",
            "load_model",
            "loads",
            "predict",
            "save_model",
            "search",
            "shapes",
            "train",
            "write_images",
        )
    },
    **{name: ("errors", name) for name in ("ArchspecError", "OutputError", "Problem", "SpecError")},
    "LayerSpec": ("kinds.base", "LayerSpec"),
    **{name: ("kinds.registry", name) for name in ("Block", "Primitive", "ShapeError")},
    "register_kind": ("kinds.registry", "register"),
}
__all__ = [  # the names of _WHERE and the version (tests/test_startup_names.py keeps the two equal)
    "ArchspecError",
    "Block",
    "LayerSpec",
    "OutputError",
    "Primitive",
    "Problem",
    "ShapeError",
    "SpecError",
    "__version__",
    "augmented",
    "build",
    "check",
    "create_model",
    "describe_specs",
    "evaluate",
    "export",
    "graph_of",
    "import_model",
    "list_specs",
    "load",
    "load_model",
    "loads",
    "predict",
    "register_kind",
    "save_model",
    "search",
    "shapes",
    "train",
    "write_images",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'archspec' has no attribute {name!r}")
    module, attribute = _WHERE[name]
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


if "keras" in sys.modules:  # Keras is already paid for: register custom layers so saved models reload
    from .keras_side import custom as _custom  # noqa: F401 (imported for its side effect: registering the layers)
