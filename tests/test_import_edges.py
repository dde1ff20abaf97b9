"""`archspec import` at the edges: every output kept or the model refused, vector inputs, identity models,
sizes a spec cannot hold; errors name the model file or the option, never the generated text.

Before: a model giving one layer's output twice imported with one output dropped (exit 0); a vector input was
written `input: [8]` and refused at `<string>:3:8`; an identity model failed at `<string>:4:8: layers:
expected a list`; an oversized input was blamed on `<string>:3:9`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import archspec
from archspec.cli import main


def _keras():
    import keras

    return keras


def _save(model, folder: Path) -> Path:
    path = folder / f"{model.name}.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    keras = _keras()
    folder = tmp_path_factory.mktemp("edges")
    out: dict[str, Path] = {}

    def image():
        return keras.Input((8, 8, 1), name="img")

    i = image()
    d = keras.layers.Dense(3, name="d")(keras.layers.Flatten(name="f")(i))
    out["twice_list"] = _save(keras.Model(i, [d, d], name="twice_list"), folder)
    out["twice_dict"] = _save(keras.Model(i, {"a": d, "b": d}, name="twice_dict"), folder)
    v = keras.Input((8,), name="vec")
    out["vector"] = _save(keras.Model(v, keras.layers.Dense(3, name="d")(v), name="vector"), folder)
    a, b = keras.Input((8,), name="meta"), image()
    merged = keras.layers.Concatenate(name="cat")(
        [keras.layers.Flatten(name="f")(b), keras.layers.Dense(4, name="m")(a)]
    )
    out["vector_and_image"] = _save(
        keras.Model([b, a], keras.layers.Dense(2, name="out")(merged), name="vector_and_image"), folder
    )
    j = image()
    out["identity"] = _save(keras.Model(j, j, name="identity"), folder)
    j = image()
    out["passes_input_through"] = _save(
        keras.Model(j, [j, keras.layers.Flatten(name="f")(j)], name="passes_input_through"), folder
    )
    h = keras.Input((70_000, 70_000, 3), name="big")
    out["huge"] = _save(keras.Model(h, keras.layers.Conv2D(4, 3, name="c")(h), name="huge"), folder)
    o = keras.Input((None, None, 3), name="open")
    out["open"] = _save(keras.Model(o, keras.layers.Conv2D(4, 3, name="c")(o), name="open"), folder)
    s = image()
    out["long_stride"] = _save(
        keras.Model(s, keras.layers.Conv2D(2, 1, strides=70_000, name="c")(s), name="long_stride"), folder
    )
    return out


def _refused(args: list[str], capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "<string>" not in err, err
    assert len([line for line in err.splitlines() if line and not line.startswith(" ")]) == 1, err
    return err


@pytest.mark.parametrize(
    "name, where", [("twice_list", "output 1 and output 2"), ("twice_dict", "output 'a' and output 'b'")]
)
def test_two_outputs_of_one_layer_are_refused_not_dropped(models, name, where, capsys) -> None:
    err = _refused(["import", str(models[name])], capsys)
    assert err.startswith(f"{models[name]}: {where} of model '{name}' are both layer 'd'"), err
    assert "leaving one out would drop an output" in err


def test_a_vector_input_is_written_as_a_named_input(models, tmp_path, capsys) -> None:
    out = tmp_path / "vector.yaml"
    assert main(["import", str(models["vector"]), "-o", str(out)]) == 0
    spec = yaml.safe_load(out.read_text())
    assert spec["inputs"] == {"vec": [8]} and "input" not in spec
    assert main(["validate", str(out)]) == 0
    model = archspec.build(str(out))
    assert tuple(model.input_shape if not isinstance(model.input_shape, list) else model.input_shape[0]) == (None, 8)


def test_a_vector_beside_an_image_round_trips(models, tmp_path) -> None:
    out = tmp_path / "both.yaml"
    assert main(["import", str(models["vector_and_image"]), "-o", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["inputs"] == {"img": [8, 8, 1], "meta": [8]}


def test_an_identity_model_is_refused_naming_the_file(models, capsys) -> None:
    err = _refused(["import", str(models["identity"])], capsys)
    assert err.startswith(f"{models['identity']}: model 'identity' has no layers: its output is its input"), err


def test_an_input_passed_through_as_an_output_is_refused(models, capsys) -> None:
    err = _refused(["import", str(models["passes_input_through"])], capsys)
    assert err.startswith(
        f"{models['passes_input_through']}: output 1 of model 'passes_input_through' is its input 'img'"
    ), err


def test_an_oversized_input_names_the_model_file(models, capsys) -> None:
    err = _refused(["import", str(models["huge"])], capsys)
    assert err.startswith(
        f"{models['huge']}: the model's input 'big' has shape [70000, 70000, 3]; a spec's sizes are at most 65,536"
    ), err


def test_an_oversized_input_shape_option_names_the_option(models, capsys) -> None:
    err = _refused(["import", str(models["open"]), "--input-shape", "70000,70000,3"], capsys)
    assert err.startswith("--input-shape: [70000, 70000, 3]: a spec's sizes are at most 65,536"), err
    err = _refused(["import", str(models["open"]), "--input-shape", "8,8,4"], capsys)
    assert err.startswith("--input-shape: [8, 8, 4] does not fit the model's input [None, None, 3]"), err


def test_anything_else_the_spec_would_refuse_is_blamed_on_the_model_file(models, capsys) -> None:
    """The net under the specific checks: a layer setting beyond a spec's limits, told about the model."""
    err = _refused(["import", str(models["long_stride"])], capsys)
    assert err.startswith(
        f"{models['long_stride']}: cannot be written as a spec: Keras layer 'c' (layers[0].conv.stride"
    ), err
