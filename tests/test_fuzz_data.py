"""Fuzzing the data readers: image bytes, .npy, .npz and IDX files made by Hypothesis (random, or valid files cut short
and with bytes changed) are read, or refused with a SpecError naming the file; never another exception, never
an image larger than the pixel limit, never one whose size differs from what its header declared.

`bench/fuzz.py` runs many more examples by setting ARCHSPEC_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tempfile
from functools import lru_cache
from pathlib import Path

import hostile as H
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import archspec
from archspec.training import data as D
from archspec.training.data import decode as dec

SCALE = int(os.environ.get("ARCHSPEC_FUZZ_EXAMPLES", "1"))
DATA = settings(max_examples=120 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
LIMIT = 250_000


@lru_cache(maxsize=1)
def seeds() -> list[bytes]:
    """Valid files of every format, to be broken."""
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 255, (6, 9, 1), dtype=np.uint8)
    return [
        H.png(grey),
        H.png(rng.integers(0, 65535, (5, 4, 4)).astype(np.uint16)),
        H.png(grey[..., 0] % 2, palette=np.array([[0, 0, 0], [255, 0, 0]]), transparency=b"\x00\xff"),
        H.webp(7, 5),
        H.gif(9, 6, frames=3),
        H.with_orientation(H.jpeg(np.repeat(grey, 3, -1)), 6),
        H.jpeg_declaring(300, 200),
        H.bmp_declaring(40, 30),
    ]


SEEDS = seeds()  # made once, outside any strategy (TensorFlow's encoder touches the random module)


@st.composite
def image_bytes(draw) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        data[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def located(exc: archspec.SpecError, name: str) -> None:
    assert exc.problems and exc.problems[0].file == name, str(exc)


@DATA
@given(image_bytes())
def test_image_bytes_are_decoded_as_declared_or_refused_by_name(data):
    try:
        image = dec.decode_bytes(data, "upload.bin", max_pixels=LIMIT)
    except archspec.SpecError as exc:
        located(exc, "upload.bin")
        return
    head = dec.header(data, "upload.bin")
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (1, 3, 4)
    if head.format == "gif":  # decoded at its frames' size, within the largest declared
        assert image.shape[0] <= head.height and image.shape[1] <= head.width
    else:
        assert image.shape[:2] == head.upright
    assert image.shape[0] * image.shape[1] <= LIMIT


@DATA
@given(image_bytes(), st.sampled_from([".png", ".jpg", ".gif", ".webp", ".bmp"]))
def test_image_files_are_read_or_refused_by_name(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"image{suffix}"
        path.write_bytes(data)
        try:
            [(name, image)] = dec.read_images(path)
        except archspec.SpecError as exc:
            located(exc, str(path))
            return
        assert name == str(path) and image.ndim == 3


arrays = hnp.arrays(
    dtype=st.sampled_from(
        [np.uint8, np.int16, np.int64, np.float32, np.float64, np.bool_, np.complex64, np.dtype("<U2")]
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
)


def saved(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


@DATA
@given(arrays, st.integers(0, 400), st.booleans())
def test_npy_files_are_read_or_refused_by_name(array, cut, truncate):
    data = saved(array)
    data = data[:cut] if truncate else data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.npy"
        path.write_bytes(data)
        try:
            images = dec.read_images(path)
        except archspec.SpecError as exc:
            located(exc, str(path))
            return
        assert all(np.isfinite(image).all() for _name, image in images if image.dtype.kind in "fc")


@DATA
@given(arrays, arrays, st.integers(0, 3000), st.booleans())
def test_npz_sources_are_loaded_or_refused_by_name(x, y, cut, truncate):
    out = io.BytesIO()
    np.savez(out, x=x, y=y)
    data = out.getvalue()[:cut] if truncate else out.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        path.write_bytes(data)
        try:
            images = D.load(str(path))
        except archspec.SpecError as exc:
            located(exc, str(path))
            return
        assert images.count == len(images.y) and np.isfinite(images.x.astype(np.float64)).all()


@st.composite
def idx_files(draw) -> bytes:
    kind = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0x07]))
    ndim = draw(st.integers(0, 5))
    dims = draw(st.lists(st.integers(0, 7), min_size=ndim, max_size=ndim))
    magic = bytes([0, draw(st.sampled_from([0, 0, 1])), kind, ndim])
    payload = draw(st.binary(max_size=600))
    data = magic + b"".join(struct.pack(">I", d) for d in dims) + payload
    return gzip.compress(data) if draw(st.booleans()) else data


@DATA
@given(idx_files())
def test_idx_files_are_read_or_refused_by_name(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train-images-idx3-ubyte"
        path.write_bytes(data)
        try:
            array = D.read_idx(path)
        except archspec.SpecError as exc:
            located(exc, str(path))
            return
        raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        assert array.shape == tuple(struct.unpack(f">{raw[3]}I", raw[4 : 4 + 4 * raw[3]]))
