"""Keras model -> spec: `archspec import MODEL.keras -o spec.yaml`.

A functional (or Sequential) Keras model built from the layers archspec has
kinds for becomes a spec with one layer per Keras layer, each named as in
Keras, so ``build(import(model))`` has the same layers, names, shapes and
parameter counts as ``model``. A layer reading anything but the layer above
it names its `input:`; multi-input kinds (`add`, `concat`) name all of theirs.
Weights are not part of a spec and are not imported.

Which Keras classes are supported is the kind table's business: each kind
names the classes it imports from and reads their settings
(``Primitive.keras_classes`` and ``from_keras``), so a plugin kind imports
too. Anything else is one SpecError per unsupported class, listing every
layer affected.

The result is checked before it is returned: archspec's static shapes for
the spec must equal the Keras model's shapes and parameter counts, layer by
layer, so an import that would not round-trip fails loudly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError
from ..graph import shapes
from ..kinds.base import MAX_SIZE, ConstantOp, Unsupported
from ..kinds.registry import Primitive, by_keras_class
from ..spec.loading import loads
from ..spec.writing import to_yaml
from .backend import keras as import_keras
from .saving import load_model

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass
class _Row:
    """One Keras layer or operation of the model, with what it reads."""

    op: Any
    node: Any
    inputs: list[int]
    """ids of the operations it reads (an input layer's own id for a model input)."""
    key: str
    """Its entry in the kind table: the class name, `ops.<Class>` for an operation between
    tensors, `ops.<Class>:constant` for one between a tensor and a number."""
    view: Any
    """What ``from_keras`` reads: the layer, or a ConstantOp."""


def _describe(op: Any, node: Any, keras: Any) -> tuple[str, Any]:
    """The table key of a Keras layer or operation, and what its ``from_keras`` reads."""
    cls = type(op).__name__
    if isinstance(op, keras.layers.Layer):
        return cls, op
    args = list(node.arguments.args)
    tensors = [a for a in args if isinstance(a, keras.KerasTensor)]
    numbers = [a for a in args if not isinstance(a, keras.KerasTensor)]
    if len(tensors) == 1 and len(numbers) == 1 and len(args) == 2 and _is_number(numbers[0]):
        return f"ops.{cls}:constant", ConstantOp(
            name=op.name, op=cls, constant=float(numbers[0]), constant_first=not isinstance(args[0], keras.KerasTensor)
        )
    if tensors and not numbers and not node.arguments.kwargs:
        return f"ops.{cls}", op
    return f"ops.{cls}(...)", op


def _is_number(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and float(value) == value
    except (TypeError, ValueError):
        return False


def _convert(row: _Row, rank: int, table: dict[str, list[Primitive]]) -> tuple[Primitive, dict[str, Any]]:
    """The kind of one Keras layer and its settings (defaults left out); Unsupported when there is none.

    Several kinds may claim one class (Dropout: `dropout`, or `stochastic_depth` when it drops
    whole examples); the first whose ``from_keras`` accepts the layer wins."""
    reasons = []
    for prim in table.get(row.key, []):
        try:
            return prim, (prim.from_keras(row.view, rank) if prim.from_keras else {})
        except Unsupported as exc:
            reasons.append(str(exc))
    raise Unsupported("; ".join(reasons) or "no archspec kind imports this class")


# -- the model's graph ----------------------------------------------------------------
def _graph(model: Any) -> tuple[list[Any], list[_Row], Any]:
    """(input layers, rows in topological order, the model as a functional graph); nested Sequential and
    functional models are inlined (ConvNeXt's stem and downsampling blocks are Sequentials)."""
    keras = import_keras()
    rows: list[_Row] = []
    inputs: list[Any] = []
    alias: dict[int, int] = {}

    def functional(m: Any) -> Any:
        fn = getattr(m, "_functional", None) if isinstance(m, keras.Sequential) else m
        if fn is None or not hasattr(fn, "_nodes_by_depth"):
            raise SpecError(
                Problem(
                    f"model {m.name!r} is not a functional or built Sequential model",
                    hint="give a keras.Model built with keras.Input (subclassed models have no graph to import)",
                )
            )
        return fn

    def walk(m: Any, outer: int | None) -> int:
        """Add the rows of model `m` whose input is the operation `outer` (None: the model input); returns its
        output's id."""
        fn = functional(m)
        if outer is not None and (len(fn.inputs) != 1 or len(fn.outputs) != 1):
            raise SpecError(
                Problem(
                    f"nested model {m.name!r} has {len(fn.inputs)} inputs and {len(fn.outputs)} outputs; "
                    "archspec inlines nested models of one input and one output",
                    hint="flatten the model first",
                )
            )
        members = {id(n) for nodes in fn._nodes_by_depth.values() for n in nodes}
        for op in fn.operations:
            nodes = [n for n in op._inbound_nodes if id(n) in members]
            if len(nodes) != 1:
                raise SpecError(
                    Problem(
                        f"layer {op.name!r} is used {len(nodes)} times in the model; archspec layers are used once",
                        hint="shared layers (weight sharing) cannot be written as a spec",
                    )
                )
            if type(op).__name__ == "InputLayer":
                if outer is None:
                    inputs.append(op)
                else:
                    alias[id(op)] = outer
                continue
            reads = [
                alias.get(id(t._keras_history.operation), id(t._keras_history.operation))
                for t in nodes[0].input_tensors
            ]
            if isinstance(op, keras.Model):
                if len(reads) != 1:
                    raise SpecError(
                        Problem(
                            f"layer {op.name!r} is a nested model with {len(reads)} inputs",
                            hint="flatten the model first",
                        )
                    )
                alias[id(op)] = walk(op, reads[0])
                continue
            key, view = _describe(op, nodes[0], keras)
            rows.append(_Row(op, nodes[0], reads, key, view))
        out = fn.outputs[0]._keras_history.operation
        return alias.get(id(out), id(out))

    walk(model, None)
    top = functional(model)
    if not inputs:
        raise SpecError(Problem(f"model {model.name!r} has no input layer"))
    # Topological order that follows chains: after a layer, one that reads it (so fewer
    # `input:` references), else the earliest ready layer in Keras' order.
    readers: dict[int, list[int]] = {}
    for k, row in enumerate(rows):
        for i in row.inputs:
            readers.setdefault(i, []).append(k)
    missing = [len(set(row.inputs)) for row in rows]
    ready: set[int] = set()

    def emitted(op_id: int) -> list[int]:
        out = []
        for k in dict.fromkeys(readers.get(op_id, [])):
            missing[k] -= 1
            if not missing[k]:
                ready.add(k)
                out.append(k)
        return out

    ordered: list[_Row] = []
    follow = [k for op in inputs for k in emitted(id(op))]
    while ready:
        nxt = min(follow) if follow else min(ready)
        ready.discard(nxt)
        ordered.append(rows[nxt])
        follow = emitted(id(rows[nxt].op))
    if len(ordered) != len(rows):
        raise SpecError(Problem("the model's graph has a cycle or unreachable layers"))
    return inputs, ordered, top


def _names(rows: list[_Row], inputs: list[Any], named: bool) -> dict[int, str]:
    """Operation id -> spec name: one unnamed input is `input`; other inputs and the layers keep their Keras
    name when valid and unique."""
    names: dict[int, str] = {}
    used: set[str] = set()
    for k, op in enumerate([*inputs, *(row.op for row in rows)]):
        raw = "input" if k < len(inputs) and not named else op.name
        base = raw if _NAME.match(raw) else re.sub(r"[^A-Za-z0-9_.\-]", "_", raw)[:200] or "layer"
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        names[id(op)] = name
        used.add(name)
    return names


def _shape(tensor: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in tensor.shape[1:])


@dataclass(frozen=True)
class ShapeOption:
    """How the caller spells the input-shape option: errors about it speak the caller's words (a Python caller is
    told about ``input_shape``, a command-line one about ``--input-shape``)."""

    label: str
    """What an error about the given shape is located at."""
    example: str
    """The option given, as the hint for a model that takes any image size shows it."""


CLI = ShapeOption("--input-shape", "--input-shape 224,224,3")
PYTHON = ShapeOption("input_shape", "input_shape=(224, 224, 3)")
GENERATED = "<string>"
"""Where ``loads`` locates problems in text it was given: here, the spec this module wrote."""


def import_model(
    model: Any,
    *,
    source: str | None = None,
    verify: bool = True,
    input_shape: tuple[int, int, int] | None = None,
    option: ShapeOption = CLI,
) -> str:
    """The spec (YAML text) of a Keras model; SpecError naming every layer archspec cannot express.

    A model whose input leaves height or width open (MobileNetV3 by default) needs
    `input_shape`, the image size the spec is written for. A model with several inputs or outputs,
    a vector input, or that takes or gives a mapping, becomes a spec with named `inputs` / `outputs`.

    Every error names the model (`source`, the file) or the option, never the generated text: the person
    did not write that text and cannot open it (see ``_blamed``)."""
    label = str(source) if source is not None else f"model {model.name!r}"
    try:
        return _import(model, label, source, verify, input_shape, option)
    except SpecError as exc:
        raise SpecError(_blamed(exc.problems, label)) from None


def _blamed(problems: tuple[Problem, ...], label: str) -> list[Problem]:
    """Problems located in the generated text, or nowhere, told about the model they come from."""
    out = []
    for p in problems:
        if p.file == GENERATED:
            where = f"{p.field_path}: " if p.path else ""
            p = Problem(f"cannot be written as a spec: {where}{p.message}", file=label, hint=p.hint)
        elif p.file is None:
            p = replace(p, file=label)
        out.append(p)
    return out


def _import(
    model: Any,
    label: str,
    source: str | None,
    verify: bool,
    input_shape: tuple[int, int, int] | None,
    option: ShapeOption,
) -> str:
    input_layers, rows, graph = _graph(model)
    if not rows:
        raise SpecError(
            Problem(
                f"model {model.name!r} has no layers: its output is its input, and a spec needs at least one layer",
                hint="import a model that computes something",
            )
        )
    # a vector input is written as a named input (`inputs: {name: [n]}`): `input:` is an image's [H, W, C]
    named = (
        len(input_layers) > 1
        or isinstance(graph.input, dict)
        or any(len(_shape(op.output)) != 3 for op in input_layers)
    )
    names = _names(rows, input_layers, named)
    given = input_shape if len(input_layers) == 1 else None
    shapes = {names[id(op)]: _input_shape(op, given, option) for op in input_layers}
    table = by_keras_class()
    unsupported: dict[tuple[str, str], list[str]] = {}
    layers: list[dict[str, Any]] = []
    previous = names[id(input_layers[0])]
    for row in rows:
        rank = len(row.node.input_tensors[0].shape)
        try:
            prim, settings = _convert(row, rank, table)
        except Unsupported as exc:
            unsupported.setdefault((row.key, str(exc)), []).append(row.op.name)
            continue
        refs = [names[i] for i in row.inputs]
        if prim.inputs[1] != 1:
            settings = {"inputs": refs, **settings}
        elif refs[0] != previous:
            settings["input"] = refs[0]
        settings["name"] = names[id(row.op)]
        layers.append({prim.kind: settings})
        previous = settings["name"]
    if unsupported:
        raise SpecError([_unsupported(cls, reason, affected, table) for (cls, reason), affected in unsupported.items()])
    name = model.name if _NAME.match(model.name) else re.sub(r"[^A-Za-z0-9_.\-]", "_", model.name) or "imported"
    header = (
        f"Imported by `archspec import`{f' from {Path(source).name}' if source else ''}: "
        f"{len(rows)} layer{'s' if len(rows) != 1 else ''}, {model.count_params():,} parameters (weights are not part "
        "of a spec)."
    )
    spec: dict[str, Any] = {"name": name}
    if named:
        spec["inputs"] = {k: list(v) for k, v in shapes.items()}
    else:
        spec["input"] = list(next(iter(shapes.values())))
    outputs = _outputs(graph, names, input_layers)
    if outputs:
        spec["outputs"] = outputs
    text = to_yaml({**spec, "layers": layers}, header)
    if verify:
        _verify(model, text, names, rows)
    return text


def _input_shape(layer: Any, given: tuple[int, int, int] | None, option: ShapeOption) -> list[int]:
    """An input's fixed shape: an image [H, W, C] or a vector [N]; `given` fills the axes a model leaves open."""
    shape = _shape(layer.output)
    if given is not None:
        want = tuple(int(d) for d in given)
        if (
            len(want) != 3
            or any(d < 1 for d in want)
            or any(k is not None and k != g for k, g in zip(shape, want, strict=False))
            or len(shape) != 3
        ):
            raise SpecError(
                Problem(
                    f"{list(want)} does not fit the model's input {list(shape)}",
                    file=option.label,
                    hint="give [height, width, channels] for the axes the model leaves open (None)",
                )
            )
        if max(want) > MAX_SIZE:
            raise SpecError(
                Problem(
                    f"{list(want)}: a spec's sizes are at most {MAX_SIZE:,}",
                    file=option.label,
                    hint="give the image size the spec is for, e.g. 224,224,3",
                )
            )
        shape = want
    sizes = [d for d in shape if d is not None]
    if len(shape) not in (1, 3) or len(sizes) < len(shape) or min(sizes) < 1:
        raise SpecError(
            Problem(
                f"the model's input {layer.name!r} has shape {list(shape)}; archspec needs a fixed [height, width, "
                "channels] image (or a [length] vector)",
                hint=f"for a model that takes any image size, give the size: {option.example}",
            )
        )
    if max(sizes) > MAX_SIZE:
        raise SpecError(
            Problem(
                f"the model's input {layer.name!r} has shape {list(shape)}; a spec's sizes are at most {MAX_SIZE:,}",
                hint="archspec cannot write a spec for this input size",
            )
        )
    return sizes


def _outputs(model: Any, names: dict[int, str], inputs: list[Any]) -> dict[str, str]:
    """The spec's `outputs`: empty for one tensor out; a mapping's keys, or each layer's name, otherwise.

    Every output of the model is kept: one that is an input passed through, or a second output of a layer
    that is already an output, cannot be written as a spec and is refused (dropping it would give a model
    with fewer outputs than the one imported)."""
    structure = model.output
    items = (
        structure.items()
        if isinstance(structure, dict)
        else [(None, t) for t in structure]
        if isinstance(structure, (list, tuple))
        else [(None, structure)]
    )
    given = {id(op): op.name for op in inputs}
    out: dict[str, str] = {}
    by_layer: dict[str, str] = {}
    for n, (key, tensor) in enumerate(items):
        what = f"output {key!r}" if key is not None else f"output {n + 1}" if len(items) > 1 else "the output"
        op = tensor._keras_history.operation
        if id(op) in given:
            raise SpecError(
                Problem(
                    f"{what} of model {model.name!r} is its input {given[id(op)]!r}, passed through unchanged; "
                    "a spec's outputs are layers",
                    hint="leave that output out of the model, or compute it with a layer",
                )
            )
        layer = names.get(id(op))
        if layer is None:
            raise SpecError(Problem(f"{what} comes out of a nested model", hint="flatten the model first"))
        if layer in by_layer:
            raise SpecError(
                Problem(
                    f"{by_layer[layer]} and {what} of model {model.name!r} are both layer {layer!r}; a spec gives each "
                    "output its own layer, and leaving one out would drop an output",
                    hint="give the second its own layer (e.g. keras.layers.Activation('linear')) and import again",
                )
            )
        by_layer[layer] = what
        out[str(key) if key is not None else layer] = layer
    return out if isinstance(structure, (dict, list, tuple)) else {}


def _unsupported(cls: str, reason: str, affected: list[str], table: dict[str, list[Primitive]]) -> Problem:
    shown = ", ".join(map(repr, affected[:12])) + (f" and {len(affected) - 12} more" if len(affected) > 12 else "")
    return Problem(
        f"Keras class {cls}: {reason}; {len(affected)} layer{'s' if len(affected) > 1 else ''} affected: {shown}",
        hint="supported Keras classes: " + ", ".join(sorted(k for k in table if not k.startswith("ops."))),
    )


def _verify(model: Any, text: str, names: dict[int, str], rows: list[_Row]) -> None:
    """archspec's static report of the spec must match the Keras model layer by layer (on the
    axes Keras knows: a model taking any image size leaves height and width open)."""
    try:
        report = shapes(loads(text), max_params=None)
    except SpecError as exc:  # the text is ours: say which Keras layer it came from (layers[i] is rows[i])
        raise SpecError(
            [
                Problem(
                    f"cannot be written as a spec: Keras layer {rows[p.path[1]].op.name!r} ({p.field_path}): "
                    f"{p.message}",
                    hint=p.hint,
                )
                if p.file == GENERATED
                and len(p.path) > 1
                and p.path[0] == "layers"
                and isinstance(p.path[1], int)
                and p.path[1] < len(rows)
                else p
                for p in exc.problems
            ]
        ) from None
    problems = []
    for row in rows:
        info = report.layer(names[id(row.op)])
        want = _shape(row.node.output_tensors[0])
        params = row.op.count_params() if hasattr(row.op, "count_params") else 0
        fits = len(want) == len(info.output_shape) and all(
            w is None or w == g for w, g in zip(want, info.output_shape, strict=True)
        )
        if not fits or info.params != params:
            problems.append(
                Problem(
                    f"internal: imported layer {row.op.name!r} gives {list(info.output_shape)} with {info.params:,} "
                    f"parameters, Keras has {list(want)} with {params:,}"
                )
            )
    if report.total_params != model.count_params():
        problems.append(
            Problem(
                f"internal: the imported spec has {report.total_params:,} parameters, the model "
                f"{model.count_params():,}"
            )
        )
    if problems:
        raise SpecError(problems)


def import_from(model: Any, input_shape: Sequence[int] | None = None, *, option: ShapeOption = PYTHON) -> str:
    """The spec (YAML text) of a Keras model, given as a ``keras.Model`` or the path of a saved .keras file:
    what ``archspec.import_model`` and `archspec import` both call."""
    shape = _given_shape(input_shape, option)
    if isinstance(model, (str, os.PathLike)):
        target = Path(model)
        return import_model(load_model(target), source=str(target), input_shape=shape, option=option)
    keras = import_keras()
    if not isinstance(model, keras.Model):
        raise SpecError(
            Problem(
                f"{type(model).__name__} is not a Keras model",
                hint="give a keras.Model (functional or Sequential) or the path of a saved .keras file",
            )
        )
    return import_model(model, input_shape=shape, option=option)


def _given_shape(shape: Sequence[int] | None, option: ShapeOption) -> tuple[int, int, int] | None:
    """The image size given for the model's input, checked for its form (whether it fits is ``_input_shape``'s)."""
    if shape is None:
        return None
    if (
        isinstance(shape, (tuple, list))
        and len(shape) == 3
        and all(isinstance(n, int) and not isinstance(n, bool) for n in shape)
    ):
        return int(shape[0]), int(shape[1]), int(shape[2])
    raise SpecError(
        Problem(
            f"{shape!r} is not an image shape",
            file=option.label,
            hint=f"(height, width, channels): {option.example}",
        )
    )
