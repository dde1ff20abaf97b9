"""`archspec data SOURCE --to DIR`: any source archspec reads, written as an image folder of PNG files, one folder
per class, so that what a run trains on can be seen and reused (the folder is itself a source: ``--data DIR``).

Each example becomes ``DIR/CLASS/NNNNN.png``, NNNNN its place in the source (zero-padded, so that reading the folder
back keeps the source's order within each class). Class folders are named after the source's class names (a name's
``/`` and other characters a folder name cannot hold become ``_``), else 0, 1, ...; a class with no example gets no
folder. Pixels are written as they are: 8-bit images exactly, float images holding 0..1 or 0..255 scaled to 0..255
and rounded (said in the summary); float images with other values (already normalised) cannot be PNG files and are
refused. The folder is filled beside its place and renamed into it when complete: an interrupted write leaves
nothing half-written.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError, Problem
from ...files import new_folder, publish_folder, translated
from .decode import decode_file
from .sources import Images, load

_UNSAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f]')


@dataclass(frozen=True)
class Written:
    """What `write_folder` wrote: the folder, the examples and how many of each class, and how pixels were kept."""

    folder: Path
    count: int
    classes: dict[str, int]
    pixels: str
    empty: list[str]
    """Classes of the source without an example here: no folder, so a folder read back numbers its classes without
    them (a model's classes are matched by name by `evaluate`, but a new run would have fewer)."""

    def text(self) -> str:
        listed = ", ".join(f"{name} {n}" for name, n in self.classes.items())
        line = f"{self.folder}: {self.count} PNG files in {len(self.classes)} class folders ({listed}); {self.pixels}"
        if self.empty:
            line += (
                f"\nwarning: no examples of class {', '.join(self.empty[:10])}{', ...' if len(self.empty) > 10 else ''}"
                ": the folder has no folder for it, so read back its classes are only those it has"
            )
        return line


def folder_names(names: list[str]) -> list[str]:
    """Class names as folder names: unsafe characters as ``_``; names that would then clash are refused."""
    out = [_UNSAFE.sub("_", name).strip() or "_" for name in names]
    out = ["_" + n if n in (".", "..") or n.startswith(".") else n for n in out]
    clashes = [n for n, k in Counter(out).items() if k > 1]
    if clashes:
        raise DataError(
            Problem(
                f"class names {', '.join(repr(n) for n in names if _UNSAFE.sub('_', n) in clashes)} would share "
                f"the folder {clashes[0]!r}",
                file="--to",
            )
        )
    return out


def _as_uint8(images: Images) -> tuple[Any, str]:
    """A function index -> uint8 (H, W, C), and how the pixels were kept."""
    x = images.x
    if x is None:
        files = images.files
        assert files is not None, "a source without pixels is a folder of files"
        channels = images.shape[2]
        return (lambda i: decode_file(str(files[i]), channels)), "files decoded and written as PNG"
    if x.dtype == np.uint8:
        return (lambda i: x[i]), "8-bit pixels written exactly"
    lo, hi = float(np.min(x)), float(np.max(x))
    if lo < 0 or hi > 255:
        raise DataError(
            Problem(
                f"the images hold values {lo:g}..{hi:g}: not pixels (0..1 or 0..255), so not writable as PNG files",
                file=images.name,
                hint="write the images before normalising them",
            )
        )
    scale = 255.0 if hi <= 1.0 else 1.0
    return (
        lambda i: np.clip(np.rint(x[i] * scale), 0, 255).astype(np.uint8),
        f"float pixels {'0..1 scaled to 0..255' if scale != 1 else '0..255'} and rounded to 8 bits",
    )


def write_folder(source: Any, to: str | os.PathLike[str], *, force: bool = False) -> Written:
    """Write the source `source` (a source string or an (x, y) pair, as `archspec.train` reads it) as an image folder
    `to`; a non-empty `to` is refused unless `force` (then replaced once the new folder is complete)."""
    import tensorflow as tf

    images = load(source)
    if images.y is None:
        raise DataError(Problem("the source has no labels: an image folder needs a class per image", file=images.name))
    target = Path(to)
    if target.exists() and not target.is_dir():
        raise DataError(Problem("exists and is not a folder", file=str(target)))
    if target.is_dir() and any(target.iterdir()) and not force:
        raise DataError(Problem("exists and is not empty", file=str(target), hint="give a new folder, or --force"))
    count = max(int(images.label_max) + 1, images.classes or 0)
    names = images.class_names if images.class_names and len(images.class_names) >= count else None
    names = names or [str(i) for i in range(count)]
    folders = folder_names(names)
    pixels, kept = _as_uint8(images)
    width = len(str(max(images.count - 1, 0)))
    tmp = new_folder(target)
    try:
        with translated(target):
            for label in sorted(set(images.y.tolist())):
                (tmp / folders[label]).mkdir()
            for i in range(images.count):
                png = tf.io.encode_png(pixels(i)).numpy()
                (tmp / folders[int(images.y[i])] / f"{i:0{width}d}.png").write_bytes(png)
        if target.is_dir() and force:
            shutil.rmtree(target)
        if not publish_folder(tmp, target):
            raise DataError(Problem("exists and is not empty", file=str(target), hint="give a new folder, or --force"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    per_class = Counter(int(v) for v in images.y)
    empty = [names[k] for k in range(count) if not per_class[k]]
    return Written(target, images.count, {names[k]: per_class[k] for k in sorted(per_class)}, kept, empty)
