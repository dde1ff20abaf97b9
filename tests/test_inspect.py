"""archspec inspect: a LeNet trained briefly on real MNIST digits, and the report it gives for one."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT, read_idx

import archspec
from archspec.cli import cli
from archspec.tools import inspection
from archspec.tools.inspection import png

LENET = ROOT / "specs" / "lenet.yaml"


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
    """LeNet after one epoch on 3,000 test-set digits (28x28 padded to 32x32, pixels / 255)."""
    import keras

    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    x = np.pad(images[:3000], ((0, 0), (2, 2), (2, 2)))[..., None].astype("float32") / 255
    y = keras.utils.to_categorical(labels[:3000], 10)
    keras.utils.set_random_seed(1)
    model = archspec.build(LENET)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    folder = tmp_path_factory.mktemp("inspect")
    path = archspec.save_model(model, folder / "lenet.keras")
    return path, images[9000], int(labels[9000]), folder  # a digit it never saw


def images_in(page: str) -> dict[str, bytes]:
    found = {}
    for layer, data in re.findall(r'data-layer="([^"]+)"[^>]*><img src="data:image/png;base64,([^"]+)"', page):
        found[layer] = base64.b64decode(data)
    return found


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def feature_map_grids(model, digit) -> dict[str, bytes]:
    """The conv layers' map grids for a 28x28 digit, computed here from a model's weights (padded, / 255, as
    trained)."""
    import keras

    x = np.pad(digit, 2)[None, :, :, None].astype("float32") / 255
    grids = {}
    for name in ("conv_1", "conv_2"):
        out = keras.Model(model.inputs, model.get_layer(name).output).predict(x, verbose=0)[0]
        tiles = [inspection.to_uint8(out[:, :, k]) for k in range(out.shape[-1])]
        grids[name] = base64.b64decode(inspection.grid(tiles).uri.split(",", 1)[1])
    return grids


def test_report_for_a_digit(trained):
    model_path, digit, label, folder = trained
    image = folder / "digit.png"
    image.write_bytes(png(digit))  # 28x28 grey: padded to 32x32 like the training data
    out = folder / "report.html"
    result = CliRunner().invoke(cli, ["inspect", str(model_path), "--input", str(image), "-o", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    page = out.read_text()

    assert re.search(r'data-layer="conv_1" data-maps="6" data-channels="6" data-grid="\d+x\d+" data-tile="28x28"', page)
    assert re.search(
        r'data-layer="conv_2" data-maps="16" data-channels="16" data-grid="\d+x\d+" data-tile="10x10"', page
    )
    assert 'data-layer="pool_1" data-maps="6"' in page and 'data-layer="pool_2" data-maps="16"' in page
    assert "6 feature maps 28×28" in page and "16 feature maps 10×10" in page
    assert 'data-filters="6"' in page and "6 filters 5×5" in page

    grids = images_in(page)
    rows, cols = map(int, re.search(r'data-layer="conv_1"[^>]*data-grid="(\d+)x(\d+)"', page).groups())
    assert rows * cols >= 6 and png_size(grids["conv_1"]) == (cols * 29 - 1, rows * 29 - 1)  # 28x28 tiles, 1-pixel gaps

    probs = [float(p) for p in re.findall(r'<tr[^>]*data-class="\d"><td>\d</td><td>([0-9.]+)</td>', page)]
    assert len(probs) == 10 and abs(sum(probs) - 1) < 1e-3
    # the trained model's answer: the digit's class, with confidence (an untrained LeNet gives about 0.1 to each)
    top = re.search(r'<tr class="top" data-class="(\d)"><td>\d</td><td>([0-9.]+)</td>', page)
    assert int(top[1]) == label and float(top[2]) > 0.5, top
    assert f"predicted class <b>{label}</b>" in page
    # the maps are the trained weights' on the digit as training fed it, not the initial weights'
    import keras

    want = feature_map_grids(archspec.load_model(model_path), digit)
    assert grids["conv_1"] == want["conv_1"] and grids["conv_2"] == want["conv_2"]
    keras.utils.set_random_seed(1)
    initial = feature_map_grids(archspec.build(LENET), digit)  # the fixture's weights before its training step
    assert grids["conv_1"] != initial["conv_1"] and grids["conv_2"] != initial["conv_2"]

    text = re.sub(r'"data:image/png;base64,[A-Za-z0-9+/=]*"', '""', page)  # base64 may contain "//"
    assert not re.search(r"https?:|//[a-z]|@import|url\(", text), "the report must work offline"
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]+)"', page))

    again = CliRunner().invoke(cli, ["inspect", str(model_path), "--input", str(image), "-o", str(out)])
    assert again.exit_code != 0 and "exists" in str(again.exception)

    # the same digit as a .npy array, with class names (in this test: the model is trained once per run,
    # and pytest-xdist could give a second test its own copy of the module fixture)
    array = folder / "digit.npy"
    np.save(array, np.pad(digit, 2).astype("float32") / 255)  # already the input's size and scale
    names = folder / "names.txt"
    names.write_text("\n".join(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]))
    out = inspection.inspect(model_path, array, folder / "npy.html", labels_path=names)
    page = out.read_text()
    assert 'data-layer="conv_2" data-maps="16"' in page and "<td>seven</td>" in page


def test_png_encoder_roundtrips_through_tensorflow():
    import tensorflow as tf

    grey = np.arange(35, dtype=np.uint8).reshape(5, 7)
    rgb = np.stack([grey, 255 - grey, grey // 2], axis=-1)
    assert np.array_equal(tf.io.decode_png(png(grey)).numpy()[:, :, 0], grey)
    assert np.array_equal(tf.io.decode_png(png(rgb)).numpy(), rgb)


def test_inspect_a_run_folder_sees_what_training_saw(mnist_dir, tmp_path):
    """A model trained with data.mean/std is inspected on the input it was trained on: the run folder's plan,
    whether the run folder or its model.keras is named; its probabilities are predict's."""
    run = archspec.train(
        LENET,
        data=f"idx:{mnist_dir}[:2000]",
        epochs=1,
        verbose=0,
        run_dir=tmp_path / "run",
        training={"seed": 2, "data.mean": 0.1307, "data.std": 0.3081},
    )
    image = tmp_path / "digit.png"
    image.write_bytes(png(read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[9001]))
    (prediction,) = archspec.predict(run.run_dir, image)
    for model in (run.run_dir, run.paths["model"]):
        out = tmp_path / f"{model.name}.html"
        result = CliRunner().invoke(cli, ["inspect", str(model), "--input", str(image), "-o", str(out)])
        assert result.exit_code == 0, result.output + repr(result.exception)
        page = out.read_text()
        assert (
            ">28x28x1 -&gt; zero-pad 2 px -&gt; 32x32x1, x1/255, mean 0.1307 std 0.3081</span>; values -0.424 to"
            in page
        )
        probs = {int(k): float(v) for k, v in re.findall(r'data-class="(\d)"><td>[^<]*</td><td>([0-9.]+)</td>', page)}
        assert len(probs) == 10
        assert probs == pytest.approx({k: float(prediction.probabilities[k]) for k in probs}, abs=6e-5)


def test_large_maps_are_averaged_down_for_the_live_page():
    maps = np.arange(64 * 48 * 2, dtype="float64").reshape(64, 48, 2)
    small = inspection.downsampled(maps, 32)
    assert small.shape == (32, 24, 2) and small[0, 0, 0] == maps[:2, :2, 0].mean()
    assert inspection.downsampled(maps, 64) is maps  # small enough: as they are
    odd = inspection.downsampled(np.ones((7, 100, 1)), 32)  # 4x4 squares; the ragged edge is dropped
    assert odd.shape == (1, 25, 1)
    assert inspection.downsampled(np.ones((2, 100, 3)), 32).shape == (1, 25, 3)  # thinner than a square
