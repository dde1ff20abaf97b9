"""The graph IR every consumer reads: primitive nodes in topological order.

Expansion produces it from a validated spec; shapes, the Keras emitter and
later the drawer, trainer and exporters consume it. A node's ``attrs`` is the
validated Pydantic model of its primitive, so an attribute is typed and
normalised once (a kernel is always a pair by the time anyone reads it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from pydantic import BaseModel

from ..errors import PathPart, Problem

INPUT = "input"


@dataclass(frozen=True)
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


@dataclass
class Graph:
    name: str
    input_shape: tuple[int, ...]
    nodes: list[Node] = field(default_factory=list)
    source: Any = None
    """The read.Source the spec came from (None for specs built in Python)."""
    groups: list[tuple[str, str]] = field(default_factory=list)
    """(name, kind) of each top-level spec layer; ``Node.group`` indexes this list."""

    @property
    def output(self) -> str:
        return self.nodes[-1].name

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
