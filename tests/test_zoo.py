"""The architecture zoo in specs/: parameter counts, published layer sizes, Keras builds, and
weight parity with keras.applications.

One table (ZOO) lists the zoo specs these tests build, with how to compare each with its reference; every
test below is parametrised over it, so adding a network is adding a row. The figures themselves are each
spec's `reference` field (the tests read them from there): the Keras model of `reference.equals` is built and
its count_params() compared with the field, and with the spec's own count.
"""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from conftest import assert_depends_on_input, every_layer, input_dependence, lively_batchnorm, without_weights

import archspec
from archspec.spec.figures import own_variant
from archspec.tools.zoo import reference_of

SPECS = Path(__file__).resolve().parent.parent / "specs"


class Entry(NamedTuple):
    before_classifier: str | None = None  # layer compared as well as the output
    slow: bool = False
    keras_kwargs: dict[str, Any] | None = None  # arguments of the reference constructor besides weights=None
    import_parity: bool = False  # also: `archspec import` of the reference gives a spec with its outputs


ZOO: dict[str, Entry] = {
    "lenet": Entry(),
    "alexnet": Entry(),  # groups=2 on conv2/4/5; its reference states the ungrouped count too (test below)
    "zfnet": Entry(),
    "vgg16": Entry(before_classifier="fc2", slow=True),
    "vgg19": Entry(before_classifier="fc2", slow=True),
    "googlenet": Entry(),
    "resnet18": Entry(),  # its reference's trainable count is torchvision's
    "resnet34": Entry(),
    "resnet50": Entry(before_classifier="avg_pool"),
    "resnet101": Entry(before_classifier="avg_pool", slow=True),
    "resnet152": Entry(before_classifier="avg_pool", slow=True),
    "resnet20_cifar": Entry(),  # option B shortcuts (see its reference's source)
    "resnet56_cifar": Entry(),
    "densenet121": Entry(before_classifier="avg_pool"),
    "densenet169": Entry(before_classifier="avg_pool", slow=True),
    "densenet201": Entry(before_classifier="avg_pool", slow=True),
    # the modern families: each file's base network (the family files' variants: tests/test_variants.py)
    "mobilenet": Entry(before_classifier="conv_pw_13_relu", import_parity=True),
    "mobilenet_v2": Entry(before_classifier="out_relu", import_parity=True),
    "mobilenet_v3_small": Entry(
        before_classifier="logits",
        import_parity=True,
        keras_kwargs={"input_shape": (224, 224, 3)},
    ),
    "mobilenet_v3_large": Entry(
        before_classifier="logits",
        import_parity=True,
        keras_kwargs={"input_shape": (224, 224, 3)},
    ),
    "efficientnet_b0": Entry(before_classifier="avg_pool", import_parity=True),
    "efficientnet_v2_b0": Entry(before_classifier="avg_pool", import_parity=True),
    "convnext_tiny": Entry(
        before_classifier="convnext_tiny_head_layernorm",
        import_parity=True,
        slow=True,
    ),
    "xception": Entry(before_classifier="avg_pool", import_parity=True, slow=True),
    "inception_v3": Entry(before_classifier="avg_pool", import_parity=True, slow=True),
    "inception_resnet_v2": Entry(before_classifier="avg_pool", import_parity=True, slow=True),
    "nasnet_mobile": Entry(before_classifier="normal_concat_12", import_parity=True, slow=True),
    "resnet50_v2": Entry(before_classifier="avg_pool", import_parity=True, slow=True),
}

KERAS_APPLICATIONS = "keras.applications."


def total(name: str) -> int:
    """The parameter count the spec's reference states for the spec as written (a family: its own variant's)."""
    spec = archspec.load(spec_path(name))
    stated = spec.reference.expected({}, own_variant(spec.variables, spec.variants))
    assert stated is not None, f"specs/{name}.yaml's reference states no count for the spec as written"
    return stated[1]


def keras_app(name: str) -> str | None:
    """The keras.applications constructor the spec's reference says it equals (None: another library, a paper)."""
    equals = reference_of(name).equals or ""
    return equals.removeprefix(KERAS_APPLICATIONS) if equals.startswith(KERAS_APPLICATIONS) else None


# Output sizes of top-level layers as the papers print them (networks keras.applications lacks).
_INCEPTION_CHANNELS = {
    "3a": 256,
    "3b": 480,
    "4a": 512,
    "4b": 512,
    "4c": 512,
    "4d": 528,
    "4e": 832,
    "5a": 832,
    "5b": 1024,
}
PUBLISHED: dict[str, dict[str, tuple[int, ...]]] = {
    # Szegedy et al. 2014, table 1
    "googlenet": {
        "conv1": (112, 112, 64),
        "pool1": (56, 56, 64),
        "conv2": (56, 56, 192),
        "pool2": (28, 28, 192),
        **{f"inception_{m}": ({"3": 28, "4": 14, "5": 7}[m[0]],) * 2 + (c,) for m, c in _INCEPTION_CHANNELS.items()},
        "pool3": (14, 14, 480),
        "pool4": (7, 7, 832),
        "pool5": (1, 1, 1024),
        "loss3_classifier": (1000,),
    },
    # Krizhevsky et al. 2012, fig. 2 (both towers together)
    "alexnet": {
        "conv1": (55, 55, 96),
        "pool1": (27, 27, 96),
        "conv2": (27, 27, 256),
        "pool2": (13, 13, 256),
        "conv3": (13, 13, 384),
        "conv4": (13, 13, 384),
        "conv5": (13, 13, 256),
        "pool5": (6, 6, 256),
        "flatten": (9216,),
        "fc6": (4096,),
        "fc7": (4096,),
        "fc8": (1000,),
    },
    # Zeiler & Fergus 2013, fig. 3
    "zfnet": {
        "conv1": (110, 110, 96),
        "pool1": (55, 55, 96),
        "conv2": (26, 26, 256),
        "pool2": (13, 13, 256),
        "conv3": (13, 13, 384),
        "conv4": (13, 13, 384),
        "conv5": (13, 13, 256),
        "pool5": (6, 6, 256),
        "fc6": (4096,),
        "fc7": (4096,),
        "fc8": (1000,),
    },
    # He et al. 2015, section 4.2: feature maps 32x32x16, 16x16x32, 8x8x64
    **{
        f"resnet{n}_cifar": {
            "conv1": (32, 32, 16),
            "conv2": (32, 32, 16),
            "conv3": (16, 16, 32),
            "conv4": (8, 8, 64),
            "predictions": (10,),
        }
        for n in (20, 56)
    },
}


def spec_path(name: str) -> Path:
    return SPECS / f"{name}.yaml"


def zoo_params(select=lambda name, entry: True) -> list:
    """The table as pytest params, the large networks marked slow."""
    return [
        pytest.param(name, marks=[pytest.mark.slow] if entry.slow else [], id=name)
        for name, entry in ZOO.items()
        if select(name, entry)
    ]


# -- parameter counts (pure Python, no TensorFlow) -------------------------------------------


def test_every_zoo_spec_exists():
    assert set(ZOO) <= {p.stem for p in SPECS.glob("*.yaml")}


def test_cli_json_total():
    from click.testing import CliRunner

    from archspec.cli import cli

    result = CliRunner().invoke(cli, ["shapes", str(spec_path("googlenet")), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total_params"] == archspec.shapes(spec_path("googlenet")).total_params


# -- published per-layer output sizes ---------------------------------------------------------


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_output_sizes(name):
    rows = {g.name: tuple(g.output_shape) for g in archspec.shapes(spec_path(name)).groups}
    assert {layer: rows.get(layer) for layer in PUBLISHED[name]} == PUBLISHED[name]


# -- Keras: build, forward pass, shapes, weight parity ---------------------------------------


# Each network is built once, by exactly one test: those with a keras.applications reference in
# the parity test, the others in the build test. (Sharing a model between two tests through a
# fixture would need the tests on one xdist worker, and `xdist_group` is a silent no-op with
# pytest 9.2 + pytest-xdist 3.8: xdist sets `item._nodeid`, which pytest 9 no longer reads.)


@pytest.fixture
def fresh_keras():
    import keras

    keras.utils.set_random_seed(0)
    yield keras
    keras.backend.clear_session()
    gc.collect()


# The input side each parity test runs at: the smallest one at which the last feature map (the one the classifier
# pools) is still 3x3, so that every tap of a last-stage 3x3 kernel meets real pixels (at 1x1 only the centre tap
# would, and a kernel stored the wrong way round would pass). Most stride-2 layers then meet odd sizes (224 halves
# evenly down to 7), so their padding rules show. The weights, and so the parameter count, do not depend on the
# input; the forward passes cost a tenth to a fifth of those at the native 224 or 299. VGG is absent: its flatten
# makes the count depend on the input, so it runs at the spec's own. The test below checks the table.
PARITY_SIDE = {
    **dict.fromkeys(["resnet50", "resnet101", "resnet152", "resnet50_v2", "mobilenet_v2"], 65),
    **dict.fromkeys(["mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_v2_b0"], 65),
    **dict.fromkeys(["densenet121", "densenet169", "densenet201"], 93),
    "efficientnet_b0": 66,
    "mobilenet": 95,
    "convnext_tiny": 96,
    "xception": 71,
    "inception_v3": 139,
    "inception_resnet_v2": 139,
    "nasnet_mobile": 67,
}


def _last_map_side(name: str, side: int) -> int:
    """The side of the last feature map (the headless network's output) at this input side."""
    return min(
        archspec.shapes(spec_path(name), include_top=False, variables={"input": [side, side, 3]}).output_shape[:2]
    )


@pytest.mark.parametrize("name", sorted(PARITY_SIDE))
def test_parity_sides_are_the_smallest_with_a_3x3_last_map(name):
    side = PARITY_SIDE[name]
    assert _last_map_side(name, side) >= 3 > _last_map_side(name, side - 1)
    at_side = archspec.shapes(spec_path(name), variables={"input": [side, side, 3]})
    assert at_side.total_params == archspec.shapes(spec_path(name)).total_params  # the same weights


def build_and_check(name: str, *, forward: bool = True, side: int | None = None):
    """Build the spec (at `side` x `side` pixels when given), check every node's static shape and parameters
    against Keras, and (`forward`) run a forward pass on one example; returns (report, model). The parity test
    passes forward=False: its own forward pass (after the weight copy) is checked the same way, by check_output."""
    path = spec_path(name)
    overrides = {} if side is None else {"input": [side, side, 3]}
    report, model = archspec.shapes(path, variables=overrides), archspec.build(path, variables=overrides)
    layers = {layer.name: layer for layer in model.layers}  # model.get_layer searches the list: n^2 for n layers
    for info in report.layers:
        layer = layers[info.name]
        assert tuple(layer.output.shape[1:]) == tuple(info.output_shape), info.name
        assert layer.count_params() == info.params, info.name
    assert model.count_params() == report.total_params == total(name)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == report.trainable_params
    if forward:
        x = np.random.default_rng(0).standard_normal((1, *report.input_shape)).astype("float32")
        check_output(model(x, training=False), report, batch=1)
    return report, model


def check_output(y, report, batch: int) -> None:
    """A forward pass's output: the static shape, finite, and a softmax (every zoo network ends in one)."""
    y = np.asarray(y)
    assert y.shape == (batch, *report.output_shape)
    assert np.all(np.isfinite(y))
    assert y.sum(axis=-1) == pytest.approx(np.ones(batch), rel=1e-4)


@pytest.mark.parametrize("name", zoo_params(lambda n, e: keras_app(n) is None))
def test_builds_and_matches_static_shapes(name, fresh_keras):
    build_and_check(name)


def _auto_number(layer) -> int | None:
    """n of a name Keras made up for an unnamed layer (`conv2d` is 0, `conv2d_57` is 57), else None."""
    base = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", type(layer).__name__).lower().replace("2_d", "2d")
    found = re.fullmatch(re.escape(base) + r"(?:_(\d+))?", layer.name)
    return None if found is None else int(found.group(1) or 0)


def weighted_pairs(ours, ref, order: list[str]) -> list[tuple[Any, Any]]:
    """The layers with weights, ours against Keras': by name, and where Keras left a layer unnamed
    (Inception's conv2d_57, Xception's shortcuts) by order: Keras numbers unnamed layers of a class
    in the order it makes them, which is the order of the spec's nodes (`order`)."""
    position = {name: i for i, name in enumerate(order)}
    mine = {
        layer.name: layer
        for layer in sorted(every_layer(ours), key=lambda other: position.get(other.name, -1))
        if layer.weights
    }
    theirs = [layer for layer in every_layer(ref) if layer.weights]
    pairs = [(mine.pop(layer.name), layer) for layer in theirs if layer.name in mine]
    unnamed = [layer for layer in theirs if layer.name not in {b.name for _, b in pairs}]
    assert all(_auto_number(layer) is not None for layer in unnamed), (
        f"Keras layers missing from the spec: {[layer.name for layer in unnamed if _auto_number(layer) is None]}"
    )
    for cls in {type(layer) for layer in unnamed}:
        a = [layer for layer in mine.values() if type(layer) is cls]
        b = sorted((layer for layer in unnamed if type(layer) is cls), key=_auto_number)
        assert len(a) == len(b), f"{cls.__name__}: {len(a)} unnamed in the spec, {len(b)} in Keras"
        pairs += list(zip(a, b, strict=True))
    assert len(pairs) == len(theirs) and len({id(a) for a, _ in pairs}) == len(pairs)
    return pairs


def outputs(model, entry: Entry, x) -> tuple[np.ndarray, np.ndarray]:
    """The layer before the classifier and the output, from one forward pass."""
    import keras

    both = keras.Model(model.input, [model.get_layer(entry.before_classifier).output, model.output])
    return tuple(np.asarray(y) for y in both(x, training=False))


def assert_same_outputs(mine: tuple, theirs: tuple, entry: Entry) -> dict[str, float]:
    """Max |difference| before the classifier (<= 1e-4 of the values' scale) and at the output (<= 1e-5, and
    <= 1e-5 of the scale: softmax outputs of random weights are ~1e-3). `mine` and `theirs` are `outputs` of
    the two models on the same batch (the reference's computed once, compared with ours and the imported one).
    The reference's values must depend on the input, the batch's two examples differing by a hundred times the
    tolerance before the classifier and ten times at the softmax (VGG's small random logits leave its examples 5e-4
    apart there): otherwise the comparison cannot see the layers the input's signal died in."""
    found = {}
    for where, ya, yb, rel, apart in [
        (entry.before_classifier, mine[0], theirs[0], 1e-4, 1e-2),
        ("output", mine[1], theirs[1], 1e-5, 1e-4),
    ]:
        assert ya.shape == yb.shape and np.all(np.isfinite(yb))
        assert_depends_on_input(yb, apart, f"{where} of the reference")
        diff = float(np.abs(ya - yb).max())
        assert diff <= rel * float(np.abs(yb).max()) and (where != "output" or diff < 1e-5), (
            f"{where}: max abs difference {diff}"
        )
        found[where] = diff
    return found


def first_value(variable, value) -> None:
    """Give a variable made without a value (under conftest.without_weights: `_value is None`) its first one.
    Keras 3.15 has no public call for this: `Variable._initialize(value)` is what the constructor calls when given
    a value (on TensorFlow a Keras variable as `value` is copied into a new tf.Variable, not shared). Called only
    here, so that a change in Keras breaks one place, in sight."""
    assert variable._value is None, f"{variable.path} already has a value"
    variable._initialize(value)


def copy_weights(target, source) -> None:
    """`source`'s weights as the first values of `target`'s (built without weights), the checks of
    target.set_weights(source.get_weights()): the same count and the same shapes, variable to variable."""
    assert len(target.weights) == len(source.weights), (target.name, source.name)
    for mine, theirs in zip(target.weights, source.weights, strict=True):
        assert tuple(mine.shape) == tuple(theirs.shape) and mine.dtype == theirs.dtype, (mine.path, theirs.path)
        first_value(mine, theirs)


def finish_initialising(model) -> None:
    """After the weight copy: the variables left without a value may only be Dropout's seed states (not weights,
    and unread in inference); they get their own initial value, and then every variable has one."""
    weights = {id(w) for w in model.weights}
    for variable in model.variables:
        if variable._value is None:
            assert id(variable) not in weights, f"{variable.path}: no weight of the reference was copied into it"
            first_value(variable, variable._initializer(variable.shape, dtype=variable.dtype))
    assert all(variable._value is not None for variable in model.variables)


@pytest.mark.parametrize("name", zoo_params(lambda n, e: keras_app(n) is not None))
def test_weight_parity_with_keras_applications(name, fresh_keras):
    keras = fresh_keras
    entry, side = ZOO[name], PARITY_SIDE.get(name)
    if side is not None:  # the reference at the same side
        entry = entry._replace(keras_kwargs={**(entry.keras_kwargs or {}), "input_shape": (side, side, 3)})
    # Ours is built without initial weights (drawing them was two thirds of a build's CPU): each gets its first
    # value from the reference below. without_weights clears the session after, as the reference needs: Keras
    # numbers unnamed layers per session (conv2d, conv2d_1, ...).
    with without_weights():
        report, ours = build_and_check(name, forward=False, side=side)
    ref = getattr(keras.applications, keras_app(name))(weights=None, **(entry.keras_kwargs or {}))
    assert ref.count_params() == ours.count_params() == total(name)
    pairs = weighted_pairs(ours, ref, [layer.name for layer in report.layers])
    for a, b in pairs:
        assert a.output.shape == b.output.shape, (a.name, b.name)

    rng = np.random.default_rng(0)

    def batch(n: int) -> np.ndarray:
        if name.startswith(("mobilenet_v3", "efficientnet", "convnext")):  # pixels: these rescale in the model
            return rng.uniform(0, 255, (n, *report.input_shape)).astype("float32")
        return rng.standard_normal((n, *report.input_shape)).astype("float32")

    lively_batchnorm(ref, batch(8), rng)  # statistics under which the input's signal reaches the output
    for a, b in pairs:
        copy_weights(a, b)
    finish_initialising(ours)
    x = batch(2)
    expected = outputs(ref, entry, x)
    mine = outputs(ours, entry, x)
    check_output(mine[1], report, batch=2)
    found = assert_same_outputs(mine, expected, entry)
    print(
        f"{name}: max |diff| output {found['output']:.2e}, {entry.before_classifier} "
        f"{found[entry.before_classifier]:.2e}; examples apart (of the scale) output "
        f"{input_dependence(expected[1]):.1e}, {entry.before_classifier} {input_dependence(expected[0]):.1e}"
    )

    if entry.import_parity:  # `archspec import` of the reference, with its weights copied by name, gives its outputs
        from archspec.keras_side.importer import import_model

        imported_spec = archspec.loads(import_model(ref))
        with without_weights():
            imported = archspec.build(imported_spec)
        by_name = {layer.name: layer for layer in every_layer(imported)}
        for layer in every_layer(ref):
            if layer.weights:
                copy_weights(by_name[layer.name], layer)
        finish_initialising(imported)
        found = assert_same_outputs(outputs(imported, entry, x), expected, entry)
        print(
            f"{name} imported: max |diff| output {found['output']:.2e}, {entry.before_classifier} "
            f"{found[entry.before_classifier]:.2e}"
        )
