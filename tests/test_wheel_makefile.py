"""The set-up's two commands install two different environments: `make build` the package and its own
dependencies (what build/shapes/train need), `make test` the test extras on top. Each has its own stamp, so
`make test` after `make build` only adds the extras and `make build` after `make test` reinstalls nothing.

Checked with `make -n` (what make would run) on a copy of the Makefile and the files its stamps depend on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml", "setup.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def plan(folder: Path, target: str) -> list[str]:
    """The commands `make TARGET` would run, stamps touched as if they had."""
    lines = subprocess.run(["make", "-n", target], cwd=folder, capture_output=True, text=True, check=True).stdout
    for line in lines.splitlines():
        if line.startswith("touch "):
            (folder / line.split()[1]).parent.mkdir(parents=True, exist_ok=True)
            (folder / line.split()[1]).touch()
    return [line for line in lines.splitlines() if "pip install" in line]


def test_build_installs_the_package_alone(checkout: Path) -> None:
    installs = plan(checkout, "build")
    assert installs[-1].endswith("pip install --quiet -e .")  # no extras: TensorFlow and the package's own needs


def test_test_after_build_adds_only_the_extras(checkout: Path) -> None:
    plan(checkout, "build")
    assert plan(checkout, "test") == [".venv/bin/python -m pip install --quiet -e '.[test]'"]
    assert plan(checkout, "test") == []


def test_build_after_test_reinstalls_nothing(checkout: Path) -> None:
    assert len(plan(checkout, "test")) == 3  # fresh: pip itself, the package, the extras
    assert plan(checkout, "build") == []


def test_a_changed_pyproject_reinstalls_both(checkout: Path) -> None:
    plan(checkout, "test")
    stamp = max(p.stat().st_mtime_ns for p in (checkout / ".venv").iterdir())
    os.utime(checkout / "pyproject.toml", ns=(stamp + 10**9, stamp + 10**9))
    assert len(plan(checkout, "test")) == 3
