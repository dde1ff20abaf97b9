"""The table of layer kinds: for each, its schema, shape rule, counts, Keras emitter,
the Keras classes it imports from, and how it is drawn.

Primitives become IR nodes one-to-one (after their shorthands are lowered);
blocks only lower into primitives. Everything that handles a kind looks it up
here (the spec union, expansion, inference, the emitter, the importer, the
diagram, inspect), so adding a kind is one ``register`` call (and, for a
built-in kind, its name in ``kinds.BUILTIN``). Nothing derived from the table
needs resetting: the spec union reads it when it validates.

The tables load lazily (see ``archspec.kinds``): a lookup imports the one
module that registers the name; iterating loads every kind, and lists the
built-in ones in ``BUILTIN``'s order, then plugins' in registration order, so
listings do not depend on which kinds happened to be used first.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ..errors import ArchspecError, SpecPath
from . import BUILTIN, ENTRY_POINT_GROUP
from .arith import Length
from .base import LayerSpec

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

    from .lowering import Lowering

Shape = tuple[int, ...]
Window = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
"""(kernel, stride, dilation), each per spatial axis, for receptive-field arithmetic."""


@dataclass(frozen=True, kw_only=True)
class Upscale:
    """The receptive-field step of a layer that enlarges its input (upsampling, transposed
    convolution, resizing): each output position reads `reach` neighbouring input positions per
    axis, and positions come `factor` times closer (a factor below one: further apart)."""

    reach: tuple[int, int]
    factor: tuple[Length, Length]


class ShapeError(ArchspecError):
    """A shape rule cannot produce an output; the message names the arithmetic, the hint (if any) a way out.
    Expansion and inference turn it into a SpecError located at the layer."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class EmittedNode(Protocol):
    """What an emitter reads of an IR node (``graph.ir.Node``; the graph layer sits above the kinds)."""

    @property
    def name(self) -> str: ...
    @property
    def attrs(self) -> Any: ...
    @property
    def frozen(self) -> bool: ...


# A kind's functions take its own settings model (`Conv`, `Pool`, ...) as `attrs`: the table holds
# every kind, so it types them as Any (a Callable taking `Conv` is not one taking `LayerSpec`).
InferFn = Callable[[Any, list[Shape]], Shape]
EmitFn = Callable[[EmittedNode, list[Any], Any], Any]
ParamsFn = Callable[[Any, list[Shape], Shape], tuple[int, int]]
MacsFn = Callable[[Any, list[Shape], Shape], int]
WindowFn = Callable[[Any, list[Shape]], Window | Upscale | str | None]
LowerFn = Callable[[Any, "Lowering", SpecPath], str]


def no_params(attrs: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    return 0, 0


def no_macs(attrs: Any, inputs: list[Shape], out: Shape) -> int:
    """The default MAC count, zero: right for a kind without parameters; one with parameters must
    give its own count or say why it has none (``Primitive.macs_none``), or ``register`` refuses it."""
    return 0


def no_window(attrs: Any, inputs: list[Shape]) -> Window | Upscale | str | None:
    return None


@dataclass(frozen=True, kw_only=True)
class Primitive:
    """A kind that becomes one IR node (after its shorthands are lowered). Keyword arguments only:
    the fields are many and several share a type, so a positional call could bind the wrong one."""

    kind: str
    schema: type[LayerSpec]
    infer: InferFn
    """Output shape (no batch axis) from attrs and input shapes; raises ShapeError."""
    emit: EmitFn
    """(node, input tensors, keras module) -> output tensor; keras is passed in so this table imports no Keras."""
    params: ParamsFn = no_params
    """(trainable, non-trainable) parameter counts."""
    macs: MacsFn = no_macs
    """Multiply-accumulates of one example. Kept at the default by a kind with parameters, ``register``
    refuses it unless ``macs_none`` says why; the kind harness (tests/test_kind_harness.py) fails a count
    of 0 for a layer that holds parameters, on the same terms."""
    window: WindowFn = no_window
    """Sliding window for the receptive field; an Upscale for a layer that enlarges; None passes it
    through, 'global' covers the input."""
    lower: LowerFn | None = None
    """Turns a spec layer with shorthands into nodes; None: one node, as written."""
    inputs: tuple[int, int | None] = (1, 1)
    """Fewest and most inputs (None: any number)."""
    aliases: tuple[str, ...] = ()
    summary: str = ""
    label: Callable[[Any], str] | None = None
    """Short description for tables, e.g. `conv 5x5/2`; the kind name by default."""
    keras_classes: tuple[str, ...] = ()
    """Names of the Keras layer classes this kind emits and imports from (`archspec import`);
    `ops.Add` is Keras' `x + y` between tensors, `ops.Add:constant` between a tensor and a number."""
    from_keras: Callable[[Any, int], dict[str, Any]] | None = None
    """(Keras layer, input rank) -> this kind's settings, defaults left out; raises Unsupported.
    None: the kind has no settings to read (flatten, add)."""
    color: str = "#cccccc"
    """Fill colour of its volumes in diagrams."""
    feature_maps: bool = False
    """Whether `inspect` shows its outputs as feature maps (convolutions and pooling)."""
    macs_none: str = ""
    """Why a kind with parameters computes no multiply-accumulates with them (batch normalisation folds into
    the convolution before it); empty: a kind with parameters counts its MACs."""
    # What the passes over the graph need to know of a kind (lint, freeze, to_spec), declared here so that a new
    # or plugin kind states it with the rest of its record rather than by its name in those passes.
    passes_values: bool = False
    """Whether it only moves, picks or averages its input's values without weighing them (flatten, pooling, dropout,
    concat, an activation layer): a value an activation clipped stays clipped through it (lint's logits rule)."""
    border: Callable[[Any], tuple[tuple[int, int], tuple[int, int]]] | None = None
    """The zeros it adds around its input, ((top, bottom), (left, right)) (zeropad): a window after it that leaves
    them unread loses no input (lint's dropped-border rule)."""
    fan_in: Callable[[Any, list[Shape]], int] | None = None
    """(attrs, input shapes) -> how many values each output unit reads (dense): lint warns when that is huge."""
    window_hint: str = "a smaller window reads the same input"
    """Advice when its window is larger than its input (lint): for pooling, a global pool."""
    batch_statistics: bool = False
    """Whether it keeps statistics of the batches it sees (batch normalisation): `freeze_bn` freezes each such
    layer, which then runs in inference mode."""
    stays_with_features: bool = False
    """Whether, as the only reader of a classifier head's global pooling, it belongs to the features rather than
    the head (layer normalisation, per channel: ConvNeXt's, which keras.applications keeps with include_top=False;
    graph/backbone.py keeps it after ``pooling``, else on the last feature map)."""
    written_as: tuple[tuple[str, str], ...] = ()
    """(setting, key) pairs: settings written back under another key when a graph becomes spec data
    (`archspec render`): conv's `values`, a kernel given as a matrix, is written `kernel`."""


@dataclass(frozen=True, kw_only=True)
class Block:
    """A kind that only lowers into other kinds' nodes (keyword arguments only, as Primitive)."""

    kind: str
    schema: type[LayerSpec]
    lower: LowerFn
    aliases: tuple[str, ...] = ()
    summary: str = ""


_MODULE_OF = {name: module for module, names in BUILTIN.items() for name in names}
_ORDER = {name: i for i, name in enumerate(_MODULE_OF)}
_plugins_loaded = False
_plugins_lock = threading.RLock()

T = TypeVar("T")


class KindTable(dict[str, T], Generic[T]):
    """A dict that imports what it is asked for (see the module docstring). A hit is a plain dict
    lookup (inference looks up every node's primitive several times); a miss loads and retries."""

    def __missing__(self, name: str) -> T:
        _load_for(name)
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        if not dict.__contains__(self, name) and isinstance(name, str):
            _load_for(name)
        return dict.__contains__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        if name in self:  # `in` loads the module that registers the name; `dict.get` would not
            return self[name]
        return default

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(sorted(dict.keys(self), key=lambda name: _ORDER.get(name, len(_ORDER))))

    def __len__(self) -> int:
        self.load_all()
        return dict.__len__(self)

    def _ordered(self) -> dict[str, T]:
        """Every kind, in the table's order (a plain dict: its views are the ones `dict` returns)."""
        return {name: dict.__getitem__(self, name) for name in self}

    def keys(self) -> dict_keys[str, T]:
        return self._ordered().keys()

    def values(self) -> dict_values[str, T]:
        return self._ordered().values()

    def items(self) -> dict_items[str, T]:
        return self._ordered().items()

    @staticmethod
    def load_all() -> None:
        """Register every kind: the built-in ones, then those of installed plugins."""
        for module in BUILTIN:
            importlib.import_module(f"{__package__}.{module}")
        _load_plugins()


def _load_for(name: str) -> None:
    """Import the module that registers the built-in kind `name`; for any other name, the plugins."""
    module = _MODULE_OF.get(name)
    if module is not None:
        importlib.import_module(f"{__package__}.{module}")
    else:
        _load_plugins()


def _load_plugins() -> None:
    """Run each installed plugin's entry point, once. Under a lock: `archspec serve` validates in
    several threads, and none may look a plugin's kind up while another is still loading it. The
    flag is set first, so a plugin's own lookups (its `register` calls) do not start loading again."""
    global _plugins_loaded
    with _plugins_lock:
        if _plugins_loaded:
            return
        _plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                target = ep.load()
                if callable(target):
                    target()
            except Exception as exc:  # a broken plugin must say which one it is
                raise ArchspecError(f"archspec plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc


KINDS: KindTable[Primitive | Block] = KindTable()
"""Every spec-level kind name (aliases included) -> its definition."""
OPS: KindTable[Primitive] = KindTable()
"""IR op name -> primitive."""


def by_keras_class() -> dict[str, list[Primitive]]:
    """Keras layer class name -> the primitives that import it, in the table's order (the importer
    takes the first whose ``from_keras`` accepts the layer)."""
    table: dict[str, list[Primitive]] = {}
    for prim in OPS.values():
        for cls in prim.keras_classes:
            table.setdefault(cls, []).append(prim)
    return table


def description(kind: Primitive | Block) -> str:
    """What a kind is, as the reference and editors show it: its docstring, then its short form."""
    text = inspect.cleandoc(kind.schema.__doc__ or "")
    if kind.schema.short:
        text += f"\n\nShort form: `{kind.kind}: VALUE` sets `{kind.schema.short}`."
    return text


def register(kind: Primitive | Block) -> Primitive | Block:
    """Add a kind to the table. Its name (and aliases) must be new."""
    if not isinstance(kind, (Primitive, Block)):
        raise TypeError(f"register() takes a Primitive or Block, got {type(kind).__name__}")
    if not issubclass(kind.schema, LayerSpec):
        raise TypeError(f"the schema of kind {kind.kind!r} must subclass archspec.LayerSpec")
    if isinstance(kind, Primitive) and kind.params is not no_params and kind.macs is no_macs and not kind.macs_none:
        raise TypeError(
            f"kind {kind.kind!r} counts parameters but not its MACs: give its record `macs=` (a count), "
            "or `macs_none=` saying why it computes none"
        )
    for name in (kind.kind, *kind.aliases):
        if KINDS.get(name, kind) is not kind:  # a built-in name's module is imported first, so a plugin cannot take it
            raise ValueError(f"layer kind {name!r} is already registered")
        dict.__setitem__(KINDS, name, kind)
    if isinstance(kind, Primitive):
        dict.__setitem__(OPS, kind.kind, kind)
    return kind
