"""The kind table is the single source: every member of the spec union is a registered kind,
every kind is exercised by a test spec, and the Python API mirrors the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, TEST_SPECS
from pydantic import TypeAdapter, ValidationError

import archspec
from archspec.kinds import BUILTIN
from archspec.kinds.registry import KINDS, OPS, Primitive
from archspec.spec.network import item_model, layer_type

# Imports one module of archspec.kinds in a fresh interpreter; prints the names it registered, in order.
REGISTERS = """
import importlib, json, sys
from archspec.kinds import registry
importlib.import_module("archspec.kinds." + sys.argv[1])
print(json.dumps(list(dict.keys(registry.KINDS))))  # as registered, loading nothing more
"""


def test_builtin_says_which_module_registers_each_kind():
    """The lazy table imports `BUILTIN`'s module for a name: importing it must register that name (a
    module may register others it depends on), and every built-in kind must be listed, in the order
    its module registers it (listings and the importer's preference follow that order)."""
    runs = {
        module: subprocess.Popen([sys.executable, "-c", REGISTERS, module], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for module in BUILTIN
    }
    registered = {module: json.loads(run.communicate()[0]) for module, run in runs.items()}
    for module, names in BUILTIN.items():
        own = [name for name in registered[module] if name in names]
        assert own == list(names), f"importing archspec.kinds.{module} registers {registered[module]}"
    listed = [name for names in BUILTIN.values() for name in names]
    everything = {name for names in registered.values() for name in names}
    assert sorted(listed) == sorted(everything), "a built-in kind is missing from kinds.BUILTIN (or listed twice)"
    assert list(KINDS) == listed


def test_union_covers_every_kind():
    """Each kind is validated by a wrapper holding its schema, and the JSON Schema lists every wrapper."""
    for name, kind in KINDS.items():
        assert item_model(name).model_fields[name].annotation is kind.schema
    schema = TypeAdapter(layer_type()).json_schema()
    members = {member["$ref"].rsplit("/", 1)[1] for member in schema["oneOf"]}
    assert members == {item_model(name).__name__ for name in KINDS}
    with pytest.raises(ValidationError, match="unknown layer kind"):
        TypeAdapter(layer_type()).validate_python({"no_such_kind": {}})


def test_every_kind_is_used_by_a_test_spec():
    used: set[str] = set()
    for path in TEST_SPECS:
        used |= {n.op for n in archspec.graph_of(path).nodes}
        used |= {kind for _, kind in archspec.graph_of(path).groups}
    canonical = {k.kind for k in KINDS.values()}
    assert canonical - used - {"use"} <= set(), canonical - used


@pytest.mark.parametrize("name", sorted(OPS))
def test_primitive_has_shape_rule_and_emitter(name):
    prim = OPS[name]
    assert isinstance(prim, Primitive) and callable(prim.infer) and callable(prim.emit)
    assert prim.schema.__doc__, "schemas document themselves (JSON Schema descriptions)"


def test_load_loads_and_dict_agree():
    text = (ROOT / "specs" / "lenet.yaml").read_text()
    import yaml

    a = archspec.load(ROOT / "specs" / "lenet.yaml")
    b = archspec.loads(text)
    c = archspec.loads(yaml.safe_load(text))
    assert a.model_dump() == b.model_dump() == c.model_dump()
    assert archspec.shapes(c).total_params == 63802
    assert archspec.shapes(ROOT / "specs" / "lenet.yaml", variables={"classes": 3}).output_shape == (3,)


def test_json_spec(tmp_path):
    import json

    path = tmp_path / "net.json"
    path.write_text(json.dumps({"name": "j", "input": [8, 8, 1], "layers": ["flatten", {"fc": 3}]}))
    assert archspec.shapes(path).total_params == 64 * 3 + 3


def test_depth_is_filters():
    a = archspec.loads({"name": "a", "input": [8, 8, 1], "layers": [{"conv": {"depth": 4, "kernel": 3}}]})
    b = archspec.loads({"name": "a", "input": [8, 8, 1], "layers": [{"conv": {"filters": 4, "kernel": 3}}]})
    assert a.model_dump() == b.model_dump()


def test_readme_states_exactly_two_setup_commands():
    """The README and Getting started give the same two commands, and only those."""
    for page in (ROOT / "README.md", ROOT / "docs" / "index.md"):
        install = page.read_text().split("## Install", 1)[1].split("\n## ", 1)[0]
        block = install.split("```sh\n", 1)[1].split("```", 1)[0]
        assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make build", "make test"], page


def test_readme_yaml_examples_are_valid():
    """Every YAML example in the README and docs/ validates: complete specs as they are, layer lists inside a
    minimal spec, a `training:` block as a training section (its network is not in the example). Examples that show a
    mistake say so and are skipped."""
    import yaml
    from docpages import yaml_blocks

    from archspec.spec.training import Training

    checked = 0
    for _page, _n, text in yaml_blocks():
        data = yaml.safe_load(text)
        if not isinstance(data, dict) or "entry-points" in text:
            continue
        if "layers" in data and "input" not in data and "inputs" not in data:
            data = {"name": "example", "input": [32, 32, 3], **data}
            if not any(isinstance(item, dict) and ("dense" in item or "fc" in item) for item in data["layers"]):
                data["layers"] = data["layers"] + [{"pool": "global_avg"}]
        elif "training" in data and "layers" not in data:
            # a recipe without its network (heads naming its outputs, a mean per RGB channel): the section alone
            Training.model_validate(data["training"])
            checked += 1
            continue
        elif "layers" not in data:
            continue
        archspec.shapes(data)
        checked += 1
    assert checked >= 4
