"""An image folder labelled by a file instead of by class folders: ``labels.csv`` or ``labels.json`` at its top.

``labels.csv`` has a header row naming its columns, ``file,label`` (and optionally ``weight``), then one row per
image::

    file,label
    photos/001.png,cat
    photos/002.png,dog

``labels.json`` is the same as a list of objects (``[{"file": "photos/001.png", "label": "cat"}, ...]``) or a mapping
of file to label (``{"photos/001.png": "cat"}``). Files are paths relative to the folder, inside it. Labels are class
names (the classes are then the names found, in name order, as class folders would give them) or class numbers 0..K-1
(the classes are then 0..K-1, K one more than the largest); not a mixture. ``weight``, when given, is each image's
weight in the loss (a number >= 0; Keras' sample weights).

Only the images the file lists are read. Everything wrong with the file (no such image, a path leaving the folder, a
column or key it does not know, an image listed twice, a label that is neither a name nor a class number, a weight
that is no number) is one DataError naming the file and, for a CSV file, the line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError, Problem, closest
from .decode import IMAGE_SUFFIXES

NAMES = ("labels.csv", "labels.json")
COLUMNS = ("file", "label", "weight")
REQUIRED = ("file", "label")
MAX_BYTES = 64 * 1024**2
"""A label file larger than this is refused unread (64 MiB is about a million rows)."""


@dataclass(frozen=True)
class Labelled:
    """What a label file says: the image files (absolute paths, in the file's order), each one's class index, the
    class names, and each image's weight (None when the file gives none)."""

    files: list[str]
    labels: np.ndarray
    class_names: list[str]
    weights: np.ndarray | None


def label_file(folder: Path) -> Path | None:
    """The folder's label file, if it has one; both is refused (which would it mean?)."""
    found = [folder / name for name in NAMES if (folder / name).is_file()]
    if len(found) > 1:
        raise DataError(
            Problem(
                "the folder has both labels.csv and labels.json: which labels apply?",
                file=str(folder),
                hint="keep one of them",
            )
        )
    return found[0] if found else None


@dataclass(frozen=True)
class _Row:
    line: int | None
    values: dict[str, Any]


def read(folder: Path, path: Path) -> Labelled:
    """The label file `path` of `folder`, checked whole."""
    shown = str(path)
    if path.stat().st_size > MAX_BYTES:
        raise _error(shown, None, f"the label file is larger than {MAX_BYTES // 1024**2} MiB")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(shown, None, f"cannot read the label file as UTF-8 text ({type(exc).__name__})") from None
    rows = _csv_rows(shown, text) if path.suffix == ".csv" else _json_rows(shown, text)
    if not rows:
        raise _error(shown, None, "the label file lists no images", "one row per image: file,label")
    top = folder.resolve()
    files: list[str] = []
    seen: dict[str, int | None] = {}
    for row in rows:
        name = row.values["file"]
        if not isinstance(name, str) or not name.strip():
            raise _error(shown, row.line, "a row has no file name")
        target = (folder / name).resolve()
        if os.path.isabs(name) or (target != top and top not in target.parents):
            raise _error(
                shown,
                row.line,
                f"{name!r} is outside the folder",
                "files are paths relative to the label file's folder",
            )
        key = str(target)
        if key in seen:
            first = seen[key]
            raise _error(
                shown,
                row.line,
                f"{name!r} is listed twice" + (f" (first on line {first})" if first is not None else ""),
                "give each image one label",
            )
        seen[key] = row.line
        if target.suffix.lower() not in IMAGE_SUFFIXES:
            raise _error(shown, row.line, f"{name!r} is not an image file ({' '.join(IMAGE_SUFFIXES)})")
        if not target.is_file():
            raise _error(shown, row.line, f"no such image: {name!r}")
        files.append(key)
    labels, names = _classes(shown, rows)
    weights = _weights(shown, rows)
    return Labelled(files, labels, names, weights)


def _csv_rows(shown: str, text: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None:
            raise _error(shown, None, "the label file is empty", "a header row, file,label, then one row per image")
        columns = [c.strip() for c in header]
        _check_keys(shown, 1, columns, "column")
        rows = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            line = reader.line_num
            if len(record) != len(columns):
                raise _error(
                    shown, line, f"{len(record)} values where the header names {len(columns)} ({','.join(columns)})"
                )
            rows.append(_Row(line, {c: v.strip() for c, v in zip(columns, record, strict=True)}))
    except csv.Error as exc:
        raise _error(shown, reader.line_num, f"not CSV: {exc}") from None
    return rows


def _json_rows(shown: str, text: str) -> list[_Row]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise _error(shown, line, f"not JSON: {getattr(exc, 'msg', exc)}") from None
    if isinstance(data, dict):
        return [_Row(None, {"file": k, "label": v}) for k, v in data.items()]
    if not isinstance(data, list):
        raise _error(shown, None, "a JSON label file is a list of {file, label} objects, or a mapping of file to label")
    rows = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise _error(shown, None, f"entry {i} is not an object with file and label")
        _check_keys(shown, None, list(item), "key", f"entry {i}: ")
        rows.append(_Row(None, item))
    return rows


def _check_keys(shown: str, line: int | None, keys: list[str], what: str, where: str = "") -> None:
    for key in keys:
        if key not in COLUMNS:
            near = closest(key, list(COLUMNS))
            raise _error(
                shown,
                line,
                f"{where}unknown {what} {key!r}",
                (f"did you mean {near!r}? " if near else "")
                + f"the {what}s are {', '.join(COLUMNS)} (weight optional)",
            )
    for key in REQUIRED:
        if key not in keys:
            raise _error(
                shown, line, f"{where}no {key!r} {what}", f"the {what}s are file,label (and optionally weight)"
            )
    if len(set(keys)) != len(keys):
        raise _error(shown, line, f"{where}a {what} is named twice")


def _number(value: Any) -> int | None:
    """A class number: a whole number >= 0 (as text or JSON), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return int(value)
    return None


def _classes(shown: str, rows: list[_Row]) -> tuple[np.ndarray, list[str]]:
    """Class indices and names: every label a class number, or every label a name (text that is no number)."""
    numbers = [_number(row.values["label"]) for row in rows]
    if all(n is not None for n in numbers):
        top = max(n for n in numbers if n is not None)
        return np.asarray(numbers, np.int64), [str(i) for i in range(top + 1)]
    numeric = [_looks_numeric(row.values["label"]) for row in rows]
    for row, looks in zip(rows, numeric, strict=True):
        label = row.values["label"]
        if not looks and (not isinstance(label, str) or not label.strip()):
            raise _error(shown, row.line, f"label {label!r} is neither a class name nor a class number (0, 1, ...)")
    if all(numeric):  # numbers, one of them no class number
        row = next(r for r, n in zip(rows, numbers, strict=True) if n is None)
        raise _error(shown, row.line, f"label {row.values['label']!r} is not a class number (a whole number >= 0)")
    if any(numeric):
        row = next(r for r, looks in zip(rows, numeric, strict=True) if looks)
        name = next(r for r, looks in zip(rows, numeric, strict=True) if not looks)
        raise _error(
            shown,
            row.line,
            f"label {row.values['label']!r} is a number, and other labels are names ({name.values['label']!r})",
            "label every image with a class name, or every image with a class number 0..K-1",
        )
    names = sorted({row.values["label"] for row in rows}, key=os.fsencode)
    index = {name: i for i, name in enumerate(names)}
    return np.asarray([index[row.values["label"]] for row in rows], np.int64), names


def _looks_numeric(label: Any) -> bool:
    if not isinstance(label, str):
        return isinstance(label, (int, float)) and not isinstance(label, bool)
    try:
        float(label)
    except ValueError:
        return False
    return True


def _weights(shown: str, rows: list[_Row]) -> np.ndarray | None:
    if not any("weight" in row.values for row in rows):
        return None
    out = np.empty(len(rows), np.float32)
    for i, row in enumerate(rows):
        value = row.values.get("weight")
        try:
            w = float(value) if not isinstance(value, bool) and value not in (None, "") else math.nan
        except (TypeError, ValueError):
            w = math.nan
        if not math.isfinite(w) or w < 0:
            raise _error(shown, row.line, f"weight {value!r} is not a number >= 0")
        out[i] = w
    return out


def _error(file: str, line: int | None, message: str, hint: str | None = None) -> DataError:
    return DataError(Problem(message, file=file, line=line, hint=hint))
