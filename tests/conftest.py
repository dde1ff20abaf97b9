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
