"""`archspec export` of a run folder: the trained model with the run's preprocessing plan inside it.

A run folder records how its images became the network's input (run.json's
``preprocessing.plan``: channel conversion, pad/crop/resize to the input size,
rescale, mean/std). Exported from the folder, the model carries that plan as
its first operations (``Plan.keras_layer``: the same steps training and
`predict` apply, written once in ``data/plan.py``) and the step `predict` takes
after the network (softmax or sigmoid on logits, a regression's target units:
``heads.readable``). So the exported model takes pixels as image files hold them
(uint8, 0-255, at the size the run trained on, with the source's channels) and
gives what `predict` gives. ``preprocessing=False`` (``--no-preprocessing``)
leaves the plan out, for users who preprocess themselves; the output step and
the output names stay.

Outputs keep their names: the model returns a mapping by output name (a spec's
`outputs`, else the output layer's name), which SavedModel's signatures, the
ONNX graph's outputs and TFLite's `serving_default` signature carry. Inputs are
named as the network names them (`input` for one unnamed input).

A .keras file or a spec is exported as before, by ``keras_side.export``: as the
network takes its input, with no preprocessing (said in one line).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import Problem, SpecError, shown
from ..keras_side import export as kx
from ..spec.given import COMMAND_LINE, words
from . import data as D
from . import heads, saved
from .rundir import RunDir

MODEL_FILES = ("model.keras", "checkpoints/last.keras")


def export(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    fmt: str | None = None,
    *,
    preprocessing: bool = True,
    force: bool = False,
    log: Callable[[str], Any] | None = None,
    **options: Any,
) -> Path:
    """Export a run folder (with its preprocessing unless ``preprocessing=False``), a .keras model or a spec.

    ``options`` (``weights``, ``strict_weights``, overrides) apply to a .keras model or a spec; a run folder's model
    is exported as trained. ``log`` receives what the export includes."""
    say = log or (lambda text: None)
    if not Path(source).is_dir():
        path = Path(source)
        folder = saved._run_dir_of(path) if path.is_file() else None
        target = kx.export(source, output, fmt, force=force, log=log, **options)
        say(
            f"no preprocessing included: {target} takes the network's input as it is (already scaled, at the input's "
            "size)" + (f"; export the run folder {folder} to include its preprocessing" if folder is not None else "")
        )
        return target
    if options:
        given = dict.fromkeys(
            {
                "weights": "--weights",
                "strict_weights": "--strict-weights",
                "weights_by_shape": "--weights-by-shape",
                "variant": "--variant",
            }.get(k, "--set")
            if words() is COMMAND_LINE
            else f"{k}="
            if k in {"weights", "strict_weights", "weights_by_shape", "variant"}
            else words().named(k)
            for k in options
        )
        raise SpecError(
            Problem(
                f"{', '.join(given)} applies to a .keras model or a spec; a run folder's model is exported as trained",
                file=str(source),
            )
        )
    fmt = kx.check_request(output, fmt or kx.infer_format(output), force)
    run = open_run(Path(source))
    plans = recorded_plans(run) if preprocessing else {}
    trained = saved.load(run.root)
    model = carrying(trained, plans, kx.for_format(trained.model, fmt), str(run.run_json))
    target = Path(output) if output is not None else kx.default_output(trained.model.name, fmt)
    kx.export_model(model, target, fmt, force=force)
    if plans:
        for key, plan in plans.items():
            h, w, c = plan.source_shape
            others = ", ".join("x".join(map(str, fit.source[:2])) for fit in plan.fits[1:])
            say(
                f"preprocessing included{f' for {key}' if key is not None else ''}: {plan.describe()}; takes "
                f"{plan.pixels} images of {h}x{w}x{c}"
                + (
                    f" (the size most of the run's images had; it also trained on {others}: bring those to {h}x{w} "
                    "first)"
                    if others
                    else ""
                )
            )
    else:
        say("no preprocessing included (--no-preprocessing): the model takes the network's input as it is")
    return target


def open_run(folder: Path) -> RunDir:
    """The run folder, checked for what an export reads: run.json, spec.yaml and a model."""
    run = RunDir(folder)
    missing = [name for name in ("run.json", "spec.yaml") if not (folder / name).is_file()]
    if missing:
        raise SpecError(
            Problem(
                f"not an archspec run folder: no {' or '.join(missing)}",
                file=str(folder),
                hint="give a folder `archspec train` wrote (runs/NAME-...), a .keras model or a spec",
            )
        )
    if not any((folder / name).is_file() for name in MODEL_FILES):
        raise SpecError(
            Problem(
                "the run folder holds no model (model.keras, or checkpoints/last.keras for an unfinished run)",
                file=str(folder),
                hint="the run has not completed an epoch; train it, or export a .keras file",
            )
        )
    return run


def recorded_plans(run: RunDir) -> dict[str | None, D.Plan]:
    """The preprocessing plan of each image input, as run.json records it (keyed by input name; None: the one input)."""
    file = str(run.run_json)
    try:
        record = json.loads(run.run_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SpecError(Problem(f"unreadable: {' '.join(str(exc).split())[:200]}", file=file)) from None
    where: tuple[str | int, ...] = ("preprocessing", "plan")
    plan = (
        record.get("preprocessing", {}).get("plan")
        if isinstance(record, dict) and isinstance(record.get("preprocessing"), dict)
        else None
    )
    if not isinstance(plan, dict):
        raise SpecError(
            Problem(
                f"records no preprocessing plan (found {shown(plan)})",
                file=file,
                path=where,
                hint="export it with --no-preprocessing and preprocess images yourself, or train the run again",
            )
        )
    if "inputs" not in plan:
        return {None: D.Plan.from_json(plan, file, where)}
    inputs = plan["inputs"]
    if not isinstance(inputs, dict):
        raise SpecError(
            Problem(
                f"expected a mapping of input names to plans, got {shown(inputs)}", file=file, path=(*where, "inputs")
            )
        )
    return {str(key): D.Plan.from_json(value, file, (*where, "inputs", key)) for key, value in inputs.items()}


def carrying(trained: saved.Trained, plans: dict[str | None, D.Plan], network: Any, file: str) -> Any:
    """A keras.Model: each input's plan (where there is one), then `network` (the trained model, or its form for
    the export format), then what `predict` makes of each output; outputs as a mapping by name."""
    import keras

    from ..keras_side.custom import Steps

    net = trained.net
    for key in plans:
        if key is not None and key not in net.inputs:
            raise SpecError(
                Problem(
                    f"the recorded plan is for an input {key!r}; the model's inputs are {', '.join(net.inputs)}",
                    file=file,
                    path=("preprocessing", "plan", "inputs", key),
                    hint="the run folder was changed by hand; export with --no-preprocessing",
                )
            )
    inputs, fed = {}, {}
    for key, shape in net.inputs.items():
        plan = plans.get(key) or (plans.get(None) if len(net.inputs) == 1 else None)
        name = key if net.named_inputs else "input"
        if plan is None:
            inputs[key] = fed[key] = keras.Input(shape, name=name)
            continue
        if tuple(plan.input_shape) != tuple(shape):
            raise SpecError(
                Problem(
                    f"the recorded plan makes {'x'.join(map(str, plan.input_shape))} inputs but the model takes "
                    f"{'x'.join(map(str, shape))}",
                    file=file,
                    path=("preprocessing", "plan", *(("inputs", key) if net.named_inputs else ()), "input_shape"),
                    hint="the run folder was changed by hand; export with --no-preprocessing",
                )
            )
        inputs[key] = plan.keras_input(name)
        fed[key] = plan.keras_layer(inputs[key], f"{name}_preprocessing")
    raw = network(fed if net.named_inputs else next(iter(fed.values())))
    raw = raw if isinstance(raw, dict) else {next(iter(net.outputs)): raw}
    outputs = {
        key: Steps(
            lambda z, out=out, logits=net.logits[key]: heads.readable(out, z, logits, keras.ops), name=f"{key}_readable"
        )(raw[key])
        for key, out in net.outputs.items()
    }
    return keras.Model(inputs if net.named_inputs else next(iter(inputs.values())), outputs, name=trained.model.name)
