"""`archspec shapes`, `archspec validate` and `archspec --help` start fast: the modules they may load are listed here.

Each case runs the CLI in a fresh interpreter and compares what it imported with an allow-list:
archspec's own modules, and third-party packages by top-level name (the standard library is
free). An import that would slow these commands down (NumPy, TensorFlow, the training or JSON
Schema code, another command's module) fails here instead of creeping in unnoticed; a module
that belongs on the path is added to a list on purpose. The timings are in bench/startup.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from conftest import ROOT

from archspec.cli.group import COMMANDS, LazyGroup, cli
from archspec.kinds import BUILTIN

PYDANTIC = {"pydantic", "pydantic_core", "annotated_types", "typing_extensions", "typing_inspection"}
HELP = {  # `--help` lists the commands without importing them, the API or Pydantic (archspec/__init__.py's lookup)
    "archspec": {
        "archspec",
        "archspec.version",
        "archspec.errors",
        "archspec.files",
        "archspec.cli",
        "archspec.cli.group",
    },
    "third_party": {"click"},
}

SHAPES = {
    "archspec": HELP["archspec"]
    | {"archspec.spec.zoo"}  # a bare name (`resnet50`) is looked up in the packaged zoo
    | {f"archspec.kinds.{module}" for module in BUILTIN}
    | {
        "archspec.cli.options",
        "archspec.cli.spec_commands",
        "archspec.kinds",
        "archspec.kinds.arith",
        "archspec.kinds.base",
        "archspec.kinds.lowering",
        "archspec.kinds.registry",
        "archspec.spec",
        "archspec.spec.expr",
        "archspec.spec.given",  # stdlib only, a few lines: the wording of `--set` in messages, set for every command
        "archspec.spec.figures",  # pure Pydantic, a few lines: the `reference` field every zoo spec fills in
        "archspec.spec.library",
        "archspec.spec.loading",
        "archspec.spec.network",
        "archspec.spec.overrides",
        "archspec.spec.read",
        "archspec.spec.validate",
        "archspec.graph",
        "archspec.graph.expand",
        "archspec.graph.infer",
        "archspec.graph.ir",
        "archspec.graph.lint",
        "archspec.graph.report",
        "archspec.graph.freeze",
        "archspec.graph.checks",
        "archspec.tools",
        "archspec.tools.table",
        # pure Pydantic: the models of a `training:` section, loaded when a spec has one (the zoo's U-Net and
        # two-head LeNet do)
        "archspec.spec.training",
    },
    "third_party": HELP["third_party"] | {"yaml"} | PYDANTIC,
}
# Runs the CLI as the console script would, then reports the modules loaded since the interpreter
# started (site's own, such as an editable install's finder, are there before and do not count).
PROBE = """
import sys
before = set(sys.modules)
import contextlib, io, json, pathlib, sysconfig
from archspec.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
new = [m for m in sys.modules if m not in before and getattr(sys.modules[m], "__spec__", None) is not None]

def installed(top):  # not the standard library (whose private modules, such as _sysconfigdata_*, have no listed name)
    origin = sys.modules[top].__spec__.origin or ""
    folders = pathlib.PurePath(origin).parts
    return ("site-packages" in folders or "dist-packages" in folders
            or not origin.startswith(sysconfig.get_path("stdlib")))

tops = {m.split(".")[0] for m in new} - set(sys.stdlib_module_names) - {"archspec"}
print(json.dumps({"code": code, "archspec": sorted(m for m in new if m.split(".")[0] == "archspec"),
                  "third_party": sorted(t for t in tops if installed(t)),
                  "plugins_looked_for": getattr(sys.modules.get("archspec.kinds.registry"), "_plugins_loaded", None)}))
"""


def loaded(*args: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


ZOO = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").glob("*.yaml"))


@pytest.mark.parametrize(
    "args, allowed",
    [
        (["shapes", "specs/resnet152.yaml"], SHAPES),
        (["shapes", "specs/googlenet.yaml", "--json", "--expand"], SHAPES),
        (["validate", *ZOO], SHAPES),
        (["--help"], HELP),
    ],
    ids=["shapes", "shapes-json", "validate-zoo", "help"],
)
def test_imports_stay_on_the_allow_list(args, allowed):
    found = loaded(*args)
    assert found["code"] == 0
    for group in ("archspec", "third_party"):
        extra = sorted(set(found[group]) - allowed[group])
        assert not extra, f"`archspec {args[0]}` now imports {extra}: import it where it is used, or allow it here"


@pytest.mark.parametrize(
    "spec, unused",
    [
        ("specs/lenet.yaml", {"mobile", "nasnet", "convnext", "upsampling", "depthwise", "scale"}),
        ("specs/resnet152.yaml", {"mobile", "nasnet", "convnext", "upsampling", "depthwise", "scale", "shape"}),
    ],
)
def test_shapes_imports_only_the_kinds_a_spec_uses(spec, unused):
    """A kind's module is imported the first time a spec uses the kind, and no installed plugin is
    looked for (reading every installed package's entry points costs ~10 ms) while every name is a built-in one."""
    found = loaded("shapes", spec)
    assert found["code"] == 0
    imported = {m.rsplit(".", 1)[1] for m in found["archspec"] if m.startswith("archspec.kinds.")}
    assert not imported & unused, sorted(imported & unused)
    assert {"conv", "pool", "dense"} <= imported
    assert found["plugins_looked_for"] is False


def test_help_lists_every_command_without_importing_it():
    """The table's summaries are the commands' own, and the lazy listing reads exactly as click's."""
    for name, (_, summary) in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.get_short_help_str(limit=10_000) == summary, name
    settings = {"help": cli.help, "params": cli.params, "context_settings": cli.context_settings}
    lazy = LazyGroup("archspec", **settings)
    listed = lazy.get_help(click.Context(lazy, info_name="archspec"))
    assert not lazy.commands
    eager = click.Group(
        "archspec", commands={name: cli.get_command(click.Context(cli), name) for name in COMMANDS}, **settings
    )
    assert listed == eager.get_help(click.Context(eager, info_name="archspec"))
