"""Export a model for serving: TensorFlow SavedModel, ONNX or TFLite (LiteRT).

`archspec export MODEL.keras|SPEC --format savedmodel|onnx|tflite -o PATH`; a run folder
(``training/export.py``) comes here too, its model wrapped with its preprocessing.
Every route is the ecosystem's own converter, reached through Keras 3's
``Model.export``:

- ``savedmodel``: ``model.export(path, format="tf_saved_model")`` — a
  directory with a ``serve`` (and ``serving_default``) signature, each taking
  one float32 tensor;
- ``onnx``: ``model.export(path, format="onnx")`` — Keras drives tf2onnx
  (install ``tf2onnx``; Keras patches the parts of tf2onnx 1.17 that still use
  NumPy 1 names), input named ``input``;
- ``tflite``: ``model.export(path, format="litert")`` — Keras writes a
  SavedModel and runs ``tf.lite.TFLiteConverter.from_saved_model``.

A network with named inputs or outputs (a spec's `inputs` / `outputs`) keeps its names
in all three: the signatures take and return mappings by name, the ONNX graph's inputs
and outputs carry them, and TFLite's `serving_default` signature lists them.

A spec is built first (fresh, untrained weights: useful for checking that a
network converts and for timing it). Outputs are written beside the target
under a temporary name and renamed into place, and an existing target is only
replaced with ``force``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError
from ..files import atomic_path, refuse_existing
from ..spec.given import words
from ..spec.zoo import is_bare, locate
from .emitter import build
from .saving import SPEC_SUFFIXES, load_model
from .weights import with_weights

FORMATS = {"savedmodel": "tf_saved_model", "onnx": "onnx", "tflite": "litert"}
SUFFIXES = {".onnx": "onnx", ".tflite": "tflite"}


def infer_format(output: str | os.PathLike[str] | None) -> str | None:
    """The format an output path implies: .onnx, .tflite, else (a directory) savedmodel."""
    if output is None:
        return None
    return SUFFIXES.get(Path(output).suffix.lower(), "savedmodel")


def default_output(name: str, fmt: str) -> Path:
    return (
        Path("build") / ({"savedmodel": f"{name}_savedmodel", "onnx": f"{name}.onnx", "tflite": f"{name}.tflite"}[fmt])
    )


def load_source(
    source: str | os.PathLike[str],
    *,
    weights: Any = None,
    strict_weights: bool = False,
    weights_by_shape: bool = False,
    **overrides: Any,
) -> Any:
    """A Keras model from a .keras file, or built from a spec (YAML/JSON); with `weights`, those weights
    transferred into it (``model.transfer`` is the report)."""
    path = Path(source)
    if is_bare(str(source)) and not path.exists():
        path = Path(locate(source))  # a zoo network by its name, or a SpecError with the closest name
    if path.suffix.lower() in SPEC_SUFFIXES:
        return build(
            path, weights=weights, strict_weights=strict_weights, weights_by_shape=weights_by_shape, **overrides
        )
    if overrides:
        named = ", ".join(words().named(key) for key in overrides)
        raise SpecError(Problem(f"{named}: values apply to specs, not to saved models", file=str(path)))
    if path.exists() and path.suffix.lower() != ".keras":
        raise SpecError(Problem("expected a .keras model or a spec (.yaml, .yml, .json)", file=str(path)))
    return with_weights(lambda: load_model(path), weights, strict=strict_weights, by_shape=weights_by_shape)


def _check_target(target: Path, force: bool, fmt: str) -> None:
    refuse_existing(target, force)
    if target.exists() and target.is_dir() != (fmt == "savedmodel"):
        kind = "directory" if target.is_dir() else "file"
        raise SpecError(
            Problem(
                f"{target} is a {kind}; refusing to replace it with a {'directory' if kind == 'file' else 'file'}",
                file=str(target),
            )
        )


def _converter_missing(fmt: str, exc: ImportError) -> SpecError:
    needs = {"onnx": "tf2onnx (pip install tf2onnx)", "tflite": "TensorFlow's converter", "savedmodel": "TensorFlow"}[
        fmt
    ]
    return SpecError(Problem(f"exporting to {fmt} needs {needs}: {exc}", hint="pip install 'archspec[export]'"))


def _signature(model: Any, fmt: str) -> dict[str, Any]:
    """One tensor in, batch size left open, named `input`; for named inputs, a mapping of tensors by name.

    Keras derives the signature from `model.inputs`; a model rebuilt as
    ``keras.Model(model.inputs, ...)`` (as `archspec train` saves it) holds them as a
    list, and its SavedModel `serve` then wants a list while `serving_default` takes a
    tensor. ONNX needs the signature anyway: a freshly loaded model has not been called."""
    if fmt not in ("savedmodel", "onnx"):
        return {}
    import tensorflow as tf

    def spec(
        t: Any, name: str
    ) -> Any:  # float32, or what the input says (uint8 pixels, for a model carrying its preprocessing)
        return tf.TensorSpec((None, *t.shape[1:]), getattr(t, "dtype", None) or tf.float32, name=name)

    if isinstance(model.input, dict):
        return {"input_signature": [{name: spec(t, name) for name, t in model.input.items()}]}
    return {"input_signature": [spec(model.inputs[0], "input")]}


def _grouped(layer: Any) -> bool:
    return type(layer).__name__ == "Conv2D" and int(getattr(layer, "groups", 1)) > 1


def _gelu(layer: Any) -> bool:
    return getattr(getattr(layer, "activation", None), "__name__", "") == "gelu"


def _normalization(layer: Any) -> bool:
    return type(layer).__name__ == "Normalization"


def _for_onnx(model: Any) -> Any:
    """The model with the layers tf2onnx cannot convert replaced by equivalents it can, weights copied:
    a grouped Conv2D (Keras runs it on TensorFlow as an XLA function) by archspec's GroupedConv2D (a
    depthwise convolution, or one convolution per group, concatenated), GELU (erfc, which ONNX lacks)
    by its erf form, and Normalization (its statistics are tensors made at build time, which tf2onnx
    takes for inputs) by the same arithmetic on constants. Outputs agree within float rounding."""
    import keras
    import numpy as np

    from .custom import ConstantNormalization, ErfGelu, GroupedConv2D, erf_gelu

    if not any(_grouped(layer) or _gelu(layer) or _normalization(layer) for layer in model.layers):
        return model

    def flat(t: Any) -> list[float]:
        return [float(v) for v in np.asarray(t, dtype="float64").reshape(-1)]

    def clone(layer: Any) -> Any:
        c = layer.get_config()
        if _normalization(layer):
            return ConstantNormalization(flat(layer.mean), flat(layer.variance), name=layer.name)
        if _gelu(layer):
            if type(layer).__name__ == "Activation":
                return ErfGelu(name=layer.name)
            c["activation"] = erf_gelu
        if _grouped(layer):
            return GroupedConv2D(
                c["filters"],
                c["kernel_size"],
                c["strides"],
                c["padding"],
                c["dilation_rate"],
                c["groups"],
                c["use_bias"],
                c["activation"],
                name=layer.name,
            )
        return layer.__class__.from_config(c)

    lowered = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if lowered.get_layer(layer.name).weights:
            lowered.get_layer(layer.name).set_weights(layer.get_weights())
    return lowered


def _onnx_check(path: Path) -> None:
    """tf2onnx can write a file that keeps TensorFlow ops it could not convert; refuse that file."""
    try:
        import onnx
    except ImportError:
        return
    model = onnx.load(str(path))
    bad = sorted(
        {
            n.op_type
            for n in model.graph.node
            if n.domain not in ("", "ai.onnx", "ai.onnx.ml", "com.microsoft")
            or n.op_type in ("StatefulPartitionedCall", "PartitionedCall")
        }
    )
    if bad:
        raise SpecError(Problem(f"tf2onnx left TensorFlow ops it could not convert: {', '.join(bad)}"))
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise SpecError(Problem(f"the ONNX file tf2onnx wrote is invalid: {str(exc).splitlines()[0]}")) from None


def for_format(model: Any, fmt: str) -> Any:
    """The model in the layers `fmt`'s converter takes (ONNX: see `_for_onnx`; the others: as it is)."""
    return _for_onnx(model) if fmt == "onnx" else model


def check_request(output: str | os.PathLike[str] | None, fmt: str | None, force: bool) -> str:
    """A format known, and a target that may be written: checked before the (slow) build or load. Returns the
    format, now known to be one."""
    if fmt is None:
        raise SpecError(Problem("give --format (savedmodel, onnx, tflite) or an output ending in .onnx or .tflite"))
    if fmt not in FORMATS:
        raise SpecError(Problem(f"unknown export format {fmt!r}", hint=f"formats: {', '.join(FORMATS)}"))
    if output is not None:
        _check_target(Path(output), force, fmt)
    return fmt


def export_model(model: Any, output: str | os.PathLike[str], fmt: str, *, force: bool = False) -> Path:
    """Write `model` in `fmt` (savedmodel, onnx, tflite) at `output`, atomically."""
    if fmt not in FORMATS:
        raise SpecError(Problem(f"unknown export format {fmt!r}", hint=f"formats: {', '.join(FORMATS)}"))
    target = Path(output)
    _check_target(target, force, fmt)
    if fmt == "onnx":
        model = _for_onnx(model)
    with atomic_path(target, force=True) as tmp:  # _check_target has applied --force
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # Keras' tf2onnx shim probes np.object
                model.export(str(tmp), format=FORMATS[fmt], verbose=False, **_signature(model, fmt))
        except ImportError as exc:
            raise _converter_missing(fmt, exc) from None
        if not tmp.exists():
            raise SpecError(Problem(f"the {fmt} converter wrote nothing at {tmp}"))
        if fmt == "onnx":
            _onnx_check(tmp)
    return target


def export(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    fmt: str | None = None,
    *,
    force: bool = False,
    weights: Any = None,
    strict_weights: bool = False,
    weights_by_shape: bool = False,
    log: Any = None,
    **overrides: Any,
) -> Path:
    """Export a .keras model or a spec; the format defaults to what the output's extension says.

    ``weights``: trained weights to transfer first (see ``weights.py``); ``log`` receives the transfer report."""
    fmt = check_request(output, fmt or infer_format(output), force)
    model = load_source(
        source, weights=weights, strict_weights=strict_weights, weights_by_shape=weights_by_shape, **overrides
    )
    if weights is not None and log is not None:
        log(model.transfer.text().rstrip())
    target = Path(output) if output is not None else default_output(model.name, fmt)
    return export_model(model, target, fmt, force=force)


def run_exported(path: str | os.PathLike[str], x: Any) -> Any:
    """Outputs of an exported artifact for a batch `x` (float32 NHWC, or uint8 pixels): the check that an export works.

    `x` is an array, or a mapping of arrays by input name for a network with named inputs. The result
    is an array, or a mapping of arrays by output name when the network has named inputs or several
    outputs. SavedModel: reloaded with tf.saved_model.load; ONNX: onnxruntime; TFLite: the LiteRT
    interpreter (ai_edge_litert when installed, else tf.lite.Interpreter)."""
    import numpy as np

    path = Path(path)
    named = isinstance(x, dict)

    def typed(v: Any) -> Any:  # uint8 pixels stay uint8 (a model carrying its preprocessing takes them so)
        v = np.asarray(v)
        return v if v.dtype == np.uint8 else v.astype("float32")

    x = {k: typed(v) for k, v in x.items()} if named else typed(x)

    def result(outputs: dict[str, Any]) -> Any:
        return outputs if named or len(outputs) > 1 else next(iter(outputs.values()))

    if path.is_dir():
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        out = loaded.serve(x)
        return result({k: v.numpy() for k, v in out.items()}) if isinstance(out, dict) else out.numpy()
    if path.suffix == ".onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = x if named else {session.get_inputs()[0].name: x}
        names = [o.name for o in session.get_outputs()]
        return result(dict(zip(names, session.run(None, feed), strict=True)))
    if path.suffix == ".tflite":
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            import warnings

            import tensorflow as tf

            def Interpreter(model_path: str) -> Any:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # its deprecation notice points at ai_edge_litert
                    return tf.lite.Interpreter(model_path=model_path)

        interpreter = Interpreter(model_path=str(path))
        if named or len(interpreter.get_output_details()) > 1:  # the signature holds the names
            runner = interpreter.get_signature_runner("serving_default")
            return result(
                runner(**x)
                if named
                else runner(**{interpreter.get_signature_list()["serving_default"]["inputs"][0]: x})
            )
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        interpreter.resize_tensor_input(inp["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(out["index"]).copy()
    raise SpecError(Problem(f"{path}: not a SavedModel directory, .onnx or .tflite file"))
