"""Kind-specific behaviour is data on the kind's record: a plugin kind that declares it gets what a built-in kind
gets from lint, freeze and render, and the kind reference lists kinds in the kind table's order.

Plugin kinds are registered in a subprocess, so the table of this test session stays the built-in one.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import ROOT

from archspec.kinds import BUILTIN
from archspec.kinds.registry import KINDS
from archspec.tools.reference import reference

PLUGIN = """
import archspec
from archspec.graph.freeze import frozen_nodes
from archspec.tools.reference import reference
from archspec.tools.resolve import resolved_yaml

class Norm(archspec.LayerSpec):
    '''A plugin's normalisation that keeps batch statistics.'''

class Shuffle(archspec.LayerSpec):
    '''Moves values around without weighing them.'''
    values: int = 0

class Wide(archspec.LayerSpec):
    '''A fully connected layer of the plugin's own.'''

class Window(archspec.LayerSpec):
    '''A 9x9 window.'''

same = lambda a, i: i[0]
emit = lambda n, x, k: x[0]
kind = lambda name, schema, infer=same, **fields: archspec.register_kind(
    archspec.Primitive(kind=name, schema=schema, infer=infer, emit=emit, **fields))
kind("my_norm", Norm, batch_statistics=True)
kind("my_shuffle", Shuffle, passes_values=True, written_as=(("values", "written"),))
kind("my_wide", Wide, lambda a, i: (2,), fan_in=lambda a, i: 10**7)
kind("my_window", Window, window=lambda a, i: ((9, 9), (1, 1), (1, 1)), window_hint="the plugin's own advice")
spec = {"name": "p", "input": [4, 4, 3], "layers": [
    {"conv": {"filters": 3, "kernel": 1, "activation": "relu", "name": "c"}}, {"my_shuffle": {"name": "s"}},
    {"activation": {"fn": "softmax", "name": "prob"}}, {"my_norm": {"name": "n"}},
    {"my_window": {"name": "w"}}, "flatten", {"my_wide": {"name": "wide"}}]}
graph = archspec.graph_of(spec)
print("FROZEN", sorted(frozen_nodes(graph, [], bn=True)))
warnings = [w.message + " | " + (w.hint or "") for w in archspec.shapes(spec).warnings]
print("CLIPPED", any("'c': relu on the logits" in w for w in warnings))
print("HINT", any("'w'" in w and "the plugin's own advice" in w for w in warnings))
print("WIDE", any("'wide': a dense layer reading 10,000,000 values" in w for w in warnings))
print("RENDER", "written: 5" in resolved_yaml(archspec.loads({**spec, "layers": [{"my_shuffle": {"values": 5}}]})))
print("LAST", reference().rstrip().split("#### ")[-1].splitlines()[0])
"""


def test_a_plugin_kind_declares_its_behaviour_on_its_record() -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PLUGIN)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        timeout=300,
    )
    out = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert done.returncode == 0, done.stderr
    assert out["FROZEN"] == "['n']"  # `freeze_bn` freezes a kind that keeps batch statistics
    assert out["CLIPPED"] == "True"  # the logits rule looks back through a kind that passes values
    assert out["HINT"] == "True" and out["WIDE"] == "True"
    assert out["RENDER"] == "True"
    assert out["LAST"] == "`my_window`"  # plugins come after the built-in kinds, in registration order


def test_the_kind_reference_lists_kinds_in_the_table_order() -> None:
    headings = [
        line.removeprefix("#### ").split(" / ")[0].strip("`")
        for line in reference().splitlines()
        if line.startswith("#### ")
    ]
    table = list(dict.fromkeys(kind.kind for kind in KINDS.values()))
    assert headings == table
    builtin = [name for names in BUILTIN.values() for name in names]
    assert headings == [name for name in builtin if name in table]  # BUILTIN's order is the one list
