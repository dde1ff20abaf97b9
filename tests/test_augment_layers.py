"""Augmentation from Keras' preprocessing layers (issue 29): what each does to a seeded batch, the same batches on
resume, and none of it in what `predict` and `evaluate` see.

The Keras stage is checked on small synthetic batches whose pixels say where they came from (image i is all i + 1),
so a mixed or pasted pixel names its source; the training input on 32 real digits; a run on 300 digits.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import archspec
from archspec.spec.training import Augment
from archspec.training import data as D
from archspec.training.data import augmentation
from archspec.training.data.plan import Plan

BATCH, SIZE = 8, 12


class Identity:
    """A plan whose value step is the identity on float pixels 0..1 (what the Keras stage reads of a Plan)."""

    input_shape = (SIZE, SIZE, 1)
    scale, mean, std, pixels = 1.0, None, None, "float32"


def keyed(aug: dict, key: tuple[int, int] = (5, 0)) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels) before and after the Keras stage of `aug`, for the batch key `key`."""
    import tensorflow as tf

    stage = augmentation.for_plan(Augment.model_validate(aug), Identity)
    assert stage is not None
    x = np.broadcast_to(((np.arange(BATCH) + 1) / 10.0)[:, None, None, None], (BATCH, SIZE, SIZE, 1))
    x = x.astype(np.float32)
    y = np.eye(BATCH, dtype=np.float32)  # example i is class i
    out_x, out_y = stage(tf.constant(x), tf.constant(y), tf.constant(key, tf.int64))
    return x, y, np.asarray(out_x), np.asarray(out_y)


def test_mixup_mixes_images_and_labels_by_the_same_convex_weight() -> None:
    x, _, mixed, labels = keyed({"mixup": 0.4})
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
    assert (labels >= 0).all() and ((labels > 1e-6).sum(axis=1) <= 2).all()
    strict = 0
    for i in range(BATCH):
        own = labels[i, i]
        others = [j for j in range(BATCH) if j != i and labels[i, j] > 1e-6]
        partner = others[0] if others else i
        expected = own * x[i] + (1 - own) * x[partner]  # the label weights mix the pixels
        np.testing.assert_allclose(mixed[i], expected, atol=1e-5)
        strict += bool(others)
    assert strict >= BATCH // 2  # most images are mixed with another
    _, _, again, again_labels = keyed({"mixup": 0.4})
    np.testing.assert_array_equal(again, mixed)  # the key alone decides
    np.testing.assert_array_equal(again_labels, labels)
    _, _, other, _ = keyed({"mixup": 0.4}, key=(5, 1))
    assert not np.array_equal(other, mixed)


def test_cutmix_label_weights_are_the_pasted_area_shares() -> None:
    _, _, pasted, labels = keyed({"cutmix": 1.0})
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
    shares = []
    for i in range(BATCH):
        source = np.rint(pasted[i, ..., 0] * 10).astype(int) - 1  # which image each pixel came from
        assert set(np.unique(source)) <= set(range(BATCH))
        foreign = source != i
        share = foreign.mean()
        if share:  # one box from one other image, its class weighted by its share of the area
            (partner,) = np.unique(source[foreign])
            rows, cols = np.nonzero(foreign)
            assert foreign[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # a rectangle
            assert labels[i, partner] == pytest.approx(share, abs=1e-6)
        assert labels[i, i] == pytest.approx(1 - share, abs=1e-6)
        shares.append(share)
    assert max(shares) > 0


def test_erasing_blacks_out_one_rectangle_and_leaves_the_rest() -> None:
    x, y, erased, labels = keyed({"erase": {"probability": 1.0, "scale": [0.1, 0.3]}})
    np.testing.assert_array_equal(labels, y)  # erasing keeps the labels
    for i in range(BATCH):
        black = erased[i, ..., 0] == 0
        assert black.any(), f"image {i} was not erased"
        rows, cols = np.nonzero(black)
        assert black[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # one rectangle
        np.testing.assert_array_equal(erased[i][~black], x[i][~black])


def test_geometric_and_colour_layers_change_images_not_labels_and_keep_black_borders() -> None:
    x, y, out, labels = keyed({"rotate": 30, "zoom": 0.3, "crop": 0.5, "contrast": 0.5, "randaugment": 2})
    np.testing.assert_array_equal(labels, y)
    assert not np.allclose(out, x)
    assert out.min() >= 0 and out.max() <= 1 + 1e-5  # stays in the pixel range


# ----------------------------------------------------------------------------- the training input on real digits


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[D.Images, Plan]:
    from archspec.spec.training import Data

    images = D.load(f"idx:{mnist_dir}[:32]")
    return images, D.plan(images, (32, 32, 1), 10, Data(mean=0.1307, std=0.3081))


def epochs(source: D.TrainingInput, first: int, last: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.asarray(x), np.asarray(y)) for x, y in source.dataset(first, last)]


def test_a_resumed_run_sees_the_same_augmented_batches(digits) -> None:
    images, p = digits
    aug = Augment(translate=2, rotate=15, erase={"probability": 0.5}, mixup=0.2, cutmix=1.0)

    def source(a: Augment) -> D.TrainingInput:
        return D.TrainingInput(images, p, batch_size=16, seed=4, aug=a)

    plain = epochs(source(Augment()), 0, 2)
    whole = epochs(source(aug), 0, 2)
    resumed = epochs(source(aug), 1, 2)  # a run resumed at epoch 2 prepares its images again
    assert len(resumed) == 2
    for (x, y), (rx, ry) in zip(whole[2:], resumed, strict=True):
        np.testing.assert_array_equal(rx, x)
        np.testing.assert_array_equal(ry, y)
    for (x, y), (px, _) in zip(whole, plain, strict=True):  # same order, augmented
        assert not np.array_equal(x, px)
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    assert any((y.max(axis=1) < 1).any() for _, y in whole)  # mixed labels
    # black stays black: the stage works on pixels and goes back through the plan's values
    black = (0 - 0.1307) / 0.3081
    assert np.isclose(np.concatenate([x for x, _ in whole]), black, atol=1e-4).mean() > 0.3


# ----------------------------------------------------------------------------- a run: recorded, and only in training


SPEC = """
name: tiny
input: [28, 28, 1]
layers:
  - flatten
  - dense: {units: 16, activation: relu}
  - dense: {units: 10, activation: softmax}
"""


@pytest.fixture(scope="module")
def run(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("augmented") / "run"
    aug = {"zoom": 0.1, "rotate": 10, "erase": 0.25, "mixup": 0.2}
    lines: list[str] = []
    result = archspec.train(
        archspec.loads(SPEC),
        data=f"idx:{mnist_dir}[:200]",
        run_dir=folder,
        verbose=2,
        log=lines.append,
        training={"epochs": 1, "batch_size": 50, "seed": 3, "precise_bn": False, "data.augment": aug},
    )
    assert "augmentation (training images only): zoom ±10%, rotate ±10°, erase p=0.25" in "\n".join(lines)
    return folder, result


def test_a_run_records_its_augmentation_apart_from_the_plan_and_predict_does_not_augment(run, mnist_dir) -> None:
    folder, result = run
    recorded = json.loads((folder / "run.json").read_text())
    assert recorded["augmentation"]["settings"]["mixup"] == 0.2
    assert "mixup" in recorded["augmentation"]["text"] and "rotate" in recorded["augmentation"]["text"]
    assert "augment" not in json.dumps(recorded["preprocessing"])  # the plan predict, evaluate and export apply
    x = D.load(f"idx:{mnist_dir}[300:316]").x
    assert x is not None
    first = np.stack([r.probabilities for r in archspec.predict(folder, x)])
    second = np.stack([r.probabilities for r in archspec.predict(folder, x)])
    np.testing.assert_array_equal(first, second)  # no random step in prediction
    plan = Plan.from_json(recorded["preprocessing"]["plan"], "run.json")
    direct = np.asarray(result.model(np.asarray(plan.apply(x.astype(np.float32)))))
    np.testing.assert_allclose(first, direct, atol=1e-5)  # the plan alone, no augmentation


def test_inspect_and_serve_show_what_augmentation_does_to_one_digit(run, mnist_dir, tmp_path) -> None:
    from archspec.tools import inspection
    from archspec.tools.serve.model_view import AUGMENTED_VIEWS, ModelView

    folder, _ = run
    digit = D.load(f"idx:{mnist_dir}[300:301]").x[0]
    views = archspec.augmented(folder, digit, count=4, seed=1)
    plain = Plan.from_json(json.loads((folder / "run.json").read_text())["preprocessing"]["plan"], "run.json")
    assert views.shape == (4, 28, 28, 1)
    assert all(not np.allclose(v, plain.apply(digit[None].astype(np.float32))[0]) for v in views)
    assert not np.allclose(views[0], views[1])  # each view its own draws
    np.testing.assert_array_equal(views, archspec.augmented(folder, digit, count=4, seed=1))
    np.save(tmp_path / "digit.npy", digit)
    page = inspection.inspect(folder, tmp_path / "digit.npy", tmp_path / "report.html", augment=3)
    html = page.read_text()
    assert 'data-views="3"' in html and "Training augmentation" in html and "rotate" in html
    look = ModelView(folder).look(inspection.png(digit[..., 0]), "digit.png")
    shown = json.dumps(look["input"], default=str)
    assert '"class": "augment"' in shown and f'"data-views": "{AUGMENTED_VIEWS}"' in shown.replace(
        f'"data-views": {AUGMENTED_VIEWS}', f'"data-views": "{AUGMENTED_VIEWS}"'
    )
