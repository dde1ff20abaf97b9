"""Fuzzing weights files: a damaged .keras, .weights.h5 or legacy .h5 loads, or is refused with a SpecError
that names the file; never another exception.

Hypothesis flips, overwrites and cuts bytes of LeNet's weights in the three formats, damages the HDF5
file inside a well-formed .keras zip, and replaces its config.json with arbitrary JSON. ``bench/fuzz.py``
runs more examples by setting ARCHSPEC_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import SpecError
from archspec.keras_side.weights import load_weights

SCALE = int(os.environ.get("ARCHSPEC_FUZZ_EXAMPLES", "1"))
FUZZ = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
SUFFIXES = {"keras": ".keras", "weights.h5": ".weights.h5", "legacy": ".h5"}


@cache
def lenet():
    """(the model weights are loaded into, {format: the bytes of its weights file in that format})."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    model = archspec.build(str(ROOT / "specs" / "lenet.yaml"))
    folder = Path(tempfile.mkdtemp())
    archspec.save_model(model, folder / "w.keras")
    model.save_weights(folder / "w.weights.h5")
    with h5py.File(folder / "w.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return model, {fmt: (folder / f"w{suffix}").read_bytes() for fmt, suffix in SUFFIXES.items()}


def loads_or_names_the_file(data: bytes, suffix: str) -> None:
    model, _ = lenet()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged{suffix}"
        path.write_bytes(data)
        try:
            load_weights(model, path)
        except SpecError as exc:
            assert exc.file == str(path) and str(path) in str(exc), str(exc)


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """`data` with bytes overwritten, a range zeroed, or the end cut off (one or several of these)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "zero", "cut"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if how == "flip":
            out[at : at + 1] = bytes([draw(st.integers(0, 255))])
        elif how == "zero":
            out[at : at + draw(st.integers(1, 512))] = bytes(min(512, len(out) - at))
        else:
            del out[at:]
    return bytes(out)


def rezipped(data: bytes, weights: bytes | None = None, config: bytes | None = None) -> bytes:
    """The .keras archive `data` with its weights file or config.json replaced (a well-formed zip)."""
    source, buffer = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in source.namelist():
            body = source.read(name)
            if name == "model.weights.h5" and weights is not None:
                body = weights
            if name == "config.json" and config is not None:
                body = config
            archive.writestr(name, body)
    return buffer.getvalue()


@FUZZ
@given(st.sampled_from(sorted(SUFFIXES)), st.data())
def test_damaged_files_load_or_are_refused_naming_the_file(fmt, data) -> None:
    loads_or_names_the_file(data.draw(damaged(lenet()[1][fmt])), SUFFIXES[fmt])


@FUZZ
@given(st.data())
def test_a_keras_archive_with_a_damaged_weights_file_inside(data) -> None:
    archive = lenet()[1]["keras"]
    inner = zipfile.ZipFile(io.BytesIO(archive)).read("model.weights.h5")
    loads_or_names_the_file(rezipped(archive, weights=data.draw(damaged(inner))), ".keras")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["config", "layers", "name", "class_name", "x"]), inner, max_size=4)
    ),
    max_leaves=30,
)


@FUZZ
@given(json_values | st.binary(max_size=64).map(lambda b: b))
def test_a_keras_archive_with_any_config(config) -> None:
    body = config if isinstance(config, bytes) else json.dumps(config).encode()
    loads_or_names_the_file(rezipped(lenet()[1]["keras"], config=body), ".keras")


# ----------------------------------------------------------------------------- the probe


def test_a_file_the_hdf5_library_hangs_on_is_refused_not_waited_for(tmp_path, monkeypatch) -> None:
    """Fuzzing found legacy files whose damaged string heap makes HDF5 spin forever on reading `layer_names`
    (no Python code can interrupt it). The probe reads the file in a child process first and kills it;
    here the child is made to hang on purpose, and then to crash."""
    from archspec.keras_side import weights as W

    path = tmp_path / "w.h5"
    path.write_bytes(lenet()[1]["legacy"])
    monkeypatch.setattr(W, "PROBE_SECONDS", 2)
    monkeypatch.setattr(W, "PROBE_CODE", "import time; time.sleep(60)")
    with pytest.raises(SpecError) as hung:  # a hanging read is not waited for
        load_weights(lenet()[0], path)
    assert hung.value.file == str(path) and "did not finish in 2 s" in hung.value.message
    monkeypatch.setattr(W, "PROBE_CODE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(SpecError) as crashed:  # nor is a crashing one taken
        load_weights(lenet()[0], path)
    assert crashed.value.file == str(path) and "crashed the HDF5 library (signal 11)" in crashed.value.message
    monkeypatch.undo()
    assert load_weights(lenet()[0], path).complete  # the real probe passes a sound file


def test_one_prober_reads_file_after_file(tmp_path) -> None:
    """The probe's process is started once and forks a reader per file (a fresh Python with h5py per file cost
    0.3 s of CPU each); a reader that hangs takes its prober down, and the next file gets a new one."""
    from archspec.keras_side import prober

    path = tmp_path / "w.weights.h5"
    path.write_bytes(lenet()[1]["weights.h5"])
    assert prober.read("pass", path, 30) == prober.Outcome()
    assert prober._child is not None
    first = prober._child.pid
    readers = {prober.read("import os; print(os.getpid())", path, 30).status for _ in range(3)}
    assert readers == {0} and prober._child.pid == first  # the same prober, its prints kept out of the answers
    assert prober.read("raise ValueError", path, 30) == prober.Outcome(status=1)
    assert prober.read("import time; time.sleep(60)", path, 1) == prober.Outcome(hung=True)
    assert prober._child is None
    assert prober.read("pass", path, 30) == prober.Outcome() and prober._child.pid != first
