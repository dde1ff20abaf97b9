"""Keras model -> spec: `archspec import MODEL.keras -o spec.yaml`.

A functional (or Sequential) Keras model built from the layers archspec has
kinds for becomes a spec with one layer per Keras layer, each named as in
Keras, so ``build(import(model))`` has the same layers, names, shapes and
parameter counts as ``model``. A layer reading anything but the layer above
it names its `input:`; `add` and `concat` name all of theirs. Weights are not
part of a spec and are not imported.

Supported: InputLayer, Conv2D, Dense, MaxPooling2D, AveragePooling2D, their
global versions, Flatten, Dropout, BatchNormalization, Activation, ReLU
(plain or capped at 6), Softmax, ZeroPadding2D, Add, Concatenate (channel
axis), and archspec's LocalResponseNormalization, SumPooling2D and
GlobalSumPooling2D. Anything else is a SpecError naming the layer.

The result is checked before it is returned: archspec's static shapes for
the spec must equal the Keras model's shapes and parameter counts, layer by
layer, so an import that would not round-trip fails loudly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .errors import Problem, SpecError
from .render import to_yaml

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class _Unsupported(Exception):
    pass


# -- one Keras layer -> one spec layer ------------------------------------------------
def _pair(value: Any) -> int | list[int]:
    a, b = (int(v) for v in value)
    return a if a == b else [a, b]


def _activation(fn: Any) -> str | None:
    from .kinds.base import ACTIVATIONS

    name = getattr(fn, "__name__", None) if not isinstance(fn, str) else fn
    if name == "swish":
        name = "silu"
    if name in (None, "linear"):
        return None
    if name not in ACTIVATIONS:
        raise _Unsupported(f"activation {name!r} (archspec has: {', '.join(ACTIVATIONS)})")
    return name


def _channels_last(layer: Any) -> None:
    fmt = getattr(layer, "data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise _Unsupported(f"data_format={fmt!r} (archspec is channels_last)")


def _channel_axis(axis: Any, rank: int) -> bool:
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    return len(axes) == 1 and axes[0] in (-1, rank - 1)


def _convert(layer: Any, rank: int) -> tuple[str, dict[str, Any]]:
    """(kind, settings) of one Keras layer, defaults left out; _Unsupported when archspec has no such layer."""
    cls = type(layer).__name__
    if cls == "Conv2D":
        _channels_last(layer)
        s: dict[str, Any] = {"filters": int(layer.filters), "kernel": _pair(layer.kernel_size)}
        if tuple(layer.strides) != (1, 1):
            s["stride"] = _pair(layer.strides)
        if layer.padding != "valid":
            s["padding"] = layer.padding
        if tuple(layer.dilation_rate) != (1, 1):
            s["dilation"] = _pair(layer.dilation_rate)
        if int(layer.groups) != 1:
            s["groups"] = int(layer.groups)
        if not layer.use_bias:
            s["bias"] = False
        act = _activation(layer.activation)
        if act:
            s["activation"] = act
        if not layer.trainable:
            s["trainable"] = False
        return "conv", s
    if cls == "Dense":
        if rank != 2:
            raise _Unsupported("Dense applied to a feature map (archspec's dense needs a vector: flatten or pool first)")
        s = {"units": int(layer.units)}
        act = _activation(layer.activation)
        if act:
            s["activation"] = act
        if not layer.use_bias:
            s["bias"] = False
        if not layer.trainable:
            s["trainable"] = False
        return "dense", s
    if cls in ("MaxPooling2D", "AveragePooling2D", "SumPooling2D"):
        _channels_last(layer)
        kind = {"MaxPooling2D": "max", "AveragePooling2D": "avg", "SumPooling2D": "sum"}[cls]
        s = {"kind": kind, "size": _pair(layer.pool_size)}
        if tuple(layer.strides) != tuple(layer.pool_size):
            s["stride"] = _pair(layer.strides)
        if layer.padding != "valid":
            s["padding"] = layer.padding
        return "pool", s
    if cls in ("GlobalMaxPooling2D", "GlobalAveragePooling2D", "GlobalSumPooling2D"):
        _channels_last(layer)
        if getattr(layer, "keepdims", False):
            raise _Unsupported("keepdims=True (archspec's global pooling gives a vector)")
        kind = {"GlobalMaxPooling2D": "max", "GlobalAveragePooling2D": "avg", "GlobalSumPooling2D": "sum"}[cls]
        return "pool", {"kind": kind, "global": True}
    if cls == "Flatten":
        return "flatten", {}
    if cls == "Dropout":
        if getattr(layer, "noise_shape", None) is not None:
            raise _Unsupported("noise_shape")
        return "dropout", {"rate": float(layer.rate)}
    if cls == "BatchNormalization":
        if not _channel_axis(layer.axis, rank):
            raise _Unsupported(f"axis={layer.axis!r} (archspec normalises the channel axis)")
        s = {}
        if float(layer.epsilon) != 1e-3:
            s["epsilon"] = float(layer.epsilon)
        if float(layer.momentum) != 0.99:
            s["momentum"] = float(layer.momentum)
        if not layer.center:
            s["center"] = False
        if not layer.scale:
            s["scale"] = False
        return "batchnorm", s
    if cls == "Activation":
        act = _activation(layer.activation) or "linear"
        return "activation", {"fn": act}
    if cls == "ReLU":
        slope, threshold, cap = float(layer.negative_slope), float(layer.threshold), layer.max_value
        if slope or threshold or cap not in (None, 6, 6.0):
            raise _Unsupported("ReLU with negative_slope, threshold or a max_value other than 6")
        return "activation", {"fn": "relu" if cap is None else "relu6"}
    if cls == "Softmax":
        if not _channel_axis(layer.axis, rank):
            raise _Unsupported(f"Softmax over axis {layer.axis!r}")
        return "activation", {"fn": "softmax"}
    if cls == "ZeroPadding2D":
        _channels_last(layer)
        (t, b), (l, r) = (tuple(int(v) for v in p) for p in layer.padding)
        if t == b == l == r:
            return "zeropad", {"padding": t}
        return "zeropad", {"padding": [[t, b], [l, r]]}
    if cls == "LocalResponseNormalization":
        return "lrn", {"size": int(layer.size), "alpha": float(layer.alpha), "beta": float(layer.beta), "bias": float(layer.bias)}
    if cls == "Add":
        return "add", {}
    if cls == "Concatenate":
        if not _channel_axis(layer.axis, rank):
            raise _Unsupported(f"Concatenate over axis {layer.axis!r} (archspec concatenates channels)")
        return "concat", {}
    raise _Unsupported(f"layer type {cls}")


# -- the model's graph ----------------------------------------------------------------
def _graph(model: Any) -> tuple[Any, list[tuple[Any, list[str]]]]:
    """(input layer, [(layer, names of the layers it reads)]) in topological order."""
    import keras

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
    problems: list[Problem] = []
    layers: list[dict[str, Any]] = []
    previous = "input"
    for layer, inputs in rows:
        rank = len(layer.input.shape) if not isinstance(layer.input, (list, tuple)) else len(layer.input[0].shape)
        try:
            kind, settings = _convert(layer, rank)
        except _Unsupported as exc:
            problems.append(Problem(f"layer {layer.name!r} ({type(layer).__name__}): archspec cannot express {exc}",
                                    hint="supported: Conv2D, Dense, Max/AveragePooling2D and their global versions, Flatten, Dropout, "
                                         "BatchNormalization, Activation, ReLU, Softmax, ZeroPadding2D, Add, Concatenate, archspec's own layers"))
            continue
        refs = [names[i] for i in inputs]
        if kind in ("add", "concat"):
            settings = {"inputs": refs, **settings}
        elif refs[0] != previous:
            settings["input"] = refs[0]
        settings["name"] = names[layer.name]
        layers.append({kind: settings})
        previous = names[layer.name]
    if problems:
        raise SpecError(problems)
    name = model.name if _NAME.match(model.name) else re.sub(r"[^A-Za-z0-9_.\-]", "_", model.name) or "imported"
    header = (f"Imported by `archspec import`{f' from {Path(source).name}' if source else ''}: "
              f"{len(rows)} layers, {model.count_params():,} parameters (weights are not part of a spec).")
    text = to_yaml({"name": name, "input": [int(d) for d in shape], "layers": layers}, header)
    if verify:
        _verify(model, text, names, rows)
    return text


def _verify(model: Any, text: str, names: dict[str, str], rows: list[tuple[Any, list[str]]]) -> None:
    """archspec's static report of the spec must match the Keras model layer by layer."""
    from . import api

    report = api.shapes(api.loads(text), max_params=None)
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
    from . import api

    target = Path(path)
    if not target.exists():
        raise SpecError(Problem("no such file", file=str(target)))
    try:
        model = api.load_model(target)
    except (ValueError, OSError, TypeError) as exc:
        raise SpecError(Problem(f"cannot load {target} as a Keras model: {exc}", file=str(target))) from None
    return import_model(model, source=str(target))
