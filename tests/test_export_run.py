"""archspec export RUN_FOLDER: the exported model carries the run's preprocessing and gives what `predict` gives.

Two real runs, trained one epoch on 300 MNIST digits: LeNet (28x28 digits zero-padded into its
32x32 input, x1/255, softmax output) and a small network whose plan has every other step (grey ->
RGB, an antialiased resize to 20x20, mean/std) and which gives logits (predict applies the softmax).
Each is exported to SavedModel, ONNX and TFLite and fed the digits as PNG files hold them (uint8,
28x28x1); the probabilities must equal `archspec predict`'s on those PNG files within 1e-5.
"""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT
from test_export import need

import archspec
from archspec.cli import cli, main
from archspec.keras_side.export import run_exported
from archspec.tools.inspection import png
from archspec.training import data as D
from archspec.training import saved

FORMATS = {"savedmodel": "sm", "onnx": "m.onnx", "tflite": "m.tflite"}
NEEDS = {"savedmodel": (), "onnx": ("tf2onnx", "onnxruntime"), "tflite": ()}
RESIZED = """name: resized
input: [20, 20, 3]
training: {data: {fit: resize, mean: [0.13, 0.12, 0.11], std: 0.31}}
layers:
  - conv: {depth: 4, kernel: 3, activation: relu}
  - pool: {kind: max, size: 2, stride: 2}
  - flatten
  - dense: {units: 10, name: digit}
"""


@pytest.fixture(scope="module")
def digits(mnist_dir, tmp_path_factory):
    """Eight test digits: as a uint8 batch, and as PNG files."""
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)[9000:9008].copy()
    folder = tmp_path_factory.mktemp("digits")
    files = []
    for i, image in enumerate(x):
        files.append(folder / f"digit{i}.png")
        files[-1].write_bytes(png(image[..., 0]))
    return x, files


@pytest.fixture(scope="module", params=["lenet", "resized"])
def run(request, mnist_dir, tmp_path_factory):
    """A run folder (one epoch on 300 digits) and the name of its output."""
    spec = ROOT / "specs" / "lenet.yaml" if request.param == "lenet" else archspec.loads(RESIZED)
    folder = tmp_path_factory.mktemp("runs") / request.param
    archspec.train(
        spec, data=f"idx:{mnist_dir}[:300]", epochs=1, verbose=0, run_dir=folder, training={"batch_size": 32, "seed": 0}
    )
    output = next(iter(json.loads((folder / "run.json").read_text())["network"]["outputs"]))
    return folder, output


@pytest.mark.parametrize("fmt", FORMATS)
def test_exported_run_gives_predicts_probabilities_on_raw_pixels(run, digits, fmt, tmp_path):
    need(*NEEDS[fmt])
    folder, _ = run
    x, files = digits
    want = np.stack([p.probabilities for p in archspec.predict(folder, files)])
    out = tmp_path / FORMATS[fmt]
    result = CliRunner().invoke(cli, ["export", str(folder), "-f", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "preprocessing included: 28x28x1 -> " in result.output and "takes uint8 images of 28x28x1" in result.output
    got = run_exported(out, x)
    difference = float(np.abs(got - want).max())
    print(f"{folder.name} {fmt}: max |exported - predict| = {difference:.3g}")
    assert difference <= 1e-5
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary files left


def test_outputs_and_inputs_keep_their_names(run, tmp_path):
    """The output is named as the spec names it (not ONNX's Identity:0), in every format; the input takes uint8."""
    import tensorflow as tf

    folder, output = run
    assert output == (
        "digit" if folder.name == "resized" else "dense_3"
    )  # the spec's name, or archspec's for its last layer
    loaded = tf.saved_model.load(str(archspec.export(folder, tmp_path / "sm")))
    assert list(loaded.signatures["serving_default"].structured_outputs) == [output]
    (spec,) = loaded.signatures["serving_default"].structured_input_signature[1].values()
    assert spec.dtype == tf.uint8 and tuple(spec.shape) == (None, 28, 28, 1)

    tflite = archspec.export(folder, tmp_path / "m.tflite")
    interpreter = tf.lite.Interpreter(model_path=str(tflite))
    assert interpreter.get_signature_list()["serving_default"] == {"inputs": ["input"], "outputs": [output]}
    assert interpreter.get_input_details()[0]["dtype"] == np.uint8

    need("tf2onnx", "onnxruntime")
    import onnxruntime as ort

    session = ort.InferenceSession(
        str(archspec.export(folder, tmp_path / "m.onnx")), providers=["CPUExecutionProvider"]
    )
    assert [o.name for o in session.get_outputs()] == [output]
    assert [(i.name, i.type, i.shape[1:]) for i in session.get_inputs()] == [("input", "tensor(uint8)", [28, 28, 1])]


def test_no_preprocessing_takes_the_network_input(run, digits, tmp_path):
    """--no-preprocessing: the model takes what the plan gives (scaled, the input's size); the output step stays."""
    folder, _output = run
    x, files = digits
    result = CliRunner().invoke(cli, ["export", str(folder), "--no-preprocessing", "-o", str(tmp_path / "m.tflite")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "no preprocessing included" in result.output
    trained = archspec.predict(folder, files)
    plan = saved.load(folder).plan(D.from_arrays(x, np.zeros(len(x), np.int64), "digits"), "input")
    got = run_exported(tmp_path / "m.tflite", np.asarray(plan.apply(x)))
    assert np.abs(got - np.stack([p.probabilities for p in trained])).max() <= 1e-5
    with pytest.raises((ValueError, RuntimeError)):  # raw pixels do not fit it
        run_exported(tmp_path / "m.tflite", x)


def test_a_bare_model_says_it_has_no_preprocessing(run, tmp_path):
    """A .keras file exports as before, taking the network's input, and says so, naming the run folder it sits in."""
    folder, _ = run
    result = CliRunner().invoke(cli, ["export", str(folder / "model.keras"), "-o", str(tmp_path / "m.tflite")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "no preprocessing included" in result.output and f"export the run folder {folder}" in result.output
    shape = tuple(archspec.load_model(folder / "model.keras").input_shape[1:])
    assert run_exported(tmp_path / "m.tflite", np.zeros((1, *shape), np.float32)).shape == (1, 10)


def test_a_run_folder_refuses_weights_and_set(run, tmp_path, capsys):
    folder, _ = run
    assert main(["export", str(folder), "--weights", str(folder / "model.keras"), "-o", str(tmp_path / "m.onnx")]) == 2
    assert main(["export", str(folder), "--set", "classes=3", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "--weights applies to a .keras model or a spec" in err and "--set applies" in err and "Traceback" not in err


def test_an_edited_plan_is_refused_located(run, tmp_path, capsys):
    """A plan this version cannot carry out exactly is refused at its field in run.json, before anything is written."""
    folder, _ = run
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    record = json.loads((copy / "run.json").read_text())
    record["preprocessing"]["plan"]["sizes"][0]["fit"] = "reszie"
    (copy / "run.json").write_text(json.dumps(record))
    assert main(["export", str(copy), "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{copy / 'run.json'}: preprocessing.plan.sizes[0].fit: unknown size step 'reszie'"), err
    assert "did you mean 'resize'?" in err and not (tmp_path / "m.onnx").exists()
    assert (
        main(["export", str(copy), "--no-preprocessing", "-o", str(tmp_path / "m.onnx")]) == 0
    )  # the way out it names


def test_the_plan_reads_back_as_recorded(run):
    """run.json's plan, read back, is the plan: the same line, the same steps."""
    from archspec.training.data import Plan

    folder, _ = run
    record = json.loads((folder / "run.json").read_text())["preprocessing"]["plan"]
    plan = Plan.from_json(record, "run.json")
    assert plan.describe() == record["text"] and plan.to_json() == record


@pytest.mark.parametrize("fmt", FORMATS)
def test_named_inputs_and_every_head_give_what_predict_gives(fmt, tmp_path):
    """An image input and a vector input; a multilabel, a regression (in the targets' units) and a segmentation output
    (logits: sigmoid applied). The image takes uint8, the vector float32; every output keeps its name."""
    need(*NEEDS[fmt])
    from test_multi_io import SMALL, small_data

    spec = tmp_path / "small.yaml"
    spec.write_text(json.dumps({**SMALL, "training": {**SMALL["training"], "epochs": 1}}))
    np.savez(tmp_path / "train.npz", **small_data(64, 0))
    archspec.train(str(spec), data=str(tmp_path / "train.npz"), run_dir=tmp_path / "run", verbose=0)
    ask = {k: v for k, v in small_data(4, 5).items() if k in ("image", "meta")}
    np.savez(tmp_path / "ask.npz", **ask)
    answers = archspec.predict(tmp_path / "run", [tmp_path / "ask.npz"])
    out = archspec.export(tmp_path / "run", tmp_path / FORMATS[fmt])
    got = run_exported(out, {"image": ask["image"][..., None], "meta": ask["meta"]})
    assert set(got) == {"tags", "size", "seg"}
    tags = np.array([a.outputs["tags"]["probabilities"] for a in answers])
    size = np.array([a.outputs["size"]["values"] for a in answers])
    masks = np.stack([a.masks["seg"] for a in answers])
    print(
        f"small {fmt}: max |exported - predict| tags {np.abs(got['tags'] - tags).max():.3g}, size "
        f"{np.abs(got['size'] - size).max():.3g}"
    )
    assert np.abs(got["tags"] - tags).max() <= 1e-5
    assert np.abs(got["size"] - size).max() <= 1e-5 * max(
        1.0, float(np.abs(size).max())
    )  # in the targets' units (~100)
    assert ((got["seg"][..., 0] > 0.4) == masks).mean() > 0.99 and got["seg"].min() >= 0 and got["seg"].max() <= 1


@pytest.mark.parametrize(
    "source, target, fit",
    [
        ((28, 28, 1), (32, 32, 3), "pad"),  # grey -> RGB, centred zeros
        ((30, 27, 3), (24, 24, 1), "crop"),  # RGB -> grey (luminance), centre crop of an odd margin
        ((28, 28, 4), (20, 36, 3), "resize"),  # alpha dropped, antialiased down in one axis and up in the other
        ((17, 23, 4), (9, 9, 1), "resize"),  # RGBA -> grey
        ((16, 16, 3), (16, 16, 3), "none"),
    ],
)
def test_keras_form_of_every_step_equals_the_pipelines(source, target, fit):
    """Plan.keras_layer (keras.ops, what an export carries) and Plan.apply (TensorFlow, what training and predict run)
    give the same input for every channel conversion and size step, with rescale and mean/std."""
    import keras

    from archspec.spec.training import Data

    x = np.random.default_rng(1).integers(0, 256, (3, *source), dtype=np.uint8)
    images = D.from_arrays(x, np.zeros(3, np.int64), "pixels")
    plan = D.plan(images, target, None, Data(fit=fit, mean=0.2, std=[0.3] * target[2]))
    inp = plan.keras_input()
    carried = keras.Model(inp, plan.keras_layer(inp))
    assert tuple(inp.shape[1:]) == source and inp.dtype == "uint8"
    np.testing.assert_allclose(carried.predict(x, verbose=0), np.asarray(plan.apply(x)), rtol=0, atol=1e-5)
    record = plan.to_json()
    assert D.Plan.from_json(record, "run.json") == plan
    del record["pixels"]  # a run.json written before the pixel type was recorded: 8-bit, from its x1/255
    assert D.Plan.from_json(record, "run.json").pixels == "uint8"
