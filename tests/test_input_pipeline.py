"""The training input: images prepared once and cached, augmentation drawn afresh every epoch, its speed metered.

What the network sees must not depend on whether an image came from the cache (a later epoch) or
was just decoded (the first, or a resumed run's first): the cache holds exactly what `evaluate`
and `predict` compute, and augmentation is applied on top, keyed by (seed, epoch, step).
"""

from __future__ import annotations

import numpy as np
import pytest

import archspec
from archspec.spec.training import Augment, Data
from archspec.training import data as D
from archspec.training.data import cache

TINY = "name: tiny\ninput: [24, 24, 3]\nlayers: [flatten, {dense: {units: 3, activation: softmax}}]\n"


def jpeg_folder(root, count: int = 18, seed: int = 0):
    """JPEGs of mixed sizes around the input's (smaller ones are padded, larger resized), 3 classes, one grey."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    for i in range(count):
        folder = root / ("a", "b", "c")[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        h, w = (int(v) for v in rng.integers(18, 34, 2))
        image = rng.integers(0, 255, (h, w, 1 if i == 4 else 3), dtype=np.uint8)
        tf.io.write_file(str(folder / f"{i:02d}.jpg"), tf.io.encode_jpeg(image, quality=95))
    return root


def batches(source: D.TrainingInput, first: int, last: int) -> list[np.ndarray]:
    """Every batch's images for epochs first..last-1, as arrays."""
    return [np.asarray(x) for x, _ in source.dataset(first, last)]


def by_image(arrays: list[np.ndarray]) -> list[bytes]:
    """The images of some batches, each as bytes, sorted: the same images in any order compare equal."""
    return sorted(image.tobytes() for batch in arrays for image in batch)


def test_later_epochs_see_the_cached_images_and_fresh_augmentation(tmp_path) -> None:
    folder = jpeg_folder(tmp_path / "pics")
    images = D.load(str(folder))
    plan = D.plan(images, (24, 24, 3), 3, Data(mean=[0.4, 0.5, 0.6], std=0.25))
    assert len(plan.fits) > 5 and {fit.fit for fit in plan.fits} == {"pad", "resize"}
    steps = D.steps_per_epoch(images.count, 4, False)
    evaluated = by_image(
        [np.asarray(x) for x, _ in D.eval_dataset(images, plan, batch_size=5)]
    )  # what evaluate and predict see

    plain = D.TrainingInput(images, plan, batch_size=4, seed=1, aug=Augment())
    first = batches(plain, 0, 1)  # decodes every file and fills the cache
    for path in folder.rglob("*.jpg"):
        path.unlink()  # later epochs read the cache only
    second = batches(plain, 1, 2)
    assert plain.filled() and len(first) == len(second) == steps
    assert by_image(first) == by_image(second) == evaluated  # the same images, bit for bit
    assert [b.tobytes() for b in first] != [b.tobytes() for b in second]  # in a new order

    folder = jpeg_folder(tmp_path / "again")
    images = D.load(str(folder))
    augmented = D.TrainingInput(images, plan, batch_size=4, seed=1, aug=Augment(flip="both", translate=0.25))
    one, two = (
        np.concatenate(epoch) for epoch in np.split(np.asarray(batches(augmented, 0, 2), dtype=object), [steps])
    )
    assert by_image([one]) != by_image([two]) and by_image([one]) != evaluated
    # a resumed run's first epoch decodes again, and makes exactly the batches the cache gave the uninterrupted run
    resumed = D.TrainingInput(images, plan, batch_size=4, seed=1, aug=Augment(flip="both", translate=0.25))
    again = np.concatenate(batches(resumed, 1, 2))
    np.testing.assert_array_equal(again, two)
    # shifted-in pixels are black after the plan's values, channel by channel
    black = (np.zeros(3) - [0.4, 0.5, 0.6]) / 0.25
    assert np.isclose(one, black.astype(np.float32)).all(axis=-1).any()


def test_augment_is_the_projective_shift_it_replaced() -> None:
    """Flips and whole-pixel shifts by slicing give what ImageProjectiveTransformV3 (nearest, constant fill) gave:
    seeded runs see the same batches as before."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(16, 11, 9, 3)), tf.float32)
    fill = tf.constant([0.5, -1.0, 2.0])

    def reference(x, key, aug):
        seeds = tf.random.experimental.stateless_split(key, 4)
        b = tf.shape(x)[0]
        if aug.flip in ("horizontal", "both"):
            x = tf.where(tf.random.stateless_uniform([b, 1, 1, 1], seeds[0]) < 0.5, tf.reverse(x, [2]), x)
        if aug.flip in ("vertical", "both"):
            x = tf.where(tf.random.stateless_uniform([b, 1, 1, 1], seeds[1]) < 0.5, tf.reverse(x, [1]), x)
        if aug.translate:
            h, w = x.shape[1], x.shape[2]
            ly, lx = (aug.translate * h, aug.translate * w) if aug.translate < 1 else (aug.translate, aug.translate)
            dy = tf.round(tf.random.stateless_uniform([b], seeds[2], -1.0, 1.0) * ly)
            dx = tf.round(tf.random.stateless_uniform([b], seeds[3], -1.0, 1.0) * lx)
            one, zero = tf.ones([b]), tf.zeros([b])
            moved = [
                tf.raw_ops.ImageProjectiveTransformV3(
                    images=x[..., c : c + 1],
                    transforms=tf.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1),
                    output_shape=[h, w],
                    fill_value=float(fill[c]),
                    interpolation="NEAREST",
                    fill_mode="CONSTANT",
                )
                for c in range(3)
            ]
            x = tf.concat(moved, axis=-1)
        return x

    for aug in (
        Augment(flip="horizontal"),
        Augment(flip="vertical", translate=0.3),
        Augment(flip="both", translate=2),
        Augment(translate=15),
        Augment(flip="both", translate=0.999),
    ):
        for key in ([1, 2], [7, 0], [3, 9]):
            key = tf.constant(key, tf.int64)
            np.testing.assert_array_equal(D.augment(x, key, aug, fill), reference(x, key, aug), err_msg=str(aug))


@pytest.mark.parametrize("memory, disk, where", [(10**5, 10**12, "disk"), (10**5, 0, "none")])
def test_a_cache_larger_than_memory_goes_to_disk_or_nowhere_and_says_so(
    tmp_path, monkeypatch, memory, disk, where
) -> None:
    """The rule (``data/cache.py``): memory when the cache takes at most half of what is available, else a file on
    disk when it has room, else none (every epoch prepares its images again). The batches are the same wherever."""
    images = D.load(str(jpeg_folder(tmp_path / "pics")))
    plan = D.plan(images, (24, 24, 3), 3, Data())
    aug = Augment(flip="horizontal", translate=2)
    in_memory = batches(D.TrainingInput(images, plan, batch_size=4, seed=5, aug=aug), 0, 3)
    monkeypatch.setattr(cache, "available_memory", lambda: memory)
    monkeypatch.setattr(cache, "free_disk", lambda folder: disk)
    lines: list[str] = []
    source = D.TrainingInput(images, plan, batch_size=4, seed=5, aug=aug, log=lines.append)
    assert source.placement.where == where and source.placement.nbytes == 18 * 24 * 24 * 3 * 4
    elsewhere = batches(source, 0, 3)
    for a, b in zip(in_memory, elsewhere, strict=True):
        np.testing.assert_array_equal(a, b)
    need = (
        "input: the 18 training images need 0.00 GB once prepared, more than the cache may take in memory (50% of "
        "the 0.00 GB available)"
    )
    if where == "disk":
        assert lines[0].startswith(need + ": caching them on disk in ") and "TMPDIR picks the folder" in lines[0]
        assert source.filled()
    else:
        assert lines == [
            need
            + f", and {cache.tempfile.gettempdir()} has 0.00 GB free: preparing them again every epoch, as slowly as "
            "the first (set TMPDIR to a disk with room to cache them there)"
        ]


def test_each_epoch_reports_its_speed_and_the_inputs(tmp_path) -> None:
    lines: list[str] = []
    result = archspec.train(
        archspec.loads(TINY),
        data=str(jpeg_folder(tmp_path / "pics")),
        epochs=2,
        verbose=2,
        log=lines.append,
        run_dir=tmp_path / "run",
        training={"batch_size": 4, "seed": 0},
    )
    assert (
        "input: epoch 1 prepares the 18 training images and caches them in memory (0.00 GB) for the epochs after it"
        in lines
    )
    for row in result.history:
        assert row["images_per_second"] > 0 and row["input_images_per_second"] > 0 and 0 <= row["input_wait"] <= 1
    assert "input_wait" in (tmp_path / "run" / "history.csv").read_text().splitlines()[0]


def test_the_meter_tells_a_slow_model_from_a_slow_input() -> None:
    """A consumer that takes 50 ms a batch (a slow model) barely waits for an input that needs far less, and the
    input's own rate, from the time its stages worked (queueing excluded), is far above the consumer's."""
    import time

    x = np.random.default_rng(0).integers(0, 255, (64, 8, 8, 1), dtype=np.uint8)
    images = D.from_arrays(x, np.arange(64) % 2, "arrays")
    plan = D.plan(images, (8, 8, 1), 2, Data())
    source = D.TrainingInput(images, plan, batch_size=8, seed=0, aug=Augment(flip="horizontal"))
    batches_ = iter(source.dataset(0, 3))
    for _ in range(9):
        next(batches_)  # the first epoch fills the cache; the second's first batch waits for the change of source
    before, started = source.meter.read(), time.perf_counter()
    for _ in range(7):
        next(batches_)
        time.sleep(0.05)
    slow_model = source.meter.rates(before, source.meter.read(), time.perf_counter() - started)
    # each batch of 8 tiny images takes the input about a millisecond: far from the model's 50
    assert (
        slow_model["input_wait"] < 0.3 and slow_model["input_images_per_second"] > 5 * slow_model["images_per_second"]
    )
    assert slow_model["images_per_second"] == pytest.approx(56 / (time.perf_counter() - started), rel=0.2)


def test_a_jpeg_that_breaks_when_decoded_is_a_located_error(tmp_path) -> None:
    """`load` reads a JPEG's header only; one whose data is broken stops training with its name, not TensorFlow's."""
    folder = jpeg_folder(tmp_path / "pics")
    broken = folder / "b" / "07.jpg"
    data = broken.read_bytes()
    scan = data.index(b"\xff\xda")  # the start of the picture's data, after the header
    broken.write_bytes(data[: scan + (len(data) - scan) // 3])  # the header, and a third of the picture
    assert D.load(str(folder)).count == 18
    with pytest.raises(archspec.SpecError) as caught:
        archspec.train(
            archspec.loads(TINY),
            data=str(folder),
            epochs=1,
            verbose=0,
            run_dir=tmp_path / "run",
            training={"batch_size": 4},
        )
    assert caught.value.file == str(broken) and "cannot decode the image" in str(caught.value)
