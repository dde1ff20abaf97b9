"""Starting from trained weights: the sources, matching by name and by position, the report, freezing.

The keras.applications format is exercised with a legacy HDF5 file written (by Keras' own legacy
writer) from ``keras.applications.ResNet50(weights=None)`` with random weights: the genuine
ImageNet file cannot be downloaded here, and random weights make any mismatch show in the outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

import archspec
from archspec.cli import main
from archspec.errors import SpecError
from archspec.keras_side import weights as W

SPECS = ROOT / "specs"
RESNET50 = str(SPECS / "resnet50.yaml")
RESNET20 = str(SPECS / "resnet20_cifar.yaml")
LENET = str(SPECS / "lenet.yaml")
KERAS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"


def randomise(model, seed: int = 0) -> None:
    """Random weights everywhere, batch-norm statistics included (so its wiring shows in the outputs)."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, w.shape) if i in (0, 3) else rng.normal(0, 0.1, w.shape)
                    for i, w in enumerate(layer.get_weights())
                ]
            )
        elif layer.weights:
            layer.set_weights([rng.normal(0, 0.05, w.shape) for w in layer.get_weights()])


def outputs(model, x, layer: str | None = None):
    import keras

    if layer is not None:
        model = keras.Model(model.input, model.get_layer(layer).output)
    return np.asarray(model(x, training=False))


def save_legacy(model, path: Path) -> Path:
    """The format of keras.applications' ImageNet files (layer_names, weight_names), as Keras writes it."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    """(legacy weights file of a randomised keras.applications.ResNet50, the model, an input batch)."""
    import keras

    keras.utils.set_random_seed(0)
    ref = keras.applications.ResNet50(weights=None)
    randomise(ref)
    path = save_legacy(ref, tmp_path_factory.mktemp("r50") / KERAS_FILE)
    x = np.random.default_rng(1).standard_normal((2, 224, 224, 3)).astype("float32")
    yield path, ref, x
    keras.backend.clear_session()


# ----------------------------------------------------------------------------- keras.applications' format


def test_legacy_resnet50_file_loads_by_name_and_gives_keras_outputs(resnet50_file) -> None:
    path, ref, x = resnet50_file
    model = archspec.build(RESNET50, weights=str(path))
    report = model.transfer
    assert report.format == "legacy-h5" and report.complete
    assert (report.tensors_transferred, report.tensors) == (320, 320)
    assert {e.match for e in report.transferred} == {"name"}
    assert report.text() == f"transferred 320 of 320 weight tensors from {KERAS_FILE} (107 layers by name)\n"
    diff = np.abs(outputs(model, x) - outputs(ref, x)).max()
    assert diff < 1e-6, diff


def test_legacy_resnet50_into_ten_classes_transfers_all_but_the_head(resnet50_file) -> None:
    path, ref, x = resnet50_file
    model = archspec.build(RESNET50, weights=str(path), variables={"classes": 10})
    report = model.transfer
    assert (report.tensors_transferred, report.tensors) == (318, 320)
    assert [e.layer for e in report.shape_differs] == ["predictions"] and not report.new and not report.unused
    differs = report.shape_differs[0]
    assert differs.weights.shapes == ((2048, 10), (10,)) and differs.source_weights.shapes == ((2048, 1000), (1000,))
    diff = np.abs(outputs(model, x, "avg_pool") - outputs(ref, x, "avg_pool")).max()
    assert diff < 1e-6, diff
    assert model.get_layer("predictions").get_weights()[0].shape == (2048, 10)  # the spec's own, fresh head


def test_cli_head_swap_prints_the_report(resnet50_file, tmp_path, capsys) -> None:
    path, _ref, _x = resnet50_file
    out = tmp_path / "r50-5.keras"
    assert (
        main(["build", RESNET50, "--set", "classes=5", "--weights", str(path), "--freeze", "conv4", "-o", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    assert f"transferred 318 of 320 weight tensors from {KERAS_FILE} (106 layers by name)\n" in text
    assert "  shape differs: predictions (kernel 2048x5, bias 5; the source has kernel 2048x1000, bias 1000)\n" in text
    assert "(86 layers frozen)" in text and out.is_file()
    saved = archspec.load_model(out)
    trainable = sum(int(np.prod(w.shape)) for w in saved.trainable_weights)
    assert trainable == archspec.shapes(RESNET50, freeze=["conv4"], variables={"classes": 5}).trainable_params
    # --strict-weights refuses the same swap, and writes nothing
    strict = tmp_path / "strict.keras"
    assert (
        main(["build", RESNET50, "--set", "classes=5", "--weights", str(path), "--strict-weights", "-o", str(strict)])
        == 2
    )
    assert "not everything matched" in capsys.readouterr().err and not strict.exists()


def test_keras_name_uses_the_cache_and_checks_the_file(resnet50_file, tmp_path, monkeypatch, capsys) -> None:
    """keras:ResNet50 from $KERAS_HOME/models. The file here is not Keras' own (random weights, so its hash
    differs): it is refused for that; with the hash check stood in for, it loads like the real file would."""
    path, ref, x = resnet50_file
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    (home / "models" / KERAS_FILE).symlink_to(path)
    monkeypatch.setenv("KERAS_HOME", str(home))
    with pytest.raises(SpecError, match="its hash differs"):
        archspec.build(RESNET50, weights="keras:ResNet50")
    monkeypatch.setattr(W, "_hash_ok", lambda path, file_hash: True)
    model = archspec.build(RESNET50, weights="keras:resnet50")  # the constructor's name, any case
    assert model.transfer.source == f"keras:ResNet50 ({KERAS_FILE})" and model.transfer.complete
    assert np.abs(outputs(model, x) - outputs(ref, x)).max() < 1e-6


def test_keras_name_offline_without_the_file_says_what_to_place_where(tmp_path, monkeypatch, capsys) -> None:
    def offline(wanted, cache):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(W, "download", offline)
    out = tmp_path / "r50.keras"
    assert main(["build", RESNET50, "--weights", "keras:ResNet50", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"keras:ResNet50 needs {KERAS_FILE} in {tmp_path / 'home' / 'models'}" in err
    assert f"download https://storage.googleapis.com/tensorflow/keras-applications/resnet/{KERAS_FILE}" in err
    assert not out.exists() and "Traceback" not in err
    assert main(["build", RESNET50, "--weights", "keras:ResNet5O", "-o", str(out)]) == 2
    assert "did you mean keras:ResNet50?" in capsys.readouterr().err


# ----------------------------------------------------------------------------- Keras 3 files, run folders


def test_keras_file_weights_file_and_run_folder(tmp_path) -> None:
    import keras

    keras.utils.set_random_seed(3)
    source = archspec.build(RESNET20)
    randomise(source, 3)
    x = np.random.default_rng(2).standard_normal((2, 32, 32, 3)).astype("float32")
    expected = outputs(source, x)
    archspec.save_model(source, tmp_path / "r20.keras")
    source.save_weights(tmp_path / "r20.weights.h5")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    archspec.save_model(source, run / "checkpoints" / "best.keras")  # an unfinished run: its best checkpoint
    for given, fmt in ((tmp_path / "r20.keras", "keras"), (tmp_path / "r20.weights.h5", "weights.h5"), (run, "keras")):
        model = archspec.build(RESNET20, weights=str(given))
        assert model.transfer.format == fmt and model.transfer.complete, given
        assert {e.match for e in model.transfer.transferred} == {"name"}
        assert np.abs(outputs(model, x) - expected).max() < 1e-6, given


# ----------------------------------------------------------------------------- position matching


RENAMES = {"conv1": "stem", "conv2": "sa", "conv3": "sb", "conv4": "sc", "avg_pool": "gap", "predictions": "head"}


def renamed_resnet20(tmp_path: Path) -> str:
    text = Path(RESNET20).read_text()
    for old, new in RENAMES.items():
        text = text.replace(f"name: {old}}}", f"name: {new}}}")
    path = tmp_path / "renamed.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("fmt", ["keras", "weights.h5", "legacy-h5"])
def test_renamed_copy_receives_weights_by_position(fmt, tmp_path) -> None:
    import keras

    keras.utils.set_random_seed(4)
    source = archspec.build(RESNET20)
    randomise(source, 4)
    file = {
        "keras": tmp_path / "src.keras",
        "weights.h5": tmp_path / "src.weights.h5",
        "legacy-h5": tmp_path / "src.h5",
    }[fmt]
    if fmt == "keras":
        archspec.save_model(source, file)
    elif fmt == "weights.h5":
        source.save_weights(file)  # Keras' generic keys, alphabetical: only the order within a kind is known
    else:
        save_legacy(source, file)
    renamed = renamed_resnet20(tmp_path)
    model = archspec.build(renamed, weights=str(file))
    names = {layer.name for layer in model.layers}
    assert "stem_conv" in names and "conv1_conv" not in names
    report = model.transfer
    assert report.complete and {e.match for e in report.transferred} == {"position"}
    pairs = {(e.layer, e.source) for e in report.transferred}
    assert {("stem_conv", "conv1_conv"), ("sb_block1_0_conv", "conv3_block1_0_conv"), ("head", "predictions")} <= pairs
    assert all(
        e.layer.split("_", 1)[-1] == e.source.split("_", 1)[-1]
        for e in report.transferred
        if e.source.startswith("conv")
    )
    x = np.random.default_rng(5).standard_normal((2, 32, 32, 3)).astype("float32")
    assert np.abs(outputs(model, x) - outputs(source, x)).max() < 1e-6


def test_position_matching_skips_an_inserted_layer(tmp_path) -> None:
    """A layer added in the middle: refused by default (not the same network); with weights_by_shape it is
    reported new and the layers after it still find theirs."""
    import keras

    keras.utils.set_random_seed(5)
    source = archspec.build(LENET)
    randomise(source, 5)
    archspec.save_model(source, tmp_path / "lenet.keras")
    spec = {
        "name": "lenet_wider",
        "input": [32, 32, 1],
        "layers": [
            {"conv": {"depth": 6, "kernel": 5, "activation": "relu", "name": "c1"}},
            {"pool": {"kind": "max", "size": 2, "name": "p1"}},
            {"conv": {"depth": 16, "kernel": 5, "activation": "relu", "name": "c2"}},
            {"pool": {"kind": "max", "size": 2, "name": "p2"}},
            "flatten",
            {"dense": {"units": 120, "activation": "relu", "name": "f1"}},
            {"dense": {"units": 120, "activation": "relu", "name": "extra"}},
            {"dense": {"units": 100, "activation": "relu", "name": "f2"}},
            {"dense": {"units": 10, "activation": "softmax", "name": "out"}},
        ],
    }
    with pytest.raises(SpecError, match=r"lenet_wider has extra .* where the source has dense_2"):
        archspec.build(spec, weights=str(tmp_path / "lenet.keras"))  # another network: a guess only when asked for
    model = archspec.build(spec, weights=str(tmp_path / "lenet.keras"), weights_by_shape=True)
    report = model.transfer
    assert [(e.layer, e.source, e.match) for e in report.transferred] == [
        ("c1", "conv_1", "shape"),
        ("c2", "conv_2", "shape"),
        ("f1", "dense_1", "shape"),
        ("f2", "dense_2", "shape"),
        ("out", "dense_3", "shape"),
    ]
    assert [e.layer for e in report.new] == ["extra"] and not report.unused and not report.shape_differs
    assert "  new: extra (kernel 120x120, bias 120)" in report.text()
    for ours, theirs in (("c2", "conv_2"), ("out", "dense_3")):
        for a, b in zip(model.get_layer(ours).get_weights(), source.get_layer(theirs).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    data = report.to_json()
    assert (
        data["tensors"] == 12
        and data["tensors_transferred"] == 10
        and data["new"][0]["weights"][0] == {"name": "kernel", "shape": [120, 120]}
    )
    json.dumps(data)


# ----------------------------------------------------------------------------- bad input: exit 2, nothing written


@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lenet") / "lenet.keras"
    archspec.save_model(archspec.build(LENET), path)
    return path


def _refused(args: list[str], out: Path, capsys, *needles: str) -> None:
    assert main([*args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert not out.exists(), "nothing may be written"
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def test_weights_of_another_network_are_refused(lenet_file, tmp_path, capsys) -> None:
    _refused(
        ["build", RESNET20, "--weights", str(lenet_file)],
        tmp_path / "x.keras",
        capsys,
        "no weight tensor of lenet.keras fits resnet20_cifar",
        "another network",
    )


def test_truncated_and_foreign_files_are_refused(lenet_file, resnet50_file, tmp_path, capsys) -> None:
    h5, _ref, _x = resnet50_file
    cut_h5 = tmp_path / "cut.h5"
    cut_h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    _refused(["build", RESNET50, "--weights", str(cut_h5)], tmp_path / "a.keras", capsys, "cut.h5", "truncated")
    cut_keras = tmp_path / "cut.keras"
    cut_keras.write_bytes(lenet_file.read_bytes()[:-4000])
    _refused(["build", LENET, "--weights", str(cut_keras)], tmp_path / "b.keras", capsys, "cut.keras")
    text = tmp_path / "notes.h5"
    text.write_text("not weights at all\n")
    _refused(["build", LENET, "--weights", str(text)], tmp_path / "c.keras", capsys, "notes.h5 is not a weights file")
    _refused(
        ["build", LENET, "--weights", str(tmp_path / "missing.h5")],
        tmp_path / "d.keras",
        capsys,
        "no such weights file",
    )
    empty_run = tmp_path / "run"
    empty_run.mkdir()
    _refused(["build", LENET, "--weights", str(empty_run)], tmp_path / "e.keras", capsys, "holds no model")


def test_a_bad_source_is_refused_before_keras_builds_the_network(resnet50_file, tmp_path, monkeypatch) -> None:
    """Missing, misnamed, truncated or foreign: said before the build, not after the seconds a large network takes."""
    from archspec.keras_side import emitter

    built: list[object] = []
    monkeypatch.setattr(emitter, "to_keras", built.append)
    h5, _ref, _x = resnet50_file
    cut = tmp_path / "cut.h5"
    cut.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    notes = tmp_path / "notes.h5"
    notes.write_text("not weights at all\n")
    monkeypatch.setattr(W, "download", lambda wanted, cache: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    for source in [tmp_path / "missing.h5", cut, notes, "keras:ResNet5O", "keras:ResNet50"]:
        with pytest.raises(SpecError):
            archspec.build(RESNET50, weights=str(source))
    assert built == []


def test_unknown_freeze_name_is_refused(tmp_path, capsys) -> None:
    _refused(
        ["build", RESNET50, "--freeze", "conv9"],
        tmp_path / "f.keras",
        capsys,
        "--freeze: cannot freeze 'conv9': resnet50 has no node or block of that name",
        "did you mean 'conv5'?",
    )
    spec = tmp_path / "frozen.yaml"
    spec.write_text(Path(LENET).read_text() + "training:\n  freeze: [dense_9]\n")
    _refused(
        ["build", str(spec)], tmp_path / "g.keras", capsys, f"{spec}:", "training.freeze[0]", "did you mean 'dense_3'?"
    )


# ----------------------------------------------------------------------------- freezing


FROZEN_SPEC = """
name: small_resnet
input: [32, 32, 3]
layers:
  - conv: {filters: 8, kernel: 3, bn: true, activation: relu, name: stem}
  - stage: {block: bottleneck, repeat: 2, filters: 8, name: s1}
  - stage: {block: bottleneck, repeat: 2, filters: 16, first: {stride: 2}, name: s2}
  - pool: {kind: avg, global: true}
  - dense: {units: 5, activation: softmax, name: head}
training:
  freeze: s1
  freeze_bn: true
"""


def test_static_trainable_counts_match_keras_when_frozen() -> None:
    report = archspec.shapes(archspec.loads(FROZEN_SPEC))
    model = archspec.build(archspec.loads(FROZEN_SPEC))
    assert report.trainable_params == sum(int(np.prod(w.shape)) for w in model.trainable_weights) < report.total_params
    frozen = {layer.name for layer in model.layers if layer.weights and not layer.trainable}
    assert frozen == set(report.frozen)
    assert "s1_block2_3_conv" in frozen and "s2_block1_1_conv" not in frozen and "s2_block1_1_bn" in frozen  # freeze_bn
    from archspec.tools.table import layer_table

    table = layer_table(report)
    assert "frozen" in table.splitlines()[1] and f"({len(frozen)} layers frozen)" in table
    s1_row = next(line for line in table.splitlines() if line.startswith("s1 "))
    s2_row = next(line for line in table.splitlines() if line.startswith("s2 "))
    assert s1_row.endswith("yes") and s2_row.endswith("7/14")
    # a frozen batch norm runs in inference mode, even in a training step
    bn = model.get_layer("s2_block1_1_bn")
    x = np.random.default_rng(0).standard_normal((4, 8, 8, bn.gamma.shape[0])).astype("float32") * 3 + 1
    np.testing.assert_allclose(
        np.asarray(bn(x, training=True)), np.asarray(bn(x, training=False)), rtol=1e-6, atol=1e-6
    )
    # options replace the spec's section
    assert archspec.shapes(archspec.loads(FROZEN_SPEC), freeze=[], freeze_bn=False).frozen == []
    assert set(archspec.shapes(archspec.loads(FROZEN_SPEC), freeze=["stem"]).frozen) == {"stem_conv", "stem_bn"} | {
        layer.name for layer in report.layers if layer.type == "batchnorm"
    }


def test_freezing_a_node_freezes_what_feeds_it_not_a_parallel_branch() -> None:
    report = archspec.shapes(RESNET50, freeze=["conv2_block1_2_conv"])
    frozen = set(report.frozen)
    assert {"conv1_conv", "conv1_bn", "conv2_block1_1_conv", "conv2_block1_1_bn", "conv2_block1_2_conv"} == frozen
    scope = archspec.shapes(RESNET50, freeze=["conv4_block2"]).frozen  # a scope: every node named conv4_block2_*
    assert scope[-1] == "conv4_block2_3_bn" and "conv4_block1_0_conv" in scope and "conv4_block3_1_conv" not in scope
    with pytest.raises(SpecError, match="did you mean 'conv_2'"):
        archspec.shapes(LENET, freeze=["conv"])  # conv_1, conv_2 are automatic names, not a scope `conv`
    assert archspec.shapes(RESNET50, freeze=["conv4"]).trainable_params == sum(
        layer.trainable_params
        for layer in archspec.shapes(RESNET50).layers
        if layer.name.startswith(("conv5", "predictions"))
    )


def test_phases_set_the_epochs() -> None:
    spec = Path(LENET).read_text() + (
        "training:\n  phases:\n    - {epochs: 2, learning_rate: 0.01, freeze: dense_2}\n    - "
        "{epochs: 3, learning_rate: 0.001, freeze: []}\n"
    )
    training = archspec.loads(spec).training
    assert training.epochs == 5
    first, second = training.phase_recipes()
    assert (first.epochs, first.learning_rate, first.freeze) == (2, 0.01, ["dense_2"])
    assert (second.epochs, second.learning_rate, second.freeze) == (3, 0.001, [])
    assert archspec.shapes(archspec.loads(spec)).frozen == [
        "conv_1",
        "conv_2",
        "dense_1",
        "dense_2",
    ]  # as the first phase starts
    with pytest.raises(SpecError, match="the phases add up to 5"):
        archspec.loads(spec.replace("training:\n", "training:\n  epochs: 4\n"))


def test_export_and_inspect_a_spec_with_weights(tmp_path, capsys) -> None:
    """A pretrained network exported or inspected straight from its spec, without training it."""
    import keras

    from archspec.keras_side.export import run_exported

    keras.utils.set_random_seed(6)
    source = archspec.build(LENET)
    randomise(source, 6)
    archspec.save_model(source, tmp_path / "lenet.keras")
    x = np.random.default_rng(6).uniform(0, 1, (2, 32, 32, 1)).astype("float32")
    exported = tmp_path / "lenet_savedmodel"
    assert (
        main(
            ["export", LENET, "--weights", str(tmp_path / "lenet.keras"), "--format", "savedmodel", "-o", str(exported)]
        )
        == 0
    )
    assert "transferred 10 of 10 weight tensors from lenet.keras (5 layers by name)" in capsys.readouterr().out
    np.testing.assert_allclose(run_exported(exported, x), outputs(source, x), rtol=1e-5, atol=1e-6)
    np.save(tmp_path / "digit.npy", x[0])
    page = tmp_path / "inspect.html"
    assert (
        main(
            [
                "inspect",
                LENET,
                "--weights",
                str(tmp_path / "lenet.keras"),
                "--input",
                str(tmp_path / "digit.npy"),
                "--rescale",
                "1",
                "-o",
                str(page),
            ]
        )
        == 0
    )
    assert "transferred 10 of 10" in capsys.readouterr().out and 'data-layer="conv_2"' in page.read_text()
