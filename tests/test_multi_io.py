"""Several named inputs and outputs, through every command: shapes, render, diff, draw, build, check, export,
import; the U-Net zoo spec against a U-Net written directly in Keras; heads other than one classification,
trained briefly on small synthetic data (the real-data figures are in test_two_heads.py and test_segmentation.py).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ROOT

import archspec
from archspec.cli import cli, main
from archspec.keras_side.export import export, run_exported
from archspec.keras_side.importer import import_model
from archspec.tools.resolve import resolved_yaml
from archspec.tools.zoo import reference_of

DECODER = ROOT / "tests" / "specs" / "decoder.yaml"
TWO_HEADS = ROOT / "specs" / "lenet_two_heads.yaml"
UNET = ROOT / "specs" / "unet.yaml"


def batch(report, n: int = 2, seed: int = 0):
    """Random inputs for a network: an array, or a mapping by input name when it has several."""
    rng = np.random.default_rng(seed)
    xs = {k: rng.normal(size=(n, *s)).astype("float32") for k, s in report.inputs.items()}
    return xs if len(xs) > 1 else next(iter(xs.values()))


# ----------------------------------------------------------------------------- the static side


def test_shapes_name_every_input_and_output(capsys):
    report = archspec.shapes(DECODER)
    assert report.inputs == {"image": (24, 24, 3), "meta": (5,)}
    assert report.outputs == {"mask": "mask", "score": "score", "wide": "resized"}
    assert report.output_shapes == {"mask": (24, 24, 2), "score": (3,), "wide": (30, 40, 16)}
    assert main(["shapes", str(DECODER)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("decoder: inputs image 24x24x3, meta 5\n")
    assert "outputs mask 24x24x2, score 3, wide 30x40x16 (resized)" in text
    assert main(["shapes", str(DECODER), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"] == {"image": [24, 24, 3], "meta": [5]}
    assert data["outputs"]["wide"] == {"layer": "resized", "shape": [30, 40, 16]}


def test_one_input_and_output_read_as_before():
    report = archspec.shapes(ROOT / "specs" / "lenet.yaml")
    assert report.inputs == {"input": (32, 32, 1)} and report.outputs == {"dense_3": "dense_3"} and not report.several


def test_render_keeps_the_names():
    text = resolved_yaml(archspec.load(DECODER))
    again = archspec.shapes(archspec.loads(text))
    assert again.inputs == archspec.shapes(DECODER).inputs and again.outputs == archspec.shapes(DECODER).outputs


def test_diff_compares_networks_with_several_outputs():
    result = CliRunner().invoke(cli, ["diff", str(DECODER), "--set", "inputs.meta=[7]", "--json"])
    assert result.exit_code == 0, result.output
    changed = [row["name"] for row in json.loads(result.output)["blocks"] if row["changed"]]
    assert changed == ["meta_fc"]


def test_every_input_and_output_is_drawn(tmp_path):
    out = tmp_path / "d.svg"
    assert main(["draw", str(DECODER), "-o", str(out)]) == 0
    svg = out.read_text()
    for name in ("image", "meta"):
        assert f">{name}<" in svg
    for name in ("mask", "score", "wide"):
        assert f"→ output {name}<" in svg


def test_unused_branch_is_judged_against_every_output():
    spec = {
        "name": "t",
        "inputs": {"a": [8, 8, 1]},
        "outputs": {"y": "head"},
        "layers": [
            {"conv": {"filters": 2, "kernel": 3, "name": "dead"}},
            {"pool": {"kind": "avg", "global": True, "input": "a"}},
            {"dense": {"units": 2, "name": "head"}},
        ],
    }
    with pytest.raises(archspec.SpecError, match="layer 'dead' is never used by any output") as caught:
        archspec.shapes(spec)
    assert "name it in `outputs`" in caught.value.hint
    spec["outputs"]["features"] = "dead"
    assert archspec.shapes(spec).output_shapes == {"y": (2,), "features": (6, 6, 2)}


# ----------------------------------------------------------------------------- Keras


def test_keras_model_takes_and_gives_mappings_by_name():
    report, model = archspec.shapes(DECODER), archspec.build(DECODER)
    assert sorted(model.input) == ["image", "meta"] and sorted(model.output) == ["mask", "score", "wide"]
    out = model(batch(report), training=False)
    assert {k: tuple(v.shape[1:]) for k, v in out.items()} == report.output_shapes
    archspec.check(DECODER)


def test_import_gives_back_the_names(tmp_path):
    model = archspec.build(DECODER)
    text = import_model(model)
    report, again = archspec.shapes(DECODER), archspec.shapes(archspec.loads(text))
    assert again.inputs == report.inputs and again.output_shapes == report.output_shapes
    assert {layer.name: layer.output_shape for layer in again.layers} == {
        layer.name: layer.output_shape for layer in report.layers
    }
    path = archspec.save_model(model, tmp_path / "decoder.keras")
    assert main(["import", str(path), "-o", str(tmp_path / "back.yaml")]) == 0
    assert archspec.shapes(tmp_path / "back.yaml").outputs == report.outputs


def need(*modules: str) -> None:
    import importlib

    for name in modules:
        if os.environ.get("CI") == "true":
            importlib.import_module(name)
        else:
            pytest.importorskip(name)


@pytest.mark.parametrize(
    "spec, overrides",
    [(TWO_HEADS, {}), (UNET, {"levels": 2, "base": 4, "input": [32, 32, 1]})],
    ids=["two_heads", "unet"],
)
def test_export_keeps_every_output_and_its_name(spec, overrides, tmp_path):
    """SavedModel, ONNX and TFLite give Keras' outputs on every output, under its name."""
    need("tf2onnx", "onnxruntime")
    model = archspec.build(spec, variables=overrides)
    report = archspec.shapes(spec, variables=overrides)
    x = batch(report, n=3, seed=1)
    expected = model(x, training=False)
    expected = expected if isinstance(expected, dict) else {"": expected}
    path = archspec.save_model(model, tmp_path / "m.keras")
    for fmt, name in (("savedmodel", "sm"), ("onnx", "m.onnx"), ("tflite", "m.tflite")):
        out = export(path, tmp_path / name, fmt)
        got = run_exported(out, x)
        got = got if isinstance(got, dict) else {"": got}
        assert sorted(got) == sorted(expected), fmt
        for key, value in expected.items():
            np.testing.assert_allclose(got[key], np.asarray(value), rtol=1e-4, atol=1e-5, err_msg=f"{fmt} {key}")


# ----------------------------------------------------------------------------- the U-Net


def keras_unet(levels: int, base: int, shape: tuple[int, int, int], classes: int):
    """Ronneberger et al.'s U-Net written directly with keras.layers (same padding), as an independent reference."""
    import keras

    conv = lambda f: keras.layers.Conv2D(f, 3, padding="same", activation="relu")
    x = inputs = keras.Input(shape)
    skips = []
    for level in range(levels):
        x = conv(base * 2**level)(conv(base * 2**level)(x))
        skips.append(x)
        x = keras.layers.MaxPooling2D()(x)
    x = conv(base * 2**levels)(conv(base * 2**levels)(x))
    for level in reversed(range(levels)):
        x = keras.layers.Conv2DTranspose(base * 2**level, 2, strides=2)(x)
        x = keras.layers.Concatenate()([x, skips[level]])
        x = conv(base * 2**level)(conv(base * 2**level)(x))
    return keras.Model(inputs, keras.layers.Conv2D(classes, 1, activation="softmax")(x))


@pytest.mark.parametrize("levels, base", [(4, 64), (1, 8), (3, 16), (5, 4)])
def test_unet_equals_a_unet_written_in_keras(levels, base):
    shape = (256, 256, 1) if levels == 4 else (64, 64, 3)
    overrides = {"levels": levels, "base": base} if levels != 4 else {}
    if levels != 4:
        overrides["input"] = list(shape)
    report = archspec.shapes(UNET, variables=overrides)
    reference = keras_unet(levels, base, shape, 2)
    assert report.total_params == reference.count_params()
    ours = [layer.output_shape for layer in report.layers if layer.type in ("conv", "conv_transpose", "concat", "pool")]
    theirs = [tuple(layer.output.shape[1:]) for layer in reference.layers[1:]]
    assert ours == theirs
    if levels == 4:  # the spec as written: its reference states this count
        assert report.total_params == reference_of("unet").params


def test_unet_input_that_does_not_halve_names_both_sides_of_the_concatenation():
    with pytest.raises(archspec.SpecError) as caught:
        archspec.shapes(UNET, variables={"input": [100, 100, 1]})
    message = str(caught.value)
    assert "layer 'cat3': concat needs inputs with the same spatial size; got up3 24x24x256, enc3 25x25x256" in message
    assert "2^levels" in caught.value.hint


# ----------------------------------------------------------------------------- heads


SMALL = {
    "name": "small",
    "inputs": {"image": [12, 12, 1], "meta": [3]},
    "outputs": {"tags": "tags", "size": "size", "seg": "seg"},
    "layers": [
        {"conv": {"filters": 4, "kernel": 3, "padding": "same", "activation": "relu", "name": "features"}},
        {"conv": {"filters": 1, "kernel": 1, "name": "seg"}},
        {"pool": {"kind": "avg", "global": True, "input": "features", "name": "gap"}},
        {"concat": {"inputs": ["gap", "meta"], "name": "joined"}},
        {"dense": {"units": 3, "activation": "sigmoid", "name": "tags"}},
        {"dense": {"units": 2, "input": "joined", "name": "size"}},
    ],
    "training": {
        "heads": {
            "tags": "multilabel",
            "size": {"task": "regression", "loss": "mae", "weight": 2},
            "seg": {"task": "segmentation", "loss": "dice", "threshold": 0.4},
        },
        "epochs": 2,
        "batch_size": 16,
        "seed": 3,
    },
}


def small_data(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (n, 12, 12)).astype(np.uint8)
    meta = rng.normal(size=(n, 3)).astype(np.float32)
    return {
        "image": image,
        "meta": meta,
        "tags": (rng.random((n, 3)) > 0.5).astype(np.int64),
        "size": np.stack([image.mean(axis=(1, 2)), 100 + 10 * meta[:, 0]], axis=1),
        "seg": (image > 128).astype(np.uint8),
    }


def test_multilabel_regression_and_binary_segmentation_train_evaluate_and_predict(tmp_path, capsys):
    spec = tmp_path / "small.yaml"
    spec.write_text(json.dumps(SMALL))
    np.savez(tmp_path / "train.npz", **small_data(64, 0))
    np.savez(tmp_path / "test.npz", **small_data(20, 1))
    result = archspec.train(
        str(spec), data=str(tmp_path / "train.npz"), val=str(tmp_path / "test.npz"), run_dir=tmp_path / "run", verbose=0
    )
    assert {"tags_accuracy", "size_mae", "seg_mean_iou", "seg_pixel_accuracy", "val_size_loss"} <= set(
        result.history[-1]
    )
    network = json.loads((tmp_path / "run" / "run.json").read_text())["network"]
    assert network["outputs"]["size"]["scale"]["mean"][1] == pytest.approx(
        float(small_data(64, 0)["size"][:, 1].mean()), rel=1e-4
    )
    assert network["outputs"]["tags"]["logits"] is False and network["outputs"]["seg"]["logits"] is True
    evaluation = archspec.evaluate(tmp_path / "run", str(tmp_path / "test.npz"))
    assert set(evaluation.outputs) == {"tags", "size", "seg"} and evaluation.count == 20
    assert len(evaluation.outputs["tags"].figures["precision"]) == 3
    assert len(evaluation.outputs["seg"].figures["per_class_iou"]) == 2
    assert 0 <= evaluation.outputs["size"].figures["mae"] < 200  # in the targets' units, not standardised
    assert main(["evaluate", str(tmp_path / "run"), "--data", str(tmp_path / "test.npz")]) == 0
    text = capsys.readouterr().out
    assert (
        "tags (multilabel): accuracy" in text
        and "size (regression): mae" in text
        and "seg (segmentation): mean_iou" in text
    )
    np.savez(tmp_path / "ask.npz", **{k: v[:2] for k, v in small_data(2, 5).items() if k in ("image", "meta")})
    answers = archspec.predict(tmp_path / "run", [tmp_path / "ask.npz"], masks=tmp_path / "masks")
    assert [a.source for a in answers] == [f"{tmp_path / 'ask.npz'}[0]", f"{tmp_path / 'ask.npz'}[1]"]
    assert len(answers[0].outputs["size"]["values"]) == 2 and set(answers[0].outputs["tags"]) == {
        "task",
        "on",
        "probabilities",
    }
    assert (tmp_path / "masks" / "ask_0_seg.png").is_file() and answers[0].masks["seg"].shape == (12, 12)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"heads": {"tagz": "multilabel"}}, "training.heads names 'tagz', which is not an output of small"),
        ({"heads": {"size": "segmentation"}}, "output 'size' (size) is 2; a segmentation output is a map"),
        (
            {"heads": {"tags": "classification"}},
            "output 'tags' (tags) ends in sigmoid; a classification output needs softmax",
        ),
    ],
)
def test_heads_that_do_not_fit_are_refused_before_training(tmp_path, change, message):
    spec = {**SMALL, "training": {**SMALL["training"], "heads": {**SMALL["training"]["heads"], **change["heads"]}}}
    np.savez(tmp_path / "train.npz", **small_data(16, 0))
    with pytest.raises(archspec.SpecError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        archspec.train(spec, data=str(tmp_path / "train.npz"), run_dir=tmp_path / "run", verbose=0)
    if "tagz" in message:
        assert caught.value.hint.startswith("did you mean 'tags'?")
    assert not (tmp_path / "run").exists()


def test_a_missing_array_is_named(tmp_path):
    data = small_data(16, 0)
    data["metta"] = data.pop("meta")
    np.savez(tmp_path / "train.npz", **data)
    with pytest.raises(archspec.SpecError, match="no array named 'meta' for the network's input 'meta'") as caught:
        archspec.train(SMALL, data=str(tmp_path / "train.npz"), run_dir=tmp_path / "run", verbose=0)
    assert "did you mean 'metta'?" in caught.value.hint


def test_images_with_a_parallel_mask_folder(tmp_path):
    """DIR/images/NAME.png and DIR/masks/NAME.png: a segmentation data set of files."""
    import canvases
    import tensorflow as tf

    rng = np.random.default_rng(0)
    digits = rng.integers(0, 256, (30, 28, 28)).astype(np.uint8)
    pictures, masks = canvases.canvases(digits, rng.integers(0, 10, 30), 12, seed=4)
    for sub in ("images", "masks"):
        (tmp_path / "set" / sub).mkdir(parents=True)
    for i, (p, m) in enumerate(zip(pictures, masks, strict=True)):
        tf.io.write_file(str(tmp_path / "set" / "images" / f"c{i}.png"), tf.io.encode_png(p[..., None]))
        tf.io.write_file(str(tmp_path / "set" / "masks" / f"c{i}.png"), tf.io.encode_png(m[..., None]))
    spec = ROOT / "specs" / "unet_digits.yaml"
    result = archspec.train(
        spec, data=str(tmp_path / "set"), run_dir=tmp_path / "run", epochs=1, verbose=0, training={"batch_size": 6}
    )
    assert result.metrics["train_examples"] == 12
    evaluation = archspec.evaluate(tmp_path / "run", str(tmp_path / "set"))
    assert evaluation.count == 12 and 0 <= evaluation.outputs["classes"].figures["mean_iou"] <= 1
    (tmp_path / "set" / "masks" / "c3.png").unlink()
    with pytest.raises(archspec.SpecError, match="1 image\\(s\\) have no mask of the same name"):
        archspec.evaluate(tmp_path / "run", str(tmp_path / "set"))
