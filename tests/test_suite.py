"""The suite's own set-up: CI runs it as it runs here, and its marks do what they say."""

from __future__ import annotations

import re

from conftest import ROOT


def test_ci_script_sets_ci_true_before_running_the_tests():
    """A local `.ci/run` must behave like CI: missing data or extras fail instead of skipping."""
    text = (ROOT / ".ci" / "run").read_text()
    setting = re.search(r"^export CI=true$", text, re.M)
    assert setting and setting.start() < text.index("make test")


def test_no_xdist_group_without_loadgroup():
    """`xdist_group` marks do nothing unless pytest-xdist runs with --dist loadgroup (and with pytest 9.2 +
    pytest-xdist 3.8 not even then): a mark promising tests run together must not be there for show."""
    mark = "pytest.mark." + "xdist_group("  # split, so this file does not find itself
    marked = sorted(p.name for p in (ROOT / "tests").glob("test_*.py") if mark in p.read_text())
    assert not marked or "--dist loadgroup" in (ROOT / "Makefile").read_text(), marked
