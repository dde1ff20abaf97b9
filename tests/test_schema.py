"""archspec schema: the JSON Schema editors use agrees with archspec on real and broken specs."""

from __future__ import annotations

import json

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import ROOT, SPECS, TEST_SPECS

import archspec
from archspec.cli import cli
from archspec.spec.jsonschema import schema
from archspec.spec.read import parse, read

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


@pytest.mark.parametrize(
    "name",
    [
        "unknown_key",
        "wrong_type",
        "unknown_kind",
        "bad_activation",
        "missing_layers",
        "unknown_top_key",
        "two_kind_keys",
        "zero_kernel",
        "negative_size",
        "input_not_three",
        "zero_input",
    ],
)
def test_bad_specs_fail(validator, name):
    data = read(BAD / f"{name}.yaml").data
    assert errors(validator, data), f"{name} passed the schema"
    with pytest.raises(archspec.SpecError):
        archspec.shapes(BAD / f"{name}.yaml")


HEAD = "name: t\ninput: [32, 32, 3]\nvariables: {classes: 10, width: 0.5}\nlayers:\n"
WRITTEN = {  # what people write -> archspec accepts it (the schema must too)
    "bare kind": "  - conv: {filters: 4, kernel: 3}\n  - flatten\n  - dense: 10\n",
    "short forms": "  - conv: {depth: 4, kernel: [3, 5], stride: 2}\n  - dropout: 0.5\n  - activation: relu\n  - "
    "zeropad: 1\n  - pool: global_avg\n  - fc: $classes\n",
    "expressions": "  - conv: {filters: int(64 * $width), kernel: 3, padding: same, bn: true}\n  - pool: "
    "{kind: max, global: true}\n  - dense: {units: $classes, activation: softmax}\n",
    "graph": "  - conv: {filters: 4, kernel: 3, padding: same, name: a}\n  - conv: "
    "{filters: 4, kernel: 1, input: input, name: b}\n  - add: [a, b]\n  - concat: {inputs: [add_1, a]}\n  - flatten\n  "
    "- dense: 2\n",
    "matrix kernel": "  - conv: "
    "{depth: 1, kernel: [[0, -1, 0], [-1, 5, -1], [0, -1, 0]], padding: same, bias: false, trainable: false}\n  - "
    "flatten\n  - dense: 2\n",
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
    archspec.shapes(archspec.loads(text))
    assert errors(validator, parse(text, "t.yaml").data) == []


@pytest.mark.parametrize("case", WRONG, ids=str)
def test_schema_rejects_what_archspec_rejects(validator, case):
    text = HEAD + WRONG[case]
    with pytest.raises(archspec.SpecError):
        archspec.shapes(archspec.loads(text))
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


def walk(node):
    """Every schema object in a schema, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_schema_is_shaped_for_editors():
    """What the YAML language server shows comes from these (tests/test_editor.py drives the server)."""
    from archspec.kinds.base import ACTIVATIONS
    from archspec.kinds.registry import KINDS

    s = schema()
    defs = s["$defs"]
    layer = defs["Layer"]["oneOf"][0]
    assert list(layer["properties"]) == sorted(KINDS)  # every kind once, by the name people write
    text = json.dumps(s)
    assert text.count('"$ref": "#/$defs/Layer"') >= 1 + sum(kind.schema.nested for kind in KINDS.values())
    assert not [name for name in defs if name.endswith("Item")]
    nodes = list(walk(s))
    assert not [n for n in nodes if "default" in n and n["default"] is None]
    assert not [
        n["title"]
        for n in nodes
        if isinstance(n.get("title"), str) and (n["title"] in defs or n["title"][:1].isupper()) and n is not s
    ]  # words, not class or field names
    conv = defs["Conv"]["anyOf"][0]["properties"]
    assert conv["stride"]["default"] == 1 and conv["dilation"]["default"] == 1  # as written, not [1, 1]
    assert [b["type"] for b in conv["stride"]["oneOf"]] == [["integer", "string"], "array"]  # the number first
    described = [n for n in nodes if "enumDescriptions" in n]
    assert {tuple(n["enum"]) for n in described} >= {ACTIVATIONS, ("valid", "same")}
    assert all(len(n["enumDescriptions"]) == len(n["enum"]) and all(n["enumDescriptions"]) for n in described)
    assert "$" in conv["filters"]["errorMessage"] and "$" in conv["filters"]["patternErrorMessage"]


def test_plugin_kinds_are_shaped_like_builtin_ones():
    """A kind registered later (a plugin) is one more key of the layer and, needing no settings, a bare name."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import json, archspec, jsonschema
        from pydantic import Field
        from archspec.spec.jsonschema import schema

        class Halve(archspec.LayerSpec):
            '''Halves nothing; a test kind.'''
            ratio: int = Field(2, gt=0, description="How much.")

        archspec.register_kind(
            archspec.Primitive(kind="halve", schema=Halve, infer=lambda a, i: i[0], emit=lambda n, x, k: x[0])
        )
        s = schema()
        check = jsonschema.Draft202012Validator(s)
        ok = {"name": "p", "input": [8, 8, 1], "layers": ["halve", {"halve": {"ratio": 3}}, {"halve": None}]}
        bad = {"name": "p", "input": [8, 8, 1], "layers": [{"halve": {"ratio": 0}}]}
        layer = s["$defs"]["Layer"]["oneOf"]
        print(json.dumps({"key": layer[0]["properties"]["halve"], "bare": "halve" in layer[1]["pattern"],
                          "ok": [e.message for e in check.iter_errors(ok)], "bad": len(list(check.iter_errors(bad)))}))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["key"]["title"] == "halve" and "Halves nothing" in out["key"]["description"]
    assert out["bare"] and out["ok"] == [] and out["bad"] > 0
