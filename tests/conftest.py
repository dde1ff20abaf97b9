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


def every_layer(model: Any) -> list[Any]:
    """Every layer, nested models' layers in their place (ConvNeXt's stem is a Sequential)."""
    import keras

    out = []
    for layer in model.layers:
        out.extend(every_layer(layer) if isinstance(layer, keras.Model) else [layer])
    return out


def lively_batchnorm(model: Any, calibration: Any, rng: Any) -> None:
    """Batch-normalization weights under which a randomly initialised network's outputs depend on its input, and
    on each of gamma, beta, the moving mean and variance, and epsilon: for tests that compare two computations of
    the network (parity with Keras' own, an exported artifact).

    Why not random statistics near a fresh layer's (mean 0, variance 1): they normalise nothing, so each layer
    scales the signal by whatever its random kernel's scale is, and the signal fades with depth. Measured on the
    zoo's parity networks: MobileNetV2's two examples differed by 3e-7 of their values at out_relu, MobileNet's,
    MobileNetV3's similarly; the outputs then depended on the last layers' biases only, and swapping two early
    layers' weights still passed the comparison.

    So gamma and beta are drawn (U(0.5, 1.5), N(0, 0.1)) and `calibration` (a batch drawn like the test's input,
    eight examples or more, not the test's own: a network normalising each batch by its own statistics in
    inference would then agree) runs once in training mode with momentum 0, which makes each moving mean and
    variance the real statistics of the layer's input on that batch. Each layer then normalises what reaches it,
    in inference as on the calibration batch: the signal keeps its scale at any depth, and epsilon shows where a
    variance is small. The statistics are not perturbed afterwards: an error in one layer's statistics is not
    corrected by the next layers' (taken without it) and compounds (EfficientNet-B0's features grew thirty-fold,
    its softmax saturated); two calibration examples instead of eight compound the same way (EfficientNetV2-B0)."""
    import keras

    layers = [layer for layer in every_layer(model) if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        if layer.scale:
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape).astype(layer.gamma.dtype))
        if layer.center:
            layer.beta.assign(rng.normal(0, 0.1, layer.beta.shape).astype(layer.beta.dtype))
        layer.momentum = 0.0
    try:
        model(calibration, training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum


def input_dependence(y: Any) -> float:
    """How much a batch's outputs depend on which example went in: max |y[0] - y[1]| over max |y|."""
    import numpy as np

    y = np.asarray(y)
    return float(np.abs(y[0] - y[1]).max() / np.abs(y).max())


def assert_depends_on_input(y: Any, at_least: float, where: str) -> None:
    """A comparison of outputs sees the network's layers only where the outputs depend on the input: a signal that
    faded with depth leaves outputs that two networks agree on whatever their early layers compute."""
    found = input_dependence(y)
    assert found >= at_least, (
        f"{where}: the two examples differ by {found:.1e} of the values' scale (at least {at_least:.0e} wanted): the "
        f"input's signal fades before it, so the comparison cannot see the layers that carry it"
    )
