"""Saving and loading Keras models: atomically, and with archspec's own objects registered.

A file that is not a model Keras can load is a SpecError naming the file once,
never Keras' own exception: its messages repeat the path and talk about
legacy formats the person did not ask about.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError
from ..files import atomic_path
from .backend import deep_recursion
from .backend import keras as import_keras
from .weights import audit

_HDF5 = b"\x89HDF\r\n\x1a\n"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
# What a file that is not a Keras model most likely is, by its first bytes.
_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x1f\x8b", "gzip data"),
)
_HINT = "give a run folder, or a .keras file written by `archspec train` or `archspec build`"


def _not_a_model(path: Path) -> str | None:
    """Why `path` cannot be a saved Keras model, judged from its name and bytes (None when it may be one)."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "not a Keras model: a folder, not a .keras file"
    suffix = path.suffix.lower()
    if suffix in SPEC_SUFFIXES:
        return "not a Keras model but a spec: build it first (archspec build), or give the spec where a spec is taken"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        return f"cannot read the model ({exc.strerror or exc})"
    what = next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)
    if what:
        return f"not a Keras model: this file is {what}"
    if suffix in (".h5", ".hdf5"):
        return None if head == _HDF5 else "not a Keras model: not an HDF5 file, as its .h5 name says"
    if suffix != ".keras":
        return (
            "not a Keras model file: Keras reads .keras (and legacy .h5) files, "
            f"not {suffix or 'files without a suffix'}"
        )
    if not zipfile.is_zipfile(path):
        return "not a Keras model: a .keras file is a zip archive, and this file is not one"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        names = []
    if "config.json" not in names:
        return "not a Keras model: a zip archive without the config.json of a .keras model"
    return None


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a saved ``.keras`` model, with archspec's custom layers, schedule and loss available."""
    target = Path(path)
    why = _not_a_model(target)
    if why:
        raise SpecError(Problem(why, file=str(target), hint=None if why == "no such file" else _HINT))
    audit(target)  # links and external data: refused before Keras follows them
    keras = import_keras()
    from .custom import CUSTOM_OBJECTS  # imports Keras

    try:
        with deep_recursion(20_000), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras warns about what it could not restore; the result speaks for itself
            return keras.saving.load_model(target, custom_objects=CUSTOM_OBJECTS)
    except Exception as exc:
        detail = " ".join(str(exc).replace(str(target), "the file").split())[:300] or type(exc).__name__
        raise SpecError(Problem(f"not a Keras model Keras can load: {detail}", file=str(target))) from None


def save_model(model: Any, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Save a Keras model atomically; an existing file is kept unless ``force``."""
    with atomic_path(path, force=force) as tmp:
        model.save(tmp)
    return Path(path)
