"""EMA of weights (``training.ema``): Keras' optimizer keeps the average, this module decides when the model holds it.

Keras 3 optimizers built with ``use_ema=True`` update ``avg = decay * avg + (1 - decay) * w`` after every step and
copy the averages into the model only when ``fit`` ends (``finalize_variable_values``). A run that validates and
saves a checkpoint at each epoch's end needs the average earlier: at each epoch's end (before precise batch norm, so
the batch-norm statistics are those of the weights that are saved, then validation, then the checkpoint) the model's
trainable weights are swapped for their averages, and the raw weights come back when the next epoch starts. The last
epoch keeps the averages: they are what model.keras holds. A resumed run continues from the checkpoint, whose weights
are the averages (the raw weights of that moment are not kept).
"""

from __future__ import annotations

from typing import Any


def _averages(model: Any) -> list[tuple[Any, Any]]:
    """(model variable, its average) for every variable the optimizer averages; empty without EMA."""
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    if optimizer is None or not getattr(optimizer, "use_ema", False):
        return []
    averages = getattr(optimizer, "_model_variables_moving_average", None) or []
    return list(zip(optimizer._trainable_variables, averages, strict=False))  # no averages yet: none


def swapper() -> Any:
    """A Keras callback restoring the raw weights as each epoch begins; its ``swap_in()`` puts the averages in."""
    import keras

    from ..keras_side.bases import Callback

    class Swap(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.raw: list[tuple[Any, Any]] | None = None

        def swap_in(self) -> None:
            pairs = _averages(self.model)
            if not pairs or self.raw is not None:
                return
            self.raw = [(var, keras.ops.convert_to_numpy(var)) for var, _ in pairs]
            for var, average in pairs:
                var.assign(average)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            if self.raw is not None:
                for var, value in self.raw:
                    var.assign(value)
                self.raw = None

        def on_train_end(self, logs: Any = None) -> None:
            self.raw = None  # the model keeps the averages (fit's finalize_variable_values puts them in too)

    return Swap()
