"""The lowering protocol: what a kind's ``lower`` function may ask of the expansion pass.

Kinds sit below the graph layer, so they see expansion only through this
protocol (``graph.expand.Lowering`` implements it). A lower function names its
nodes, resolves references, adds primitive nodes and, when the layer cannot be
lowered, records a located problem and raises ``Skip``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any, NoReturn, Protocol

from pydantic import BaseModel

from ..errors import Problem, SpecPath
from .base import LayerSpec


class Skip(Exception):
    """This layer failed (its problem is recorded); expansion goes on with the next one."""


class Lowering(Protocol):
    spec: Any
    """The validated spec being expanded (its `blocks`, `defaults`, `variables`)."""
    prev: str
    """Name of the node the next layer reads by default."""
    problems: list[Problem]
    uses: list[str]
    """The chain of template uses that led here, for error messages."""
    templates: list[str]
    """Names of the templates being instantiated, outermost first (a name met twice is a cycle)."""

    def scoped(self, name: str) -> str: ...
    def segment_for(self, layer: LayerSpec, kind: str) -> str: ...
    def name_for(self, layer: LayerSpec, kind: str) -> str: ...
    def name_next(self, name: str, *, force: bool = False) -> None: ...
    def alias(self, name: str, node: str) -> str: ...
    def resolve_all(self, refs: Iterable[str], path: SpecPath) -> list[str]: ...
    def source_of(self, layer: LayerSpec, path: SpecPath) -> str: ...
    def add(self, name: str, op: str, attrs: BaseModel | None, inputs: Iterable[str], path: SpecPath) -> str: ...
    def with_defaults(self, kind: str, layer: LayerSpec) -> LayerSpec: ...
    def at(self, path: SpecPath, message: str, hint: str | None = None) -> Problem: ...
    def fail(self, path: SpecPath, message: str, hint: str | None = None) -> NoReturn: ...
    def shape(self, name: str) -> tuple[int, ...]: ...
    def expect(self, more: int, path: SpecPath) -> None:
        """Refuse now (a located problem, expansion stops) if `more` nodes would pass the graph's limit."""

    def node_count(self) -> int: ...
    def subnetwork(
        self, spec: str, variables: Mapping[str, Any], input_shape: tuple[int, ...], path: SpecPath, **cut: Any
    ) -> Any:
        """Another spec's graph (``graph.ir.Graph``) reading ``input_shape``, cut as ``cut`` asks
        (include_top, pooling, features); a problem with it is located at ``path`` and the layer skipped."""

    def template(self, name: str, path: SpecPath) -> tuple[Any, str]: ...
    def lower_item(self, item: BaseModel, path: SpecPath) -> str: ...
    def lower_list(self, items: Iterable[BaseModel], path: SpecPath) -> str: ...
    def in_scope(self, name: str) -> AbstractContextManager[Any]: ...
    def validate_layers(
        self, raw: Any, path: SpecPath, env: Mapping[str, Any], use_path: SpecPath | None = None
    ) -> list[BaseModel]: ...
