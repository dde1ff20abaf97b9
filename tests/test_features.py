"""Feature maps at named points (graph/backbone.py ``features``): timm's features_only, resolved statically from
the graph as the end of each output stride, in shapes, the Keras model and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.graph import graph_of
from archspec.graph.backbone import feature_points

ROOT = Path(__file__).resolve().parent.parent
STRIDES = ["stride4", "stride8", "stride16", "stride32"]


@pytest.mark.parametrize(
    "name, expected",
    [
        # keras.applications' own stage ends (the layer names a U-Net over these backbones taps)
        ("resnet18", ["conv2_block2_out", "conv3_block2_out", "conv4_block2_out", "conv5_block2_out"]),
        ("resnet50", ["conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"]),
        ("vgg16", ["block3_conv3", "block4_conv3", "block5_conv3", "block5_pool"]),
        # a stage end is the one map alive there: Inception's mixed2, not a branch inside the reduction block
        ("inception_v3", ["conv5_relu", "mixed2_concat", "mixed7_concat", "mixed10_concat"]),
        # MobileNetV2 keeps its stride until the depthwise: the expansion is the last map at the old stride
        ("mobilenet_v2", ["block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu", "out_relu"]),
    ],
)
def test_points_are_the_ends_of_the_strides(name: str, expected: list[str]) -> None:
    points = feature_points(graph_of(name))
    assert [points[s] for s in STRIDES] == expected


def test_squeeze_and_excitation_is_no_point() -> None:
    """EfficientNet's squeeze vectors are 1x1 maps but never alone: no `stride224`."""
    assert list(feature_points(graph_of("efficientnet_b0"))) == ["stride2", *STRIDES]


def test_shapes_list_every_feature_output() -> None:
    report = archspec.shapes("resnet18", include_top=False, features=STRIDES, variables={"input": [64, 64, 3]})
    assert report.output_shapes == {
        "stride4": (16, 16, 64),
        "stride8": (8, 8, 128),
        "stride16": (4, 4, 256),
        "stride32": (2, 2, 512),
    }
    headless = archspec.shapes("resnet18", include_top=False, variables={"input": [64, 64, 3]})
    assert report.total_params == headless.total_params  # the taps add outputs, no layers


def test_features_beside_the_head_and_the_pooled_vector() -> None:
    """Extra outputs: the network's own output comes first, then the features; the cut keeps only what they need."""
    full = archspec.shapes("resnet18", features=["stride8"], variables={"input": [64, 64, 3]})
    assert full.output_shapes == {"predictions": (1000,), "stride8": (8, 8, 128)}
    pooled = archspec.shapes("resnet18", include_top=False, pooling="avg", features=["conv2_block2_out"])
    assert pooled.output_shapes == {"avg_pool": (512,), "conv2_block2_out": (56, 56, 64)}
    early = archspec.shapes("resnet18", include_top=False, features=["stride8"], variables={"input": [64, 64, 3]})
    assert early.layers[-1].name == "conv3_block2_out"  # stages 4 and 5 feed nothing asked for: gone


@pytest.mark.parametrize(
    "features, words",
    [
        (["strid8"], "'resnet18' has no point named 'strid8'"),
        (["stride8", "stride8"], "'stride8' is asked for twice"),
        (["predictions"], "has no point named 'predictions'"),  # the head is not a feature map
    ],
)
def test_unknown_point_refused(features: list[str], words: str) -> None:
    with pytest.raises(archspec.ArchspecError, match=words) as caught:
        archspec.shapes("resnet18", include_top=False, features=features)
    if features == ["strid8"]:
        assert "did you mean 'stride8'?" in str(caught.value)
        assert "stride4 (conv2_block2_out)" in str(caught.value)  # the points it has, each with its layer


def test_create_model_features_are_the_classifiers_maps(tmp_path: Path) -> None:
    """The Keras model gives a mapping by point name, equal to the classifier's own layers' outputs."""
    import keras
    import numpy as np

    model = archspec.create_model("resnet18", include_top=False, features=STRIDES, input_shape=(32, 32, 3))
    full = archspec.create_model("resnet18", input_shape=(32, 32, 3))
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    got = model(x)
    assert list(got) == STRIDES
    points = feature_points(graph_of("resnet18", input=[32, 32, 3]))
    taps = keras.Model(full.input, [full.get_layer(points[s]).output for s in STRIDES])(x)
    for name, expected in zip(STRIDES, taps, strict=True):
        np.testing.assert_allclose(got[name].numpy(), expected.numpy(), atol=1e-5)


def test_cli_features() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=ROOT)

    run = cli("shapes", "resnet18", "--no-top", "--features", "stride8,stride16", "--features", "stride32", "--json")
    assert run.returncode == 0, run.stderr
    import json

    outputs = json.loads(run.stdout)["outputs"]
    assert list(outputs) == ["stride8", "stride16", "stride32"]
    bad = cli("shapes", "resnet18", "--no-top", "--features", "stride3")
    assert bad.returncode == 2
    assert "has no point named 'stride3'" in bad.stderr and "did you mean" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_cli_build_with_features_saves_every_output(tmp_path: Path) -> None:
    target = tmp_path / "encoder.keras"
    args = ["build", "resnet18", "--no-top", "--features", "stride4,stride32", "--set", "input=[32,32,3]"]
    run = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args, "--set", "width=0.25", "-o", str(target), "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    import numpy as np

    model = archspec.load_model(target)
    got = model(np.zeros((1, 32, 32, 3), np.float32))
    assert {name: tuple(value.shape) for name, value in got.items()} == {
        "stride4": (1, 8, 8, 16),
        "stride32": (1, 1, 1, 128),
    }
