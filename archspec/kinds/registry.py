"""The table of layer kinds: for each, its schema, shape rule, counts and Keras emitter.

Primitives become IR nodes one-to-one (after their shorthands are lowered);
blocks only lower into primitives. Everything that handles a kind looks it up
here, so adding a kind is one ``register`` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .base import LayerSpec

if TYPE_CHECKING:
    from ..expand import Lowering
    from ..ir import Node

Shape = tuple[int, ...]
Window = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]
"""(kernel, stride, dilation), each per spatial axis, for receptive-field arithmetic."""


class ShapeError(Exception):
    """A shape rule cannot produce an output; the message names the arithmetic."""


def no_params(attrs: Any, inputs: list[Shape], out: Shape) -> tuple[int, int]:
    return 0, 0


def no_macs(attrs: Any, inputs: list[Shape], out: Shape) -> int:
    return 0


def no_window(attrs: Any, inputs: list[Shape]) -> Window | str | None:
    return None


@dataclass(frozen=True)
class Primitive:
    kind: str
    schema: type[LayerSpec]
    infer: Callable[[Any, list[Shape]], Shape]
    """Output shape (no batch axis) from attrs and input shapes; raises ShapeError."""
    emit: Callable[["Node", list[Any], Any], Any]
    """(node, input tensors, keras module) -> output tensor; keras is passed in so this table imports no Keras."""
    params: Callable[[Any, list[Shape], Shape], tuple[int, int]] = no_params
    """(trainable, non-trainable) parameter counts."""
    macs: Callable[[Any, list[Shape], Shape], int] = no_macs
    window: Callable[[Any, list[Shape]], Window | str | None] = no_window
    """Sliding window for the receptive field; None passes it through, 'global' covers the input."""
    lower: Callable[[Any, "Lowering", tuple], str] | None = None
    """Turns a spec layer with shorthands into nodes; None: one node, as written."""
    inputs: tuple[int, int | None] = (1, 1)
    """Fewest and most inputs (None: any number)."""
    aliases: tuple[str, ...] = ()
    summary: str = ""
    label: Callable[[Any], str] | None = None
    """Short description for tables, e.g. `conv 5x5/2`; the kind name by default."""


@dataclass(frozen=True)
class Block:
    kind: str
    schema: type[LayerSpec]
    lower: Callable[[Any, "Lowering", tuple], str]
    aliases: tuple[str, ...] = ()
    summary: str = ""


KINDS: dict[str, Primitive | Block] = {}
"""Every spec-level kind name (aliases included) -> its definition."""
OPS: dict[str, Primitive] = {}
"""IR op name -> primitive."""


def register(kind: Primitive | Block) -> Primitive | Block:
    """Add a kind to the table. Its name (and aliases) must be new; the spec union is rebuilt."""
    if not isinstance(kind, (Primitive, Block)):
        raise TypeError(f"register() takes a Primitive or Block, got {type(kind).__name__}")
    if not issubclass(kind.schema, LayerSpec):
        raise TypeError(f"the schema of kind {kind.kind!r} must subclass archspec.LayerSpec")
    for name in (kind.kind, *kind.aliases):
        if name in KINDS and KINDS[name] is not kind:
            raise ValueError(f"layer kind {name!r} is already registered")
        KINDS[name] = kind
    if isinstance(kind, Primitive):
        OPS[kind.kind] = kind
    from .. import spec  # the spec union is derived from this table

    spec.invalidate()
    return kind
