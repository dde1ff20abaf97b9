"""One harness for every layer kind (issue 25), as Keras' `run_layer_test` and timm's forward test over every
registered model: for each kind in the kind table, built-in or plugin, Hypothesis draws valid settings and
input shapes (tests/kind_cases.py) and the harness checks archspec's static facts against the Keras layers
the emitter builds from them:

- the output shape equals Keras' (its static shape and the shape of a real forward pass);
- the parameter counts (all, and trainable) equal Keras' `count_params()`;
- the receptive field equals one measured on the Keras model: an impulse at each input pixel, positive
  and negative, and the extent of the input pixels whose impulse changes each output position;
- `import` of the Keras model gives the same settings back (and its own check of shapes and counts passes);
- a kind whose layer holds parameters counts MACs above zero, unless its record says why it has none.

A block (a kind that lowers into several primitives) gets the same checks on the whole expansion, layer by
layer, except the settings round trip: `import` gives back the primitives it lowered into.

A kind without an entry in the case table fails `test_every_registered_kind_has_cases`, so a new kind,
plugin kinds included, cannot skip the harness.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from kind_cases import STRATEGIES, Case

from archspec.graph import checked
from archspec.kinds.registry import KINDS, OPS, Block, Primitive, register

PLUGIN = Path(__file__).parent / "plugins" / "archspec_se"

HARNESS = settings(
    deadline=None,
    derandomize=True,  # the same examples on every run: CI reproduces a failure as it was seen
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXAMPLES = {"primitive": 10, "block": 3, "repeat": 12, "residual": 6}
"""Examples per kind: a block builds several layers, so fewer; `repeat` and `residual` draw random stacks of
layers (with their shorthands), the property test of conv/pool stacks this harness replaces, so more."""

FIELD_EXEMPT = {
    "se": "its pool feeds a channel gate; archspec's receptive field counts spatial context only, not the gate's "
    "global pool (graph/infer.py, _receptive)",
    "se_dense": "a squeeze-and-excitation gate, as `se`",
}
"""Kinds whose receptive field, by archspec's definition, is not the measured input support, and why."""


@pytest.fixture(scope="module", autouse=True)
def example_plugin() -> Iterator[Any]:
    """The example plugin's kind (tests/plugins/archspec_se), registered as its entry point would, and
    taken out of the table again after this module: the other tests see archspec without it."""
    sys.path.insert(0, str(PLUGIN))
    try:
        yield importlib.import_module("archspec_se")
    finally:
        for table in (KINDS, OPS):
            dict.pop(table, "se_dense", None)
        sys.modules.pop("archspec_se", None)
        sys.path.remove(str(PLUGIN))


def registered() -> set[str]:
    return {kind.kind for kind in KINDS.values()}


def test_every_registered_kind_has_cases() -> None:
    missing = sorted(registered() - set(STRATEGIES))
    assert not missing, (
        f"kinds without cases for the kind harness: {', '.join(missing)}; add a strategy of valid settings "
        "and input shapes for each to tests/kind_cases.py (STRATEGIES)"
    )
    stale = sorted(set(STRATEGIES) - registered())
    assert not stale, f"cases for kinds that are not registered: {', '.join(stale)}"


# -- the checks ------------------------------------------------------------------------------------------
def spec_of(kind: str, case: Case) -> dict[str, Any]:
    """A one-layer spec: an image input as `input:`, anything else (several inputs, a vector) as named inputs."""
    layer = dict(case.settings)
    spec: dict[str, Any] = {"name": "harness", **case.sections}
    if len(case.shapes) == 1 and len(case.shapes[0]) == 3:
        spec["input"] = list(case.shapes[0])
    else:
        names = [f"x{i}" for i in range(len(case.shapes))]
        spec["inputs"] = {n: list(s) for n, s in zip(names, case.shapes, strict=True)}
        if len(names) > 1:
            layer["inputs"] = names
        else:
            layer["input"] = names[0]
    return {**spec, "layers": [{kind: layer}]}


def impulses(shapes: tuple[tuple[int, ...], ...]) -> list[np.ndarray]:
    """Row 0: a small random input; then, per pixel q of the (first) image, that input plus an impulse at q
    on every channel (different per channel: a normalisation across channels must see it), then minus it."""
    rng = np.random.default_rng(0)
    h, w = shapes[0][:2]
    batch = []
    for shape in shapes:
        base = rng.uniform(-0.1, 0.1, shape).astype("float32")
        x = np.repeat(base[None], 2 * h * w + 1, axis=0)
        kick = 10 * (1 + np.arange(shape[2], dtype="float32")) / shape[2]
        for q in range(h * w):
            i, j = divmod(q, w)
            x[1 + q, i, j] += kick
            x[1 + h * w + q, i, j] -= kick
        batch.append(x)
    return batch


def feed(xs: list[np.ndarray]) -> Any:
    """The model's input: one image as is; named inputs (several, or a vector) by the names `spec_of` gives."""
    return xs[0] if len(xs) == 1 and xs[0].ndim == 4 else {f"x{i}": x for i, x in enumerate(xs)}


def measured_field(model: Any, shapes: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, int], tuple[int, ...]]:
    """The receptive field of the model's output in input pixels, measured: per output position, the extent
    (rows, columns) of the input pixels whose impulse changes it; the largest over positions. An output without
    spatial axes (a vector) is one position. Pixels whose impulse changes nothing count for no position.
    Also the shape of the forward pass's output (no batch axis)."""
    h, w = shapes[0][:2]
    xs = impulses(shapes)
    y = np.asarray(model(feed(xs)), dtype="float64")
    tol = 1e-6 * np.abs(y).max()  # relative: a layer scale of 1e-6 moves its output by 1e-5
    moved = np.abs(y[1:] - y[:1]) > tol
    moved = moved[: h * w] | moved[h * w :]  # (pixel, *output)
    moved = moved.reshape(h, w, *moved.shape[1:])
    # (row, column, output position): a vector is one position; a feature map's channels belong to theirs
    positions = moved.any(axis=-1)[..., None] if moved.ndim == 3 else moved.any(axis=-1).reshape(h, w, -1)
    best = [0, 0]
    for p in range(positions.shape[2]):
        rows, cols = np.nonzero(positions[:, :, p])
        if len(rows):
            best = [max(best[0], rows.max() - rows.min() + 1), max(best[1], cols.max() - cols.min() + 1)]
    return (int(best[0]), int(best[1])), y.shape[1:]


def same_settings(kind: Primitive, written: dict[str, Any], imported: dict[str, Any]) -> None:
    """The two validate to the same settings, wiring (name, inputs) aside."""
    wiring = {"name", "input", "inputs"}
    refs = {k: v for k, v in written.items() if k == "inputs"}  # required by the merge kinds; not a setting
    ours, back = (
        kind.schema.model_validate({**{k: v for k, v in s.items() if k not in wiring}, **refs}).model_dump(
            exclude=wiring
        )
        for s in (written, imported)
    )
    diff = {k: (ours[k], back[k]) for k in ours if ours[k] != back[k]}
    assert not diff, f"{kind.kind}: `import` gives other settings back, (written, imported): {diff}"


def check_kind(kind_name: str, case: Case) -> None:
    """Every check of the harness on one drawn case of one kind."""
    from archspec.keras_side.emitter import to_keras
    from archspec.keras_side.importer import import_model

    kind = KINDS[kind_name]
    spec = spec_of(kind_name, case)
    where = f"{kind_name} {case.settings} on {[list(s) for s in case.shapes]}"
    graph, report = checked(spec)
    layers = [node for node in graph.nodes if node.op != "input"]
    if isinstance(kind, Primitive):
        assert [n.op for n in layers] == [kind.kind], f"{where}: a case must be one {kind.kind} node, got {layers}"
    model = to_keras(graph)

    # shapes: every node's, as Keras states them
    for info in report.layers:
        theirs = tuple(model.get_layer(info.name).output.shape[1:]) if _has_layer(model, info.name) else None
        if theirs is not None:
            assert theirs == info.output_shape, (
                f"{where}: archspec says {info.name} gives {list(info.output_shape)}, Keras {list(theirs)}"
            )
    last = next(info for info in report.layers if info.name == graph.output)  # the model's output
    ours = last.output_shape
    assert tuple(model.output.shape[1:]) == ours, (
        f"{where}: archspec says {list(ours)}, Keras {list(model.output.shape[1:])}"
    )

    # parameters
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert (report.total_params, report.trainable_params) == (model.count_params(), trainable), (
        f"{where}: archspec counts {report.total_params} parameters ({report.trainable_params} trainable), "
        f"Keras {model.count_params()} ({trainable} trainable)"
    )

    # MACs: a layer with parameters computes with them
    if isinstance(kind, Primitive) and report.total_params and not report.macs:
        assert kind.macs_none, (
            f"{where}: {report.total_params} parameters but 0 MACs; give the kind's record a `macs` count, "
            "or say in `macs_none` why it computes none"
        )

    # receptive field: archspec's against an impulse probe of the Keras model. Too small a field fails on any
    # image; too large a one where the image holds a whole window (the cases mostly draw such sizes)
    if len(case.shapes[0]) == 3 and kind_name not in FIELD_EXEMPT:
        probe, real = measured_field(model, case.shapes)
        rf, image = last.receptive_field, case.shapes[0][:2]
        # where the image is too small for any output's window to lie wholly inside it (padding), the probe
        # sees part of the window only: then archspec's field bounds the measured one
        whole = all(size >= 2 * r + j for size, r, j in zip(image, rf, last.jump, strict=True))
        seen = tuple(min(r, size) for r, size in zip(rf, image, strict=True))
        assert probe == seen if whole else all(p <= r for p, r in zip(probe, seen, strict=True)), (
            f"{where}: archspec's receptive field is {rf[0]}x{rf[1]}, an impulse probe of the Keras model "
            f"measures {probe[0]}x{probe[1]}"
        )
    else:
        real = tuple(np.asarray(model(feed([np.zeros((1, *shape), "float32") for shape in case.shapes]))).shape[1:])
    assert real == ours, f"{where}: archspec says {list(ours)}, a forward pass of the Keras model gives {list(real)}"

    # import: the Keras model back to a spec (import_model checks shapes and counts itself)
    text = import_model(model)
    if isinstance(kind, Primitive):
        (layer,) = yaml.safe_load(text)["layers"]
        ((back_kind, back),) = layer.items()
        assert back_kind == kind.kind, f"{where}: `import` reads the Keras layer back as {back_kind!r}"
        same_settings(kind, spec["layers"][0][kind_name], back or {})


def _has_layer(model: Any, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def run_harness(kind: str) -> None:
    """Every check on the kind's drawn cases, as many as ``EXAMPLES`` says for it."""

    @settings(HARNESS, max_examples=EXAMPLES.get(kind, EXAMPLES["primitive" if is_primitive(kind) else "block"]))
    @given(case=STRATEGIES[kind])
    def harness(case: Case) -> None:
        check_kind(kind, case)

    harness()


def is_primitive(kind: str) -> bool:
    return not isinstance(KINDS.get(kind), Block)  # a plugin's kind is registered by the fixture, after collection


@pytest.mark.parametrize("kind", [k for k in STRATEGIES if is_primitive(k)])
def test_primitive_agrees_with_keras(kind: str) -> None:
    run_harness(kind)


@pytest.mark.parametrize("kind", [k for k in STRATEGIES if not is_primitive(k)])
def test_block_expansion_agrees_with_keras(kind: str) -> None:
    run_harness(kind)


def test_a_kind_with_parameters_counts_its_macs_or_says_why_not() -> None:
    """The record's default MAC count (zero) is refused for a kind with parameters: register says so."""
    from archspec.kinds.simple import Flatten

    def params(a: Any, inputs: list[Any], out: Any) -> tuple[int, int]:
        return 1, 0

    record = Primitive(
        kind="harness_weighted", schema=Flatten, infer=lambda a, i: i[0], emit=lambda n, x, k: x[0], params=params
    )
    with pytest.raises(TypeError, match=r"kind 'harness_weighted' counts parameters but not its MACs.*macs_none="):
        register(record)
    assert "harness_weighted" not in KINDS
    register(replace(record, macs_none="a test kind"))
    try:
        assert KINDS["harness_weighted"].macs_none == "a test kind"
    finally:
        for table in (KINDS, OPS):
            dict.pop(table, "harness_weighted", None)
