"""Expansion pass: a validated spec -> the graph IR of primitive nodes.

Blocks, templates and repeats are lowered here and nowhere else. Each kind's
``lower`` function talks to a ``Lowering`` context: it asks for names,
resolves references to earlier layers and adds nodes. References can only
point backwards, so the graph is acyclic and in topological order by
construction.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any, NoReturn

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import Problem, SpecError, SpecPath, clipped, did_you_mean, escaped, format_path
from ..kinds.base import NAME_PATTERN, LayerSpec, illegal_name_characters
from ..kinds.blocks import Template
from ..kinds.lowering import Skip
from ..kinds.registry import KINDS, LowerFn, ShapeError
from ..spec import expr
from ..spec.library import builtin_templates
from ..spec.loading import coerce
from ..spec.network import Layer, SpecBase, layer_of
from ..spec.read import Source
from ..spec.validate import translate
from .infer import node_shape
from .ir import Graph, Node

_LEGAL_NAME = re.compile(NAME_PATTERN)
MAX_NAME = 200
"""Longest layer name, as a spec may write one (`render` writes every node's name: it must read back)."""
_NAME_HINT = (
    "a layer's name is made from its block's name, an `instances` pattern and template parameters; "
    "a layer name may hold letters, digits, '_', '.' and '-' only"
)

MAX_NODES = 100_000
"""Most primitive nodes one spec may expand into."""
_BodyKey = tuple[int, SpecPath, SpecPath | None, frozenset[tuple[str, type, Any]]]
"""A template body's identity for sharing its validated layers: (id of its text, where, where used, parameters)."""
_NETWORKS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("networks", default=())
"""The `network` layers being expanded, outermost first: each is a new expansion, so a cycle is caught here."""
MAX_NESTING = 32
"""Deepest nesting of blocks using blocks (guards against a template that uses itself)."""


class Lowering:
    """Mutable state of one expansion: the graph so far, names, scopes, counters.

    Implements ``kinds.lowering.Lowering``, the protocol kinds' lower functions use."""

    def __init__(self, spec: SpecBase, source: Source | None) -> None:
        self.spec = spec
        self.source = source or Source(data=None)
        shapes = spec.input_shapes()
        named = spec.inputs is not None
        inputs = [
            Node(name=name, op="input", attrs=None, inputs=(), path=("inputs", name) if named else ("input",))
            for name in shapes
        ]
        self.graph = Graph(name=spec.name, inputs=shapes, nodes=inputs, source=source, named_inputs=named)
        self.groups: list[tuple[str, str]] = []
        self.aliases: dict[str, str] = {name: name for name in shapes}
        self.prev = inputs[0].name
        self.scope: list[str] = []
        self.counters: Counter[str] = Counter()
        self.group: int | None = None
        self.last_alias: str | None = None
        self.problems: list[Problem] = []
        self.variables: dict[str, Any] = dict(spec.variables)
        self.uses: list[str] = []
        self.templates: list[str] = []
        self.owners: dict[str, SpecPath] = {node.name: node.path for node in inputs if named}
        """Node or alias name -> the spec path of the layer that took it (for duplicate-name messages)."""
        self.pending: tuple[str, bool] | None = None
        self.shapes: dict[str, tuple[int, ...] | None] = dict(shapes)
        self.shaped = len(inputs)
        """How many of the graph's nodes (the inputs first) have a shape in `shapes`."""
        self.declared = set(_names(spec.model_dump(include={"layers"})))
        self.validated: dict[_BodyKey, list[BaseModel]] = {}
        self.misnamed = False
        """A node got a name Keras refuses or one too long (said once, not for every node named alike)."""
        """Template bodies already validated, by (template, where, parameters)."""

    # -- naming ---------------------------------------------------------------
    def scoped(self, name: str) -> str:
        return "_".join([*self.scope, name])

    def segment_for(self, layer: LayerSpec, kind: str) -> str:
        """The layer's own name segment: one its container gives it, its `name`, or the next `kind_n`."""
        pending, self.pending = self.pending, None
        if pending and (pending[1] or not layer.name):
            return pending[0]
        if layer.name:
            return layer.name
        prefix = self.scoped(kind)
        self.counters[prefix] += 1
        return f"{kind}_{self.counters[prefix]}"

    def name_for(self, layer: LayerSpec, kind: str) -> str:
        """The layer's full name in the current scope."""
        return self.scoped(self.segment_for(layer, kind))

    def name_next(self, name: str, *, force: bool = False) -> None:
        """Name the next layer lowered (unless it names itself and `force` is false)."""
        self.pending = (name, force)

    def alias(self, name: str, node: str) -> str:
        """Let `name` refer to `node` (a layer's last node) in later references."""
        if self.aliases.get(name) == node:
            self.last_alias = name
            return node
        if name != node:
            self._claim(name, self.owners.get(node))
            self.owners.setdefault(name, self.owners.get(node, ()))
        self.aliases[name] = node
        self.last_alias = name
        return node

    def _claim(self, name: str, path: SpecPath | None) -> bool:
        if name in self.aliases:
            self.problems.append(self.at(path or (), *self._duplicate(name, self.owners.get(name), path or ())))
            return False
        return True

    def _duplicate(self, name: str, first: SpecPath | None, here: SpecPath) -> tuple[str, str]:
        """Message and hint for a name taken twice, saying which layer generated it when one did:
        `conv1` with `bn: true` makes `conv1_bn`, which a person may also write."""
        hint = "every layer name must be unique (inside a block, names are prefixed with the block's name)"
        if first is None:
            return f"duplicate layer name {name!r}", hint
        mark = next(
            (self.source.values[first[:end]] for end in range(len(first), -1, -1) if first[:end] in self.source.values),
            None,
        )
        where = format_path(first) + (f" (line {mark[0]})" if mark else "")
        shorthand = (
            "a layer's shorthands add layers named after it (NAME_bn, NAME_ACTIVATION, NAME_pad); rename one of the two"
        )
        maker = self._declared_name(first)
        if _generated(name, maker):
            return f"layer name {name!r} is taken: layer {maker!r} at {where} generates a layer of that name", shorthand
        maker = self._declared_name(here)
        if _generated(name, maker):
            return f"layer {maker!r} generates a layer named {name!r}, but {where} already has that name", shorthand
        return f"duplicate layer name {name!r}: {where} has it too", hint

    def _declared_name(self, path: SpecPath) -> str | None:
        """The `name` written for the layer at `path`, when the spec's data has one there."""
        data = self.source.data
        for part in path:
            try:
                data = data[part]
            except (KeyError, IndexError, TypeError):
                return None
        name = data.get("name") if isinstance(data, dict) else None
        return name if isinstance(name, str) else None

    # -- references -----------------------------------------------------------
    def resolve(self, ref: str, path: SpecPath) -> str:
        """Node a name refers to: looked up from the innermost scope outwards."""
        for depth in range(len(self.scope), -1, -1):
            key = "_".join([*self.scope[:depth], ref])
            if key in self.aliases:
                return self.aliases[key]
        if ref in self.declared:
            self.problems.append(
                self.at(
                    path,
                    f"{ref!r} is defined after this layer: inputs must refer to earlier layers",
                    "a reference forward would make a cycle; move the layer, or read one above it",
                )
            )
            raise Skip
        self.problems.append(
            self.at(
                path,
                f"no earlier layer named {ref!r}",
                did_you_mean(ref, self.aliases)
                + "inputs refer to layers above this one (or to "
                + (
                    f"the model's inputs: {', '.join(self.graph.inputs)}"
                    if self.graph.named_inputs
                    else "`input`, the model input"
                )
                + ")",
            )
        )
        raise Skip

    def resolve_all(self, refs: Iterable[str], path: SpecPath) -> list[str]:
        """Resolve several references, reporting every one that fails."""
        found, failed = [], False
        for i, ref in enumerate(refs):
            try:
                found.append(self.resolve(ref, (*path, i)))
            except Skip:
                failed = True
        if failed:
            raise Skip
        return found

    def source_of(self, layer: LayerSpec, path: SpecPath) -> str:
        return self.resolve(layer.input, (*path, "input")) if layer.input else self.prev

    # -- building -------------------------------------------------------------
    def add(self, name: str, op: str, attrs: BaseModel | None, inputs: Iterable[str], path: SpecPath) -> str:
        if not self._claim(name, path):
            raise Skip
        if (
            len(name) > MAX_NAME or not _LEGAL_NAME.fullmatch(name)
        ) and not self.misnamed:  # made from parameters, patterns, prefixes
            self.misnamed = True  # said once: the other nodes of the block are named the same way
            self.problems.append(
                self.at(
                    path,
                    f"layer name {clipped(escaped(name), 120)!r} "
                    + (
                        f"holds {illegal_name_characters(name) or 'nothing'}, which Keras refuses in a name"
                        if not _LEGAL_NAME.fullmatch(name)
                        else f"has {len(name):,} characters; the limit is {MAX_NAME}"
                    ),
                    _NAME_HINT,
                )
            )
        if len(self.graph.nodes) >= MAX_NODES:
            self.problems.append(self.at(path, f"the spec expands to more than {MAX_NODES:,} layers"))
            raise _Abort
        self.graph.nodes.append(Node(name=name, op=op, attrs=attrs, inputs=tuple(inputs), path=path, group=self.group))
        self.aliases[name] = name
        self.owners[name] = path
        self.prev = name
        return name

    def node_count(self) -> int:
        return len(self.graph.nodes)

    def _beside(self, spec: str) -> str:
        """A relative path is read next to the spec that names it (as an include would be), when a file is there;
        otherwise as given (a zoo name, or a path from the working folder)."""
        if self.source.file is None or os.path.isabs(spec):
            return spec
        beside = os.path.join(os.path.dirname(self.source.file), spec)
        return beside if os.path.isfile(beside) else spec

    def subnetwork(
        self, spec: str, variables: Mapping[str, Any], input_shape: tuple[int, ...], path: SpecPath, **cut: Any
    ) -> Graph:
        """Another spec's graph for a `network` layer: expanded by the same pass, its input the shape it reads.
        Its problems are said at the layer, named after the network (the other file's lines are not this one's)."""
        from .backbone import backbone  # only a spec with a `network` layer pays for it (`shapes` starts lighter)

        outer = _NETWORKS.get()
        if spec in outer or len(outer) >= MAX_NESTING:
            chain = " -> ".join([*outer, spec])
            self.fail((*path, "spec"), f"network {spec!r} uses itself: {chain}", "a network cannot contain itself")
        token = _NETWORKS.set((*outer, spec))
        try:
            own = coerce(self._beside(spec)).variables  # its variables, said in spec words before --set's
            for key in variables:
                if key not in own:
                    self.fail(
                        (*path, "variables", key),
                        f"network {spec!r} has no variable {key!r}",
                        did_you_mean(key, own) + f"its variables: {', '.join(own) or 'none'}",
                    )
            return backbone(expand(coerce(self._beside(spec), {**variables, "input": list(input_shape)})), **cut)
        except SpecError as exc:
            first = exc.problems[0]
            key = "features" if first.path[:1] == ("features",) else "spec"  # the point asked for, or the network
            self.fail((*path, key), f"network {spec!r}: {first.message}", first.hint)
        finally:
            _NETWORKS.reset(token)

    def expect(self, more: int, path: SpecPath) -> None:
        """Refuse a repetition before building it: 60,000 repeats are refused after the first."""
        if len(self.graph.nodes) + more > MAX_NODES:
            self.problems.append(self.at(path, f"the spec expands to more than {MAX_NODES:,} layers"))
            raise _Abort

    def with_defaults(self, kind: str, layer: LayerSpec) -> LayerSpec:
        """The spec-level `defaults` for this kind under what the layer sets itself."""
        written = next(
            (name for name in (kind, *KINDS[kind].aliases) if name in self.spec.defaults), None
        )  # `bn:` is batchnorm's too
        given = self.spec.defaults.get(written) if written is not None else None
        if written is None or not given:
            return layer
        merged = {**given, **layer.model_dump(include=layer.model_fields_set, by_alias=True)}
        try:
            return type(layer).model_validate(merged)
        except ValidationError as exc:
            self.problems.extend(translate(exc, self.source, merged, ("defaults", written)).problems)
            raise Skip from None

    def at(self, path: SpecPath, message: str, hint: str | None = None) -> Problem:
        return self.in_context(self.source.problem(path, message, hint))

    def fail(self, path: SpecPath, message: str, hint: str | None = None) -> NoReturn:
        """Record a located problem and skip the layer being lowered."""
        self.problems.append(self.at(path, message, hint))
        raise Skip

    def template(self, name: str, path: SpecPath) -> tuple[Template, str]:
        """A block template by name, from the spec's own `blocks` (first) or the built-in library."""
        own = self.spec.blocks
        if name in own:
            return own[name], "spec"
        library = builtin_templates()
        if name in library:
            return library[name], "library"
        self.fail(
            (*path, "block"),
            f"no block template named {name!r}",
            did_you_mean(name, [*own, *library]) + f"templates: {', '.join([*own, *library])}",
        )

    def in_context(self, problem: Problem) -> Problem:
        """Say which template uses led here: the same template text can fail for one use only."""
        if not self.uses:
            return problem
        where = "in " + " <- ".join(reversed(self.uses))
        return replace(problem, hint=f"{problem.hint}; {where}" if problem.hint else where)

    # -- lowering -------------------------------------------------------------
    def lower_item(self, item: BaseModel, path: SpecPath) -> str:
        name, layer = layer_of(item)
        kind = KINDS[name]
        path = (*path, name)
        try:
            layer = self.with_defaults(kind.kind, layer)
            if not layer.when:  # left out: its name reads what it would have read
                x = self.source_of(layer, path)
                if layer.name:
                    self.graph.left_out[self.scoped(layer.name)] = path
                return self.alias(self.scoped(layer.name), x) if layer.name else x
            if kind.lower is None:  # a primitive without shorthands (a block always has a lower function)
                base = self.name_for(layer, kind.kind)
                x = self.source_of(layer, path)
                # the node's settings without its wiring; models are frozen, so one without any is used as it is
                attrs = (
                    layer.model_copy(update={"name": None, "input": None})
                    if layer.name is not None or layer.input is not None
                    else layer
                )
                return self.alias(base, self.add(base, kind.kind, attrs, [x], path))
            return self._lowered(kind.kind, kind.lower, layer, path)
        finally:
            self.pending = None

    def _lowered(self, kind: str, lower: LowerFn, layer: LayerSpec, path: SpecPath) -> str:
        """A block's own lowering: the layers it computes from the spec's numbers can be out of
        range (an MBConv widened past the filter limit), and that is the spec's problem, said at
        the block, not a Python exception escaping from the block's code."""
        try:
            return lower(layer, self, path)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"])
                self.problems.append(
                    self.at(
                        path,
                        f"this {kind} makes a {exc.title} layer whose {where} is out of range: "
                        f"{error['msg'][0].lower()}{error['msg'][1:]}",
                        "the block computes it from the values given here; make them smaller",
                    )
                )
            raise Skip from None
        except (ValueError, ArithmeticError, RecursionError) as exc:
            self.fail(path, f"this {kind} cannot be built from these values: {exc}")

    def shape(self, name: str) -> tuple[int, ...]:
        """Static shape of a node already added (blocks need it: `auto` shortcuts, transitions)."""
        # Only the nodes added since the last call: blocks ask after every instance, so rescanning
        # the whole graph each time would make expansion quadratic in the number of blocks.
        for node in self.graph.nodes[self.shaped :]:
            known = [self.shapes.get(i) for i in node.inputs]
            ins = [shape for shape in known if shape is not None]
            if len(ins) < len(known):
                self.shapes[node.name] = None
                continue
            try:
                self.shapes[node.name] = node_shape(node, ins)
            except ShapeError as exc:
                self.shapes[node.name] = None
                self.problems.append(self.at(node.path, f"layer {node.name!r}: {exc}", exc.hint))
        self.shaped = len(self.graph.nodes)
        found = self.shapes.get(name)
        if found is None:
            raise Skip
        return found

    def lower_list(self, items: Iterable[BaseModel], path: SpecPath) -> str:
        top = not self.scope and not self.uses
        for i, item in enumerate(items):
            if top:
                self.group = len(self.groups)
                self.last_alias = None
            try:
                self.lower_item(item, (*path, i))
            except Skip:
                continue
            if top:
                self.groups.append((self.last_alias or self.prev, layer_of(item)[0]))
        return self.prev

    def in_scope(self, name: str) -> _Scope:
        return _Scope(self, name)

    def validate_layers(
        self, raw: Any, path: SpecPath, env: Mapping[str, Any], use_path: SpecPath | None = None
    ) -> list[BaseModel]:
        """Template bodies: substitute parameters, then validate as layers.

        Problems are located in the template (`path`), or at the use (`use_path`)
        for built-in templates, whose text is not the user's. The validated layers are
        immutable, so uses with the same parameters share them (the 36 blocks of a
        ResNet-152 stage are validated once)."""
        try:
            key: _BodyKey | None = (id(raw), path, use_path, frozenset((k, type(v), v) for k, v in env.items()))
            hash(key)
        except TypeError:  # a parameter holds a list or mapping
            key = None
        if key in self.validated:
            return self.validated[key]
        failures: list[Problem] = []
        where = (lambda p: use_path) if use_path is not None else (lambda p: path + p)
        body = expr.substitute(
            raw, {**self.variables, **env}, lambda p, m, h: failures.append(self.at(where(p), m, h)), ()
        )
        if failures:
            self.problems.extend(failures)
            raise Skip
        try:
            layers = _layers_adapter().validate_python(body)
        except ValidationError as exc:
            if use_path is None:
                self.problems.extend(self.in_context(p) for p in translate(exc, self.source, body, path).problems)
            else:
                for p in translate(exc, Source(data=body), body).problems:
                    self.problems.append(self.at(use_path, f"{format_path(p.path)}: {p.message}", p.hint))
            raise Skip from None
        if key is not None:
            self.validated[key] = layers
        return layers


@lru_cache(maxsize=1)
def _layers_adapter() -> TypeAdapter[list[BaseModel]]:
    return TypeAdapter(list[Layer])


def _names(data: Any) -> list[str]:
    """Every `name` given anywhere in the layers (for telling a forward reference from a typo).
    A loop over a stack: nested generators cost a frame per level for every value (a fifth of
    `archspec shapes` on a 10,000-layer spec)."""
    found, stack = [], [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, str):
                found.append(name)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


class _Scope:
    def __init__(self, ctx: Lowering, name: str) -> None:
        self.ctx, self.name = ctx, name

    def __enter__(self) -> Lowering:
        if len(self.ctx.scope) >= MAX_NESTING:
            self.ctx.problems.append(
                self.ctx.at((), f"blocks nested deeper than {MAX_NESTING} levels (does a block use itself?)")
            )
            raise _Abort
        self.ctx.scope.append(self.name)
        return self.ctx

    def __exit__(self, *exc: Any) -> None:
        self.ctx.scope.pop()


class _Abort(Exception):
    """Stop expanding (its problem is recorded)."""


def _generated(name: str, declared: str | None) -> bool:
    """Whether node `name` was made by a layer named `declared` rather than being that layer
    (inside a block the layer's own node is `<scope>_<declared>`)."""
    return declared is not None and name != declared and not name.endswith("_" + declared)


def _unused(graph: Graph) -> list[Node]:
    """Nodes no output depends on: a spec mistake, since Keras would drop them silently."""
    needed = set(graph.output_map.values())
    for node in reversed(graph.nodes):
        if node.name in needed:
            needed.update(node.inputs)
    return [n for n in graph.nodes if n.name not in needed]


def _left_out(graph: Graph, name: str) -> str:
    """`layer NAME is left out (`when` is false at layers[4].conv)`, with the line when known."""
    path = graph.left_out[name]
    mark = graph.source.values.get((*path, "when")) if graph.source is not None else None
    return f"layer {name!r} is left out (`when` is false at {format_path(path)}" + (
        f", line {mark[0]})" if mark else ")"
    )


def _outputs(ctx: Lowering, named: Mapping[str, str]) -> dict[str, str]:
    """The spec's `outputs`, each resolved to the node it names (a block's name is its last node).

    An output may not name a layer `when` leaves out (the name then reads that layer's input: the
    model would silently output another layer), nor take an input's name (data files and the
    model's signature key arrays by these names)."""
    found: dict[str, str] = {}
    taken: dict[str, str] = {}
    for output, ref in named.items():
        path = ("outputs", output)
        node = ctx.aliases.get(ref)
        if output in ctx.graph.inputs:
            ctx.problems.append(
                ctx.at(
                    path,
                    f"output {output!r} has the name of an input",
                    "inputs and outputs are named apart (arrays in data files are found by these names); rename the "
                    "output",
                )
            )
        elif ref in ctx.graph.left_out:
            ctx.problems.append(
                ctx.at(
                    path,
                    f"output {output!r}: {_left_out(ctx.graph, ref)}",
                    "an output must be a layer the network computes; name another, or make `when` true",
                )
            )
        elif node is None:
            ctx.problems.append(
                ctx.at(
                    path,
                    f"output {output!r}: no layer named {ref!r}",
                    did_you_mean(ref, [n for n in ctx.aliases if n not in ctx.graph.inputs])
                    + "an output names a layer of the spec (see `archspec shapes SPEC --expand`)",
                )
            )
        elif node in ctx.graph.inputs:
            ctx.problems.append(ctx.at(path, f"output {output!r} names the input {ref!r}; an output is a layer"))
        elif node in taken:
            ctx.problems.append(
                ctx.at(
                    path,
                    f"outputs {taken[node]!r} and {output!r} are both layer {node!r}",
                    "each output is a different layer",
                )
            )
        else:
            found[output] = taken[node] = node
    return found


def head_problems(graph: Graph, heads: Iterable[str]) -> list[Problem]:
    """Each key of `training.heads` that is not an output of the graph, said for what it is: a layer
    that is not an output, one `when` leaves out, an input, or a typo. One check, for the spec's own
    heads (at expansion) and for heads an override gives (`training.heads.network`)."""
    outputs = graph.output_map
    problems = []
    for key in heads:
        if key in outputs:
            continue
        path = ("training", "heads", key)
        listed = f"outputs: {', '.join(outputs)}"
        if key in graph.left_out:
            problems.append(
                graph.problem(
                    path,
                    f"training.heads names {key!r}, which is not an output of {graph.name}: {_left_out(graph, key)}",
                    listed,
                )
            )
        elif key in graph.inputs:
            problems.append(
                graph.problem(
                    path, f"training.heads names {key!r}, an input of {graph.name}; a head trains an output", listed
                )
            )
        elif any(node.name == key for node in graph.nodes):
            problems.append(
                graph.problem(
                    path,
                    f"training.heads names {key!r}, a layer of {graph.name} that is not an output",
                    f"{listed}; to train that layer too, name it in `outputs:`",
                )
            )
        else:
            problems.append(
                graph.problem(
                    path,
                    f"training.heads names {key!r}, which is not an output of {graph.name}",
                    did_you_mean(key, outputs) + listed,
                )
            )
    return problems


def _unused_problem(ctx: Lowering, node: Node) -> Problem:
    outputs = ctx.graph.outputs
    where = (
        "the model's outputs are " + ", ".join(f"{k} ({v})" for k, v in outputs.items())
        if outputs
        else "the model's output is the last layer"
    )
    if node.op == "input":
        return ctx.at(
            node.path,
            f"input {node.name!r} is never used by {'any output' if outputs else 'the output'}",
            f"{where}; read it in a layer (`input: {node.name}`) or remove it",
        )
    return ctx.at(
        node.path,
        f"layer {node.name!r} is never used by {'any output' if outputs else 'the output'}",
        f"{where}; connect this one with `add`/`concat`{', name it in `outputs`' if outputs else ''} or remove it",
    )


def expand(spec: SpecBase) -> Graph:
    """The graph of primitive nodes a spec describes; SpecError lists every problem found."""
    source = getattr(spec, "_source", None)
    ctx = Lowering(spec, source)
    with contextlib.suppress(_Abort):  # its problem is recorded
        ctx.lower_list(spec.layers, ("layers",))
    if spec.outputs is not None:
        ctx.graph.outputs = _outputs(ctx, spec.outputs)
    heads = getattr(getattr(spec, "training", None), "heads", None)
    if heads and not ctx.problems:
        ctx.problems.extend(head_problems(ctx.graph, heads))
    if not ctx.problems and len(ctx.graph.nodes) == len(ctx.graph.inputs):
        ctx.problems.append(ctx.at(("layers",), "the spec has no layers (every one is left out by `when`)"))
    if not ctx.problems:
        for node in _unused(ctx.graph):
            ctx.problems.append(_unused_problem(ctx, node))
    if ctx.problems:  # a template instantiated several times can fail the same way each time: say it once
        raise SpecError(list(dict.fromkeys(ctx.problems)))
    ctx.graph.groups = ctx.groups
    return ctx.graph
