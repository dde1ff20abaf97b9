"""The graph IR every consumer reads: primitive nodes in topological order.

Expansion produces it from a validated spec; shapes, the Keras emitter and
later the drawer, trainer and exporters consume it. A node's ``attrs`` is the
validated Pydantic model of its primitive, so an attribute is typed and
normalised once (a kernel is always a pair by the time anyone reads it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import BaseModel

from ..errors import PathPart, Problem
from ..spec.read import Source

Shape = tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class Node:
    name: str
    op: str
    attrs: BaseModel | None
    inputs: tuple[str, ...]
    path: tuple[PathPart, ...] = ()
    """Where in the spec this node came from, for error messages."""
    group: int | None = None
    """Index of the top-level spec layer it came from (``Graph.groups``), for collapsed views."""
    frozen: bool = False
    """Its weights are not trained (``graph/freeze.py``); static counts and the Keras layer say so."""

    @property
    def activation(self) -> str:
        """The activation the node ends in, as Keras names it (`linear` for none): an `activation` node's `fn`,
        another kind's `activation` setting. Read from the model's values: a missing attribute on a Pydantic
        model is slow to fail."""
        settings = vars(self.attrs) if self.attrs is not None else {}
        return settings.get("fn") or settings.get("activation") or "linear"


@dataclass(kw_only=True)
class Graph:
    name: str
    inputs: dict[str, Shape]
    """Each input's name and shape, in order; their nodes (op `input`) come first in ``nodes``."""
    nodes: list[Node] = field(default_factory=list)
    source: Source | None = None
    """Where the spec came from, for locating problems (None for a graph built in Python)."""
    groups: list[tuple[str, str]] = field(default_factory=list)
    """(name, kind) of each top-level spec layer; ``Node.group`` indexes this list."""
    outputs: dict[str, str] = field(default_factory=dict)
    """Output name -> the node it is (the spec's `outputs`); empty for one unnamed output, the last node."""
    named_inputs: bool = False
    """The spec named its inputs (`inputs:`): the Keras model takes a mapping of them, not one tensor."""
    left_out: dict[str, tuple[PathPart, ...]] = field(default_factory=dict)
    """Names of layers `when` left out -> where each is written: such a name reads its layer's input,
    so an output or a head naming it would silently be another layer."""

    @property
    def input_shape(self) -> Shape:
        """The first input's shape (the only one's, in most networks)."""
        return next(iter(self.inputs.values()))

    @property
    def image_size(self) -> tuple[int, int]:
        """Height and width of the (first) image input: what a global window covers; (1, 1) without one."""
        return next(((shape[0], shape[1]) for shape in self.inputs.values() if len(shape) == 3), (1, 1))

    @property
    def layers(self) -> list[Node]:
        """The nodes that are layers: all but the inputs."""
        return self.nodes[len(self.inputs) :]

    @property
    def output_map(self) -> dict[str, str]:
        """Output name -> node; one unnamed output is named after its node."""
        return self.outputs or {self.nodes[-1].name: self.nodes[-1].name}

    @property
    def output(self) -> str:
        """The node of the first output (the only one, in most networks)."""
        return next(iter(self.output_map.values()))

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def problem(self, path: tuple[PathPart, ...], message: str, hint: str | None = None) -> Problem:
        """A Problem located in the spec this graph came from (if it came from one)."""
        if self.source is not None:
            return self.source.problem(path, message, hint)
        return Problem(message, path=path, hint=hint)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)
