"""archspec: write a network down as a spec, see its shapes, compile it to Keras.

    import archspec
    spec = archspec.load("specs/lenet.yaml")
    report = archspec.shapes(spec)      # pure Python, no TensorFlow
    model = archspec.build(spec)        # keras.Model
    result = archspec.train(spec, data="mnist", epochs=3)   # run folder, history, metrics

Importing archspec does not import TensorFlow or Keras (``train``, ``evaluate`` and
``predict`` import them when called). It imports nothing else either until a name is
used: every command of the CLI imports this package first, and ``archspec --help``
must not pay for Pydantic.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .api import (
        build,
        check,
        create_model,
        describe_specs,
        evaluate,
        export,
        graph,
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
    from .errors import ArchspecError, Problem, SpecError
    from .kinds.base import LayerSpec
    from .kinds.registry import Block, Primitive, ShapeError
    from .kinds.registry import register as register_kind

_WHERE = {  # public name -> (module, attribute): imported on first use
    **{
        name: ("api", name)
        for name in (
            "build",
            "check",
            "create_model",
            "describe_specs",
            "evaluate",
            "export",
            "graph",
            "graph_of",
            "list_specs",
            "load",
            "load_model",
            "loads",
            "predict",
            "save_model",
            "shapes",
            "train",
        )
    },
    **{name: ("errors", name) for name in ("ArchspecError", "Problem", "SpecError")},
    "LayerSpec": ("kinds.base", "LayerSpec"),
    **{name: ("kinds.registry", name) for name in ("Block", "Primitive", "ShapeError")},
    "register_kind": ("kinds.registry", "register"),
}
__all__ = sorted([*_WHERE, "__version__"])


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'archspec' has no attribute {name!r}")
    module, attribute = _WHERE[name]
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


class _Package(types.ModuleType):
    """`archspec.graph` is the API function, not the subpackage of that name: the import system sets a
    package's attribute to each subpackage when it loads it, which would hide the function."""

    @property
    def graph(self) -> Any:
        return __getattr__("graph")

    @graph.setter
    def graph(self, subpackage: Any) -> None:  # still there as sys.modules["archspec.graph"]
        pass


sys.modules[__name__].__class__ = _Package


if "keras" in sys.modules:  # Keras is already paid for: register custom layers so saved models reload
    from .keras_side import custom as _custom  # noqa: F401
