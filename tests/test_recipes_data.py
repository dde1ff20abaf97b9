"""A way in for data (issue 29): `archspec data SOURCE --to DIR` writes any source as class folders of PNG files that
read back as the same examples; an image folder labelled by labels.csv / labels.json (with optional weights); sample
weights from the source change the loss as computed by hand. The label file's refusals are in tests/adversarial/
(data_labels_*)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import archspec
from archspec.cli import main
from archspec.training import data as D
from archspec.training.data.decode import decode_file
from archspec.training.data.sources import read_idx


def test_a_source_written_as_class_folders_reads_back_as_the_same_examples(mnist_dir, tmp_path, capsys):
    source = f"idx:{mnist_dir}:test[:62]"
    assert main(["data", source, "--to", str(tmp_path / "digits")]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"{tmp_path / 'digits'}: 62 PNG files in 10 class folders (0 ") and "8-bit pixels" in line
    back = D.load(str(tmp_path / "digits"))
    pixels = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:62]
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[:62]
    order = np.argsort(labels, kind="stable")  # class folders in order, each in the source's order
    assert back.class_names == [str(i) for i in range(10)] and back.y.tolist() == labels[order].tolist()
    assert back.files is not None
    for file, i in zip(back.files, order, strict=True):
        np.testing.assert_array_equal(decode_file(str(file))[..., 0], pixels[i])
    assert main(["data", source, "--to", str(tmp_path / "digits")]) == 2  # kept unless --force
    assert "exists and is not empty" in capsys.readouterr().err


def test_float_pixels_and_class_names_that_are_no_folder_names(tmp_path):
    x = np.linspace(0, 1, 2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    written = archspec.write_images(
        D.from_arrays(x, np.array([0, 1]), "arrays", class_names=["T-shirt/top", "bag"]), tmp_path / "out"
    )
    assert written.classes == {"T-shirt/top": 1, "bag": 1} and "0..1 scaled to 0..255" in written.text()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["T-shirt_top", "bag"]
    np.testing.assert_array_equal(decode_file(str(tmp_path / "out" / "bag" / "1.png"))[..., 0], np.rint(x[1] * 255))
    with pytest.raises(archspec.SpecError, match=r"values -1\.\.1: not pixels"):
        archspec.write_images((x * 2 - 1, np.array([0, 1])), tmp_path / "normalised")
    assert not (tmp_path / "normalised").exists()


def test_a_label_file_labels_a_folder_with_names_or_numbers_and_weights(tmp_path):
    from archspec.tools.inspection import png

    folder = tmp_path / "photos"
    (folder / "day1").mkdir(parents=True)
    for i in range(3):
        (folder / "day1" / f"{i}.png").write_bytes(png(np.full((5, 5), 40 * i, np.uint8)))
    (folder / "labels.csv").write_text("file,label,weight\nday1/2.png,dog,0.5\nday1/0.png,cat,2\nday1/1.png,dog,1\n")
    images = D.load(str(folder))
    assert images.class_names == ["cat", "dog"] and images.y.tolist() == [1, 0, 1]
    assert [p.split("/")[-1] for p in images.files] == ["2.png", "0.png", "1.png"]  # the file's order
    assert images.weights.tolist() == [0.5, 2.0, 1.0]
    (folder / "labels.csv").unlink()
    (folder / "labels.json").write_text(json.dumps({"day1/0.png": 2, "day1/1.png": 0}))
    images = D.load(str(folder))
    assert images.class_names == ["0", "1", "2"] and images.y.tolist() == [2, 0] and images.weights is None
    (folder / "labels.csv").write_text("file,label\n")
    with pytest.raises(archspec.SpecError, match=r"both labels\.csv and labels\.json"):
        D.load(str(folder))


def test_sample_weights_from_the_source_weigh_each_example_in_the_loss(tmp_path):
    """One batch of all 12 examples, a learning rate too small to move the weights: the epoch's loss is Keras'
    weighted cross-entropy, sum(w * -log p[label]) / 12, with p from the trained model."""
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 256, (12, 6, 6)).astype(np.uint8), rng.integers(0, 3, 12)
    w = np.array([0, 0, 0, 0, 1, 1, 1, 1, 3, 3, 3, 3], np.float32)
    np.savez(tmp_path / "weighted.npz", x=x, y=y, weight=w)
    spec = {
        "name": "tiny",
        "input": [6, 6, 1],
        "layers": [{"flatten": {"name": "f"}}, {"dense": {"units": 3, "activation": "softmax", "name": "out"}}],
        "training": {"optimizer": "sgd", "learning_rate": 1e-9, "batch_size": 12, "epochs": 1, "seed": 4},
    }
    result = archspec.train(spec, data=str(tmp_path / "weighted.npz"), run_dir=tmp_path / "run", verbose=0)
    p = result.model.predict_on_batch(x[..., None].astype(np.float32) / 255.0)
    by_hand = float(np.sum(w * -np.log(p[np.arange(12), y])) / 12)
    unweighted = float(np.mean(-np.log(p[np.arange(12), y])))
    assert result.history[0]["loss"] == pytest.approx(by_hand, rel=1e-4)
    assert abs(by_hand - unweighted) > 1e-3  # the weights matter here
    assert json.loads((tmp_path / "run" / "run.json").read_text())["sample_weights"] is True
