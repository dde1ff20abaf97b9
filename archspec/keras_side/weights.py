"""Pretrained weights into a network built from a spec: reading a source, matching, the transfer report.

A source is a ``.keras`` model, a ``.weights.h5`` file, a legacy Keras HDF5
weights file (keras.applications' ImageNet downloads), a run folder, or
``keras:NAME`` (keras.applications' ImageNet weights for that constructor,
from the local Keras cache). The files are read with h5py, not through
Keras' loaders: those need the source's own architecture, and here the
network may differ from the source (a new head, a wider stage).

Matching, per layer with weights (a layer's tensors move together):

1. by name: the zoo uses keras.applications' layer names, so ``conv1_conv``
   finds ``conv1_conv``;
2. then by position, for the layers left on both sides (an imported or
   renamed spec): per kind of layer, in network order, the longest run of
   identical weight shapes is paired (``difflib.SequenceMatcher``), so a layer
   added or removed in between does not shift the others.

What is not transferred is reported by name: new (nothing in the source),
shape differs (both shapes), unused in the source.
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError, closest
from . import prober
from .backend import keras as import_keras

KERAS_PREFIX = "keras:"
RUN_MODELS = ("model.keras", "checkpoints/best.keras", "checkpoints/last.keras")
"""Where a run folder keeps a model, preferred first: the final one, else the best or last checkpoint."""
SHOWN = 6
"""Layers a report line names before it says how many more there are."""

Shape = tuple[int, ...]


# ----------------------------------------------------------------------------- sources


@dataclass
class SourceLayer:
    name: str
    tensors: list[Any]
    """h5py datasets, read when transferred."""
    weight_names: list[str]
    """Short names ('kernel') where the format records them, else ''."""
    kind: str | None = None
    """The Keras class in snake case (conv2d), where the format records it."""

    @property
    def shapes(self) -> list[Shape]:
        return [tuple(int(d) for d in t.shape) for t in self.tensors]


@dataclass
class Source:
    label: str
    """What the report calls it: the file's name, or keras:NAME."""
    path: Path
    format: str
    """keras (a .keras archive), weights.h5 (Keras 3 weights), legacy-h5 (Keras 2 / keras.applications)."""
    layers: list[SourceLayer]
    """Layers with weights, in network order (per kind only, for weights.h5: see _keras3_layers)."""
    ordered: bool = True
    """Whether `layers` is in network order across kinds (False: only within each kind, grouped by kind)."""


def _snake(name: str) -> str:
    """Keras' own spelling of a class as a name (Conv2D -> conv2d, BatchNormalization -> batch_normalization)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _bad(path: Path | str, message: str, hint: str | None = None) -> SpecError:
    return SpecError(Problem(message, file=str(path), hint=hint))


MAX_DEPTH = 64
"""Groups a weights file may nest (Keras nests two per sub-model): deeper is a cycle or a hostile file."""
MAX_CONFIG_BYTES = 256 * 2**20
"""Largest config.json of a .keras archive read (a zip bomb declares gigabytes)."""
MAX_OBJECTS = 1_000_000
"""Groups and datasets a model file may hold (ResNet50 has about 1,500)."""
MAX_PROBED = 2**31
"""Bytes of one tensor the probe reads (a damaged size field declares more; matching refuses it anyway)."""
PROBE_SECONDS = 30
"""How long the probe may take, plus a second per 20 MB of file, before it counts as a hang."""
PROBE_CODE = "from archspec.keras_side.weights import _probe_child; _probe_child(path)"
"""What the probe's reader runs (``path`` is bound to the file's path, a str)."""
NUMERIC = "fiub"
"""NumPy dtype kinds a weight tensor may have (float, int, unsigned, bool)."""


class _Reader:
    """The one guarded way into a weights file: every group, attribute and tensor is reached through it.

    h5py follows soft links, external links (to any file on the machine) and external or virtual datasets
    silently, and walks a group that contains itself forever. Keras never writes any of these, so each is
    refused, with the file named and the HDF5 path of what is wrong; so are missing groups, non-numeric
    tensors and names that are not text."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def refuse(self, where: str, what: str, hint: str | None = None) -> SpecError:
        return _bad(
            self.path,
            f"refused: {where} {what}",
            hint or "the file is damaged or was not written by Keras: fetch or save it again",
        )

    def child(self, group: Any, key: str, *, dataset: bool = False, any_kind: bool = False) -> Any:
        """``group[key]`` through a hard link only; a Group, with `dataset` a numeric Dataset, with `any_kind`
        either."""
        import h5py

        where = f"{group.name.rstrip('/')}/{key}"
        link = group.get(key, getlink=True)
        if link is None:
            raise self.refuse(where, "is missing: the file names it but does not hold it")
        if isinstance(link, h5py.ExternalLink):
            raise self.refuse(where, f"is a link to another file ({_text(link.filename)[:80]}); it is not followed")
        if not isinstance(link, h5py.HardLink):
            raise self.refuse(where, "is a soft link; weights files hold no links, and it is not followed")
        item = group[key]
        if any_kind:
            return item
        if not dataset:
            if not isinstance(item, h5py.Group):
                raise self.refuse(where, "is a tensor where a group of tensors belongs")
            return item
        if not isinstance(item, h5py.Dataset):
            raise self.refuse(where, "is a group where a weight tensor belongs")
        if item.external or item.is_virtual:
            raise self.refuse(where, "keeps its data in another file; it is not read")
        if item.dtype.kind not in NUMERIC:
            what = {
                "S": "text",
                "U": "text",
                "O": "objects",
                "V": "records",
                "c": "complex numbers",
                "M": "dates",
                "m": "durations",
            }
            raise self.refuse(where, f"holds {what.get(item.dtype.kind, 'values')} ({item.dtype}), not real numbers")
        return item

    def audit(self, root: Any) -> None:
        """Every link and dataset of the file, without reading any data: what Keras' own loader would follow."""
        import h5py

        seen, stack, count = {root.id}, [root], 0
        while stack:
            group = stack.pop()
            for key in group:
                count += 1
                if count > MAX_OBJECTS:
                    raise self.refuse(group.name, f"and the groups around it hold more than {MAX_OBJECTS:,} objects")
                item = self.child(group, key, any_kind=True)
                if isinstance(item, h5py.Group):
                    if item.id in seen:
                        raise self.refuse(item.name, "is reached twice (a group that contains itself)")
                    seen.add(item.id)
                    stack.append(item)
                elif isinstance(item, h5py.Dataset) and (item.external or item.is_virtual):
                    raise self.refuse(item.name, "keeps its data in another file; it is not read")

    def read_everything(self, root: Any) -> None:
        """Every attribute and tensor of the file read once (what the probe does in a child process)."""
        import h5py

        stack = [root]
        seen = {root.id}
        while stack:
            node = stack.pop()
            for name in node.attrs:
                node.attrs[name]
            if not isinstance(node, h5py.Group):
                if node.size * node.dtype.itemsize <= MAX_PROBED:
                    node[()]
                continue
            for key in node:
                item = self.child(node, key, any_kind=True)
                if item.id not in seen:
                    seen.add(item.id)
                    stack.append(item)

    def names(self, node: Any, attribute: str) -> list[str]:
        """A list-of-names attribute (layer_names, weight_names), checked to be one."""
        import numpy as np

        value = node.attrs.get(attribute, [])
        values = list(value) if isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1 else None
        if values is None or not all(isinstance(v, (str, bytes, np.bytes_, np.str_)) for v in values):
            raise self.refuse(f"{node.name.rstrip('/')}/@{attribute}", "is not a list of names")
        try:
            return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]
        except UnicodeDecodeError:
            raise self.refuse(f"{node.name.rstrip('/')}/@{attribute}", "holds a name that is not UTF-8 text") from None

    def keras3_layers(self, root: Any, order: dict[str, tuple[int, str]] | None) -> list[SourceLayer]:
        """Layers of a Keras 3 weights file: ``layers/<key>/vars/0..n``, the layer's name an attribute of ``vars``.

        The keys are Keras' generic names (conv2d, conv2d_1, ...) in h5py's alphabetical order, so without the
        model's config (``order``: name -> (index, class)) only the order within one kind of layer is known.
        Nested models are walked with a stack, each group once: a group that contains itself ends the walk."""
        import h5py

        found: list[tuple[tuple[Any, ...], SourceLayer]] = []
        seen: set[Any] = set()
        stack = [(self.child(root, "layers"), 1)] if "layers" in root else []
        while stack:
            group, depth = stack.pop()
            if group.id in seen or depth > MAX_DEPTH:
                raise self.refuse(
                    group.name,
                    "contains itself (a cycle of groups)"
                    if group.id in seen
                    else f"is nested more than {MAX_DEPTH} levels deep",
                )
            seen.add(group.id)
            nested = []
            for key in group:
                item = self.child(group, key, any_kind=True)
                if not isinstance(item, h5py.Group):
                    continue
                if "vars" not in item:
                    if "layers" in item:
                        nested.append((self.child(item, "layers"), depth + 1))
                    continue
                variables = self.child(item, "vars")
                if len(variables):
                    keys = sorted(variables, key=lambda k: int(k) if k.isdigit() else -1)
                    name = variables.attrs.get("name", key)
                    name = _text(name) if isinstance(name, (str, bytes)) else key
                    rank: tuple[Any, ...]  # (0, stem, number) here; (index in the model's config,) when it has one
                    head, underscore, tail = key.rpartition("_")  # a trailing _NUMBER, as Keras numbers names
                    stem, number = (head, tail) if underscore and tail.isdecimal() else (key, None)
                    kind, rank = stem, (0, stem, int(number or 0))
                    if order and name in order:
                        rank, kind = (order[name][0],), _snake(order[name][1])
                    tensors = [self.child(variables, k, dataset=True) for k in keys]
                    found.append((rank, SourceLayer(name, tensors, [""] * len(keys), kind)))
                if "layers" in item:
                    nested.append((self.child(item, "layers"), depth + 1))
            stack.extend(reversed(nested))
        return [layer for _, layer in sorted(found, key=lambda pair: pair[0])]

    def legacy_layers(self, root: Any) -> list[SourceLayer]:
        """Layers of a legacy HDF5 weights file: ``layer_names`` in network order, each with its ``weight_names``."""
        out = []
        for name in self.names(root, "layer_names"):
            group = self.child(root, name)
            names = self.names(group, "weight_names")
            if names:
                out.append(
                    SourceLayer(
                        name,
                        [self.child(group, w, dataset=True) for w in names],
                        [w.split("/")[-1].split(":")[0] for w in names],
                    )
                )
        return out


def _config_order(config: Any) -> dict[str, tuple[int, str]]:
    """Layer name -> (position, class name) from a .keras archive's config.json, nested models flattened.

    Walked with a stack in network order (pre-order), so an absurdly nested config cannot exhaust Python's stack."""
    out: dict[str, tuple[int, str]] = {}
    stack = [config]
    while stack:
        cfg = stack.pop()
        inner = cfg.get("config") if isinstance(cfg, dict) else None
        layers = inner.get("layers") if isinstance(inner, dict) else None
        children = [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []
        for layer in children:
            inner = layer.get("config")
            name = layer.get("name") or (inner.get("name") if isinstance(inner, dict) else None)
            if isinstance(name, str):
                out.setdefault(name, (len(out), str(layer.get("class_name", ""))))
        stack.extend(reversed(children))
    return out


def _h5(path: Path, stack: ExitStack, data: Any = None) -> Any:
    import h5py

    try:
        return stack.enter_context(h5py.File(data if data is not None else path, "r"))
    except (OSError, ValueError) as exc:
        raise _bad(
            path,
            f"cannot read {path.name} as HDF5 weights ({' '.join(str(exc).split())[:200]})",
            "the file may be truncated (an interrupted download or copy): fetch it again",
        ) from None


def _read_h5(path: Path, label: str, stack: ExitStack) -> Source:
    root = _h5(path, stack)
    reader = _Reader(path)
    if "layer_names" not in root.attrs and "model_weights" in root:
        inner = reader.child(root, "model_weights")
        if "layer_names" in inner.attrs:
            root = inner  # a whole model saved in the legacy format
    if "layer_names" in root.attrs:
        return Source(label, path, "legacy-h5", reader.legacy_layers(root))
    if "layers" in root:
        return Source(label, path, "weights.h5", reader.keras3_layers(root, None), ordered=False)
    raise _bad(
        path,
        f"{path.name} is an HDF5 file but holds no Keras weights",
        "expected a .weights.h5 file (model.save_weights) or a legacy HDF5 weights file (layer_names)",
    )


def _read_keras(path: Path, label: str, stack: ExitStack) -> Source:
    try:
        archive = stack.enter_context(zipfile.ZipFile(path))
        names = archive.namelist()
        config: Any = {}
        if "config.json" in names:
            if archive.getinfo("config.json").file_size > MAX_CONFIG_BYTES:
                raise ValueError(f"its config.json is larger than {MAX_CONFIG_BYTES // 2**20} MiB")
            config = json.loads(archive.read("config.json"))
        data = _member(path, "model.weights.h5", stack)
    except RecursionError:
        raise _bad(
            path,
            f"cannot read {path.name} as a .keras model: its config.json is nested too deeply",
            "a model's config nests a few levels per sub-model: this file was not written by Keras",
        ) from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise _bad(
            path,
            f"cannot read {path.name} as a .keras model ({' '.join(str(exc).split())[:200]})",
            "the file may be truncated or not a Keras 3 model: save it again with model.save('x.keras')",
        ) from None
    root = _h5(path, stack, data)
    order = _config_order(config)
    layers = _Reader(path).keras3_layers(root, order)
    return Source(label, path, "keras", layers, ordered=all(layer.name in order for layer in layers))


def _run_model(folder: Path) -> Path:
    for name in RUN_MODELS:
        if (folder / name).is_file():
            return folder / name
    raise _bad(
        folder,
        f"{folder} holds no model: none of {', '.join(RUN_MODELS)}",
        "give a run folder of `archspec train`, a .keras file, a .weights.h5 file or keras:NAME",
    )


def resolve(source: str | os.PathLike[str]) -> tuple[Path, str]:
    """The file a source names and what a report calls it; SpecError when there is none.

    Cheap (no Keras) except for ``keras:NAME``, which asks keras.applications which file it is."""
    text = str(source)
    if text.startswith(KERAS_PREFIX):
        name, path = keras_application_file(text[len(KERAS_PREFIX) :])
        return path, f"{KERAS_PREFIX}{name} ({path.name})"
    path = Path(text).expanduser()
    try:
        folder, file = path.is_dir(), path.is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL byte
        folder = file = False
    if folder:
        path = _run_model(path)
        return path, str(path)
    if not file:
        raise _bad(
            text,
            "no such weights file or run folder",
            "give a .keras file, a .weights.h5 file, a legacy HDF5 weights file, a run folder, or keras:NAME (e.g. "
            "keras:ResNet50)",
        )
    return path, path.name


def _read(path: Path, label: str, stack: ExitStack) -> Source:
    if zipfile.is_zipfile(path):
        return _read_keras(path, label, stack)
    import h5py

    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise _bad(
            path,
            f"{path.name} is empty",
            "an interrupted download or copy leaves an empty file: fetch or save it again",
        )
    if head == b"PK\x03\x04":
        raise _bad(
            path,
            f"{path.name} is a zip archive cut short (its directory at the end is missing): truncated",
            "an interrupted download or copy: fetch or save it again",
        )
    if not h5py.is_hdf5(path):
        raise _bad(
            path,
            f"{path.name} is not a weights file",
            "expected a .keras model, a .weights.h5 file, a legacy HDF5 weights file (.h5), a run folder or keras:NAME",
        )
    return _read_h5(path, label, stack)


@contextmanager
def _guarded(path: Path) -> Iterator[None]:
    """Whatever h5py, zipfile or NumPy raise on a damaged or hostile file becomes one message naming it.

    The checks in _Reader say what is wrong where they can; this is the net under them (h5py raises OSError,
    KeyError, ValueError, TypeError or RuntimeError for a file damaged in the middle), so no Python exception
    reaches the user."""
    try:
        yield
    except SpecError:
        raise
    except RecursionError:
        raise _bad(
            path,
            f"cannot read {path.name}: its structure is nested too deeply",
            "the file is damaged or was not written by Keras",
        ) from None
    except Exception as exc:
        detail = " ".join(str(exc).replace(str(path), "the file").split())[:200] or type(exc).__name__
        raise _bad(
            path,
            f"cannot read {path.name} as weights ({detail})",
            "the file may be truncated (an interrupted download or copy) or damaged: fetch or save it again",
        ) from None


class _Window(io.RawIOBase):
    """A read-only, seekable view of bytes [start, start + size) of a file: a zip member stored uncompressed,
    read in place (zipfile's own reader re-reads from the member's start on every backward seek, and HDF5 seeks a
    lot)."""

    def __init__(self, file: Any, start: int, size: int) -> None:
        self.file, self.start, self.size, self.at = file, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.at

    def seek(self, offset: int, whence: int = 0) -> int:
        self.at = max(0, {0: offset, 1: self.at + offset, 2: self.size + offset}[whence])
        return self.at

    def readinto(self, buffer: Any) -> int:
        self.file.seek(self.start + self.at)
        data = self.file.read(max(0, min(len(buffer), self.size - self.at)))
        buffer[: len(data)] = data
        self.at += len(data)
        return len(data)


def _member(path: Path, name: str, stack: ExitStack) -> Any:
    """A zip member as a seekable file for h5py: in place when stored (as Keras stores it), else read into memory."""
    import struct

    archive = stack.enter_context(zipfile.ZipFile(path))
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return io.BytesIO(archive.read(name))
    file = stack.enter_context(open(path, "rb"))  # noqa: SIM115 (the ExitStack closes it)
    file.seek(info.header_offset)
    header = file.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {name}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return _Window(file, info.header_offset + 30 + name_length + extra_length, info.file_size)


def audit(path: Path) -> None:
    """Refuse a saved model (a .keras archive or a legacy .h5 model) that holds links, external data or a
    cycle of groups, before Keras reads it: Keras' loader follows them (a dataset stored in /etc/passwd
    loads as weights). Cheap: metadata only."""
    import h5py

    reader = _Reader(path)
    with ExitStack() as stack:
        try:
            if zipfile.is_zipfile(path):
                root = h5py.File(_member(path, "model.weights.h5", stack), "r")
            else:
                root = h5py.File(path, "r")
            stack.enter_context(root)
            reader.audit(root)
        except SpecError:
            raise
        except Exception:
            return


def _probe_child(path: str) -> None:
    """The probe's child: open the source as open_source does, then read every attribute and tensor."""
    target = Path(path)
    with ExitStack() as stack:
        _read(target, target.name, stack)
        root = h5py_root(target, stack)
        _Reader(target).read_everything(root)


def h5py_root(path: Path, stack: ExitStack) -> Any:
    import h5py

    data = _member(path, "model.weights.h5", stack) if zipfile.is_zipfile(path) else path
    return stack.enter_context(h5py.File(data, "r"))


def probe(path: Path) -> None:
    """Read the whole file once in another process first (``prober``): on some damaged data the HDF5 library
    loops forever or crashes (a corrupted string heap spins at 100 % CPU), and no Python code can interrupt it.
    A reader that hangs is killed and the file refused; one that dies of a signal, likewise. Any other
    failure is left to the reader here, which says what is wrong in its words."""
    seconds = PROBE_SECONDS + path.stat().st_size // 20_000_000
    outcome = prober.read(PROBE_CODE, path, seconds)
    if outcome.hung:
        raise _bad(
            path,
            f"reading {path.name} did not finish in {seconds} s: the HDF5 library loops on its damaged data",
            "the file is damaged: fetch or save it again",
        ) from None
    if outcome.status < 0:
        raise _bad(
            path,
            f"reading {path.name} crashed the HDF5 library (signal {-outcome.status}): the file is damaged",
            "fetch or save it again",
        ) from None


@contextmanager
def open_source(source: str | os.PathLike[str]) -> Iterator[Source]:
    """The layers a source holds; the file stays open (tensors are read lazily) until the block ends."""
    path, label = resolve(source)
    probe(path)
    with ExitStack() as stack:
        with _guarded(path):
            opened = _read(path, label, stack)
        yield opened


# ----------------------------------------------------------------------------- keras.applications


class _Wanted(Exception):
    """Raised by the stand-in for get_file: the file a keras.applications constructor asked for."""

    def __init__(self, fname: str, origin: str, cache_subdir: str, file_hash: str | None) -> None:
        super().__init__(fname)
        self.fname, self.origin, self.cache_subdir, self.file_hash = fname, origin, cache_subdir, file_hash


def keras_home() -> Path:
    """Keras' cache folder: $KERAS_HOME, else ~/.keras (read now, not when Keras was imported)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()


def _wanted(constructor: Callable[..., Any], name: str) -> _Wanted:
    """Ask the constructor which ImageNet file it loads, without loading or downloading it.

    keras.applications keeps each network's file name, address and hash inside its constructor, which
    passes them to ``keras.src.utils.file_utils.get_file``; a stand-in for that function records them."""
    import importlib

    file_utils: Any = importlib.import_module("keras.src.utils.file_utils")  # Keras: untyped
    real = file_utils.get_file

    def record(
        fname: str | None = None,
        origin: str | None = None,
        *args: Any,
        cache_subdir: str = "datasets",
        file_hash: str | None = None,
        **kwargs: Any,
    ) -> str:
        raise _Wanted(str(fname or Path(str(origin)).name), str(origin), cache_subdir, file_hash)

    file_utils.get_file = record
    try:
        constructor(weights="imagenet")
    except _Wanted as wanted:
        return wanted
    except Exception as exc:
        raise SpecError(
            Problem(
                f"keras.applications.{name} cannot give ImageNet weights: {' '.join(str(exc).split())[:200]}",
                file=f"{KERAS_PREFIX}{name}",
            )
        ) from None
    finally:
        file_utils.get_file = real
    raise SpecError(Problem(f"keras.applications.{name} loaded no weights file", file=f"{KERAS_PREFIX}{name}"))


def download(wanted: _Wanted, cache: Path) -> Path:
    """Keras' own download into its cache (checks the hash); raises when the machine is offline."""
    import importlib

    file_utils = importlib.import_module("keras.src.utils.file_utils")
    return Path(
        file_utils.get_file(
            wanted.fname,
            wanted.origin,
            cache_subdir=wanted.cache_subdir,
            file_hash=wanted.file_hash,
            cache_dir=str(cache),
        )
    )


def _hash_ok(path: Path, file_hash: str | None) -> bool:
    if not file_hash:
        return True
    import importlib

    return bool(
        importlib.import_module("keras.src.utils.file_utils").validate_file(str(path), file_hash, algorithm="auto")
    )


def keras_application_file(name: str) -> tuple[str, Path]:
    """(constructor name, local file) of keras.applications' ImageNet weights for `name`.

    From the Keras cache when the file is there (and its hash is right); else downloaded by Keras; offline,
    a SpecError saying which file to put where."""
    keras = import_keras()
    names = [n for n in dir(keras.applications) if n[:1].isupper() and callable(getattr(keras.applications, n))]
    exact = {n.lower(): n for n in names}
    if name.lower() not in exact:
        near = closest(name, names)
        raise SpecError(
            Problem(
                f"keras.applications has no network {name!r}",
                file=f"{KERAS_PREFIX}{name}",
                hint=f"did you mean {KERAS_PREFIX}{near}?" if near else f"one of {', '.join(names)}",
            )
        )
    name = exact[name.lower()]
    wanted = _wanted(getattr(keras.applications, name), name)
    cache = keras_home()
    for base in dict.fromkeys((cache, Path("/tmp/.keras"))):
        path = base / wanted.cache_subdir / wanted.fname
        if path.is_file():
            if not _hash_ok(path, wanted.file_hash):
                raise _bad(
                    path,
                    f"{path} is not the file keras.applications.{name} expects (its hash differs: incomplete or "
                    "another file)",
                    f"delete it and place the file from {wanted.origin} there",
                )
            return name, path
    target = cache / wanted.cache_subdir / wanted.fname
    try:
        return name, download(wanted, cache)
    except Exception:
        raise SpecError(
            Problem(
                f"keras:{name} needs {wanted.fname} in {target.parent}, and it is not there and cannot be downloaded",
                file=f"{KERAS_PREFIX}{name}",
                hint=f"on a machine with internet access download {wanted.origin} and place it at {target} (or set "
                "KERAS_HOME)",
            )
        ) from None


# ----------------------------------------------------------------------------- the report


def _shape(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape)) or "scalar"


@dataclass(frozen=True)
class Weights:
    """A layer's weight tensors: names ('' where unknown) and shapes."""

    names: tuple[str, ...]
    shapes: tuple[Shape, ...]

    def text(self) -> str:
        return ", ".join(f"{n} {_shape(s)}" if n else _shape(s) for n, s in zip(self.names, self.shapes, strict=True))

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": n or None, "shape": list(s)} for n, s in zip(self.names, self.shapes, strict=True)]


@dataclass(frozen=True)
class Entry:
    """One layer in the report: the network's layer and/or the source's."""

    layer: str | None
    weights: Weights | None
    source: str | None = None
    source_weights: Weights | None = None
    match: str | None = None
    """How it was paired: name, position (the same network renamed) or shape (asked for: --weights-by-shape);
    None: not paired."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"layer": self.layer, "source": self.source, "match": self.match}
        if self.weights is not None:
            out["weights"] = self.weights.to_json()
        if self.source_weights is not None:
            out["source_weights"] = self.source_weights.to_json()
        return out


@dataclass
class TransferReport:
    """What moved from a source into a network, and what did not (printed, and written as transfer.json)."""

    source: str
    path: str
    format: str
    network: str
    transferred: list[Entry] = field(default_factory=list)
    shape_differs: list[Entry] = field(default_factory=list)
    new: list[Entry] = field(default_factory=list)
    unused: list[Entry] = field(default_factory=list)

    @property
    def tensors(self) -> int:
        """Weight tensors of the network."""
        return sum(len(e.weights.shapes) for e in (*self.transferred, *self.shape_differs, *self.new) if e.weights)

    @property
    def tensors_transferred(self) -> int:
        return sum(len(e.weights.shapes) for e in self.transferred if e.weights)

    @property
    def complete(self) -> bool:
        """Every tensor of the network came from the source, and the source had nothing else."""
        return not (self.shape_differs or self.new or self.unused)

    def lines(self) -> list[str]:
        by = {how: sum(1 for e in self.transferred if e.match == how) for how in ("name", "position", "shape")}
        how = ", ".join(f"{n} layer{'s' if n != 1 else ''} by {k}" for k, n in by.items() if n) or "nothing matched"
        out = [f"transferred {self.tensors_transferred} of {self.tensors} weight tensors from {self.source} ({how})"]

        def listed(title: str, entries: list[Entry], text: Callable[[Entry], str]) -> None:
            if not entries:
                return
            shown = [text(e) for e in entries[:SHOWN]]
            more = f"; and {len(entries) - SHOWN} more" if len(entries) > SHOWN else ""
            out.append(f"  {title}: " + "; ".join(shown) + more)

        listed(
            "shape differs",
            self.shape_differs,
            lambda e: (
                f"{e.layer} ({e.weights.text() if e.weights else ''}; the source has "
                f"{e.source_weights.text() if e.source_weights else ''})"
            ),
        )
        listed("new", self.new, lambda e: f"{e.layer} ({e.weights.text() if e.weights else ''})")
        listed(
            "unused in the source",
            self.unused,
            lambda e: f"{e.source} ({e.source_weights.text() if e.source_weights else ''})",
        )
        return out

    def text(self) -> str:
        return "\n".join(self.lines()) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "format": self.format,
            "network": self.network,
            "tensors": self.tensors,
            "tensors_transferred": self.tensors_transferred,
            "complete": self.complete,
            "transferred": [e.to_json() for e in self.transferred],
            "shape_differs": [e.to_json() for e in self.shape_differs],
            "new": [e.to_json() for e in self.new],
            "unused": [e.to_json() for e in self.unused],
        }


# ----------------------------------------------------------------------------- matching


@dataclass
class _Target:
    layer: Any
    kind: str

    @property
    def name(self) -> str:
        return str(self.layer.name)

    @property
    def shapes(self) -> list[Shape]:
        return [tuple(int(d) for d in w.shape) for w in self.layer.weights]

    def described(self) -> Weights:
        return Weights(tuple(str(w.name).split("/")[-1] for w in self.layer.weights), tuple(self.shapes))


def _described(layer: SourceLayer, like: _Target | None = None) -> Weights:
    """A source layer's weights; unnamed ones (weights.h5) take the names of the layer they are set beside."""
    names = list(layer.weight_names)
    if like is not None and not any(names) and len(like.layer.weights) == len(names):
        names = list(like.described().names)
    return Weights(tuple(names), tuple(layer.shapes))


def _form(kind: str | None, names: Sequence[str], shapes: Sequence[Shape], by_kind: bool) -> Any:
    """What must agree for two layers to be the same layer under another name: the kind of layer where the
    source records it, else the weights' names and ranks (legacy files record names, not classes)."""
    return kind if by_kind else tuple((n, len(s)) for n, s in zip(names, shapes, strict=True))


def _target_form(target: _Target, by_kind: bool) -> Any:
    return _form(target.kind, target.described().names, target.shapes, by_kind)


def _source_form(layer: SourceLayer, by_kind: bool) -> Any:
    return _form(layer.kind, layer.weight_names, layer.shapes, by_kind)


def _pair_by_shape(
    targets: list[_Target], sources: list[SourceLayer], by_kind: bool
) -> list[tuple[_Target, SourceLayer]]:
    """Pairs, per kind of layer, from the longest runs of identical weight shapes in network order (a guess,
    only when asked for: ``weights_by_shape``)."""

    def key(shapes: list[Shape], kind: str | None) -> Any:
        return kind if by_kind else tuple(len(s) for s in shapes)

    pairs: list[tuple[_Target, SourceLayer]] = []
    for group in dict.fromkeys(key(t.shapes, t.kind) for t in targets):
        ts = [t for t in targets if key(t.shapes, t.kind) == group]
        ss = [s for s in sources if key(s.shapes, s.kind) == group]
        a, b = [tuple(t.shapes) for t in ts], [tuple(s.shapes) for s in ss]
        for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
            pairs.extend((ts[block.a + i], ss[block.b + i]) for i in range(block.size))
    return pairs


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _divergence(
    targets: list[_Target], sources: list[SourceLayer], by_kind: bool, model: Any, source: Source, named: int
) -> SpecError | None:
    """None when the layers left after name matching are the same layers under other names (the same kinds in
    the same order); else the refusal, naming the first layer where the two networks part."""
    ours = [_target_form(t, by_kind) for t in targets]
    theirs = [_source_form(s, by_kind) for s in sources]
    if ours == theirs:
        return None

    def ours_text(t: _Target) -> str:
        return f"{t.name} ({t.kind}: {t.described().text()})"

    def theirs_text(s: SourceLayer) -> str:
        return f"{s.name} ({s.kind + ': ' if s.kind else ''}{_described(s).text()})"

    # where they part: the first layer of another kind, or (a layer inserted among its own kind) of other shapes
    at = next(
        (
            i
            for i, (a, b, t, s) in enumerate(zip(ours, theirs, targets, sources, strict=False))
            if a != b or t.shapes != s.shapes
        ),
        min(len(ours), len(theirs)),
    )
    scope = (
        f"after {named} layer{'s' if named != 1 else ''} matched by name, the layers left"
        if named
        else "the layers with weights"
    )
    within = (
        ""
        if source.ordered
        else f" (of the {targets[min(at, len(targets) - 1)].kind} layers: the source records no order across kinds)"
    )
    if at < len(ours) and at < len(theirs):
        where = f"{model.name} has {ours_text(targets[at])} where the source has {theirs_text(sources[at])}"
    elif at < len(ours):
        where = f"{model.name} has {ours_text(targets[at])} and more where the source has nothing left"
    else:
        where = f"the source has {theirs_text(sources[at])} and more where {model.name} has nothing left"
    return _bad(
        source.path,
        f"{source.label} is not {model.name} under other names: {scope} ({len(ours)} here, {len(theirs)} in the "
        f"source) differ from the {_ordinal(at + 1)}{within}: {where}",
        "position matching pairs layers only between the same network renamed (the same kinds of layers in the same "
        "order); to pair the layers of another network by kind and weight shape anyway, pass --weights-by-shape "
        "(weights_by_shape=True)",
    )


def match(
    model: Any, source: Source, *, by_shape: bool = False
) -> tuple[TransferReport, list[tuple[_Target, SourceLayer]]]:
    """The report, and the (network layer, source layer) pairs to copy; nothing is copied here.

    Layers left after name matching are paired by position only when they are the same layers in the same order
    (a renamed copy); a different network is refused (SpecError) where a guess would transfer something, unless
    `by_shape` asks for the guess: pairs by kind and identical weight shapes, reported as matched by shape."""
    targets = [_Target(layer, _snake(type(layer).__name__)) for layer in model.layers if layer.weights]
    report = TransferReport(source.label, str(source.path), source.format, str(model.name))
    by_name = {layer.name: layer for layer in source.layers}
    used: set[int] = set()
    pairs: list[tuple[_Target, SourceLayer]] = []
    matched: dict[str, str] = {}

    def pair(target: _Target, other: SourceLayer, how: str) -> None:
        """Pair two layers matched by `how` (name, position) when their tensors agree; else report the difference."""
        used.add(id(other))
        if target.shapes == other.shapes:
            pairs.append((target, other))
            matched[target.name] = how
        else:
            report.shape_differs.append(
                Entry(target.name, target.described(), other.name, _described(other, target), how)
            )
            matched[target.name] = "differs"

    for target in targets:
        other = by_name.get(target.name)
        if other is not None and id(other) not in used:
            pair(target, other, "name")
    rest = [t for t in targets if t.name not in matched]
    if not source.ordered:  # the source's layers are grouped by kind: compare like with like
        rest.sort(key=lambda t: t.kind)
    left = [s for s in source.layers if id(s) not in used]
    by_kind = all(s.kind for s in source.layers)
    if rest and left:
        guessed = _pair_by_shape(rest, left, by_kind)
        refusal = None if by_shape else _divergence(rest, left, by_kind, model, source, len(matched))
        if by_shape:
            for target, other in guessed:
                pairs.append((target, other))
                used.add(id(other))
                matched[target.name] = "shape"
        elif refusal is not None:
            if guessed:  # a guess would transfer something into the wrong layers: say so instead
                raise refusal
        else:
            for target, other in zip(rest, left, strict=True):
                pair(target, other, "position")
    order = {t.name: i for i, t in enumerate(targets)}
    pairs.sort(key=lambda pair: order[pair[0].name])
    report.shape_differs.sort(key=lambda e: order[e.layer or ""])
    report.transferred = [Entry(t.name, t.described(), s.name, _described(s, t), matched[t.name]) for t, s in pairs]
    report.new = [Entry(t.name, t.described()) for t in targets if t.name not in matched]
    report.unused = [Entry(None, None, s.name, _described(s)) for s in source.layers if id(s) not in used]
    return report, pairs


def _copy(pairs: list[tuple[_Target, SourceLayer]], source: Source) -> None:
    import numpy as np

    for target, other in pairs:
        with _guarded(source.path):
            values = [np.asarray(t[()]) for t in other.tensors]
            for value in values:
                if value.dtype.kind in "f" and not np.isfinite(value).all():
                    raise _bad(
                        source.path,
                        f"the weights of {other.name} in {source.path.name} hold NaN or infinite values",
                        "the run that wrote them diverged, or the file is damaged: use an earlier checkpoint",
                    )
        for variable, value in zip(target.layer.weights, values, strict=True):
            variable.assign(value.astype(variable.dtype))


def load_weights(
    model: Any, source: str | os.PathLike[str], *, strict: bool = False, by_shape: bool = False
) -> TransferReport:
    """Copy every matching weight tensor of `source` into `model`; the report says what moved and what did not.

    SpecError when nothing fits, when the layers left after name matching belong to another network (unless
    `by_shape`: see ``match``) and, with `strict`, unless everything matched."""
    with open_source(source) as opened:
        return transfer(model, opened, strict=strict, by_shape=by_shape)


def with_weights(
    make: Callable[[], Any], weights: str | os.PathLike[str] | None, *, strict: bool = False, by_shape: bool = False
) -> Any:
    """`make()`'s model with `weights` transferred into it (``model.transfer``: the report). The source is opened
    before `make` runs, so a missing, misnamed or broken one is refused before Keras spends seconds on the network."""
    if weights is None:
        return make()
    with open_source(weights) as opened:
        model = make()
        model.transfer = transfer(model, opened, strict=strict, by_shape=by_shape)
    return model


def transfer(model: Any, opened: Source, *, strict: bool = False, by_shape: bool = False) -> TransferReport:
    """``load_weights`` from a source already open (``with_weights``)."""
    with _guarded(opened.path):
        report, pairs = match(model, opened, by_shape=by_shape)
    if not pairs:
        theirs = ", ".join(s.name for s in opened.layers[:SHOWN]) or "no layers with weights"
        raise _bad(
            opened.path,
            f"no weight tensor of {opened.label} fits {model.name}: is it a file for another network? "
            f"(it holds {theirs}{', ...' if len(opened.layers) > SHOWN else ''})",
            "names must match, or the same layers in the same order (archspec shapes SPEC --expand lists the "
            "network's)",
        )
    if strict and not report.complete:
        raise SpecError(
            Problem(
                "--strict-weights: not everything matched\n" + report.text().rstrip(),
                file=report.source,
                hint="drop --strict-weights to transfer what matches",
            )
        )
    _copy(pairs, opened)
    return report
