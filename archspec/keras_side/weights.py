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
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..errors import Problem, SpecError, closest
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


def _snake(name: str) -> str:
    """Keras' own spelling of a class as a name (Conv2D -> conv2d, BatchNormalization -> batch_normalization)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _bad(path: Path | str, message: str, hint: str | None = None) -> SpecError:
    return SpecError(Problem(message, file=str(path), hint=hint))


def _keras3_layers(root: Any, order: dict[str, tuple[int, str]] | None) -> list[SourceLayer]:
    """Layers of a Keras 3 weights file: ``layers/<key>/vars/0..n``, the layer's name an attribute of ``vars``.

    The keys are Keras' generic names (conv2d, conv2d_1, ...) in h5py's alphabetical order, so without the
    model's config (``order``: name -> (index, class)) only the order within one kind of layer is known."""
    import h5py

    found: list[tuple[tuple[Any, ...], SourceLayer]] = []

    def walk(group: Any) -> None:
        for key in group:
            item = group[key]
            if not isinstance(item, h5py.Group):
                continue
            variables = item.get("vars")
            if isinstance(variables, h5py.Group) and len(variables):
                keys = sorted(variables, key=lambda k: int(k) if k.isdigit() else -1)
                name = _text(variables.attrs.get("name", key))
                stem, _, number = re.fullmatch(r"(.*?)(_(\d+))?", key).groups()  # type: ignore[union-attr]
                kind, rank = stem, (0, stem, int(number or 0))
                if order and name in order:
                    rank, kind = (order[name][0],), _snake(order[name][1])
                found.append((rank, SourceLayer(name, [variables[k] for k in keys], [""] * len(keys), kind)))
            if isinstance(item.get("layers"), h5py.Group):
                walk(item["layers"])

    if isinstance(root.get("layers"), h5py.Group):
        walk(root["layers"])
    return [layer for _, layer in sorted(found, key=lambda pair: pair[0])]


def _legacy_layers(root: Any) -> list[SourceLayer]:
    """Layers of a legacy HDF5 weights file: ``layer_names`` in network order, each with its ``weight_names``."""
    out = []
    for name in (_text(n) for n in root.attrs["layer_names"]):
        group = root[name]
        names = [_text(w) for w in group.attrs.get("weight_names", [])]
        if names:
            out.append(SourceLayer(name, [group[w] for w in names], [w.split("/")[-1].split(":")[0] for w in names]))
    return out


def _config_order(config: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Layer name -> (position, class name) from a .keras archive's config.json, nested models flattened."""
    out: dict[str, tuple[int, str]] = {}

    def walk(cfg: Any) -> None:
        layers = cfg.get("config", {}).get("layers", []) if isinstance(cfg, dict) else []
        for layer in layers if isinstance(layers, list) else []:
            if not isinstance(layer, dict):
                continue
            name = layer.get("name") or layer.get("config", {}).get("name")
            if isinstance(name, str):
                out.setdefault(name, (len(out), str(layer.get("class_name", ""))))
            walk(layer)

    walk(config)
    return out


def _h5(path: Path, stack: ExitStack, data: Any = None) -> Any:
    import h5py

    try:
        return stack.enter_context(h5py.File(data if data is not None else path, "r"))
    except OSError as exc:
        raise _bad(path, f"cannot read {path.name} as HDF5 weights ({' '.join(str(exc).split())[:200]})",
                   "the file may be truncated (an interrupted download or copy): fetch it again") from None


def _read_h5(path: Path, label: str, stack: ExitStack) -> Source:
    root = _h5(path, stack)
    if "layer_names" not in root.attrs and "model_weights" in root and "layer_names" in root["model_weights"].attrs:
        root = root["model_weights"]  # a whole model saved in the legacy format
    if "layer_names" in root.attrs:
        return Source(label, path, "legacy-h5", _legacy_layers(root))
    if "layers" in root:
        return Source(label, path, "weights.h5", _keras3_layers(root, None))
    raise _bad(path, f"{path.name} is an HDF5 file but holds no Keras weights",
               "expected a .weights.h5 file (model.save_weights) or a legacy HDF5 weights file (layer_names)")


def _read_keras(path: Path, label: str, stack: ExitStack) -> Source:
    try:
        archive = stack.enter_context(zipfile.ZipFile(path))
        config = json.loads(archive.read("config.json")) if "config.json" in archive.namelist() else {}
        data = io.BytesIO(archive.read("model.weights.h5"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise _bad(path, f"cannot read {path.name} as a .keras model ({' '.join(str(exc).split())[:200]})",
                   "the file may be truncated or not a Keras 3 model: save it again with model.save('x.keras')") from None
    root = _h5(path, stack, data)
    return Source(label, path, "keras", _keras3_layers(root, _config_order(config)))


def _run_model(folder: Path) -> Path:
    for name in RUN_MODELS:
        if (folder / name).is_file():
            return folder / name
    raise _bad(folder, f"{folder} holds no model: none of {', '.join(RUN_MODELS)}",
               "give a run folder of `archspec train`, a .keras file, a .weights.h5 file or keras:NAME")


def resolve(source: str | os.PathLike[str]) -> tuple[Path, str]:
    """The file a source names and what a report calls it; SpecError when there is none.

    Cheap (no Keras) except for ``keras:NAME``, which asks keras.applications which file it is."""
    text = str(source)
    if text.startswith(KERAS_PREFIX):
        name, path = keras_application_file(text[len(KERAS_PREFIX):])
        return path, f"{KERAS_PREFIX}{name} ({path.name})"
    path = Path(text).expanduser()
    if path.is_dir():
        path = _run_model(path)
        return path, str(path)
    if not path.is_file():
        raise _bad(text, "no such weights file or run folder",
                   "give a .keras file, a .weights.h5 file, a legacy HDF5 weights file, a run folder, or keras:NAME (e.g. keras:ResNet50)")
    return path, path.name


@contextmanager
def open_source(source: str | os.PathLike[str]) -> Iterator[Source]:
    """The layers a source holds; the file stays open (tensors are read lazily) until the block ends."""
    path, label = resolve(source)
    with ExitStack() as stack:
        if zipfile.is_zipfile(path):
            yield _read_keras(path, label, stack)
            return
        import h5py

        if not h5py.is_hdf5(path):
            raise _bad(path, f"{path.name} is not a weights file",
                       "expected a .keras model, a .weights.h5 file, a legacy HDF5 weights file (.h5), a run folder or keras:NAME")
        yield _read_h5(path, label, stack)


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

    file_utils = importlib.import_module("keras.src.utils.file_utils")
    real = file_utils.get_file

    def record(fname: str | None = None, origin: str | None = None, *args: Any, cache_subdir: str = "datasets",
               file_hash: str | None = None, **kwargs: Any) -> str:
        raise _Wanted(str(fname or Path(str(origin)).name), str(origin), cache_subdir, file_hash)

    file_utils.get_file = record
    try:
        constructor(weights="imagenet")
    except _Wanted as wanted:
        return wanted
    except Exception as exc:  # noqa: BLE001 - the constructor's own complaint
        raise SpecError(Problem(f"keras.applications.{name} cannot give ImageNet weights: {' '.join(str(exc).split())[:200]}",
                                file=f"{KERAS_PREFIX}{name}")) from None
    finally:
        file_utils.get_file = real
    raise SpecError(Problem(f"keras.applications.{name} loaded no weights file", file=f"{KERAS_PREFIX}{name}"))


def download(wanted: _Wanted, cache: Path) -> Path:
    """Keras' own download into its cache (checks the hash); raises when the machine is offline."""
    import importlib

    file_utils = importlib.import_module("keras.src.utils.file_utils")
    return Path(file_utils.get_file(wanted.fname, wanted.origin, cache_subdir=wanted.cache_subdir,
                                    file_hash=wanted.file_hash, cache_dir=str(cache)))


def _hash_ok(path: Path, file_hash: str | None) -> bool:
    if not file_hash:
        return True
    import importlib

    return bool(importlib.import_module("keras.src.utils.file_utils").validate_file(str(path), file_hash, algorithm="auto"))


def keras_application_file(name: str) -> tuple[str, Path]:
    """(constructor name, local file) of keras.applications' ImageNet weights for `name`.

    From the Keras cache when the file is there (and its hash is right); else downloaded by Keras; offline,
    a SpecError saying which file to put where."""
    keras = import_keras()
    names = [n for n in dir(keras.applications) if n[:1].isupper() and callable(getattr(keras.applications, n))]
    exact = {n.lower(): n for n in names}
    if name.lower() not in exact:
        near = closest(name, names)
        raise SpecError(Problem(f"keras.applications has no network {name!r}", file=f"{KERAS_PREFIX}{name}",
                                hint=f"did you mean {KERAS_PREFIX}{near}?" if near else f"one of {', '.join(names)}"))
    name = exact[name.lower()]
    wanted = _wanted(getattr(keras.applications, name), name)
    cache = keras_home()
    for base in dict.fromkeys((cache, Path("/tmp/.keras"))):
        path = base / wanted.cache_subdir / wanted.fname
        if path.is_file():
            if not _hash_ok(path, wanted.file_hash):
                raise _bad(path, f"{path} is not the file keras.applications.{name} expects (its hash differs: incomplete or another file)",
                           f"delete it and place the file from {wanted.origin} there")
            return name, path
    target = cache / wanted.cache_subdir / wanted.fname
    try:
        return name, download(wanted, cache)
    except Exception:  # noqa: BLE001 - offline, refused, interrupted: all mean the same to the user
        raise SpecError(Problem(
            f"keras:{name} needs {wanted.fname} in {target.parent}, and it is not there and cannot be downloaded",
            file=f"{KERAS_PREFIX}{name}",
            hint=f"on a machine with internet access download {wanted.origin} and place it at {target} (or set KERAS_HOME)",
        )) from None


# ----------------------------------------------------------------------------- the report


def _shape(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape)) or "scalar"


@dataclass(frozen=True)
class Weights:
    """A layer's weight tensors: names ('' where unknown) and shapes."""

    names: tuple[str, ...]
    shapes: tuple[Shape, ...]

    def text(self) -> str:
        return ", ".join(f"{n} {_shape(s)}" if n else _shape(s) for n, s in zip(self.names, self.shapes))

    def to_json(self) -> list[dict[str, Any]]:
        return [{"name": n or None, "shape": list(s)} for n, s in zip(self.names, self.shapes)]


@dataclass(frozen=True)
class Entry:
    """One layer in the report: the network's layer and/or the source's."""

    layer: str | None
    weights: Weights | None
    source: str | None = None
    source_weights: Weights | None = None
    match: str | None = None
    """How it was paired: name or position (None: not paired)."""

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
        by = {how: sum(1 for e in self.transferred if e.match == how) for how in ("name", "position")}
        how = ", ".join(f"{n} layers by {k}" for k, n in by.items() if n) or "nothing matched"
        out = [f"transferred {self.tensors_transferred} of {self.tensors} weight tensors from {self.source} ({how})"]

        def listed(title: str, entries: list[Entry], text: Callable[[Entry], str]) -> None:
            if not entries:
                return
            shown = [text(e) for e in entries[:SHOWN]]
            more = f"; and {len(entries) - SHOWN} more" if len(entries) > SHOWN else ""
            out.append(f"  {title}: " + "; ".join(shown) + more)

        listed("shape differs", self.shape_differs,
               lambda e: f"{e.layer} ({e.weights.text() if e.weights else ''}; the source has {e.source_weights.text() if e.source_weights else ''})")
        listed("new", self.new, lambda e: f"{e.layer} ({e.weights.text() if e.weights else ''})")
        listed("unused in the source", self.unused, lambda e: f"{e.source} ({e.source_weights.text() if e.source_weights else ''})")
        return out

    def text(self) -> str:
        return "\n".join(self.lines()) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "path": self.path, "format": self.format, "network": self.network,
            "tensors": self.tensors, "tensors_transferred": self.tensors_transferred, "complete": self.complete,
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


def _pair_by_position(targets: list[_Target], sources: list[SourceLayer], by_kind: bool) -> list[tuple[_Target, SourceLayer]]:
    """Pairs, per kind of layer, from the longest runs of identical weight shapes in network order."""
    def key(shapes: list[Shape], kind: str | None) -> Any:
        return kind if by_kind else tuple(len(s) for s in shapes)

    pairs = []
    for group in dict.fromkeys(key(t.shapes, t.kind) for t in targets):
        ts = [t for t in targets if key(t.shapes, t.kind) == group]
        ss = [s for s in sources if key(s.shapes, s.kind) == group]
        a, b = [tuple(t.shapes) for t in ts], [tuple(s.shapes) for s in ss]
        for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
            pairs.extend((ts[block.a + i], ss[block.b + i]) for i in range(block.size))
    return pairs


def match(model: Any, source: Source) -> tuple[TransferReport, list[tuple[_Target, SourceLayer]]]:
    """The report, and the (network layer, source layer) pairs to copy; nothing is copied here."""
    targets = [_Target(layer, _snake(type(layer).__name__)) for layer in model.layers if layer.weights]
    report = TransferReport(source.label, str(source.path), source.format, str(model.name))
    by_name = {layer.name: layer for layer in source.layers}
    used: set[int] = set()
    pairs: list[tuple[_Target, SourceLayer]] = []
    matched: dict[str, str] = {}
    for target in targets:
        other = by_name.get(target.name)
        if other is None or id(other) in used:
            continue
        used.add(id(other))
        if target.shapes == other.shapes:
            pairs.append((target, other))
            matched[target.name] = "name"
        else:
            report.shape_differs.append(Entry(target.name, target.described(), other.name, _described(other, target), "name"))
            matched[target.name] = "differs"
    rest = [t for t in targets if t.name not in matched]
    left = [s for s in source.layers if id(s) not in used]
    by_kind = all(s.kind for s in source.layers)
    for target, other in _pair_by_position(rest, left, by_kind):
        pairs.append((target, other))
        used.add(id(other))
        matched[target.name] = "position"
    order = {t.name: i for i, t in enumerate(targets)}
    pairs.sort(key=lambda pair: order[pair[0].name])
    report.transferred = [Entry(t.name, t.described(), s.name, _described(s, t), matched[t.name]) for t, s in pairs]
    report.new = [Entry(t.name, t.described()) for t in targets if t.name not in matched]
    report.unused = [Entry(None, None, s.name, _described(s)) for s in source.layers if id(s) not in used]
    return report, pairs


def _copy(pairs: list[tuple[_Target, SourceLayer]], source: Source) -> None:
    import numpy as np

    for target, other in pairs:
        try:
            values = [np.asarray(t[()]) for t in other.tensors]
        except (OSError, ValueError, KeyError) as exc:
            raise _bad(source.path, f"cannot read the weights of {other.name} from {source.path.name} ({' '.join(str(exc).split())[:200]})",
                       "the file may be truncated: fetch it again") from None
        for variable, value in zip(target.layer.weights, values):
            variable.assign(value.astype(variable.dtype))


def load_weights(model: Any, source: str | os.PathLike[str], *, strict: bool = False) -> TransferReport:
    """Copy every matching weight tensor of `source` into `model`; the report says what moved and what did not.

    SpecError when nothing fits (a file for another network) and, with `strict`, unless everything matched."""
    with open_source(source) as opened:
        report, pairs = match(model, opened)
        if not pairs:
            theirs = ", ".join(s.name for s in opened.layers[:SHOWN]) or "no layers with weights"
            raise _bad(opened.path, f"no weight tensor of {opened.label} fits {model.name}: is it a file for another network? "
                                    f"(it holds {theirs}{', ...' if len(opened.layers) > SHOWN else ''})",
                       "names must match, or the layers' weight shapes in order (archspec shapes SPEC --expand lists the network's)")
        if strict and not report.complete:
            raise SpecError(Problem("--strict-weights: not everything matched\n" + report.text().rstrip(), file=report.source,
                                    hint="drop --strict-weights to transfer what matches"))
        _copy(pairs, opened)
    return report
