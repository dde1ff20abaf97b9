"""Property tests: random conv/pool stacks, static shapes against Keras and against brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec.kinds.arith import conv_length, same_padding

sizes = st.integers(1, 40)


@st.composite
def windows(draw):
    """(size, kernel, stride, dilation, padding) along one axis."""
    kernel = draw(st.integers(1, 7))
    stride = draw(st.integers(1, 4))
    dilation = 1 if stride > 1 else draw(st.integers(1, 3))
    return draw(sizes), kernel, stride, dilation, draw(st.sampled_from(["valid", "same"]))


def brute_force_length(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """Count the window positions by sliding, with TensorFlow's 'same' zeros added."""
    before, after = same_padding(size, kernel, stride, dilation) if padding == "same" else (0, 0)
    span = dilation * (kernel - 1) + 1
    return len(range(0, size + before + after - span + 1, stride))


@settings(max_examples=500, deadline=None)
@given(windows())
def test_length_rule_equals_sliding(w):
    size, kernel, stride, dilation, padding = w
    expected = brute_force_length(size, kernel, stride, dilation, padding)
    got = conv_length(size, kernel, stride, padding, dilation)
    assert got == expected or (expected == 0 and got <= 0)


@st.composite
def layer(draw):
    kind = draw(st.sampled_from(["conv", "pool"]))
    stride = draw(st.integers(1, 3))
    dilation = 1 if stride > 1 else draw(st.integers(1, 2))
    padding = draw(st.one_of(st.sampled_from(["valid", "same"]), st.integers(0, 2)))
    if kind == "conv":
        return {"conv": {"filters": draw(st.integers(1, 4)), "kernel": [draw(st.integers(1, 5)), draw(st.integers(1, 5))],
                         "stride": stride, "dilation": dilation, "padding": padding}}
    return {"pool": {"kind": draw(st.sampled_from(["max", "avg", "sum"])), "size": draw(st.integers(1, 3)),
                     "stride": stride, "padding": padding}}


@st.composite
def stacks(draw):
    return {"name": "random", "input": [draw(sizes), draw(sizes), draw(st.integers(1, 3))],
            "layers": draw(st.lists(layer(), min_size=1, max_size=4))}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_random_stacks_agree_with_keras(spec):
    try:
        report = archspec.shapes(spec)
    except archspec.SpecError as exc:
        assert "->" in str(exc) or "empty dimension" in str(exc)  # a collapse, named with its arithmetic
        return
    model = archspec.build(spec)
    for info in report.layers:
        assert tuple(model.get_layer(info.name).output.shape[1:]) == info.output_shape
    assert model.count_params() == report.total_params
    x = np.zeros((1, *spec["input"]), "float32")
    assert tuple(model(x).shape[1:]) == report.output_shape
