"""The Python API says what each function takes (issue 26): `variables=` and `variant=` wherever a spec is read,
`training=` for train's fields, a str always a path or zoo name, and errors in the caller's words: a Python caller is
told about `variables['clases']`, the command line about `--set clases`."""

from __future__ import annotations

import pytest
from conftest import ROOT

import archspec
from archspec.cli.group import main
from archspec.errors import ArchspecError, DataError, SpecError

LENET = ROOT / "specs" / "lenet.yaml"
MOBILENET_V2 = ROOT / "specs" / "mobilenet_v2.yaml"
TEXT = "name: tiny\ninput: [8, 8, 1]\nvariables: {classes: 3}\nlayers: [flatten, {dense: $classes}]\n"


# --- old-style keywords are refused, naming the keyword that takes them now ---------------------------------------


@pytest.mark.parametrize("function", ["load", "graph_of", "shapes", "build", "check"])
def test_a_variable_as_a_keyword_is_refused_naming_variables(function: str) -> None:
    with pytest.raises(TypeError, match=r"takes no keyword classes: spec variables are given as variables=\{'classes'"):
        getattr(archspec, function)(LENET, classes=4)


def test_export_takes_variables_explicitly_and_refuses_them_as_keywords(tmp_path) -> None:
    """A spec exported from Python: its variables by `variables=`, as for build (before TensorFlow is touched)."""
    with pytest.raises(TypeError, match=r"export\(\) takes no keyword classes: .*variables=\{'classes'"):
        archspec.export(LENET, tmp_path / "lenet.onnx", classes=4)
    assert not (tmp_path / "lenet.onnx").exists()


@pytest.mark.parametrize("function", ["evaluate", "predict"])
def test_evaluate_and_predict_name_their_options(function: str) -> None:
    """Their options are keywords of their own (batch_size, top_k, spec, masks, force): anything else is Python's
    own TypeError at the call, not an option passed along to fail later."""
    with pytest.raises(TypeError, match="unexpected keyword argument 'clases'"):
        getattr(archspec, function)("no-such-run", [], clases=3)


def test_loads_refuses_a_variable_as_a_keyword() -> None:
    with pytest.raises(TypeError, match=r"variables=\{'classes': \.\.\.\}"):
        archspec.loads(TEXT, classes=4)


def test_a_training_field_as_a_keyword_is_refused_naming_training() -> None:
    with pytest.raises(
        TypeError,
        match=r"train\(\) takes no keyword batch_size, learning_rate: fields of the spec.s training section .*"
        r"training=\{'batch_size': \.\.\., 'learning_rate'",
    ):
        archspec.train(LENET, data="mnist", batch_size=64, learning_rate=0.1)


def test_a_variant_given_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="variant given twice"):
        archspec.shapes("efficientnet", variant="b3", variables={"variant": "b1"})


# --- the new keywords work --------------------------------------------------------------------------------------


def test_variables_and_variant_keywords() -> None:
    assert archspec.shapes(LENET, variables={"classes": 4}).output_shape == (4,)
    assert archspec.load(LENET, variables={"classes": 4}).variables["classes"] == 4
    assert archspec.loads(TEXT, variables={"classes": 5}).variables["classes"] == 5
    assert archspec.load("efficientnet", variant="b3").input == (300, 300, 3)
    assert archspec.shapes("efficientnet", variant="b3").input_shape == (300, 300, 3)
    assert archspec.shapes(LENET, variables={"input": [32, 32, 1]}).input_shape == (32, 32, 1)  # a field, as --set
    graph = archspec.graph_of(LENET, variables={"classes": 7})
    assert graph.nodes[-1].attrs.units == 7


def test_a_str_is_a_path_or_a_zoo_name_never_text() -> None:
    with pytest.raises(SpecError, match="is not a path or a zoo name: it reads as spec text") as caught:
        archspec.shapes(TEXT)
    assert "archspec.loads(text)" in str(caught.value)
    with pytest.raises(SpecError, match="reads as spec text"):
        archspec.graph_of('{"name": "x", "input": [4], "layers": []}')
    assert archspec.shapes(archspec.loads(TEXT)).output_shape == (3,)
    assert archspec.shapes("lenet").output_shape == (10,)  # a zoo name


# --- library words for a Python caller, option words on the command line ---------------------------------------


def test_a_mistyped_variable_is_named_as_python_wrote_it() -> None:
    with pytest.raises(SpecError) as caught:
        archspec.shapes(LENET, variables={"clases": 4})
    text = str(caught.value)
    assert "variables['clases']: the spec has no variable or field 'clases'" in text
    assert "did you mean 'classes'?" in text and "--set" not in text


def test_an_unknown_variant_is_named_as_python_wrote_it() -> None:
    with pytest.raises(SpecError) as caught:
        archspec.shapes("efficientnet", variant="b9")
    assert "variant='b9': the spec has no variant 'b9'" in str(caught.value) and "--variant" not in str(caught.value)


def test_a_replaced_field_is_located_at_variables() -> None:
    with pytest.raises(SpecError) as caught:
        archspec.graph_of(MOBILENET_V2, variables={"defaults": {"batchnorm": {"momentum": 2}}})
    problem = caught.value.problems[0]
    assert problem.file == "variables" and problem.field_path == "defaults.batchnorm.momentum"
    assert problem.hint is not None and "from variables['defaults']=" in problem.hint and "--set" not in problem.hint


def test_the_command_line_keeps_its_words_and_python_gets_its_own_back(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shapes", str(LENET), "--set", "clases=4"]) == 2
    err = capsys.readouterr().err
    assert "--set clases: the spec has no variable or field 'clases'" in err and "variables[" not in err
    assert main(["shapes", "efficientnet", "--variant", "b9"]) == 2
    assert "--variant b9: the spec has no variant 'b9'" in capsys.readouterr().err
    assert main(["shapes", str(MOBILENET_V2), "--set", "defaults={batchnorm: {momentum: 2}}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("--set: defaults.batchnorm.momentum") and "from --set defaults=" in err
    with pytest.raises(SpecError, match=r"variables\['clases'\]"):  # the command's wording ended with it
        archspec.shapes(LENET, variables={"clases": 4})


# --- the error families ------------------------------------------------------------------------------------------


def test_unreadable_data_is_a_data_error_under_the_root(tmp_path) -> None:
    from archspec.training.data.decode import decode_file

    bad = tmp_path / "x.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError) as caught:
        decode_file(bad)
    assert isinstance(caught.value, SpecError) and isinstance(caught.value, ArchspecError)
    assert caught.value.file == str(bad)


def test_export_a_zoo_network_by_name_with_its_variables(tmp_path) -> None:
    """`export` reads a spec as `build` does: a zoo name, `variables=`; a saved model refuses them in Python's words."""
    ort = pytest.importorskip("onnxruntime")
    path = archspec.export("lenet", tmp_path / "lenet.onnx", variables={"classes": 3})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].shape[-1] == 3
    with pytest.raises(SpecError, match=r"variables\['classes'\]: values apply to specs, not to saved models"):
        archspec.export(path, tmp_path / "again.onnx", variables={"classes": 3})


def test_a_training_field_named_like_an_argument_reaches_the_training_section(mnist_dir) -> None:
    """training={"data": ...} sets the training section's `data` (its plan, its augmentation), not train()'s own
    `data=` argument: it used to be spread as keywords, a TypeError 'multiple values for argument data'."""
    with pytest.raises(archspec.SpecError, match=r"training\.data\.augment.*flipp") as caught:
        archspec.train(LENET, data=f"idx:{mnist_dir}[:64]", training={"data": {"augment": {"flipp": "horizontal"}}})
    assert caught.value.hint is not None and "flip" in caught.value.hint
