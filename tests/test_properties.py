"""Property tests of the sliding-window arithmetic: the length rule against brute force, and the brute force's
'same' padding against TensorFlow's. Layers and stacks of layers against Keras are the kind harness's
(test_kind_harness.py: every kind, and random stacks through the `repeat` and `residual` blocks)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec.kinds.arith import conv_length, same_padding

sizes = st.integers(1, 40)


@st.composite
def windows(draw):
    """(size, kernel, stride, dilation, padding) along one axis."""
    kernel = draw(st.integers(1, 7))
    stride = draw(st.integers(1, 4))
    dilation = 1 if stride > 1 else draw(st.integers(1, 3))
    return draw(sizes), kernel, stride, dilation, draw(st.sampled_from(["valid", "same"]))


def slide(values: np.ndarray, kernel: int, stride: int, dilation: int) -> np.ndarray:
    """Sum of every (dilated) window that fits, stepping by `stride`: the operation, by hand."""
    span = dilation * (kernel - 1) + 1
    return np.array([values[i : i + span : dilation].sum() for i in range(0, len(values) - span + 1, stride)])


def reference(size: int, kernel: int, stride: int, dilation: int, padding: str) -> np.ndarray:
    """Window sums over a ramp, 'same' built from its definition rather than from arith: pad with
    the fewest zeros (the odd one after, as TensorFlow does) that give ceil(size/stride) windows."""
    ramp = np.arange(1, size + 1, dtype="float64")  # distinct values: a window one step off shows
    if padding == "valid":
        return slide(ramp, kernel, stride, dilation)
    want = -(-size // stride)
    total = 0
    while len(slide(np.pad(ramp, (total // 2, total - total // 2)), kernel, stride, dilation)) < want:
        total += 1
    return slide(np.pad(ramp, (total // 2, total - total // 2)), kernel, stride, dilation)


@settings(max_examples=500, deadline=None)
@given(windows())
def test_length_rule_equals_sliding(w):
    size, kernel, stride, dilation, padding = w
    expected = reference(size, kernel, stride, dilation, padding)
    got = conv_length(size, kernel, stride, padding, dilation)
    assert got == len(expected) or (len(expected) == 0 and got <= 0)
    if padding == "same":  # the zeros go where the definition puts them
        ramp = np.arange(1, size + 1, dtype="float64")
        padded = np.pad(ramp, same_padding(size, kernel, stride, dilation))
        np.testing.assert_array_equal(slide(padded, kernel, stride, dilation), expected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(windows())
def test_same_padding_reference_is_tensorflows(w):
    """The definition the reference uses is TensorFlow's own: its 'same' convolution gives the same sums."""
    import keras

    size, kernel, stride, dilation, padding = w
    expected = reference(size, kernel, stride, dilation, padding)
    if len(expected) == 0:  # no window fits: nothing to compare (Keras refuses the shape)
        return
    x = np.arange(1, size + 1, dtype="float32").reshape(1, size, 1)
    out = keras.ops.convert_to_numpy(
        keras.ops.conv(x, np.ones((kernel, 1, 1), "float32"), strides=stride, padding=padding, dilation_rate=dilation)
    )
    np.testing.assert_allclose(out.reshape(-1), expected)
