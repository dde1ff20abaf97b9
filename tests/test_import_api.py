"""archspec.import_model: import from Python, a Keras model object or a saved file, errors in library words;
and a keras.applications ConvNeXt saved by Keras imports (archspec's own LayerScale no longer stands in for it)."""

from __future__ import annotations

import keras
import pytest
from click.testing import CliRunner

import archspec
from archspec.cli import cli


def small_model(height: int | None = 16, width: int | None = 16) -> keras.Model:
    x = inp = keras.Input((height, width, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(5, activation="softmax", name="out")(x)
    return keras.Model(inp, x, name="small")


def test_a_model_object_gives_its_spec() -> None:
    model = small_model()
    text = archspec.import_model(model)
    assert isinstance(text, str)
    assert "- conv: {filters: 4, kernel: 3, padding: same, activation: relu, name: conv}" in text
    assert archspec.shapes(archspec.loads(text)).total_params == model.count_params() == 137


def test_a_saved_file_gives_the_same_spec_as_the_cli(tmp_path) -> None:
    model = small_model()
    saved = archspec.save_model(model, tmp_path / "small.keras")
    by_path = archspec.import_model(saved)
    assert by_path == archspec.import_model(str(saved))
    assert by_path.startswith("# Imported by `archspec import` from small.keras")
    # one library function behind both doors: the command prints exactly what Python returns
    printed = CliRunner().invoke(cli, ["import", str(saved)])
    assert printed.exit_code == 0, printed.output
    assert printed.output == by_path
    # the layers are the object's (the header alone names the file)
    assert by_path.split("\n", 1)[1] == archspec.import_model(model).split("\n", 1)[1]


def test_a_missing_file_is_refused(tmp_path) -> None:
    with pytest.raises(archspec.ArchspecError, match="no such file") as info:
        archspec.import_model(tmp_path / "absent.keras")
    assert "absent.keras" in str(info.value)


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("notes.txt", b"hello", "not a Keras model file: Keras reads .keras"),
        ("picture.keras", b"\x89PNG\r\n\x1a\n0000", "this file is a PNG image"),
        ("empty.keras", b"", "a .keras file is a zip archive"),
    ],
)
def test_a_file_that_is_no_model_is_refused(tmp_path, name: str, content: bytes, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(archspec.ArchspecError, match=words):
        archspec.import_model(path)


@pytest.mark.parametrize("thing", [42, {"layers": []}, None])
def test_something_else_is_no_model(thing: object) -> None:
    with pytest.raises(archspec.ArchspecError, match=f"{type(thing).__name__} is not a Keras model"):
        archspec.import_model(thing)


def test_input_shape_errors_speak_python() -> None:
    """A Python caller is told about `input_shape`, never about the command's `--input-shape`."""
    model = small_model(None, None)
    with pytest.raises(archspec.ArchspecError) as info:
        archspec.import_model(model)
    assert "input_shape=(224, 224, 3)" in str(info.value) and "--input-shape" not in str(info.value)
    for bad in ("224,224,3", (224, 224), (224.0, 224, 3), (True, 4, 3)):
        with pytest.raises(archspec.ArchspecError, match="is not an image shape") as info:
            archspec.import_model(model, input_shape=bad)
        assert str(info.value).startswith("input_shape") and "--input-shape" not in str(info.value)
    with pytest.raises(archspec.ArchspecError, match=r"\[8, 8, 1\] does not fit") as info:
        archspec.import_model(model, input_shape=(8, 8, 1))
    assert str(info.value).startswith("input_shape")
    text = archspec.import_model(model, input_shape=[24, 32, 3])
    assert "input: [24, 32, 3]" in text


def test_keras_applications_convnext_imports(tmp_path) -> None:
    """Keras reloads its own ConvNeXt; archspec's loader did not, because it handed Keras archspec's LayerScale
    under the bare name `LayerScale`, which keras.applications' LayerScale is saved under too."""
    model = keras.applications.ConvNeXtTiny(weights=None, input_shape=(32, 32, 3))
    want = model.count_params()
    saved = tmp_path / "convnext.keras"
    model.save(saved)
    del model
    keras.backend.clear_session()
    out = tmp_path / "convnext.yaml"
    result = CliRunner().invoke(cli, ["import", str(saved), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "layer_scale: {" in out.read_text()
    assert archspec.shapes(out).total_params == want == 28_589_128
    # archspec's own LayerScale still comes back under its registered name
    own = archspec.build(archspec.loads(out.read_text()))
    again = archspec.load_model(archspec.save_model(own, tmp_path / "own.keras"))
    assert again.count_params() == want
    assert type(again.get_layer("convnext_tiny_stage_0_block_0_layer_scale")).__module__.startswith("archspec")
