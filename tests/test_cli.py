"""The command line: exit codes, outputs, files, and the TensorFlow-free shapes path."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT

import archspec
from archspec.cli import cli, main

LENET = str(ROOT / "specs" / "lenet.yaml")
LENET_SHAPES = [[28, 28, 6], [14, 14, 6], [10, 10, 16], [5, 5, 16], [400], [120], [100], [10]]


def test_shapes_json_reports_lenet():
    result = CliRunner().invoke(cli, ["shapes", LENET, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total_params"] == 63802 and data["trainable_params"] == 63802
    assert data["input_shape"] == [32, 32, 1]
    assert [layer["output_shape"] for layer in data["layers"]] == LENET_SHAPES
    assert [layer["params"] for layer in data["layers"]] == [156, 0, 2416, 0, 0, 48120, 12100, 1010]
    assert data["layers"][0] == {
        "name": "conv_1",
        "type": "conv",
        "inputs": ["input"],
        "output_shape": [28, 28, 6],
        "params": 156,
        "trainable_params": 156,
        "macs": 28 * 28 * 6 * 25,
        "receptive_field": [5, 5],
        "jump": [1, 1],
        "frozen": False,
    }
    assert data["macs"] == sum(layer["macs"] for layer in data["layers"])


def test_shapes_table_lists_every_layer():
    result = CliRunner().invoke(cli, ["shapes", LENET])
    assert result.exit_code == 0
    for text in ("conv_1", "28x28x6", "5x5x16", "63,802", "max pool 2/2"):
        assert text in result.output


def test_shapes_collapses_blocks_unless_expanded():
    spec = str(ROOT / "tests" / "specs" / "every_block.yaml")
    collapsed = CliRunner().invoke(cli, ["shapes", spec]).output
    expanded = CliRunner().invoke(cli, ["shapes", spec, "--expand"]).output
    assert "res " in collapsed and "res_block1_1_conv" not in collapsed
    assert "res_block1_1_conv" in expanded
    assert len(expanded.splitlines()) > len(collapsed.splitlines())


def test_set_overrides_a_variable():
    data = json.loads(CliRunner().invoke(cli, ["shapes", LENET, "--json", "--set", "classes=4"]).output)
    assert data["layers"][-1]["output_shape"] == [4]
    assert data["total_params"] == 63802 - 1010 + 404


def test_set_unknown_variable_is_an_error(capsys):
    assert main(["shapes", LENET, "--set", "clases=4"]) == 2
    assert "did you mean 'classes'" in capsys.readouterr().err


def test_validate_many(capsys):
    assert main(["validate", LENET, str(ROOT / "specs" / "resnet50.yaml")]) == 0
    out = capsys.readouterr().out
    resnet50 = archspec.shapes(ROOT / "specs" / "resnet50.yaml").total_params  # its figure: tests/test_facts_zoo.py
    assert "lenet.yaml: ok" in out and f"{resnet50:,} parameters" in out


def test_validate_reports_every_bad_file(capsys):
    bad = ROOT / "tests" / "bad_specs"
    assert main(["validate", LENET, str(bad / "unknown_key.yaml"), str(bad / "wrong_type.yaml")]) == 2
    err = capsys.readouterr().err
    assert "unknown_key.yaml:7:24" in err and "wrong_type.yaml:6:21" in err


def test_build_writes_a_model_that_reloads(tmp_path, capsys):
    target = tmp_path / "out" / "lenet.keras"
    assert main(["build", LENET, "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert "63,802" in out and str(target) in out
    assert not list(target.parent.glob(".*tmp*")), "temporary file left behind"
    model = archspec.load_model(target)
    assert model.count_params() == 63802
    # refuses to overwrite without --force
    assert main(["build", LENET, "-o", str(target)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["build", LENET, "-o", str(target), "--force", "-q"]) == 0


def test_build_default_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["build", LENET, "-q"]) == 0
    assert (tmp_path / "build" / "lenet.keras").is_file()


@pytest.mark.parametrize("command", [[], *([name] for name in cli.list_commands(click.Context(cli)))])
def test_help_has_an_example(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and f"archspec {' '.join(command)}".strip() in result.output, result.output


def test_top_level_shim_runs():
    result = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "shapes", LENET, "--json"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total_params"] == 63802


def test_shapes_never_imports_tensorflow():
    """In a fresh interpreter: run the CLI's shapes command in-process, then look at sys.modules."""
    code = (
        "import sys\n"
        "from archspec.cli import main\n"
        f"assert main(['shapes', {LENET!r}]) == 0\n"
        f"assert main(['validate', {LENET!r}]) == 0\n"
        "import archspec; archspec.shapes(archspec.load(" + repr(LENET) + "))\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'jax', 'torch'))\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_bad_option_exits_2(capsys):
    assert main(["shapes", LENET, "--set", "novalue"]) == 2


NATIVE_LOGS = ("absl::InitializeLog", "cuInit", "cudart_stub", "cpu_feature_guard", "oneDNN")
"""What TensorFlow's C++ side prints at start-up on a CPU machine."""


def test_tensorflow_start_up_logs_only_with_verbose(mnist_dir, tmp_path):
    import os

    env = {
        k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "ARCHSPEC_TF_LOGS")
    }  # as in a terminal
    env["CUDA_VISIBLE_DEVICES"] = ""

    def train(*flags: str, run: str) -> subprocess.CompletedProcess:
        args = [
            sys.executable,
            str(ROOT / "cli.py"),
            *flags,
            "train",
            LENET,
            "--data",
            f"idx:{mnist_dir}[:64]",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--run-dir",
            str(tmp_path / run),
            "--plain",
        ]
        return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)

    quiet = train(run="quiet")
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert not [line for line in quiet.stderr.splitlines() if any(m in line for m in NATIVE_LOGS)], quiet.stderr
    assert "epoch 1/1" in quiet.stdout
    verbose = train("--verbose", run="verbose")
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert any(m in verbose.stderr for m in NATIVE_LOGS), verbose.stderr  # they exist, and --verbose shows them


def test_messages_still_reach_stderr_while_native_logs_are_hidden(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninput: [8, 8, 1]\nlayers: [flatten, {dense: yes}]\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "validate", str(bad)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 2 and "expected an integer, got a boolean" in result.stderr
