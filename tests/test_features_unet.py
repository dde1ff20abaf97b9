"""A spec that uses a zoo network as a block (kinds/network.py): tests/specs/unet_resnet18.yaml, a U-Net whose
encoder is the zoo's ResNet-18 with its stage ends as skip connections, takes a trained ResNet-18 classifier's
weights by name, gives the classifier's own feature maps at the taps, and trains on canvases of real MNIST digits
(tests/canvases.py)."""

from __future__ import annotations

from pathlib import Path

import canvases
import numpy as np
import pytest
from conftest import ROOT

import archspec
from archspec.graph import graph_of
from archspec.graph.backbone import feature_points

UNET = ROOT / "tests" / "specs" / "unet_resnet18.yaml"
CLASSIFIER = {"input": [64, 64, 1], "width": 0.25, "classes": 10}
"""The ResNet-18 the U-Net's encoder is: its input and width (the U-Net's variables), any number of classes."""
TAPS = ["stride2", "stride4", "stride8", "stride16", "stride32"]


def test_the_encoder_is_the_classifier_without_its_head() -> None:
    """Static: the encoder's layers are the headless classifier's, under its names, and each tap is read."""
    unet = graph_of(UNET)
    headless = graph_of("resnet18", include_top=False, **{k: v for k, v in CLASSIFIER.items() if k != "classes"})
    encoder = [node.name for node in unet.layers if node.group == 0]
    assert encoder == [node.name for node in headless.layers]
    points = feature_points(headless)
    read = {source for node in unet.layers if node.group != 0 for source in node.inputs}
    assert {points[tap] for tap in TAPS} <= read
    report = archspec.shapes(UNET)
    assert report.output_shape == (64, 64, 11)
    assert report.total_params == archspec.shapes(
        headless.name, include_top=False, variables={"input": [64, 64, 1], "width": 0.25}
    ).total_params + sum(layer.params for layer in report.layers if layer.name not in set(encoder))


@pytest.mark.parametrize(
    "layer, words",
    [
        ("{spec: resnet19}", "network 'resnet19'"),
        ("{spec: resnet18, include_top: false, features: [stride64]}", "has no point named 'stride64'"),
        (
            "{spec: resnet18, features: [stride8]}\n  - conv: {filters: 4, kernel: 1, input: network_1_strid8}",
            r"(?s)no earlier layer named .network_1_strid8.*did you mean .network_1_stride8.",
        ),
    ],
)
def test_a_bad_network_layer_is_said_at_the_layer(layer: str, words: str) -> None:
    text = f"name: bad\ninput: [32, 32, 3]\nlayers:\n  - network: {layer}\n"
    with pytest.raises(archspec.ArchspecError, match=words) as caught:
        archspec.shapes(archspec.loads(text))
    assert "line 4" in str(caught.value) or ":4:" in str(caught.value) or ":5:" in str(caught.value)


def test_a_network_that_uses_itself_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "loop.yaml"
    spec.write_text(f"name: loop\ninput: [32, 32, 3]\nlayers:\n  - network: {{spec: {spec}}}\n")
    with pytest.raises(archspec.ArchspecError, match="uses itself"):
        archspec.shapes(spec)


def test_unet_takes_the_classifiers_weights_and_trains(mnist_dir: Path, tmp_path: Path) -> None:
    """Weight transfer by name from a ResNet-18 classifier: every encoder tensor moves (only the classifier's head
    is left unused, only the decoder is new), the encoder then gives the classifier's feature maps at the taps
    exactly, and training from there on real digits lowers the loss."""
    import keras

    classifier = archspec.build("resnet18", variables=CLASSIFIER)
    archspec.save_model(classifier, tmp_path / "resnet18.keras")
    unet = archspec.build(UNET, weights=tmp_path / "resnet18.keras")
    transfer = unet.transfer
    encoder_tensors = sum(len(layer.weights) for layer in classifier.layers if layer.name != "predictions")
    print(transfer.text())
    assert transfer.tensors_transferred == encoder_tensors
    assert [entry.source for entry in transfer.unused] == ["predictions"]
    assert all(entry.match == "name" for entry in transfer.transferred)
    assert transfer.tensors_transferred < transfer.tensors  # the decoder is new

    train, _ = canvases.write(mnist_dir, tmp_path / "canvases", train=512, test=8)
    x = np.load(train)["input"][:8, :, :, None].astype("float32") / 255.0
    points = feature_points(graph_of("resnet18", **CLASSIFIER))
    taps = [points[tap] for tap in TAPS]
    ours = keras.Model(unet.input, [unet.get_layer(name).output for name in taps])(x)
    theirs = keras.Model(classifier.input, [classifier.get_layer(name).output for name in taps])(x)
    for name, got, expected in zip(taps, ours, theirs, strict=True):
        assert got.shape == expected.shape, name
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5, err_msg=name)

    result = archspec.train(
        UNET,
        train,
        epochs=2,
        run_dir=tmp_path / "run",
        weights=tmp_path / "resnet18.keras",
        verbose=0,
        training={"batch_size": 32},
    )
    assert result.transfer.tensors_transferred == encoder_tensors
    losses = [epoch["loss"] for epoch in result.history]
    print("loss per epoch:", [round(loss, 4) for loss in losses])
    assert losses[-1] < losses[0] * 0.8


def test_a_relative_path_is_read_beside_the_spec(tmp_path: Path) -> None:
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "unit.yaml").write_text((ROOT / "tests" / "specs" / "network_unit.yaml").read_text())
    (tmp_path / "outer.yaml").write_text(
        "name: outer\ninput: [16, 16, 3]\nlayers:\n  - network: {spec: nets/unit.yaml, features: [stride2]}\n"
    )
    report = archspec.shapes(tmp_path / "outer.yaml")
    assert report.output_shape == (8, 8, 3)


def test_freezing_the_encoder_by_its_layer_name() -> None:
    """The network layer is one block: `freeze: [encoder]` leaves only the decoder training."""
    whole = archspec.shapes(UNET)
    frozen = archspec.shapes(UNET, freeze=["encoder"])
    encoder = archspec.shapes("resnet18", include_top=False, variables={"input": [64, 64, 1], "width": 0.25})
    assert frozen.total_params == whole.total_params
    assert frozen.trainable_params == whole.trainable_params - encoder.trainable_params
