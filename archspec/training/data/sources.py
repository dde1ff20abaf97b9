"""Data sources: what a source string names, and reading it into ``Images``.

A source is named by a string (the CLI's ``--data`` and ``--val``):

=========================  ====================================================
``mnist``                  Keras' own loader and cache (``KERAS_HOME``, default
                           ``~/.keras``); also ``fashion_mnist``, ``cifar10``,
                           ``cifar100``. ``mnist:test`` is the test split.
``idx:DIR``                MNIST-format IDX files in DIR (``train-*`` or, when
                           absent, ``t10k-*``; gzip or not); ``idx:DIR:test``
                           for ``t10k-*``; ``idx:FILE`` for one images file.
``PATH.npz``               NumPy arrays ``x`` (N,H,W[,C]) and ``y`` (N,) or
                           one-hot (N,K); or ``x_train``/``y_train``/``x_test``/
                           ``y_test`` with ``:train``/``:test``.
``DIR``                    one sub-folder of images per class (PNG, JPEG, GIF,
                           BMP, WebP), each file decoded at its own size
                           (``decode``) by the training input (``pipeline``);
                           loading reads every file's header (refusing what is
                           no image, or too large), learns its size and keeps
                           no pixels. Hidden files and folders, folders that
                           link back into the data and folders without images
                           are no classes: they are skipped with a line saying
                           so (the ``archspec.data`` logger). A folder with a
                           ``labels.csv`` or ``labels.json`` (``file,label``
                           and optionally ``weight``) is labelled by that file
                           instead (``labels``).
=========================  ====================================================

An .npz file may also hold ``weight`` (or ``weight_train``/``weight_test``): each example's weight in the loss.

Any source takes a Python slice: ``idx:data/mnist[:8000]``, ``mnist[-2000:]``.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import zipfile
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError, Problem, SpecError, closest
from . import labels as label_files
from . import tfdata
from .decode import IMAGE_SUFFIXES, ORIENTATIONS, decode, decode_file, finite, read_header

log = logging.getLogger("archspec.data")
"""Lines about data skipped (hidden files, empty folders): shown on stderr by Python's last-resort handler unless
an application configures logging."""

KERAS_DATASETS = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10, "cifar100": 100}
CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_DEFLATE_RATIO = 1032
"""The most that deflate (gzip) can inflate a byte to: a gzip file that promises more is cut short, whatever it
holds."""
_SLICE = re.compile(r"^(?P<base>.*?)\[(?P<start>-?\d*):(?P<stop>-?\d*)\]$")


def _error(message: str, hint: str | None = None, *, file: str | None = None) -> DataError:
    return DataError(Problem(message, file=file or "data", hint=hint))


# ----------------------------------------------------------------------------- sources


@dataclass
class Images:
    """Images with integer labels: pixels in memory (``x``) or image files decoded when needed (``files``).

    ``x`` is (N, H, W, C), uint8 or float. An image folder is ``files``, with each file's decoded
    shape in ``file_shapes`` (every file has ``shape[2]`` channels once `decode.promote` brings it up),
    so its pixels are held once, by the training input's cache, not twice; ``sizes`` counts each size."""

    name: str
    x: np.ndarray | None
    y: np.ndarray | None  # (N,) int64
    classes: int | None = None  # the number of classes the source declares (None: unknown)
    class_names: list[str] | None = None
    files: np.ndarray | None = None  # (N,) str, with x None
    file_shapes: np.ndarray | None = None  # (N, 3) int64: each file's (H, W, C) upright, C the folder's channels
    file_orientations: np.ndarray | None = None  # (N,) int64: each file's EXIF orientation (1: as stored)
    count: int = 0
    shape: tuple[int, int, int] = (0, 0, 0)  # the most common size
    integer: bool = True  # pixel values are 8-bit (0..255)
    label_max: int = -1
    sizes: dict[tuple[int, int, int], int] = field(default_factory=dict)
    weights: np.ndarray | None = None  # (N,) float32: each example's weight in the loss, when the source gives them

    def __post_init__(self) -> None:
        if self.x is None:
            shapes = self.file_shapes if self.file_shapes is not None else np.zeros((0, 3), np.int64)
            self.count, self.integer = len(shapes), True
            counts = Counter((int(h), int(w), int(c)) for h, w, c in shapes)
            self.sizes = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        else:
            self.count = len(self.x)
            self.sizes = {tuple(int(d) for d in self.x.shape[1:]): self.count}  # type: ignore[dict-item]  # x is (N, H, W, C)
            self.integer = self.x.dtype == np.uint8
        self.shape = next(iter(self.sizes), (0, 0, 0))
        self.label_max = int(self.y.max()) if self.y is not None and len(self.y) else -1

    def take(self, index: slice | np.ndarray, name: str | None = None) -> Images:
        if self.x is None:
            return replace(
                self,
                name=name or self.name,
                files=self.files[index],  # type: ignore[index]  # without x, the files and their shapes are set
                file_shapes=self.file_shapes[index],  # type: ignore[index]  # (the same)
                file_orientations=None if self.file_orientations is None else self.file_orientations[index],
                y=None if self.y is None else self.y[index],
                sizes={},
                weights=None if self.weights is None else self.weights[index],
            )
        return replace(
            self,
            name=name or self.name,
            x=self.x[index],
            y=None if self.y is None else self.y[index],
            sizes={},
            weights=None if self.weights is None else self.weights[index],
        )


@dataclass(frozen=True)
class SourceRef:
    kind: str  # keras | idx | npz | folder | arrays
    target: str
    split: str | None
    index: slice | None
    text: str


def parse_source(text: str) -> SourceRef:
    """`mnist:test[:2000]` -> SourceRef(kind='keras', target='mnist', split='test', index=slice(None, 2000))."""
    raw = str(text).strip()
    if not raw:
        raise _error("empty data source", "e.g. --data mnist, --data idx:DIR, --data arrays.npz, --data images/")
    index = None
    m = _SLICE.match(raw)
    if m:
        index = slice(int(m["start"]) if m["start"] else None, int(m["stop"]) if m["stop"] else None)
        raw = m["base"]
    elif raw.endswith("]") and "[" in raw:
        raise _error(f"bad slice in data source {raw!r}", "give a range of examples: mnist[:8000], idx:DIR[-2000:]")
    split = None
    for name in ("train", "test"):
        if raw.endswith(":" + name) and raw != name:
            raw, split = raw[: -len(name) - 1], name
            break
    if raw in KERAS_DATASETS:
        return SourceRef("keras", raw, split or "train", index, text)
    if raw.startswith("keras:") and raw[6:] in KERAS_DATASETS:
        return SourceRef("keras", raw[6:], split or "train", index, text)
    if raw.startswith("idx:"):
        return SourceRef("idx", raw[4:], split, index, text)
    if raw.startswith("npz:"):
        return SourceRef("npz", raw[4:], split, index, text)
    if raw.startswith("folder:"):
        return SourceRef("folder", raw[7:], split, index, text)
    if raw.endswith(".npz"):
        return SourceRef("npz", raw, split, index, text)
    path = Path(raw)
    if path.is_dir():
        return SourceRef("folder", raw, split, index, text)
    near = closest(raw, KERAS_DATASETS)
    raise _error(
        f"unknown data source {text!r}" + ("" if path.exists() else " (no such file or folder)"),
        f"did you mean {near!r}?"
        if near
        else "use mnist, fashion_mnist, cifar10, cifar100, idx:DIR, FILE.npz or an image folder (one sub-folder per "
        "class)",
    )


def absolute(source: Any) -> str | None:
    """A source string with its path made absolute (what a run folder records); None for arrays."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    text = str(source)
    ref = parse_source(text)
    if ref.kind == "keras":
        return text
    prefix = {"idx": "idx:", "npz": "npz:", "folder": "folder:"}[ref.kind]
    split = f":{ref.split}" if ref.split else ""
    index = (
        ""
        if ref.index is None
        else f"[{'' if ref.index.start is None else ref.index.start}:"
        f"{'' if ref.index.stop is None else ref.index.stop}]"
    )
    return f"{prefix}{Path(ref.target).resolve()}{split}{index}"


def load(source: Any) -> Images:
    """Read a source: a string (see the module doc), an (x, y) pair of arrays, or ``Images``."""
    if isinstance(source, Images):
        return source
    if isinstance(source, (tuple, list)) and len(source) == 2 and not isinstance(source, str):
        return from_arrays(np.asarray(source[0]), np.asarray(source[1]), "arrays")
    if isinstance(source, os.PathLike):
        source = str(source)
    if not isinstance(source, str):
        raise _error(f"data must be a source name, a path or an (x, y) pair, got {type(source).__name__}")
    ref = parse_source(source)
    if ref.kind == "keras":
        images = load_keras(ref.target, ref.split or "train")
    elif ref.kind == "idx":
        images = load_idx(ref.target, ref.split)
    elif ref.kind == "npz":
        images = load_npz(ref.target, ref.split)
    else:
        images = load_folder(ref.target)
    if ref.index is not None:
        images = images.take(ref.index, name=source)
        if images.count == 0:
            raise _error(f"data source {source!r} selects no examples")
    return replace(images, name=str(source)) if images.name != source else images


def from_arrays(
    x: np.ndarray, y: np.ndarray, name: str, *, classes: int | None = None, class_names: list[str] | None = None
) -> Images:
    """Checks and normalises arrays: x to (N, H, W, C), y to int64 labels (one-hot y becomes labels)."""
    if x.dtype == object or y.dtype == object:
        raise _error("arrays of Python objects are not image data", file=name)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise _error(
            f"images must have shape (N, H, W) or (N, H, W, C) with C in 1, 3, 4; got {tuple(x.shape)}", file=name
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise _error(f"images must be numbers, got dtype {x.dtype}", file=name)
    finite(x, name, "the image array")
    if not (
        np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)
    ):  # before argmax, which takes text too
        raise _error(f"labels must be numbers, got dtype {y.dtype}", file=name)
    finite(y, name, "the label array")  # before one-hot labels become class numbers: argmax would hide a NaN
    if np.issubdtype(x.dtype, np.integer) and x.dtype != np.uint8:
        if x.size and (x.min() < 0 or x.max() > 255):
            raise _error(f"integer images must lie in 0..255, got {x.min()}..{x.max()}", file=name)
        x = x.astype(np.uint8)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot or probabilities
        classes = classes or int(y.shape[1])
        y = y.argmax(axis=1)
    elif y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise _error(f"labels must have shape (N,), (N, 1) or one-hot (N, K); got {tuple(y.shape)}", file=name)
    if len(x) != len(y):
        raise _error(f"{len(x)} images but {len(y)} labels", file=name)
    if len(x) == 0:
        raise _error("no examples", file=name)
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.equal(np.mod(y, 1), 0)):
        raise _error("labels must be whole numbers (class indices)", file=name)
    y = y.astype(np.int64)
    if y.min() < 0:
        raise _error(f"labels must be class indices >= 0, found {y.min()}", file=name)
    return Images(name, x, y, classes=classes, class_names=class_names)


def keras_home() -> Path:
    """Keras' cache folder (``KERAS_HOME``, else ``~/.keras`` or ``/tmp/.keras``), as Keras computes it."""
    try:
        from keras.src.backend.config import keras_home as home

        return Path(home())
    except Exception:
        if "KERAS_HOME" in os.environ:
            return Path(os.environ["KERAS_HOME"])
        base = os.path.expanduser("~")
        return Path(base if os.access(base, os.W_OK) else "/tmp") / ".keras"


def load_keras(name: str, split: str) -> Images:
    """A keras.datasets set through Keras' own loader and cache."""
    import keras

    cached = keras_home() / "datasets" / "mnist.npz"
    try:
        if name == "mnist" and cached.is_file():
            # Read the cache ourselves: Keras would re-download (and on failure delete) a cache
            # whose hash differs from the official file, e.g. one built from the IDX originals.
            with np.load(cached, allow_pickle=False) as f:
                (x, y) = (f["x_train"], f["y_train"]) if split == "train" else (f["x_test"], f["y_test"])
        else:
            loader = getattr(keras.datasets, name)
            train, test = loader.load_data()
            x, y = train if split == "train" else test
    except SpecError:
        raise
    except Exception as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise _error(
            f"could not load the {name} dataset: {reason}",
            f"Keras downloads it once into {keras_home() / 'datasets'} (set KERAS_HOME to use another cache); "
            "offline, copy the file there, or use idx:DIR or an .npz file",
        ) from None
    return from_arrays(
        np.asarray(x), np.asarray(y), f"{name}:{split}", classes=KERAS_DATASETS[name], class_names=CLASS_NAMES.get(name)
    )


# ----------------------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """An IDX file (MNIST's format; gzip or not): magic 0 0 TYPE NDIM, big-endian int32 sizes, data.

    The magic number and the sizes are read from the first bytes of the stream (inflated as it is read, for
    gzip), and then exactly the bytes the sizes promise and one more: a file that is no IDX, or a gzip bomb,
    is refused before its payload is inflated, and a short or long payload is named."""
    path = Path(path)
    name = str(path)
    try:
        with open(path, "rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if gz else raw
            try:
                head = stream.read(4)
                if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES or not 1 <= head[3] <= 4:
                    raise _error(
                        f"not an IDX file (magic number {head.hex() or 'missing'}{', after gunzip' if gz else ''})",
                        "IDX files start with 00 00, a type byte (08 for uint8) and the number of dimensions",
                        file=name,
                    )
                ndim = head[3]
                sizes = stream.read(4 * ndim)
                if len(sizes) < 4 * ndim:
                    raise _error("IDX header is cut short", file=name)
                dims = tuple(int(d) for d in np.frombuffer(sizes, ">u4"))
                dtype = np.dtype(_IDX_TYPES[head[2]])
                expected = math.prod(dims) * dtype.itemsize
                on_disk = os.fstat(raw.fileno()).st_size
                if (on_disk != 4 + 4 * ndim + expected) if not gz else (expected > _DEFLATE_RATIO * on_disk):
                    raise _error(
                        f"IDX header promises {dims} ({4 + 4 * ndim + expected:,} bytes) but the file has {on_disk:,} "
                        "bytes" + (" of gzip data, which cannot inflate to that much" if gz else ""),
                        file=name,
                    )
                payload = stream.read(expected + 1)
            except (OSError, EOFError, zlib.error) as exc:
                raise _error(f"broken gzip data ({exc})", file=name) from None
    except OSError as exc:
        raise _error(f"cannot read: {exc.strerror or exc}", file=name) from None
    if len(payload) != expected:
        more = "more than" if len(payload) > expected else f"only {len(payload):,} of"
        raise _error(
            f"IDX header promises {dims} ({expected:,} bytes of data) but the file holds {more} that", file=name
        )
    data = np.frombuffer(payload, dtype).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=False) if dtype.itemsize > 1 else data


def _idx_file(folder: Path, prefixes: tuple[str, ...], kind: str) -> Path | None:
    for prefix in prefixes:
        for sep in ("-", "."):
            for name in (f"{prefix}-{kind}{sep}idx{'3' if kind == 'images' else '1'}-ubyte",):
                for suffix in (".gz", ""):
                    candidate = folder / (name + suffix)
                    if candidate.is_file():
                        return candidate
    return None


def load_idx(target: str, split: str | None) -> Images:
    """``idx:DIR`` (train-* files, else t10k-*), ``idx:DIR:test``, or ``idx:IMAGES_FILE``."""
    path = Path(target)
    images: Path | None
    labels: Path | None
    if path.is_file():
        images = path
        labels = path.with_name(path.name.replace("images", "labels").replace("idx3", "idx1"))
        if labels == images or not labels.is_file():
            raise _error(f"no labels file beside {path} (expected {labels.name})", file=str(path))
    elif path.is_dir():
        splits = {"train": ("train",), "test": ("t10k", "test")}
        order = [split] if split else ["train", "test"]
        images = labels = None
        for name in order:
            images = _idx_file(path, splits[name], "images")
            labels = _idx_file(path, splits[name], "labels")
            if images and labels:
                break
        if not (images and labels):
            raise _error(
                f"no MNIST-format IDX files{' for ' + split if split else ''} in {path}",
                "expected train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] (or t10k-*)",
                file=str(path),
            )
    else:
        raise _error(f"idx:{target}: no such file or folder", file=str(target))
    x, y = read_idx(images), read_idx(labels)
    if x.ndim not in (3, 4) or y.ndim != 1:
        raise _error(
            f"{images.name}: expected images (N, H, W) and labels (N,), got {x.shape} and {y.shape}", file=str(images)
        )
    return from_arrays(x, y, f"idx:{target}")


def load_npz(target: str, split: str | None) -> Images:
    wanted = ["x", "y"] if split is None else []
    wanted += [f"x_{split or 'train'}", f"y_{split or 'train'}"]
    weight_keys = ["weight"] if split is None else []
    weight_keys += [f"weight_{split or 'train'}"]
    arrays, keys = npz_arrays(target, wanted + weight_keys)
    for n, (x_key, y_key) in enumerate((wanted[i], wanted[i + 1]) for i in range(0, len(wanted), 2)):
        if x_key in arrays and y_key in arrays:
            images = from_arrays(arrays[x_key], arrays[y_key], target)
            weights = arrays.get(weight_keys[n])
            return images if weights is None else replace(images, weights=sample_weights(weights, images.count, target))
    raise _error(
        "expected arrays x and y" + (f" (or x_{split}, y_{split})" if split else " (or x_train, y_train)"),
        f"arrays in the file: {', '.join(sorted(keys)) or 'none'}",
        file=target,
    )


def sample_weights(weights: np.ndarray, count: int, name: str) -> np.ndarray:
    """A source's per-example weights, checked: (N,) numbers >= 0, one per example, not all zero."""
    w = np.asarray(weights)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if (
        w.ndim != 1
        or len(w) != count
        or not (np.issubdtype(w.dtype, np.integer) or np.issubdtype(w.dtype, np.floating))
    ):
        raise _error(
            f"the weight array must be {count} numbers, one per example; got {w.dtype} {tuple(w.shape)}", file=name
        )
    finite(w, name, "the weight array")
    if w.size and (w.min() < 0 or not w.any()):
        raise _error("weights must be >= 0 and not all 0", file=name)
    return w.astype(np.float32)


def npz_arrays(target: str, names: list[str] | None = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """(the arrays `names` of an .npz file that it has, or all of them; the names of every array in it).

    Each array's header is read first: one that declares more bytes than its member of the zip holds, or a member
    that claims to inflate beyond what deflate can, is refused before anything is allocated, so a small file
    cannot make NumPy allocate gigabytes. Anything else that is not an .npz is a SpecError naming the file."""
    path = Path(target)
    if not path.is_file():
        raise _error("no such file", file=target)
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename[:-4]: info for info in archive.infolist() if info.filename.endswith(".npy")}
            arrays = {}
            for key in [k for k in (names if names is not None else members) if k in members]:
                info = members[key]
                if info.compress_type != zipfile.ZIP_STORED and info.file_size > _DEFLATE_RATIO * max(
                    info.compress_size, 1
                ):
                    raise _error(
                        f"array {key!r} claims {info.file_size:,} bytes from {info.compress_size:,} compressed, "
                        "more than deflate can hold",
                        file=target,
                    )
                with archive.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _fortran, dtype = read(f)
                    declared = math.prod(shape) * dtype.itemsize
                    if declared > info.file_size - f.tell():
                        raise _error(
                            f"array {key!r} declares shape {shape} ({declared:,} bytes) but holds "
                            f"{info.file_size - f.tell():,}",
                            file=target,
                        )
                with archive.open(info) as f:
                    arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
            return arrays, list(members)
    except SpecError:
        raise
    except Exception as exc:
        raise _error(
            f"cannot read as .npz ({' '.join(str(exc).split())[:200] or type(exc).__name__})", file=target
        ) from None


def load_folder(target: str) -> Images:
    """An image folder, one sub-folder per class: each file's header read and its size learnt, without keeping its
    pixels.

    Every file's header is read first (``decode.read_header``): a file that is no image whatever its name, one
    whose size cannot be read or that declares more pixels than the limit is refused naming it, before anything
    is decoded. A JPEG's size then comes from its header (a JPEG is decoded once, by the training input, which
    reports one whose data turns out broken); any other file is decoded now. No pixels are kept: the training
    input's cache holds the prepared images, so a folder is never in memory twice. Files with fewer channels
    than the folder's most are brought up to it (``decode.promote``): the plan's conversions then treat them as
    their own pixels. What is not a class (``_classes``) is skipped with a line saying so."""
    folder = Path(target)
    if not folder.is_dir():
        raise _error("no such folder", file=target)
    listing = label_files.label_file(folder)
    if listing is not None:
        return _labelled_folder(target, label_files.read(folder, listing))
    classes = _classes(folder)
    if not classes:
        raise _error(
            "an image folder needs one sub-folder of images per class",
            f"e.g. {target}/cat/1.png, {target}/dog/2.jpg",
            file=target,
        )
    names = [name for name, _files in classes]
    files = [f for _name, found in classes for f in found]
    labels = [label for label, (_name, found) in enumerate(classes) for _f in found]
    orientations = _orientations(files)
    shapes = _shapes(files, orientations)
    shapes[:, 2] = shapes[:, 2].max()
    return Images(
        target,
        None,
        np.asarray(labels, np.int64),
        classes=len(names),
        class_names=names,
        files=np.asarray(files),
        file_shapes=shapes,
        file_orientations=orientations,
    )


def _labelled_folder(target: str, found: label_files.Labelled) -> Images:
    """An image folder whose label file (``labels.py``) names its images, their classes and perhaps their weights."""
    orientations = _orientations(found.files)
    shapes = _shapes(found.files, orientations)
    shapes[:, 2] = shapes[:, 2].max()
    return Images(
        target,
        None,
        found.labels,
        classes=len(found.class_names),
        class_names=found.class_names,
        files=np.asarray(found.files),
        file_shapes=shapes,
        file_orientations=orientations,
        weights=found.weights,
    )


def _classes(folder: Path) -> list[tuple[str, list[str]]]:
    """(class name, its image files) for each sub-folder that is a class, in name order.

    Not classes, each skipped with a line: hidden folders (``.ipynb_checkpoints``), links back to the data
    folder or above it (which would hold every class again), and folders without an image file. Hidden files
    (``._photo.jpg``, macOS's resource forks) are skipped, counted in one line. A class name that is not UTF-8
    cannot be written to run.json or shown: refused, naming the folder."""
    top = folder.resolve()
    classes: list[tuple[str, list[str]]] = []
    hidden_files: list[str] = []
    for entry in sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name)):
        if not entry.is_dir():
            continue
        if entry.name.startswith("."):
            log.warning("%s: skipped: a hidden folder is not a class", _shown(entry))
            continue
        if entry.is_symlink() and (top == entry.resolve() or entry.resolve() in top.parents):
            log.warning(
                "%s: skipped: it links back to %s, which holds every class", _shown(entry), _shown(entry.resolve())
            )
            continue
        try:
            entry.name.encode("utf-8")
        except UnicodeEncodeError:
            raise _error(
                "the class folder's name is not UTF-8 text: class names are written to run.json and shown",
                "rename the folder (e.g. with convmv) to UTF-8",
                file=str(entry),
            ) from None
        found, hidden = image_files(entry)
        hidden_files += hidden
        if not found:
            log.warning("%s: skipped: no image files (%s), so not a class", _shown(entry), " ".join(IMAGE_SUFFIXES))
            continue
        classes.append((entry.name, sorted(found, key=os.fsencode)))
    if hidden_files:
        log.warning(
            "%s: skipped %d hidden file%s, e.g. %s",
            _shown(folder),
            len(hidden_files),
            "s" if len(hidden_files) > 1 else "",
            _shown(Path(hidden_files[0])),
        )
    return classes


def image_files(folder: Path) -> tuple[list[str], list[str]]:
    """(the image files under `folder`, the hidden ones: a name or a folder on the way that starts with a dot), by
    suffix. Links to folders are not followed (``rglob``), so a link that loops cannot hang the walk."""
    found: list[str] = []
    hidden: list[str] = []
    for path in folder.rglob("*"):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            (hidden if any(part.startswith(".") for part in path.relative_to(folder).parts) else found).append(
                str(path)
            )
        elif path.is_symlink() and path.is_dir():
            log.warning("%s: skipped: a link to a folder inside a class is not followed", _shown(path))
    return found, hidden


def _shown(path: Path) -> str:
    """A path as a line can show it: bytes that are not UTF-8 written as escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def file_names(files: Any) -> list[bytes]:
    """File names as TensorFlow takes them: bytes, so that a name that is not UTF-8 still names its file."""
    return [os.fsencode(str(f)) for f in files]


def _orientations(files: list[str]) -> np.ndarray:
    """Every file's header read and checked (``decode.read_header``), in parallel: each one's EXIF orientation."""
    if not files:
        return np.ones(0, np.int64)
    with ThreadPoolExecutor(max_workers=8) as pool:
        return np.fromiter((h.orientation for h in pool.map(read_header, files)), np.int64, len(files))


def read_files(files: list[str] | np.ndarray, what: str) -> np.ndarray:
    """Image files of one size decoded into one array (N, H, W, C), brought to the most channels any has (grey
    repeated, opaque alpha added), for data held in memory beside other arrays (images with their masks)."""
    names = [str(f) for f in files]
    shapes = _shapes(names, _orientations(names))
    if len({(h, w) for h, w, _c in shapes.tolist()}) > 1:
        raise _error(
            f"{what} are of several sizes; here every image must have one size", file=str(Path(str(files[0])).parent)
        )
    channels = int(shapes[:, 2].max())
    return np.stack([decode_file(f, channels) for f in files])


def unreadable(error: BaseException, *sources: Images | None) -> SpecError | None:
    """When training stopped on a TensorFlow error: the located SpecError of the folder file that caused it, if one did.

    A folder's files are checked when it is loaded by their headers only (JPEG) or by decoding them; one
    whose data is broken, or that decodes to another size than its header says, stops the training input
    (or evaluation's) when it is decoded. Every file is decoded again here, on this error path only, to say which."""
    import tensorflow as tf

    if not isinstance(error, tf.errors.OpError):
        return None
    for images in sources:
        if images is None or images.files is None or images.file_shapes is None:
            continue
        files = [str(f) for f in images.files]
        decoded = _shapes(files, images.file_orientations, header=False)[:, :2]
        for i in np.flatnonzero(np.any(decoded != images.file_shapes[:, :2], axis=1)):
            (h, w), (H, W) = images.file_shapes[i, :2], decoded[i]
            return DataError(Problem(f"the image decodes to {H}x{W} but its header says {h}x{w}", file=files[i]))
    return None


def _shapes(files: list[str], orientations: np.ndarray | None = None, header: bool = True) -> np.ndarray:
    """Every file's (H, W, C) upright as `decode` and `orient` give it, by a parallel tf.data map: a JPEG's from its
    header (unless not `header`), any other file's by decoding it. A file that does not read is a located SpecError."""
    import tensorflow as tf

    def shape(index: Any, path: Any) -> Any:
        data = tf.io.read_file(path)
        jpeg = tf.strings.substr(data, 0, 3) == b"\xff\xd8\xff"
        jpeg = jpeg if header else tf.constant(False)
        return index, tf.cond(
            jpeg, lambda: tf.io.extract_jpeg_shape(data, tf.int64), lambda: tf.shape(decode(data), tf.int64)
        )

    ds = tf.data.Dataset.from_tensor_slices((np.arange(len(files)), file_names(files)))
    ds = (
        ds.map(
            tf.autograph.experimental.do_not_convert(shape), num_parallel_calls=tf.data.AUTOTUNE, deterministic=False
        )
        .ignore_errors()
        .batch(1024)
        .with_options(tfdata.options(deterministic=False))
    )
    out = np.full((len(files), 3), -1, np.int64)
    for index, shapes in ds.prefetch(2):
        out[index.numpy()] = shapes.numpy()
    if orientations is not None:
        turned = np.asarray([ORIENTATIONS[int(k)][0] for k in orientations], bool) & (out[:, 0] >= 0)
        out[turned] = out[turned][:, [1, 0, 2]]
    for i in np.flatnonzero(out[:, 0] < 0):
        out[i] = decode_file(
            files[i]
        ).shape  # the map could not read it: decoding it raises its own, located error (upright)
    return out


def split_validation(images: Images, fraction: float, seed: int | None) -> tuple[Images, Images]:
    """Hold out `fraction` of the examples for validation, the same share of every class.

    Each class's examples are shuffled with `seed` and the first of them held out; the examples
    left over by rounding go to the classes with the largest remainders. `seed` None takes the
    last examples instead, as archspec 0.1 did: the run folders it wrote resume with their own split."""
    n_val = round(images.count * fraction)
    if n_val < 1 or n_val >= images.count:
        raise _error(
            f"validation_split {fraction} of {images.count} examples leaves {images.count - n_val} for training and "
            f"{n_val} for validation",
            "use a larger data set or another fraction",
        )
    if seed is None:
        cut = images.count - n_val
        return (
            images.take(slice(0, cut), name=f"{images.name} (first {cut})"),
            images.take(slice(cut, None), name=f"{images.name} (last {n_val}, validation_split)"),
        )
    labels = images.y
    classes, counts = np.unique(labels, return_counts=True)  # type: ignore[call-overload]  # training data has labels
    quota = counts * fraction
    share = np.floor(quota).astype(np.int64)
    leftover = n_val - int(share.sum())
    share[np.argsort(-(quota - share), kind="stable")[:leftover]] += 1
    rng = np.random.default_rng(seed)
    held = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, share, strict=True)]
    )
    mask = np.zeros(images.count, bool)
    mask[held] = True
    return (
        images.take(np.flatnonzero(~mask), name=f"{images.name} (all but {n_val})"),
        images.take(np.flatnonzero(mask), name=f"{images.name} ({n_val} held out by validation_split)"),
    )


def match_classes(images: Images, names: list[str], what: str) -> Images:
    """`images` with its labels renumbered to a model's classes `names`, matched by name, never by position: a folder
    of {nine, seven} for a model of {seven, three} must not score nines as sevens.

    Every class of the source must be one of the model's (else a SpecError names those that are not: a model
    whose run recorded no names has classes 0, 1, ...); a source with fewer classes keeps its examples, under the
    model's numbers."""
    if images.class_names is None or images.y is None or images.class_names == names:
        return images
    index = {name: i for i, name in enumerate(names)}
    unknown = [n for n in images.class_names if n not in index]
    if unknown:
        raise _error(
            f"{what}: the model has no class {', '.join(map(repr, unknown[:8]))}"
            + (f" (and {len(unknown) - 8} more)" if len(unknown) > 8 else ""),
            f"the model's classes: {', '.join(names[:20])}{', ...' if len(names) > 20 else ''}; a folder's classes are "
            "matched by name, so name each class folder after the model's class",
            file=images.name,
        )
    renumber = np.asarray([index[n] for n in images.class_names], np.int64)
    return replace(images, y=renumber[images.y], classes=len(names), class_names=list(names))


def missing_classes(train: Images, val: Images) -> list[str]:
    """Classes of the training data that the validation data lacks: its accuracy says nothing about them."""
    if train.y is None or val.y is None:
        return []
    absent = sorted(set(np.unique(train.y).tolist()) - set(np.unique(val.y).tolist()))
    names = train.class_names or val.class_names
    return [names[i] if names and i < len(names) else str(i) for i in absent]
