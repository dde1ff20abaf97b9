"""Hand-set filters: the primer's worked convolution and its edge/sharpen/blur filters."""

from __future__ import annotations

import numpy as np
from conftest import ROOT

import archspec

IMAGE = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], dtype="float32")


def correlate_same(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Reference 'same' cross-correlation (what CNNs call convolution), by explicit loops."""
    k = kernel.shape[0] // 2
    padded = np.pad(image, k)
    out = np.zeros_like(image)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            out[i, j] = (padded[i : i + kernel.shape[0], j : j + kernel.shape[1]] * kernel).sum()
    return out


def test_primer_worked_example():
    model = archspec.build(ROOT / "tests" / "specs" / "primer_convolution.yaml")
    out = model(IMAGE[None, :, :, None]).numpy()[0, :, :, 0]
    np.testing.assert_array_equal(out, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    assert model.count_params() == 9 and not model.trainable_weights


def test_edge_sharpen_blur_match_reference():
    spec = archspec.load(ROOT / "specs" / "primer_filters.yaml")
    model = archspec.build(spec)
    image = np.random.default_rng(1).integers(0, 256, size=(64, 64)).astype("float32")
    out = model(image[None, :, :, None]).numpy()[0]
    kernels = [
        [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
        [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
        [[0.0625, 0.125, 0.0625], [0.125, 0.25, 0.125], [0.0625, 0.125, 0.0625]],
    ]
    for channel, kernel in enumerate(kernels):
        np.testing.assert_allclose(
            out[:, :, channel], correlate_same(image, np.array(kernel, "float32")), rtol=1e-5, atol=1e-3
        )
    report = archspec.shapes(spec)
    assert report.trainable_params == 0 and report.total_params == 27


def test_hand_set_filter_survives_training_step():
    """trainable: false keeps the values through an optimiser step."""
    model = archspec.build(ROOT / "tests" / "specs" / "primer_convolution.yaml")
    before = model.get_weights()[0].copy()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(IMAGE[None, :, :, None], np.zeros((1, 3, 3, 1)), epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], before)
