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


def test_the_longest_files_are_handed_out_first_and_whole():
    """Under -n, pytest hands each file whole to a worker, in collection order (conftest.LONGEST_FIRST first): every
    name there must be a test file (a renamed file would silently lose its early start), each named once."""
    from conftest import LONGEST_FIRST

    assert "--dist loadscope --no-loadscope-reorder" in (ROOT / "pyproject.toml").read_text()
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    assert [name for name in LONGEST_FIRST if not (ROOT / "tests" / name).is_file()] == []


def test_collection_starts_with_the_longest_files(request):
    """The collected files of LONGEST_FIRST come first, in its order, each file's tests together."""
    from conftest import LONGEST_FIRST

    files = [item.path for item in request.session.items]
    runs = [path for i, path in enumerate(files) if i == 0 or files[i - 1] != path]
    assert len(runs) == len(set(runs)), "a file's tests are split"
    listed = [path.name for path in runs if path.parent.name == "tests" and path.name in LONGEST_FIRST]
    assert [path.name for path in runs[: len(listed)]] == listed == [n for n in LONGEST_FIRST if n in listed]
