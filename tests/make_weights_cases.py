"""Writes the adversarial corpus's weights files (tests/adversarial/weights_*): malformed and hostile sources
for ``--weights``, each with its ``.expect`` sidecar.

They are committed; rerun this script (``python tests/make_weights_cases.py``) only to change them. It needs
h5py and NumPy, not Keras: every file is written by hand, in the layouts Keras uses (a legacy HDF5 weights file
with ``layer_names``/``weight_names``, a Keras 3 ``.weights.h5`` with ``layers/<key>/vars/<n>``, a ``.keras``
zip holding config.json and model.weights.h5), with one thing wrong.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

CORPUS = Path(__file__).resolve().parent / "adversarial"
RUN = "# run: build {root}/specs/lenet.yaml --weights {path} -o {tmp}/x.keras"
LENET = {  # specs/lenet.yaml's layers with weights: name -> (kernel shape, bias shape)
    "conv_1": ((5, 5, 1, 6), (6,)),
    "conv_2": ((5, 5, 6, 16), (16,)),
    "dense_1": ((400, 120), (120,)),
    "dense_2": ((120, 100), (100,)),
    "dense_3": ((100, 10), (10,)),
}


def legacy(f: h5py.File) -> None:
    """LeNet's weights in keras.applications' legacy layout (zeros, never written: the file stays small)."""
    f.attrs["layer_names"] = np.array([n.encode() for n in LENET])
    for name, (kernel, bias) in LENET.items():
        group = f.create_group(name)
        group.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()])
        group.create_dataset(f"{name}/kernel:0", shape=kernel, dtype="float32")
        group.create_dataset(f"{name}/bias:0", shape=bias, dtype="float32")


def keras3(f: h5py.File) -> None:
    """LeNet's weights in Keras 3's .weights.h5 layout (generic keys, the layer's name on vars)."""
    for _i, (name, (kernel, bias)) in enumerate(LENET.items()):
        key = ("conv2d" if name.startswith("conv") else "dense") + (
            "" if name.endswith("_1") else f"_{int(name[-1]) - 1}"
        )
        variables = f.create_group(f"layers/{key}/vars")
        variables.attrs["name"] = name
        variables.create_dataset("0", shape=kernel, dtype="float32")
        variables.create_dataset("1", shape=bias, dtype="float32")


def h5_bytes(write: Callable[[h5py.File], None]) -> bytes:
    """The file `write` makes (on disk: HDF5 leaves holes that a file-like object would not fill)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.h5"
        with h5py.File(path, "w", libver="latest") as f:
            write(f)
        return path.read_bytes()


def keras_zip(config: bytes, weights: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        archive.writestr("config.json", config)
        archive.writestr("model.weights.h5", weights)
    return buffer.getvalue()


def then(*steps: Callable[[h5py.File], Any]) -> Callable[[h5py.File], None]:
    def write(f: h5py.File) -> None:
        for step in steps:
            step(f)

    return write


def _nan(f: h5py.File) -> None:
    f["dense_3/dense_3/kernel:0"][0, 0] = np.nan


def _strings(f: h5py.File) -> None:
    del f["dense_3/dense_3/bias:0"]
    f["dense_3"].create_dataset("dense_3/bias:0", data=np.array([b"w"] * 10))


def _relink(path: str, link: Any) -> Callable[[h5py.File], None]:
    def step(f: h5py.File) -> None:
        del f[path]
        f[path] = link

    return step


def _external_data(f: h5py.File) -> None:
    del f["dense_3/dense_3/bias:0"]
    f["dense_3"].create_dataset("dense_3/bias:0", shape=(10,), dtype="float32", external=[("/etc/passwd", 0, 40)])


def _cycle(f: h5py.File) -> None:
    f["layers/loop/layers"] = f["layers"]  # a hard link: the group holds itself


def _scalar_names(f: h5py.File) -> None:
    f.attrs["layer_names"] = "conv_1"


def _missing_group(f: h5py.File) -> None:
    f.attrs["layer_names"] = np.array([n.encode() for n in [*LENET, "conv_9"]])


CASES: dict[str, tuple[Callable[[], bytes], list[str]]] = {
    "weights_cyclic_group.weights.h5": (
        lambda: h5_bytes(then(keras3, _cycle)),
        ["contains itself (a cycle of groups)"],
    ),
    "weights_external_link.h5": (
        lambda: h5_bytes(then(legacy, _relink("conv_2", h5py.ExternalLink("/etc/passwd", "/")))),
        ["/conv_2 is a link to another file (/etc/passwd); it is not followed"],
    ),
    "weights_external_link_tensor.weights.h5": (
        lambda: h5_bytes(then(keras3, _relink("layers/dense/vars/0", h5py.ExternalLink("/etc/passwd", "/x")))),
        ["is a link to another file (/etc/passwd)"],
    ),
    "weights_soft_link.h5": (
        lambda: h5_bytes(then(legacy, _relink("conv_2", h5py.SoftLink("/conv_1")))),
        ["/conv_2 is a soft link"],
    ),
    "weights_dangling_soft_link.weights.h5": (
        lambda: h5_bytes(then(keras3, _relink("layers/dense", h5py.SoftLink("/nowhere")))),
        ["/layers/dense is a soft link"],
    ),
    "weights_external_data.h5": (lambda: h5_bytes(then(legacy, _external_data)), ["keeps its data in another file"]),
    "weights_layer_without_group.h5": (lambda: h5_bytes(then(legacy, _missing_group)), ["/conv_9 is missing"]),
    "weights_layer_names_not_a_list.h5": (
        lambda: h5_bytes(then(legacy, _scalar_names)),
        ["@layer_names is not a list of names"],
    ),
    "weights_string_tensor.h5": (
        lambda: h5_bytes(then(legacy, _strings)),
        ["/dense_3/dense_3/bias:0 holds text (|S1), not real numbers"],
    ),
    "weights_nan.h5": (lambda: h5_bytes(then(legacy, _nan)), ["NaN or infinite"]),
    "weights_nested_config.keras": (
        lambda: keras_zip(b"[" * 200_000 + b"]" * 200_000, h5_bytes(keras3)),
        ["nested too deeply"],
    ),
    "weights_truncated.h5": (lambda: _half(h5_bytes(legacy)), ["truncated"]),
    "weights_truncated.keras": (lambda: _half(keras_zip(b"{}", h5_bytes(keras3))), ["cut short"]),
    "weights_truncated_inner.keras": (lambda: _truncated_inner(), ["truncated"]),
    "weights_empty.h5": (lambda: b"", ["is empty"]),
    "weights_empty.keras": (lambda: b"", ["is empty"]),
    "weights_empty.weights.h5": (lambda: b"", ["is empty"]),
}


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _truncated_inner() -> bytes:
    """A whole zip archive whose model.weights.h5 was cut before it was zipped."""
    return keras_zip(b"{}", _half(h5_bytes(keras3)))


def main() -> None:
    for name, (make, expected) in CASES.items():
        (CORPUS / name).write_bytes(make())
        (CORPUS / f"{name}.expect").write_text("\n".join([RUN, *(f"# expect: {e}" for e in expected)]) + "\n")
        print(f"wrote {name} ({(CORPUS / name).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
