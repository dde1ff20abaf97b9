"""Keras' base classes, as the type checker sees them.

Keras ships no type information, so to mypy its classes are ``Any``, and a class derived from ``Any`` is not
checked at all (strict mypy refuses it). Here each base archspec derives from is declared for the checker with
the part of it archspec's subclasses use; at run time the names are Keras' own classes. ``serializable`` is Keras'
registration decorator for the ``archspec`` package, typed to give back what it is given. Importing this module
imports Keras: import it where Keras is needed anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

_T = TypeVar("_T")

if TYPE_CHECKING:

    class _KerasObject:
        """What every Keras object offers: its keyword arguments, any other attribute (untyped, as Keras is)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None: ...
        def __getattr__(self, name: str) -> Any: ...

    class Layer(_KerasObject):
        def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
        def get_config(self) -> dict[str, Any]: ...

    class Loss(_KerasObject):
        def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
        def get_config(self) -> dict[str, Any]: ...

    class Metric(_KerasObject):
        def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
        def get_config(self) -> dict[str, Any]: ...

    class LearningRateSchedule(_KerasObject):
        def __call__(self, step: Any) -> Any: ...

    class Callback(_KerasObject):
        pass

    def serializable(obj: _T) -> _T:
        """Register a class or function for saving under the ``archspec`` package; it comes back unchanged."""

else:
    import keras

    Layer = keras.layers.Layer
    Loss = keras.losses.Loss
    Metric = keras.metrics.Metric
    LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule
    Callback = keras.callbacks.Callback
    serializable = keras.saving.register_keras_serializable(package="archspec")
