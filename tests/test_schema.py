"""archspec schema: the JSON Schema editors use agrees with archspec on real and broken specs."""

from __future__ import annotations

import json

import jsonschema
import pytest
from click.testing import CliRunner

import archspec
from archspec.cli import cli
from archspec.spec.read import parse, read
from archspec.spec.jsonschema import schema
from conftest import ROOT, SPECS, TEST_SPECS

BAD = ROOT / "tests" / "bad_specs"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    return jsonschema.Draft202012Validator(s)


def errors(validator, data) -> list[str]:
    return [e.message for e in validator.iter_errors(data)]


@pytest.mark.parametrize("path", SPECS + TEST_SPECS, ids=lambda p: p.stem)
def test_every_spec_validates(validator, path):
    assert errors(validator, read(path).data) == []


def test_builtin_templates_validate():
    s = schema()
    template = jsonschema.Draft202012Validator({"$defs": s["$defs"], "$ref": "#/$defs/Template"})
    library = parse((ROOT / "archspec" / "spec" / "library.yaml").read_text(), "library.yaml").data
    for name, body in library.items():
        assert [e.message for e in template.iter_errors(body)] == [], name


@pytest.mark.parametrize("name", [
    "unknown_key", "wrong_type", "unknown_kind", "bad_activation", "missing_layers", "unknown_top_key",
    "two_kind_keys", "zero_kernel", "negative_size", "input_not_three", "zero_input",
])
def test_bad_specs_fail(validator, name):
    data = read(BAD / f"{name}.yaml").data
    assert errors(validator, data), f"{name} passed the schema"
    with pytest.raises(archspec.SpecError):
        archspec.shapes(BAD / f"{name}.yaml")


HEAD = "name: t\ninput: [32, 32, 3]\nvariables: {classes: 10, width: 0.5}\nlayers:\n"
WRITTEN = {  # what people write -> archspec accepts it (the schema must too)
    "bare kind": "  - conv: {filters: 4, kernel: 3}\n  - flatten\n  - dense: 10\n",
    "short forms": "  - conv: {depth: 4, kernel: [3, 5], stride: 2}\n  - dropout: 0.5\n  - activation: relu\n  - zeropad: 1\n  - pool: global_avg\n  - fc: $classes\n",
    "expressions": "  - conv: {filters: int(64 * $width), kernel: 3, padding: same, bn: true}\n  - pool: {kind: max, global: true}\n  - dense: {units: $classes, activation: softmax}\n",
    "graph": "  - conv: {filters: 4, kernel: 3, padding: same, name: a}\n  - conv: {filters: 4, kernel: 1, input: input, name: b}\n  - add: [a, b]\n  - concat: {inputs: [add_1, a]}\n  - flatten\n  - dense: 2\n",
    "matrix kernel": "  - conv: {depth: 1, kernel: [[0, -1, 0], [-1, 5, -1], [0, -1, 0]], padding: same, bias: false, trainable: false}\n  - flatten\n  - dense: 2\n",
}
WRONG = {  # mistakes the schema catches in the editor
    "word for a number": "  - conv: {filters: four, kernel: 3}\n  - flatten\n  - dense: 2\n",
    "unknown pool form": "  - conv: {filters: 4, kernel: 3}\n  - pool: global_median\n  - dense: 2\n",
    "typo in a key": "  - conv: {filters: 4, kernal: 3}\n  - flatten\n  - dense: 2\n",
    "two kinds in one item": "  - {conv: {filters: 4, kernel: 3}, pool: max}\n  - flatten\n  - dense: 2\n",
    "bad activation": "  - conv: {filters: 4, kernel: 3, activation: relux}\n  - flatten\n  - dense: 2\n",
}


@pytest.mark.parametrize("case", WRITTEN, ids=str)
def test_schema_accepts_what_archspec_accepts(validator, case):
    text = HEAD + WRITTEN[case]
    archspec.shapes(text)
    assert errors(validator, parse(text, "t.yaml").data) == []


@pytest.mark.parametrize("case", WRONG, ids=str)
def test_schema_rejects_what_archspec_rejects(validator, case):
    text = HEAD + WRONG[case]
    with pytest.raises(archspec.SpecError):
        archspec.shapes(text)
    assert errors(validator, parse(text, "t.yaml").data)


def test_schema_documents_the_language():
    s = schema()
    assert s["$schema"].endswith("2020-12/schema") and s["description"] and s["examples"]
    conv = s["$defs"]["Conv"]
    body = conv["anyOf"][0] if "anyOf" in conv else conv
    assert conv.get("description") or body.get("description")
    assert body["properties"]["kernel"]["examples"] and body["properties"]["kernel"]["description"]
    assert "depth" in body["properties"]  # the primer's name for filters
    assert json.loads(json.dumps(s)) == s


def test_cli_schema(tmp_path):
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == schema()
    out = tmp_path / "archspec.schema.json"
    assert CliRunner().invoke(cli, ["schema", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == schema()
    again = CliRunner().invoke(cli, ["schema", "-o", str(out)])
    assert again.exit_code != 0 and "exists" in str(again.exception)
