"""The enlarging kinds against Keras: conv_transpose, upsample and resize.

The shapes of valid settings against the emitted Keras layers are the kind harness's (test_kind_harness.py).
Here, the transposed convolution's property draws settings, asks archspec for the static shape, and
asks Keras itself (its own layer, made here rather than by archspec's emitter, and run on zeros) for the
real one. Where Keras accepts the settings the shapes agree; where Keras or TensorFlow refuse them,
archspec has refused them first, with a located SpecError.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def keras_shape(layer, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The output shape Keras computes and TensorFlow produces, or None when either refuses."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            made = layer()
            out = made(np.zeros((1, *shape), "float32"))
    except Exception:
        return None
    return tuple(int(d) for d in out.shape[1:])


def static(layer: dict, shape: tuple[int, ...]) -> tuple[int, ...] | archspec.SpecError:
    try:
        return archspec.shapes({"name": "t", "input": list(shape), "layers": [layer]}).output_shape
    except archspec.SpecError as exc:
        return exc


@st.composite
def transposes(draw):
    axis = st.integers(1, 5)
    size = (draw(st.integers(1, 12)), draw(st.integers(1, 12)), 2)
    kernel, stride = [draw(axis), draw(axis)], [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    padding = draw(st.sampled_from(["valid", "same"]))
    output_padding = draw(st.one_of(st.none(), st.lists(st.integers(0, 3), min_size=2, max_size=2)))
    return size, kernel, stride, padding, output_padding


@FAST
@given(transposes())
def test_conv_transpose_shape_is_keras_and_refusals_are_located(case):
    import keras

    size, kernel, stride, padding, output_padding = case
    settings_ = {"filters": 3, "kernel": kernel, "stride": stride, "padding": padding}
    if output_padding is not None:
        settings_["output_padding"] = output_padding
    ours = static({"conv_transpose": settings_}, size)
    theirs = keras_shape(
        lambda: keras.layers.Conv2DTranspose(3, kernel, strides=stride, padding=padding, output_padding=output_padding),
        size,
    )
    if theirs is None:
        assert isinstance(ours, archspec.SpecError), (case, ours)
        assert ours.path.startswith("layers[0].conv_transpose"), str(ours)  # located (a dict has no lines)
    else:
        assert ours == theirs, case


@pytest.mark.parametrize(
    "layer, message",
    [
        ({"conv_transpose": {"filters": 2, "kernel": 3, "stride": 2, "output_padding": 2}}, "smaller than the stride"),
        (
            {"conv_transpose": {"filters": 2, "kernel": 2, "stride": 2, "padding": "same", "output_padding": 0}},
            "an even kernel",
        ),
        ({"upsample": {"factor": 0}}, "greater than 0"),
        ({"resize": {"size": [8, 8], "interpolation": "bicubic"}}, "nearest"),
    ],
)
def test_bad_settings_are_located(layer, message):
    error = static(layer, (8, 8, 1))
    assert isinstance(error, archspec.SpecError) and message in str(error)
    assert error.path.startswith("layers[0]")


def test_enlarging_a_vector_is_refused():
    with pytest.raises(archspec.SpecError, match="needs a feature map"):
        archspec.shapes({"name": "t", "inputs": {"v": [8]}, "layers": [{"upsample": 2}]})


def test_receptive_field_through_a_decoder():
    """An upsampling moves positions closer (the cumulative stride halves) and reads one (nearest) or two
    (bilinear) input positions; a 2x2/2 transposed convolution reads one."""
    report = archspec.shapes(
        {
            "name": "t",
            "input": [16, 16, 1],
            "layers": [
                {"conv": {"filters": 2, "kernel": 3, "padding": "same", "name": "c"}},
                {"pool": {"kind": "max", "name": "p"}},
                {"conv_transpose": {"filters": 2, "kernel": 2, "stride": 2, "name": "t"}},
                {"upsample": {"factor": 2, "interpolation": "nearest", "name": "n"}},
                {"upsample": {"factor": 2, "interpolation": "bilinear", "name": "b"}},
                {"conv": {"filters": 1, "kernel": 3, "padding": "same", "name": "last"}},
            ],
        }
    )
    fields = {layer.name: (layer.receptive_field[0], layer.jump[0]) for layer in report.layers}
    assert fields == {
        "c": (3, 1),
        "p": (4, 2),
        "t": (4, 1),
        "n": (4, 0.5),
        "b": (5, 0.25),
        "last": (5, 0.25),
    }  # b: 4.5 pixels, last: 4.5 + 2 x 0.25


def test_emitters_agree_with_the_shape_rules():
    from conftest import ROOT

    model = archspec.check(ROOT / "tests" / "specs" / "decoder.yaml")
    assert {type(layer).__name__ for layer in model.layers} >= {"Conv2DTranspose", "UpSampling2D", "Resizing"}
