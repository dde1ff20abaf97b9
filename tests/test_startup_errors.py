"""Error families: everything archspec raises on purpose is an ArchspecError; bad input is a SpecError (exit 2);
an output the machine refuses to store (a full disk) is an OutputError, not a SpecError (exit 74)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import archspec
from archspec import errors, files
from archspec.cli import main, spec_commands
from archspec.kinds.base import Unsupported
from archspec.kinds.registry import ShapeError

LENET = str(ROOT / "specs" / "lenet.yaml")


def test_every_family_has_the_one_root():
    for family in (ShapeError, Unsupported, errors.SpecError, errors.OutputError, files.WriteError):
        assert issubclass(family, archspec.ArchspecError), family
    assert not issubclass(files.WriteError, errors.SpecError)  # a full disk is not the input's fault
    assert errors.exit_status(files.WriteError(Path("x"), "disk full", "free space")) == 74
    assert errors.exit_status(errors.SpecError(errors.Problem("bad"))) == 2
    assert errors.exit_status(ShapeError("no output")) == 1


def test_a_full_disk_is_exit_74_naming_the_file_and_leaving_nothing(tmp_path, monkeypatch, capsys):
    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    out = tmp_path / "flat.yaml"
    assert main(["render", LENET, "-o", str(out)]) == 74
    err = capsys.readouterr().err
    assert err == (
        f"{out}: cannot write: disk full, no space left on device (nothing half-written is left)\n"
        "  hint: free space and run the command again\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_bad_input_is_still_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ninput: [8, 8, 1]\nlayers: [{dense: {units: 0}}]\n")
    assert main(["render", str(bad), "-o", str(tmp_path / "flat.yaml")]) == 2
    assert "layers[0].dense.units" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["render", LENET], ["shapes", LENET]])
def test_printing_to_a_full_device_is_one_message_not_a_traceback(command):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-c", "from archspec.cli import run; run()", *command],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
    assert done.returncode == 74, done.stderr
    assert done.stderr == (
        "<standard output>: cannot print: disk full, no space left on device\n"
        "  hint: free space or send the output elsewhere, and run the command again\n"
    )


def test_a_write_error_passing_through_another_write_keeps_its_own_file(tmp_path):
    """`translated` leaves archspec's own errors alone: a WriteError still holds its OSError as context, and
    wrapping it again would name the outer target instead of the file that could not be written."""
    inner = tmp_path / "run" / "checkpoints" / "epoch-0002.keras"
    with pytest.raises(files.WriteError) as caught, files.translated(tmp_path / "run"):
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            raise files.write_error(inner, exc) from None
    assert caught.value.target == inner


def test_any_other_archspec_error_is_a_message_and_exit_1(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ShapeError("a plugin's shape rule failed outside a located check")

    monkeypatch.setattr(spec_commands, "static_shapes", broken)
    assert main(["shapes", LENET]) == 1
    assert capsys.readouterr().err == "a plugin's shape rule failed outside a located check\n"


def test_serve_answers_a_full_disk_on_save_with_507_and_the_reason(tmp_path, monkeypatch):
    """Not an internal error (500): the page's text is fine and is kept; the disk refused it."""
    pytest.importorskip("starlette", reason="archspec[serve] not installed")
    pytest.importorskip("httpx2", reason="Starlette's test client needs httpx2")
    from starlette.testclient import TestClient

    from archspec.tools.serve.app import create_app
    from archspec.tools.serve.run import views

    spec_file = tmp_path / "lenet.yaml"
    spec_file.write_text(Path(LENET).read_text())
    spec, model = views(spec_file, read_only=False, sets=())
    client = TestClient(create_app(spec, model), base_url="http://127.0.0.1")
    version = client.get("/api/session").json()["spec"]["version"]

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    answer = client.post("/api/spec/save", json={"text": spec_file.read_text() + "\n", "version": version})
    assert answer.status_code == 507, answer.text
    assert answer.json()["error"] == "not saved: disk full, no space left on device; free space and save again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.yaml"]
