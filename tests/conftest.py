"""Shared test fixtures: spec discovery, the MNIST folder, a quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
TEST_SPECS = sorted((ROOT / "tests" / "specs").glob("*.yaml"))
MNIST = Path(os.environ.get("ARCHSPEC_MNIST", ROOT.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The genuine MNIST test set; under CI=true a missing folder fails instead of skipping."""
    if not (MNIST / "t10k-images-idx3-ubyte.gz").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"MNIST data missing at {MNIST} (CI=true requires it)")
        pytest.skip(f"MNIST data not found at {MNIST}")
    return MNIST


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium for the page tests (drawings, the live view): a failure under CI=true, else a skip."""
    from archspec.tools import draw

    exe = draw.chromium()
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium missing (CI=true requires it; .ci/install-chromium.sh installs it)")
        pytest.skip("Chromium not installed (run .ci/install-chromium.sh)")
    return exe


# The test files that take longest, longest first (by the --durations of full runs on the 2-core machine). Under -n
# (`make test` runs -n 2), pyproject's addopts give pytest-xdist --dist loadscope --no-loadscope-reorder: each file
# goes whole to one worker (a module fixture, such as a trained network, is then made once, never once per worker)
# and files are handed out in the order below, then in collection order. Starting the long files first keeps both
# workers busy to the end: the last files handed out are short, so neither worker waits long for the other.
LONGEST_FIRST = (
    "test_zoo.py",
    "test_segmentation.py",
    "test_export.py",
    "test_weights_fuzz.py",
    "test_train.py",
    "test_backends.py",
    "test_run_folders.py",
    "test_precise_bn.py",
    "test_finetune.py",
    "test_train_resume.py",
    "test_distribute.py",
    "test_safety.py",
    "test_cli.py",
    "test_two_heads.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of LONGEST_FIRST first, in its order; each file's tests keep their order (stable sort)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)) if item.path.parent.name == "tests" else len(rank))
