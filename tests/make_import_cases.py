"""Writes the adversarial corpus's `archspec import` cases (tests/adversarial/import_*.keras): small Keras
models a spec cannot express, each with its ``.expect`` sidecar. Errors must name the model file (or the
option), never the spec text the importer generated.

They are committed; rerun this script (``python tests/make_import_cases.py``, needs Keras) only to change them.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "adversarial"


def main() -> None:
    import keras

    def image():
        return keras.Input((8, 8, 1), name="img")

    cases = {}
    i = image()
    d = keras.layers.Dense(3, name="d")(keras.layers.Flatten(name="f")(i))
    cases["import_two_outputs_one_layer"] = (
        keras.Model(i, [d, d], name="twice"),
        "",
        ["output 1 and output 2 of model 'twice' are both layer 'd'"],
    )
    cases["import_two_named_outputs_one_layer"] = (
        keras.Model(i, {"a": d, "b": d}, name="twice"),
        "",
        ["output 'a' and output 'b' of model 'twice' are both layer 'd'"],
    )
    j = image()
    cases["import_identity_model"] = (
        keras.Model(j, j, name="identity"),
        "",
        ["has no layers: its output is its input"],
    )
    j = image()
    cases["import_input_as_output"] = (
        keras.Model(j, [j, keras.layers.Flatten(name="f")(j)], name="through"),
        "",
        ["output 1 of model 'through' is its input 'img'"],
    )
    h = keras.Input((70_000, 70_000, 3), name="big")
    cases["import_oversized_input"] = (
        keras.Model(h, keras.layers.Conv2D(2, 3, name="c")(h), name="huge"),
        "",
        ["a spec's sizes are at most 65,536"],
    )
    o = keras.Input((None, None, 3), name="open")
    cases["import_oversized_input_shape_option"] = (
        keras.Model(o, keras.layers.Conv2D(2, 3, name="c")(o), name="open"),
        " --input-shape 70000,70000,3\n# label: --input-shape",
        ["a spec's sizes are at most 65,536"],
    )
    s = image()
    cases["import_stride_too_long"] = (
        keras.Model(s, keras.layers.Conv2D(2, 1, strides=70_000, name="c")(s), name="stride"),
        "",
        ["cannot be written as a spec: Keras layer 'c' (layers[0].conv.stride"],
    )
    v = keras.Input((4,), name="vec")
    cases["import_external_data"] = (
        keras.Model(v, keras.layers.Dense(2, name="d")(v), name="outside"),
        "",
        ["/layers/dense/vars/0 keeps its data in another file; it is not read"],
    )
    for name, (model, extra, expected) in cases.items():
        path = CORPUS / f"{name}.keras"
        model.save(path)
        if name == "import_external_data":
            _store_outside(path, "layers/dense/vars/0")
        path.with_name(path.name + ".expect").write_text(
            "\n".join([f"# run: import {{path}}{extra}", *(f"# expect: {e}" for e in expected)]) + "\n"
        )
        print(f"wrote {path.name} ({path.stat().st_size:,} bytes)")


def _store_outside(path: Path, dataset: str) -> None:
    """Rewrite the archive so that one weight tensor keeps its data in /etc/passwd (HDF5 external storage):
    Keras' loader would read that file's bytes as weights."""
    import tempfile
    import zipfile

    import h5py

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "model.weights.h5"
        weights.write_bytes(members["model.weights.h5"])
        with h5py.File(weights, "r+") as f:
            shape, dtype = f[dataset].shape, f[dataset].dtype
            del f[dataset]
            f.create_dataset(dataset, shape=shape, dtype=dtype, external=[("/etc/passwd", 0, 4 * int(sum(shape)) * 8)])
        members["model.weights.h5"] = weights.read_bytes()
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)


if __name__ == "__main__":
    main()
