"""Segmentation's training metrics (archspec/keras_side/metrics.py): one argmax and one confusion matrix per batch
give the figures Keras' MeanIoU and SparseCategoricalAccuracy give, over batches and after a reset, with sample
weights, labels out of range, logits and tied probabilities; a model compiled with them saves and reloads."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import archspec
from archspec.keras_side.metrics import PixelAccuracy, PixelMeanIoU, pixel_metrics

K = 5


def keras_pair() -> list[keras.metrics.Metric]:
    return [
        keras.metrics.MeanIoU(K, sparse_y_true=True, sparse_y_pred=False),
        keras.metrics.SparseCategoricalAccuracy(),
    ]


def batch(rng: np.random.Generator, logits: bool = False, size: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a few out of range (Keras' IoU leaves them out, its accuracy counts them wrong) and predictions
    that often tie (two equal best classes: the first is the argmax)."""
    y = rng.integers(0, K, (size, 8, 8)).astype("int32")
    y[0, 0, :4] = [-1, K, K + 2, 1]
    if logits:
        p = rng.normal(size=(size, 8, 8, K)).astype("float32")
        p[1, :, :, :2] = -0.0  # Keras' argmax ranks -0.0 below 0.0
        p[1, :, :, 2:] = -1.0
        p[1, :4, :, 1] = 0.0
    else:
        p = rng.dirichlet(np.ones(K), size=(size, 8, 8)).astype("float32")
        p[2, :, :, 3] = p[2, :, :, 1] = p[2].max(axis=-1)
        p[3, :4] = 0.0  # all classes zero: class 0
    return y, p


def figures(metrics: list[keras.metrics.Metric]) -> list[float]:
    return [float(m.result()) for m in metrics]


def assert_same(ours: list[keras.metrics.Metric], theirs: list[keras.metrics.Metric]) -> None:
    (iou, accuracy), (keras_iou, keras_accuracy) = figures(ours), figures(theirs)
    assert iou == keras_iou  # the same float32 arithmetic
    assert accuracy == pytest.approx(keras_accuracy, rel=1e-6)  # Keras averages per-image accuracies


@pytest.mark.parametrize("logits", [False, True])
def test_equal_to_keras_over_batches_and_after_a_reset(logits):
    rng = np.random.default_rng(0)
    ours, theirs = pixel_metrics(K, from_logits=logits), keras_pair()
    for _ in range(3):
        y, p = batch(rng, logits)
        for m in (*ours, *theirs):
            m.update_state(y, p)
        assert_same(ours, theirs)
    assert 0.1 < figures(ours)[1] < 0.9
    for m in (*ours, *theirs):
        m.reset_state()
    assert figures(ours) == [0.0, 0.0]
    y, p = batch(rng, logits)
    for m in (*ours, *theirs):
        m.update_state(y, p)
    assert_same(ours, theirs)


def test_a_class_neither_labelled_nor_predicted_is_left_out_of_the_mean():
    y, p = batch(np.random.default_rng(4))
    y, p[..., K - 1] = np.clip(y, -1, K - 2), 0.0
    ours, theirs = pixel_metrics(K), keras_pair()
    for m in (*ours, *theirs):
        m.update_state(y, p)
    assert_same(ours, theirs)


def test_equal_to_keras_with_weights_per_pixel_and_per_image():
    rng = np.random.default_rng(1)
    y, p = batch(rng)
    per_pixel = rng.integers(0, 3, y.shape).astype("int32")  # whole numbers, as Keras' MeanIoU counts them
    ours, theirs = pixel_metrics(K), keras_pair()
    for m in (*ours, *theirs):
        m.update_state(y, p, sample_weight=per_pixel)
    assert_same(ours, theirs)

    per_image = rng.integers(0, 4, len(y)).astype("int32")
    ours, theirs = pixel_metrics(K), keras_pair()
    ours[0].update_state(y, p, sample_weight=per_image)
    theirs[0].update_state(y, p, sample_weight=np.broadcast_to(per_image[:, None, None], y.shape))
    theirs[1].update_state(y, p, sample_weight=per_image)
    assert_same(ours, theirs)


def test_the_pair_keeps_one_matrix():
    iou, accuracy = pixel_metrics(K)
    assert len(iou.variables) == 1 and accuracy.variables == []
    alone = PixelAccuracy(K)  # as Keras rebuilds it from a saved file: its own matrix
    y, p = batch(np.random.default_rng(2))
    for m in (iou, accuracy, alone):
        m.update_state(y, p)
    assert float(accuracy.result()) == float(alone.result()) > 0


def test_a_compiled_model_trains_saves_and_reloads(tmp_path):
    rng = np.random.default_rng(3)
    y, p = batch(rng, size=16)
    x = p.argmax(-1)[..., None].astype("float32")  # the first-best class, learnable by a 1x1 convolution
    y = np.clip(y, 0, K - 1)
    inp = keras.Input((8, 8, 1))
    model = keras.Model(inp, keras.layers.Conv2D(K, 1, activation="softmax")(inp))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=pixel_metrics(K))
    history = model.fit(x, y, batch_size=4, epochs=1, validation_data=(x, y), verbose=0).history
    assert {"mean_iou", "pixel_accuracy", "val_mean_iou", "val_pixel_accuracy"} <= set(history)
    assert [v.path for v in model.metrics_variables if "confusion" in v.path] == ["mean_iou/confusion_matrix"]
    reference = keras_pair()
    for m in reference:
        m.update_state(y, model.predict(x, verbose=0))
    expected = dict(zip(["mean_iou", "pixel_accuracy"], figures(reference), strict=True))
    before = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)

    again = archspec.load_model(archspec.save_model(model, tmp_path / "m.keras"))
    after = again.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert {type(m) for m in again.metrics[-1].metrics} == {PixelMeanIoU, PixelAccuracy}
    for figures_ in (before, after):
        assert figures_["mean_iou"] == pytest.approx(expected["mean_iou"], rel=1e-6)
        assert figures_["pixel_accuracy"] == pytest.approx(expected["pixel_accuracy"], rel=1e-6)
