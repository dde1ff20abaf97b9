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
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError
from ..graph import shapes
from ..kinds import load_builtin_kinds
from ..kinds.base import Unsupported
from ..kinds.registry import Primitive, by_keras_class
from ..spec.loading import loads
from ..spec.writing import to_yaml
from .backend import keras as import_keras
from .saving import load_model

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _convert(layer: Any, rank: int, table: dict[str, Primitive]) -> tuple[Primitive, dict[str, Any]]:
    """The kind of one Keras layer and its settings (defaults left out); Unsupported when there is none."""
    prim = table.get(type(layer).__name__)
    if prim is None:
        raise Unsupported("no archspec kind imports this class")
    return prim, (prim.from_keras(layer, rank) if prim.from_keras else {})


# -- the model's graph ----------------------------------------------------------------
def _graph(model: Any) -> tuple[Any, list[tuple[Any, list[str]]]]:
    """(input layer, [(layer, names of the layers it reads)]) in topological order."""
    keras = import_keras()
    fn = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    if fn is None or not hasattr(fn, "_nodes_by_depth"):
        raise SpecError(Problem(f"model {model.name!r} is not a functional or built Sequential model",
                                hint="give a keras.Model built with keras.Input (subclassed models have no graph to import)"))
    if len(fn.inputs) != 1 or len(fn.outputs) != 1:
        raise SpecError(Problem(f"model {model.name!r} has {len(fn.inputs)} inputs and {len(fn.outputs)} outputs; archspec models have one of each"))
    members = {id(n) for nodes in fn._nodes_by_depth.values() for n in nodes}
    rows: list[tuple[Any, list[str]]] = []
    inputs = []
    for layer in fn.layers:
        nodes = [n for n in layer._inbound_nodes if id(n) in members]
        if len(nodes) != 1:
            raise SpecError(Problem(f"layer {layer.name!r} is used {len(nodes)} times in the model; archspec layers are used once",
                                    hint="shared layers (weight sharing) cannot be written as a spec"))
        if type(layer).__name__ == "InputLayer":
            inputs.append(layer)
            continue
        if isinstance(layer, keras.Model):
            raise SpecError(Problem(f"layer {layer.name!r} is a nested model ({type(layer).__name__})", hint="flatten the model into one functional graph first"))
        rows.append((layer, [t._keras_history.operation.name for t in nodes[0].input_tensors]))
    if len(inputs) != 1:
        raise SpecError(Problem(f"model {model.name!r} has {len(inputs)} input layers"))
    # Topological order that follows chains: after a layer, one that reads it (so fewer
    # `input:` references), else the earliest ready layer in Keras' order.
    readers: dict[str, list[int]] = {}
    for k, (_, ins) in enumerate(rows):
        for i in ins:
            readers.setdefault(i, []).append(k)
    missing = [len(set(ins)) for _, ins in rows]
    ready: set[int] = set()

    def emitted(name: str) -> list[int]:
        out = []
        for k in dict.fromkeys(readers.get(name, [])):
            missing[k] -= 1
            if not missing[k]:
                ready.add(k)
                out.append(k)
        return out

    ordered: list[tuple[Any, list[str]]] = []
    follow = emitted(inputs[0].name)
    while ready:
        nxt = min(follow) if follow else min(ready)
        ready.discard(nxt)
        ordered.append(rows[nxt])
        follow = emitted(rows[nxt][0].name)
    if len(ordered) != len(rows):
        raise SpecError(Problem("the model's graph has a cycle or unreachable layers"))
    return inputs[0], ordered


def _names(input_layer: Any, rows: list[tuple[Any, list[str]]]) -> dict[str, str]:
    """Keras layer name -> spec name: the input is `input`; others kept when valid and unique."""
    names = {input_layer.name: "input"}
    used = {"input"}
    for layer, _ in rows:
        base = layer.name if _NAME.match(layer.name) else re.sub(r"[^A-Za-z0-9_.\-]", "_", layer.name)[:200] or "layer"
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        names[layer.name] = name
        used.add(name)
    return names


def import_model(model: Any, *, source: str | None = None, verify: bool = True) -> str:
    """The spec (YAML text) of a Keras model; SpecError naming every layer archspec cannot express."""
    input_layer, rows = _graph(model)
    shape = tuple(input_layer.output.shape[1:])
    if len(shape) != 3 or any(d is None or int(d) < 1 for d in shape):
        raise SpecError(Problem(f"the model's input shape is {list(shape)}; archspec needs a fixed [height, width, channels] image"))
    names = _names(input_layer, rows)
    load_builtin_kinds()
    table = by_keras_class()
    unsupported: dict[tuple[str, str], list[str]] = {}
    layers: list[dict[str, Any]] = []
    previous = "input"
    for layer, inputs in rows:
        rank = len(layer.input.shape) if not isinstance(layer.input, (list, tuple)) else len(layer.input[0].shape)
        try:
            prim, settings = _convert(layer, rank, table)
        except Unsupported as exc:
            unsupported.setdefault((type(layer).__name__, str(exc)), []).append(layer.name)
            continue
        kind = prim.kind
        refs = [names[i] for i in inputs]
        if prim.inputs[1] != 1:
            settings = {"inputs": refs, **settings}
        elif refs[0] != previous:
            settings["input"] = refs[0]
        settings["name"] = names[layer.name]
        layers.append({kind: settings})
        previous = names[layer.name]
    if unsupported:
        raise SpecError([_unsupported(cls, reason, affected, table) for (cls, reason), affected in unsupported.items()])
    name = model.name if _NAME.match(model.name) else re.sub(r"[^A-Za-z0-9_.\-]", "_", model.name) or "imported"
    header = (f"Imported by `archspec import`{f' from {Path(source).name}' if source else ''}: "
              f"{len(rows)} layers, {model.count_params():,} parameters (weights are not part of a spec).")
    text = to_yaml({"name": name, "input": [int(d) for d in shape], "layers": layers}, header)
    if verify:
        _verify(model, text, names, rows)
    return text


def _unsupported(cls: str, reason: str, affected: list[str], table: dict[str, Primitive]) -> Problem:
    shown = ", ".join(map(repr, affected[:12])) + (f" and {len(affected) - 12} more" if len(affected) > 12 else "")
    return Problem(f"Keras class {cls}: {reason}; {len(affected)} layer{'s' if len(affected) > 1 else ''} affected: {shown}",
                   hint="supported Keras classes: " + ", ".join(sorted(table)))


def _verify(model: Any, text: str, names: dict[str, str], rows: list[tuple[Any, list[str]]]) -> None:
    """archspec's static report of the spec must match the Keras model layer by layer."""
    report = shapes(loads(text), max_params=None)
    problems = []
    for layer, _ in rows:
        info = report.layer(names[layer.name])
        want = tuple(int(d) for d in layer.output.shape[1:])
        if info.output_shape != want or info.params != layer.count_params():
            problems.append(Problem(f"internal: imported layer {layer.name!r} gives {list(info.output_shape)} with {info.params:,} parameters, "
                                    f"Keras has {list(want)} with {layer.count_params():,}"))
    if problems:
        raise SpecError(problems)


def import_file(path: str | os.PathLike[str]) -> str:
    """The spec of a saved .keras model."""
    target = Path(path)
    return import_model(load_model(target), source=str(target))
