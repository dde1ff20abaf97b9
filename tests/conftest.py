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
