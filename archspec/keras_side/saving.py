"""Saving and loading Keras models: atomically, and with archspec's own objects registered."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..files import atomic_path
from .backend import deep_recursion, keras as import_keras


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a saved ``.keras`` model, with archspec's custom layers, schedule and loss available."""
    keras = import_keras()
    from .custom import CUSTOM_OBJECTS  # imports Keras

    with deep_recursion(20_000):
        return keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS)


def save_model(model: Any, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Save a Keras model atomically; an existing file is kept unless ``force``."""
    with atomic_path(path, force=force) as tmp:
        model.save(tmp)
    return Path(path)
