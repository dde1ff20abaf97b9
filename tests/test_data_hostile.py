"""Image and array data that is broken or hostile: decoded right, skipped with a line naming it, or refused naming it;
never a hang, never unbounded memory, never a traceback, never silent training or scoring on garbage.

Each class is handled once, in the reader every command shares (``training/data``): `train`, `evaluate`, `predict`,
`inspect` and `serve` read images through ``decode`` and sources through ``sources``. Files are made by hand
(``hostile.py``); the model asked is the legacy run fixture (8x8 grey images, classes 0, 1, 2).
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
import tracemalloc
from types import SimpleNamespace

import hostile as H
import numpy as np
import pytest
from conftest import ROOT

import archspec
from archspec.cli import main
from archspec.spec.training import Data
from archspec.training import data as D
from archspec.training.data import decode as dec

RUN = ROOT / "tests" / "fixtures" / "legacy-run"
rng = np.random.default_rng(0)


def grey(h: int = 8, w: int = 8) -> np.ndarray:
    return rng.integers(0, 255, (h, w, 1), dtype=np.uint8)


def folder(root, layout: dict[str, int], make=lambda: H.png(grey())):
    """`layout`: class folder -> how many 8x8 grey PNGs it holds."""
    for name, count in layout.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (root / name / f"{i}.png").write_bytes(make())
    return root


# -- headers: every format's size read before decoding -------------------------------------------------------------


@pytest.mark.parametrize(
    "data, size",
    [
        (H.jpeg_declaring(5000, 4000, fill=3), (5000, 4000)),  # legal 0xFF fill bytes before the frame header
        (H.webp_declaring(16383, 16383), (16383, 16383)),
        (H.webp(7, 9), (7, 9)),
        (H.gif(30, 40, frames=3), (30, 40)),
        (H.gif(1, 1, frame=(5000, 3000)), (5000, 3000)),  # the decoder goes by the frame, not the screen
        (H.bmp_declaring(300, 200), (300, 200)),
    ],
)
def test_every_format_declares_its_size(data, size):
    assert dec.declared_size(data) == size


def test_an_animation_costs_every_frame():
    with pytest.raises(archspec.SpecError, match="declares 100x100 pixels in each of 30 frames; the limit is 100,000"):
        dec.decode_bytes(H.gif(100, 100, frames=30), "anim.gif", max_pixels=100_000)
    assert dec.decode_bytes(H.gif(100, 100, frames=3), "anim.gif", max_pixels=100_000).shape[2] == 3


def test_a_size_that_cannot_be_read_is_refused_before_decoding():
    no_frame = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xda\x00\x08" + bytes(64)
    with pytest.raises(archspec.SpecError, match="header does not say the image's size") as caught:
        dec.decode_bytes(no_frame, "upload.jpg", max_pixels=16_000_000)
    assert caught.value.problems[0].file == "upload.jpg"


@pytest.mark.parametrize(
    "data", [H.jpeg_declaring(5000, 5000, fill=3), H.webp_declaring(3000, 3000)], ids=["jpeg-fill", "webp"]
)
def test_the_serve_limit_holds_for_jpeg_fill_bytes_and_webp(data):
    with pytest.raises(archspec.SpecError, match=r"x\d+ pixels; the limit is 1,000,000 pixels"):
        dec.decode_bytes(data, "upload", max_pixels=1_000_000)


def test_every_command_has_a_pixel_limit_that_can_be_set(tmp_path, monkeypatch):
    image = tmp_path / "wide.png"
    image.write_bytes(H.png(grey(40, 60)))
    assert dec.decode_file(image).shape == (40, 60, 1)
    monkeypatch.setenv("ARCHSPEC_MAX_PIXELS", "2000")
    with pytest.raises(archspec.SpecError, match="60x40 pixels; the limit is 2,000 pixels") as caught:
        dec.read_images(image)
    assert caught.value.problems[0].file == str(image)
    monkeypatch.setenv("ARCHSPEC_MAX_PIXELS", "lots")
    with pytest.raises(archspec.SpecError, match="whole number of pixels"):
        dec.read_images(image)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "the file is empty"),
        (b"Hello, I am a text file\n", "not an image: the file starts with 'Hello, I am '"),
        (b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X", "not an image: the file starts with 00 05 16 07"),
    ],
)
def test_what_is_no_image_is_named_whatever_its_name(tmp_path, data, message):
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    with pytest.raises(archspec.SpecError, match=message) as caught:
        dec.read_images(path)
    assert caught.value.problems[0].file == str(path)


def test_a_huge_non_image_is_refused_from_its_first_bytes(tmp_path):
    path = tmp_path / "video.png"
    with open(path, "wb") as f:
        f.write(b"not an image at all")
        f.truncate(300_000_000)  # sparse: costs no disk
    tracemalloc.start()
    try:
        with pytest.raises(archspec.SpecError, match="not an image"):
            dec.read_images(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


# -- formats decoded right -------------------------------------------------------------------------------------------


def test_webp_is_decoded(tmp_path):
    path = tmp_path / "colour.webp"
    path.write_bytes(H.webp(5, 3, (255, 10, 20, 30)))
    [(name, image)] = dec.read_images(path)
    assert name == str(path) and image.shape == (3, 5, 3) and image[1, 2].tolist() == [10, 20, 30]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_the_image_upright(orientation):
    stored = np.zeros((6, 10, 3), np.uint8)
    stored[:3, :5] = 255  # a bright top-left quarter, stored
    upright = {
        1: stored,
        2: stored[:, ::-1],
        3: stored[::-1, ::-1],
        4: stored[::-1],
        5: stored.transpose(1, 0, 2),
        6: np.rot90(stored, -1),
        7: stored.transpose(1, 0, 2)[::-1, ::-1],
        8: np.rot90(stored, 1),
    }[orientation]
    image = dec.decode_bytes(H.with_orientation(H.jpeg(stored, 100), orientation), "phone.jpg")
    assert image.shape == upright.shape
    assert np.abs(image.astype(int) - upright.astype(int)).max() < 40


def test_a_folder_of_rotated_photos_is_seen_upright(tmp_path):
    stored = np.zeros((6, 10, 1), np.uint8)
    stored[:3, :5] = 255
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "turned.jpg").write_bytes(H.with_orientation(H.jpeg(stored, 100), 6))
    images = D.load(str(tmp_path))
    assert images.file_shapes[:, :2].tolist() == [[10, 6], [10, 6]]
    cfg = Data()
    seen = np.asarray(D.pipeline.prepared(images, D.plan(images, (10, 6, 1), 2, cfg))(np.arange(2)))
    assert np.abs(seen[0] * 255 - np.rot90(stored, -1)).max() < 40


# -- folders: what is not a class -------------------------------------------------------------------------------------


def test_hidden_looping_and_empty_folders_are_no_classes(tmp_path, caplog):
    root = folder(tmp_path / "data", {"cat": 2, "dog": 2, ".ipynb_checkpoints": 1, "empty": 0})
    (root / "dog" / "._1.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS' resource fork: hidden, no image
    os.symlink(root, root / "again")
    os.symlink(root, root / "cat" / "up")  # a loop inside a class: not followed, no hang
    with caplog.at_level(logging.WARNING, logger="archspec.data"):
        images = D.load(str(root))
    assert images.class_names == ["cat", "dog"] and images.count == 4
    lines = caplog.text
    for shown in (
        ".ipynb_checkpoints: skipped: a hidden folder",
        "again: skipped: it links back to",
        "empty: skipped: no image files",
        "skipped 1 hidden file, e.g. " + str(root / "dog" / "._1.png"),
        "up: skipped: a link to a folder inside a class",
    ):
        assert shown in lines, lines


def test_a_folder_of_one_class_is_not_trained_on(tmp_path):
    images = D.from_arrays(np.zeros((4, 8, 8), np.uint8), np.zeros(4, np.int64), "one", classes=1, class_names=["cats"])
    cfg = Data()
    with pytest.raises(archspec.SpecError, match=r"one class only \(cats\)"):
        D.plan(images, (8, 8, 1), 1, cfg, role="training data")
    assert D.plan(images, (8, 8, 1), 1, cfg, role="evaluation data").classes == 1  # evaluating one class is fine


def test_names_that_are_not_utf8(tmp_path):
    root = folder(tmp_path / "data", {"a": 1, "b": 1})
    with open(os.fsencode(root / "a") + b"/caf\xe9.png", "wb") as f:
        f.write(H.png(grey()))
    images = D.load(str(root))
    assert images.count == 3
    cfg = Data()
    assert len([x for x, _ in D.eval_dataset(images, D.plan(images, (8, 8, 1), 2, cfg), batch_size=2)]) == 2
    os.mkdir(os.fsencode(root) + b"/\xe9t\xe9")
    with open(os.fsencode(root) + b"/\xe9t\xe9/1.png", "wb") as f:
        f.write(H.png(grey()))
    with pytest.raises(archspec.SpecError, match="class folder's name is not UTF-8") as caught:
        D.load(str(root))
    assert "\\udce9t\\udce9" in str(caught.value)


def test_a_bomb_in_a_folder_is_refused_before_decoding(tmp_path, monkeypatch):
    root = folder(tmp_path / "data", {"a": 1, "b": 1})
    (root / "b" / "huge.png").write_bytes(H.png(grey(64, 64)))
    monkeypatch.setenv("ARCHSPEC_MAX_PIXELS", "1000")
    with pytest.raises(archspec.SpecError, match="64x64 pixels; the limit is 1,000") as caught:
        D.load(str(root))
    assert caught.value.problems[0].file == str(root / "b" / "huge.png")


# -- IDX --------------------------------------------------------------------------------------------------------------


def test_a_gzip_idx_bomb_is_refused_by_its_first_bytes(tmp_path):
    wrong = tmp_path / "wrong-images-idx3-ubyte.gz"
    wrong.write_bytes(gzip.compress(b"PK\x03\x04" + bytes(60_000_000), 9))
    lying = tmp_path / "lying-images-idx3-ubyte.gz"
    lying.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">III", 10_000_000, 28, 28) + bytes(1000)))
    tracemalloc.start()
    try:
        with pytest.raises(archspec.SpecError, match=r"not an IDX file .magic number 504b0304, after gunzip"):
            D.read_idx(wrong)
        with pytest.raises(archspec.SpecError, match="gzip data, which cannot inflate to that much"):
            D.read_idx(lying)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_an_idx_file_cut_short_is_named(tmp_path):
    cut = tmp_path / "cut-images-idx3-ubyte.gz"
    cut.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">III", 3, 4, 4) + bytes(40)))
    with pytest.raises(archspec.SpecError, match="holds only 40 of that") as caught:
        D.read_idx(cut)
    assert caught.value.problems[0].file == str(cut)


# -- arrays -----------------------------------------------------------------------------------------------------------


def test_nan_and_inf_in_arrays_are_refused_with_their_count(tmp_path):
    x = np.full((4, 8, 8), 0.5, np.float32)
    x[0, 0, :3], x[1, 1, 1] = np.nan, np.inf
    np.savez(tmp_path / "data.npz", x=x, y=np.arange(4) % 2)
    with pytest.raises(archspec.SpecError, match=r"holds 4 NaN and infinite values \(of 256\)") as caught:
        D.load(str(tmp_path / "data.npz"))
    assert caught.value.problems[0].file == str(tmp_path / "data.npz")
    np.save(tmp_path / "one.npy", x[1])
    with pytest.raises(archspec.SpecError, match="holds 1 infinite value"):
        dec.read_images(tmp_path / "one.npy")


def _two_inputs():
    """What predict reads of a trained network with an image input and a vector input."""
    net = SimpleNamespace(inputs={"image": (8, 8, 1), "meta": (3,)}, outputs={"digit": None}, named_inputs=True)
    cfg = Data()
    return SimpleNamespace(net=net, data=cfg)


@pytest.mark.parametrize(
    "arrays, message",
    [
        (
            {"image": np.zeros((2, 8, 8), np.uint8), "meta": np.zeros((2, 5), np.float32)},
            "input 'meta' takes vectors of 3 numbers",
        ),
        (
            {"image": np.zeros((2, 8, 8), np.uint8), "meta": np.array([[1, 2, 3], [4, 5, {}]], dtype=object)},
            "holds Python objects",
        ),
        ({"image": np.zeros((2, 8, 8), np.uint8), "meta": np.full((2, 3), np.nan)}, "array 'meta' holds 6 NaN values"),
        ({"image": np.zeros((2, 8, 8), np.uint8)}, "no array named 'meta'"),
        ({"image": np.zeros((2, 8, 8), np.uint8), "meta": np.zeros((3, 3))}, "arrays of different lengths"),
    ],
)
def test_predict_checks_arrays_as_evaluate_does(arrays, message):
    from archspec.training import predict

    with pytest.raises(archspec.SpecError, match=message):
        predict._examples(_two_inputs(), arrays)
    x = predict._examples(_two_inputs(), {"image": np.zeros((2, 8, 8), np.uint8), "meta": np.ones((2, 3))})
    assert len(x) == 2 and x[1][1]["meta"].shape == (1, 3)


# -- evaluate: classes by name, broken files named ---------------------------------------------------------------------


def test_evaluate_matches_classes_by_name(tmp_path, capsys):
    root = folder(tmp_path / "data", {"2": 3, "0": 2})  # the run's classes are 0, 1, 2: the folder holds two of them
    result = archspec.evaluate(RUN, str(root))
    assert result.confusion.sum(axis=1).tolist() == [2, 0, 3]
    other = folder(tmp_path / "other", {"nine": 1, "2": 1})
    assert main(["evaluate", str(RUN), "--data", str(other)]) == 2
    err = capsys.readouterr().err
    assert "the model has no class 'nine'" in err and "the model's classes: 0, 1, 2" in err


def test_evaluate_names_a_truncated_jpeg(tmp_path, capsys):
    good = H.jpeg(np.repeat(grey(), 3, -1))
    root = folder(tmp_path / "data", {"0": 2, "1": 2, "2": 1}, make=lambda: good)
    for path in root.rglob("*.png"):
        path.rename(path.with_suffix(".jpg"))
    (root / "1" / "cut.jpg").write_bytes(
        good[: good.index(b"\xff\xda") + 20]
    )  # every header whole, the pixels cut short
    assert main(["evaluate", str(RUN), "--data", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{root / '1' / 'cut.jpg'}: cannot decode the image") and "Traceback" not in err


def test_an_npz_whose_array_declares_more_than_it_holds_is_refused_before_allocating(tmp_path):
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (100_000, 1000, 1000)}
    )
    path = tmp_path / "lying.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(64))
        archive.writestr("y.npy", header.getvalue())
    tracemalloc.start()
    try:
        with pytest.raises(
            archspec.SpecError,
            match=r"array 'x' declares shape \(100000, 1000, 1000\) \(100,000,000,000 bytes\) but holds 64",
        ):
            D.load(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


@pytest.mark.parametrize(
    "y, message",
    [
        (np.zeros((0, 0), np.uint8), r"labels must have shape \(N,\)"),  # found by test_fuzz_data: an IndexError before
        (np.array([["b", "a"], ["a", "b"]]), "labels must be numbers, got dtype <U1"),  # argmax took text as one-hot
        (np.array([[np.nan, 1.0], [1.0, 0.0]]), "the label array holds 1 NaN value"),  # argmax hid the NaN
    ],
)
def test_labels_that_are_no_class_numbers_are_refused(y, message):
    with pytest.raises(archspec.SpecError, match=message):
        D.from_arrays(np.zeros((len(y), 8, 8), np.uint8), y, "labels.npz")
