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
    cases["import_two_outputs_one_layer"] = (keras.Model(i, [d, d], name="twice"), "", ["output 1 and output 2 of model 'twice' are both layer 'd'"])
    cases["import_two_named_outputs_one_layer"] = (keras.Model(i, {"a": d, "b": d}, name="twice"), "",
                                                   ["output 'a' and output 'b' of model 'twice' are both layer 'd'"])
    j = image()
    cases["import_identity_model"] = (keras.Model(j, j, name="identity"), "", ["has no layers: its output is its input"])
    j = image()
    cases["import_input_as_output"] = (keras.Model(j, [j, keras.layers.Flatten(name="f")(j)], name="through"), "",
                                       ["output 1 of model 'through' is its input 'img'"])
    h = keras.Input((70_000, 70_000, 3), name="big")
    cases["import_oversized_input"] = (keras.Model(h, keras.layers.Conv2D(2, 3, name="c")(h), name="huge"), "",
                                       ["a spec's sizes are at most 65,536"])
    o = keras.Input((None, None, 3), name="open")
    cases["import_oversized_input_shape_option"] = (keras.Model(o, keras.layers.Conv2D(2, 3, name="c")(o), name="open"),
                                                    " --input-shape 70000,70000,3\n# label: --input-shape", ["a spec's sizes are at most 65,536"])
    s = image()
    cases["import_stride_too_long"] = (keras.Model(s, keras.layers.Conv2D(2, 1, strides=70_000, name="c")(s), name="stride"), "",
                                       ["cannot be written as a spec: Keras layer 'c' (layers[0].conv.stride"])
    for name, (model, extra, expected) in cases.items():
        path = CORPUS / f"{name}.keras"
        model.save(path)
        path.with_name(path.name + ".expect").write_text(
            "\n".join([f"# run: import {{path}}{extra}", *(f"# expect: {e}" for e in expected)]) + "\n")
        print(f"wrote {path.name} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
