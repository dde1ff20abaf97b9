"""What `import archspec` gives: the API names, imported plainly, and each subpackage under its own name.

The graph function of the API is `archspec.graph_of`; `archspec.graph` is the subpackage, whichever is
imported first (it used to be the function, kept there by swapping the module's class).
"""

from __future__ import annotations

import subprocess
import sys
import types

import pytest
from conftest import ROOT

import archspec

FIRST_IMPORTS = [
    "import archspec",
    "import archspec.graph",
    "from archspec.graph import expand",
    "from archspec.cli import main",
    "import archspec.api",
]


@pytest.mark.parametrize("first", FIRST_IMPORTS)
def test_archspec_graph_is_the_subpackage_whatever_is_imported_first(first):
    code = (
        f"{first}\nimport sys, types, archspec, archspec.graph\n"
        "assert isinstance(archspec.graph, types.ModuleType), archspec.graph\n"
        "assert archspec.graph is sys.modules['archspec.graph']\n"
        "assert callable(archspec.graph_of) and archspec.graph_of is not archspec.graph\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_every_public_name_resolves_and_dir_lists_it():
    assert type(archspec) is types.ModuleType  # no module-class swap: PEP 562's __getattr__ only
    assert sorted(archspec.__all__) == sorted([*archspec._WHERE, "__version__"])
    missing = [name for name in archspec.__all__ if getattr(archspec, name, None) is None]
    assert missing == []
    assert set(archspec.__all__) <= set(dir(archspec))
    assert "graph" not in archspec.__all__
    with pytest.raises(AttributeError, match="no attribute 'bulid'"):
        archspec.bulid  # noqa: B018 (the lookup is what is tested)


def test_graph_of_gives_the_expanded_graph():
    graph = archspec.graph_of(ROOT / "specs" / "lenet.yaml")
    assert graph.nodes[0].op == "input"
    assert {node.op for node in graph.nodes} >= {"conv", "pool", "dense"}
