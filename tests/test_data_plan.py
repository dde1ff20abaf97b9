"""One preprocessing plan: what a model trains on is what `evaluate`, `predict` and `inspect` give it.

Image folders are read at their own size and go through the same plan as every other source; the
plan is recorded in run.json and printed; validation_split keeps every class's share.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import archspec
from archspec.cli import main
from archspec.tools.inspection import png
from archspec.training import data as D

TINY = "name: tiny\ninput: [32, 32, 1]\nlayers: [flatten, {dense: {units: 3, activation: softmax}}]\n"


def image_folder(root: Path, sizes: dict[str, list[tuple[int, ...]]], seed: int = 0) -> Path:
    """One sub-folder per class; class k's images are brighter in band k, so a model can tell them apart."""
    rng = np.random.default_rng(seed)
    for k, (name, shapes) in enumerate(sizes.items()):
        (root / name).mkdir(parents=True)
        for i, shape in enumerate(shapes):
            image = rng.integers(0, 120, shape, dtype=np.uint8)
            band = shape[0] // 3
            image[k * band : (k + 1) * band] += 120
            (root / name / f"{i:02d}.png").write_bytes(png(image))
    return root


def test_predict_sees_a_training_image_as_training_did(tmp_path) -> None:
    """28x28 PNGs, a 32x32 network: training pads them (fit auto), and so does predict."""
    folder = image_folder(tmp_path / "pics", {name: [(28, 28)] * 6 for name in ("a", "b", "c")})
    files = sorted(folder.rglob("*.png"))
    result = archspec.train(
        archspec.loads(TINY),
        data=str(folder),
        val=str(folder),
        epochs=2,
        verbose=0,
        run_dir=tmp_path / "run",
        training={"batch_size": 6, "seed": 0, "learning_rate": 0.01},
    )
    predictions = archspec.predict(result.run_dir, files, top_k=3)
    labels = [("a", "b", "c").index(f.parent.name) for f in files]
    # val_loss is the trained model's loss on the training pipeline's tensors of these very images
    from_predict = np.mean([-np.log(p.probabilities[k]) for p, k in zip(predictions, labels, strict=True)])
    assert from_predict == pytest.approx(result.history[-1]["val_loss"], rel=1e-5)

    run = json.loads(result.paths["run_json"].read_text())
    assert run["preprocessing"]["train"] == "28x28x1 -> zero-pad 2 px -> 32x32x1, x1/255"
    assert predictions[0].preprocessing == run["preprocessing"]["train"]
    # example by example: the tensors training built for these files, and the model's probabilities for them
    images = D.load(str(folder))
    plan = D.plan(images, (32, 32, 1), 3, archspec.load(result.paths["spec"]).training.data)
    ((x_eval, _),) = list(D.eval_dataset(images, plan, batch_size=len(files)))
    ((x_train, _),) = list(
        D.train_dataset(
            images,
            plan,
            batch_size=len(files),
            seed=0,
            first_epoch=0,
            epochs=1,
            aug=archspec.load(result.paths["spec"]).training.data.augment,
        )
    )
    assert sorted(map(bytes, np.asarray(x_train).reshape(len(files), -1))) == sorted(
        map(bytes, np.asarray(x_eval).reshape(len(files), -1))
    )
    inside = np.asarray(result.model(x_eval, training=False))
    np.testing.assert_allclose(np.stack([p.probabilities for p in predictions]), inside, atol=1e-6)
    assert (
        np.asarray(x_eval)[0, 0, 0, 0] == 0.0 and np.asarray(x_eval)[0, 2, 2, 0] > 0
    )  # black border: padded, not resized


def test_a_folder_of_mixed_sizes_and_channels_is_planned_per_size(tmp_path) -> None:
    """Each size gets the step `auto` gives it (smaller: pad, larger: resize), in training as in predict."""
    folder = image_folder(
        tmp_path / "pics", {"a": [(28, 28), (40, 40), (28, 28)], "b": [(28, 28), (40, 40, 3), (28, 28)]}
    )
    images = D.load(str(folder))
    assert images.sizes == {
        (28, 28, 3): 4,
        (40, 40, 3): 2,
    }  # grey files brought up to the folder's RGB, pixels unchanged
    result = archspec.train(
        archspec.loads(TINY.replace("units: 3", "units: 2")),
        data=str(folder),
        val=str(folder),
        epochs=1,
        verbose=0,
        run_dir=tmp_path / "run",
        training={"batch_size": 3, "seed": 1},
    )
    run = json.loads(result.paths["run_json"].read_text())
    assert run["preprocessing"]["train"] == (
        "28x28x3 -> rgb to gray -> zero-pad 2 px -> 32x32x1 (4 images); "
        "40x40x3 -> rgb to gray -> resize -> 32x32x1 (2 images), x1/255"
    )
    files = sorted(folder.rglob("*.png"))
    probs = np.stack([p.probabilities for p in archspec.predict(result.run_dir, files)])
    labels = [("a", "b").index(f.parent.name) for f in files]
    assert np.mean(-np.log(probs[np.arange(len(files)), labels])) == pytest.approx(
        result.history[-1]["val_loss"], rel=1e-4
    )
    broken = folder / "b" / "99.png"
    broken.write_text("not a picture")
    with pytest.raises(archspec.SpecError, match="not an image") as caught:
        D.load(str(folder))
    assert caught.value.file == str(broken)


def test_validation_split_keeps_every_class_share_after_a_seeded_shuffle(tmp_path) -> None:
    folder = image_folder(tmp_path / "pics", {name: [(8, 8)] * 4 for name in ("cat", "dog", "eel")})
    images = D.load(str(folder))
    train, val = D.split_validation(images, 0.25, seed=3)
    assert sorted(val.y.tolist()) == [0, 1, 2] and sorted(np.bincount(train.y).tolist()) == [3, 3, 3]
    assert len(set(train.files) | set(val.files)) == 12  # no file in both
    assert val.sizes == {(8, 8, 1): 3} and [(f.split("/")[-2], k) for f, k in zip(val.files, val.y, strict=True)] == [
        (("cat", "dog", "eel")[k], k) for k in val.y
    ]  # each file keeps its label
    again = D.split_validation(images, 0.25, seed=3)[1]
    assert np.array_equal(again.files, val.files)  # the seed decides which examples
    picks = {tuple(D.split_validation(images, 0.5, seed=s)[1].files) for s in range(6)}
    assert len(picks) > 1
    # rounding: 10 examples in classes of 5, 3, 2 at 0.3 -> 3 held out; quotas 1.5, 0.9, 0.6 give 1, 0, 0 and the
    # two left over go to the largest remainders
    labels = np.array([0] * 5 + [1] * 3 + [2] * 2)
    arrays = D.from_arrays(np.arange(10, dtype=np.uint8).reshape(10, 1, 1), labels, "arrays")
    assert np.bincount(D.split_validation(arrays, 0.3, seed=0)[1].y, minlength=3).tolist() == [1, 1, 1]
    assert np.bincount(D.split_validation(arrays, 0.2, seed=0)[1].y, minlength=3).tolist() == [1, 1, 0]  # 1.0, 0.6, 0.4


def test_a_validation_set_missing_classes_is_announced(tmp_path) -> None:
    folder = image_folder(tmp_path / "pics", {"cat": [(32, 32)] * 4, "dog": [(32, 32)] * 4, "eel": [(32, 32)]})
    lines: list[str] = []
    result = archspec.train(
        archspec.loads(TINY),
        data=str(folder),
        epochs=1,
        verbose=2,
        log=lines.append,
        run_dir=tmp_path / "run",
        training={"validation_split": 0.25, "batch_size": 4, "seed": 0},
    )
    assert result.metrics["val_examples"] == 2
    warning = [line for line in lines if line.startswith("warning:")]
    assert warning == [
        "warning: the validation data has no examples of 1 of the training data's classes (eel): "
        "its accuracy says nothing about them"
    ]
    assert json.loads(result.paths["run_json"].read_text())["validation_split"] == {
        "fraction": 0.25,
        "stratified": True,
        "seed": 0,
    }


def test_plan_lines() -> None:
    cfg = archspec.loads(TINY + "training: {data: {mean: 0.1307, std: 0.3081}}\n").training.data
    mnist = D.from_arrays(np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.int64), "mnist")
    assert (
        D.plan(mnist, (32, 32, 1), 10, cfg).describe()
        == "28x28x1 -> zero-pad 2 px -> 32x32x1, x1/255, mean 0.1307 std 0.3081"
    )
    odd = D.from_arrays(np.zeros((1, 29, 30, 3), np.float32), np.zeros(1, np.int64), "odd")
    assert (
        D.plan(odd, (32, 32, 1), 10, cfg).describe()
        == "29x30x3 -> rgb to gray -> zero-pad 1,2,1,1 px (top,bottom,left,right) -> 32x32x1, mean 0.1307 std 0.3081"
    )
    crop = archspec.loads(TINY + "training: {data: {fit: crop, rescale: 0.5}}\n").training.data
    big = D.from_arrays(np.zeros((1, 40, 36, 1), np.uint8), np.zeros(1, np.int64), "big")
    assert D.plan(big, (32, 32, 1), 10, crop).describe() == "40x36x1 -> centre-crop -> 32x32x1, x0.5"


class _Terminal:
    """A stream that says it is a terminal."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_and_epoch_lines_everywhere(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 255, (64, 32, 32), dtype=np.uint8), np.arange(64) % 3)
    terminal = _Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    archspec.train(
        archspec.loads(TINY), data=data, epochs=2, run_dir=tmp_path / "tty", training={"batch_size": 8, "seed": 0}
    )
    out = terminal.text
    assert "\r" in out and "8/8" in out and " img/s  ETA 0:00" in out, out
    epoch_lines = [
        line.split("\r")[-1] for line in out.split("\n") if "epoch " in line and not line.startswith("input: ")
    ]
    assert [line.split()[:2] for line in epoch_lines] == [
        ["epoch", "1/2"],
        ["epoch", "2/2"],
    ]  # the bar gives way to the line
    note = re.compile(r"  \[XLA off, \d+ steps?/call\]")  # the execution note: the only brackets left
    assert all("ETA" not in line and "[" not in note.sub("", line) for line in epoch_lines)
    assert all(
        re.search(r"  [\d,]+ img/s \(input [\d,]+ img/s, waited \d+%\)" + note.pattern + r"(  \(best\))?$", line)
        for line in epoch_lines
    ), epoch_lines

    class _Pipe(_Terminal):
        def isatty(self) -> bool:
            return False

    pipe = _Pipe()
    monkeypatch.setattr("sys.stdout", pipe)
    archspec.train(
        archspec.loads(TINY), data=data, epochs=2, run_dir=tmp_path / "pipe", training={"batch_size": 8, "seed": 0}
    )
    assert "\r" not in pipe.text and "ETA" not in pipe.text
    assert [line.split()[:2] for line in pipe.text.splitlines() if line.startswith("epoch ")] == [
        ["epoch", "1/2"],
        ["epoch", "2/2"],
    ]


def test_progress_line() -> None:
    from archspec.training.callbacks import progress_line

    assert (
        progress_line(3, 10, 120, 480, 7680, 4.0, {"loss": 0.12345})
        == "epoch 3/10 [======..................] 120/480  1,920 img/s  ETA 0:12  loss 0.1235"
    )
    assert progress_line(1, 1, 10, 5000, 640, 40.0, None).endswith("ETA 5:32:40")


@pytest.mark.parametrize("what", ["text", "png", "zip", "run folder"])
def test_a_file_that_is_not_a_model_is_one_located_message(tmp_path, capsys, what) -> None:
    digit = tmp_path / "digit.png"
    digit.write_bytes(png(np.zeros((28, 28), np.uint8)))
    if what == "run folder":
        folder = tmp_path / "run"
        folder.mkdir()
        (folder / "run.json").write_text("{}")
        (folder / "spec.yaml").write_text(TINY)
        model = folder / "model.keras"
        model.write_text("not a model")
        name = str(folder)
    else:
        model = tmp_path / "model.keras"
        if what == "text":
            model.write_text("hello\n")
        elif what == "png":
            model.write_bytes(png(np.zeros((4, 4), np.uint8)))
        else:
            np.savez(tmp_path / "arrays.npz", x=np.zeros(3))
            model.write_bytes((tmp_path / "arrays.npz").read_bytes())
        name = str(model)
    for args in (
        ["evaluate", name, "--data", "mnist"],
        ["predict", name, str(digit)],
        ["inspect", name, "--input", str(digit), "-o", str(tmp_path / "r.html")],
    ):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.count(str(model)) == 1 and err.startswith(f"{model}: not a Keras model"), (args, err)
        assert "Traceback" not in err and "filepath" not in err
        assert len([line for line in err.splitlines() if not line.startswith("  hint:")]) == 1, err
    assert not (tmp_path / "r.html").exists()
