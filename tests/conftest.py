"""Shared test fixtures: spec discovery, the MNIST folder, a quiet TensorFlow."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
TEST_SPECS = sorted((ROOT / "tests" / "specs").glob("*.yaml"))
MNIST = Path(os.environ.get("ARCHSPEC_MNIST", ROOT.parent / "shared" / "data" / "mnist"))

if os.environ.get("ARCHSPEC_CPU_PROFILE"):  # CPU seconds per test: tests/cpu_profile.py
    pytest_plugins = ["cpu_profile"]


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
    "test_search_study.py",
    "test_augment_layers.py",
    "test_docs_runs.py",
    "test_e2e_execution.py",
    "test_lsp_neovim.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of LONGEST_FIRST first, in its order; each file's tests keep their order (stable sort)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)) if item.path.parent.name == "tests" else len(rank))


_frozen_at: list[Path] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """At each file's first test, collect the garbage and freeze what survives (gc.freeze): a full collection then
    skips the objects earlier files left alive (TensorFlow's modules, Keras' caches). Without it, every
    `keras.backend.clear_session()` (a gc.collect) scanned the whole heap the worker had grown: late in a run a
    file that builds forty networks spent two thirds of its time in the garbage collector
    (tests/test_import_applications.py: 86 CPU s in the suite, 29 alone). The previous file's module fixtures are
    torn down before this runs, so they are freed, not frozen."""
    if _frozen_at[-1:] != [item.path]:
        _frozen_at[:] = [item.path]
        gc.collect()
        gc.freeze()


# Fixtures shared by several test modules live here, so a module uses one by name instead of importing it.


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """`archspec lsp` over stdio, driven by tests/language_server.py (one per module: test_lsp, test_lsp_edit)."""
    pytest.importorskip("pygls")
    from language_server import LanguageServer

    command = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from archspec.cli import run; run()",
        "lsp",
    ]
    ls = LanguageServer(command, {}, ROOT)
    yield ls
    ls.close()


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    """A copy of LeNet's spec the server may write (test_serve, test_serve_bounds)."""
    target = tmp_path / "lenet.yaml"
    shutil.copy(ROOT / "specs" / "lenet.yaml", target)
    return target


@contextlib.contextmanager
def without_weights() -> Iterator[None]:
    """Keras layers built without drawing initial weights (for shapes, counts and graphs), and Keras' session
    cleared afterwards even when the test fails: that forgets the uninitialised variables, which the next
    StatelessScope in the worker would otherwise initialise (all of them: gigabytes, seconds)."""
    import keras

    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        keras.backend.clear_session()


def read_idx(path: Path) -> Any:
    """An MNIST IDX file (gzip) as a NumPy array."""
    import gzip

    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


@pytest.fixture(scope="module")
def digits(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, int]]:
    """Three test digits the model never saw, as PNG files, with their labels (test_serve, test_serve_dom)."""
    from archspec.tools.inspection import png

    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    folder = tmp_path_factory.mktemp("digits")
    out = []
    for i in (9000, 9001, 9002):
        path = folder / f"digit{i}.png"
        path.write_bytes(png(images[i]))
        out.append((path, int(labels[i])))
    return out
