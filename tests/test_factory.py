"""Zoo classifiers as backbones and the model factory: ``include_top``/``pooling`` (graph/backbone.py) and
``archspec.create_model`` (api.py), against keras.applications' own ``include_top=False`` networks."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest
from test_zoo import ZOO, keras_app

import archspec

ROOT = Path(__file__).resolve().parent.parent

# keras.applications.NAME(weights=None, include_top=False).count_params(), Keras 3 (measured; the three small
# ones are computed again below with Keras itself)
HEADLESS: dict[str, int] = {
    "vgg16": 14_714_688,
    "vgg19": 20_024_384,
    "resnet50": 23_587_712,
    "resnet101": 42_658_176,
    "resnet152": 58_370_944,
    "densenet121": 7_037_504,
    "densenet169": 12_642_880,
    "densenet201": 18_321_984,
    "mobilenet": 3_228_864,
    "mobilenet_v2": 2_257_984,
    "mobilenet_v3_small": 939_120,
    "mobilenet_v3_large": 2_996_352,
    "efficientnet_b0": 4_049_571,
    "efficientnet_v2_b0": 5_919_312,
    "convnext_tiny": 27_820_128,
    "xception": 20_861_480,
    "inception_v3": 21_802_784,
    "inception_resnet_v2": 54_336_736,
    "nasnet_mobile": 4_269_716,
    "resnet50_v2": 23_564_800,
}


def keras_headless(app: str, **kwargs: object) -> int:
    import keras

    model = getattr(keras.applications, app)(weights=None, include_top=False, **kwargs)
    count = model.count_params()
    del model
    keras.backend.clear_session()
    gc.collect()
    return count


def test_every_keras_classifier_has_a_headless_figure() -> None:
    """The table covers every zoo spec keras.applications has, so none escapes the comparison below."""
    assert set(HEADLESS) == {name for name in ZOO if keras_app(name)}


@pytest.mark.parametrize("name", sorted(HEADLESS))
def test_headless_count_is_keras_applications(name: str) -> None:
    """One rule cuts every head where keras.applications' include_top=False does: the same parameter count,
    pure Python."""
    assert archspec.shapes(name, include_top=False).total_params == HEADLESS[name]


@pytest.mark.parametrize(
    "name, app, variables, kwargs",
    [
        ("mobilenet_v2", "MobileNetV2", {"variant": "0.35_96"}, {"alpha": 0.35, "input_shape": (96, 96, 3)}),
        ("efficientnet_b0", "EfficientNetB0", {}, {}),
        ("resnet50", "ResNet50", {}, {}),
    ],
)
def test_headless_count_against_keras_itself(name: str, app: str, variables: dict, kwargs: dict) -> None:
    assert archspec.shapes(name, include_top=False, variables=variables).total_params == keras_headless(app, **kwargs)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_pooling_gives_one_vector(pooling: str) -> None:
    plain = archspec.shapes("resnet50", include_top=False)
    pooled = archspec.shapes("resnet50", include_top=False, pooling=pooling)
    assert plain.layers[-1].output_shape == (7, 7, 2048)
    assert pooled.layers[-1].output_shape == (2048,)
    assert pooled.layers[-1].name == f"{pooling}_pool"
    assert pooled.total_params == plain.total_params
    assert not pooled.warnings  # features, not logits: the logits rule has nothing to say


def test_head_is_cut_before_a_keepdims_pool() -> None:
    """MobileNetV3's head pools with keepdims and convolves after it: the cut is at the first whole-map layer."""
    report = archspec.shapes("mobilenet_v3_small", include_top=False)
    assert report.layers[-1].name == "conv_1_act"
    assert report.layers[-1].output_shape == (7, 7, 576)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"include_top": False, "pooling": "mean"}, "pooling='mean' is not a pooling mode"),
        ({"pooling": "avg"}, "pooling='avg' applies to the network without its classifier head"),
    ],
)
def test_bad_pooling_refused(kwargs: dict, words: str) -> None:
    with pytest.raises(archspec.ArchspecError, match=words):
        archspec.shapes("resnet50", **kwargs)


def test_network_without_a_head_refused() -> None:
    with pytest.raises(archspec.ArchspecError, match="'unet' has no classifier head to leave out"):
        archspec.shapes("unet", include_top=False)


def test_create_model_is_build_with_keras_arguments() -> None:
    model = archspec.create_model("mobilenet_v2", variant="0.35_96", classes=5, input_shape=(64, 64, 3))
    report = archspec.shapes("mobilenet_v2", variant="0.35_96", variables={"classes": 5, "input": [64, 64, 3]})
    assert model.count_params() == report.total_params
    assert tuple(model.output_shape) == (None, 5)
    assert tuple(model.input_shape) == (None, 64, 64, 3)


def test_create_model_backbone() -> None:
    model = archspec.create_model("mobilenet_v2", variant="0.35_96", include_top=False, pooling="max")
    report = archspec.shapes("mobilenet_v2", variant="0.35_96", include_top=False, pooling="max")
    assert model.count_params() == report.total_params
    assert tuple(model.output_shape) == (None, report.layers[-1].output_shape[0])
    assert model.layers[-1].name == "max_pool"


@pytest.mark.parametrize(
    "name, kwargs, words",
    [
        ("mobilenet_v2", {"classes": 0}, "classes=0 is not a number of classes"),
        ("mobilenet_v2", {"classes": 3, "include_top": False}, "classes=3 sizes the classifier head"),
        ("mobilenet_v2", {"input_shape": (96, 96)}, r"input_shape=\(96, 96\) is not an image shape"),
        ("mobilenet_v2", {"variant": "b3"}, "variant='b3': the spec 'mobilenetv2' has no variant 'b3'"),
        ("mobilenet_v2", {"include_top": False, "pooling": "sum"}, "pooling='sum' is not a pooling mode"),
        ("unet_digits", {"include_top": False}, "has no classifier head to leave out"),
    ],
)
def test_create_model_refuses_in_library_words(name: str, kwargs: dict, words: str) -> None:
    with pytest.raises(archspec.ArchspecError, match=words) as caught:
        archspec.create_model(name, **kwargs)
    assert "--" not in str(caught.value)  # a Python caller is not told about command-line options


def test_cli_no_top_pooling() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "shapes", "resnet50", "--no-top", "--pooling", "avg", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    import json

    data = json.loads(run.stdout)
    assert data["total_params"] == HEADLESS["resnet50"]


def test_cli_pooling_without_no_top_refused() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "shapes", "resnet50", "--pooling", "avg"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 2
    assert "--pooling avg applies to the network without its head" in run.stderr
    assert "Traceback" not in run.stderr


def test_backbone_takes_the_classifiers_weights(tmp_path: Path) -> None:
    """The backbone is the classifier's own layers under their names: a trained classifier's weights move over
    whole (only the head is left unused) and give its last feature map, pooled, exactly."""
    import keras
    import numpy as np

    full = archspec.create_model("mobilenet_v2", variant="0.35_96")
    archspec.save_model(full, tmp_path / "full.keras")
    backbone = archspec.create_model(
        "mobilenet_v2",
        variant="0.35_96",
        include_top=False,
        pooling="avg",
        weights=tmp_path / "full.keras",
        freeze=["block_16"],
    )
    assert "unused in the source: predictions" in backbone.transfer.text()
    x = np.random.default_rng(0).random((1, 96, 96, 3), dtype=np.float32)
    expected = keras.Model(full.input, full.get_layer("out_relu").output)(x).numpy().mean(axis=(1, 2))
    np.testing.assert_allclose(backbone(x).numpy(), expected, atol=1e-6)
    assert sum(int(w.numpy().size) for w in backbone.trainable_weights) < backbone.count_params()  # freeze reached it
