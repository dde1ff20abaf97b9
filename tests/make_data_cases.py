"""Write the adversarial corpus's data cases (tests/adversarial/data_*): broken and hostile images and arrays given to
`predict`, `inspect` and `evaluate` of the legacy run fixture, each with its `.expect` sidecar.

    python tests/make_data_cases.py      # rewrites them; the files are committed
"""

from __future__ import annotations

import io
from pathlib import Path

import hostile as H
import numpy as np

CORPUS = Path(__file__).resolve().parent / "adversarial"
RUN = "{root}/tests/fixtures/legacy-run"
PREDICT = f"predict {RUN} {{path}}"
EVALUATE = f"evaluate {RUN} --data {{path}}"


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=array.dtype == object)
    return out.getvalue()


def npz(**arrays: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def truncated_png() -> bytes:
    whole = H.png(np.arange(64, dtype=np.uint8).reshape(8, 8, 1))
    return whole[: whole.index(b"IDAT") + 12]  # the header whole, the pixels cut short


rng = np.random.default_rng(0)
half_nan = np.full((8, 8), 0.5, np.float32)
half_nan[:4] = np.nan
infinite = np.full((6, 8, 8), 0.5, np.float32)
infinite[2, 3, :5] = np.inf
no_frame = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    + bytes(40)
)

CASES: dict[str, tuple[bytes, str, list[str]]] = {
    # name: (bytes, run, expected fragments)
    "data_zero_byte.png": (b"", PREDICT, ["the file is empty"]),
    "data_text_named.jpg": (
        b"GIF? no: a text file named like a photo\n",
        PREDICT,
        ["not an image: the file starts with"],
    ),
    "data_apple_double.jpg": (
        b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ",
        PREDICT,
        ["not an image", "00 05 16 07"],
    ),
    "data_png_bomb.png": (H.png_declaring(30000, 30000), PREDICT, ["30000x30000 pixels; the limit is"]),
    "data_png_bomb_rgba.png": (
        H.png_declaring(23000, 23000, channels=4),
        PREDICT,
        ["23000x23000 pixels; the limit is"],
    ),
    "data_webp_bomb.webp": (H.webp_declaring(16383, 16383), PREDICT, ["16383x16383 pixels; the limit is"]),
    "data_jpeg_fill_bytes.jpg": (H.jpeg_declaring(20000, 20000, fill=3), PREDICT, ["20000x20000 pixels; the limit is"]),
    "data_jpeg_without_size.jpg": (no_frame, PREDICT, ["JPEG header does not say the image's size"]),
    "data_bmp_bomb.bmp": (H.bmp_declaring(30000, 30000), PREDICT, ["30000x30000 pixels; the limit is"]),
    "data_gif_bomb.gif": (
        H.gif(65535, 65535, frames=2),
        PREDICT,
        ["65535x65535 pixels in each of 2 frames; the limit is"],
    ),
    "data_png_empty_canvas.png": (H.png_declaring(0, 8), PREDICT, ["declares an empty image (0x8)"]),
    "data_truncated.png": (truncated_png(), PREDICT, ["cannot decode the image"]),
    "data_inspect_bomb.png": (
        H.png_declaring(20000, 20000),
        f"inspect {RUN} --input {{path}} -o {{tmp}}/report.html",
        ["20000x20000 pixels; the limit is"],
    ),
    "data_nan_image.npy": (npy(half_nan), PREDICT, ["the array holds 32 NaN values (of 64)"]),
    "data_npz_named_npy.npy": (npz(x=np.zeros((2, 8, 8), np.uint8)), PREDICT, ["not a .npy array"]),
    "data_object_array.npy": (npy(np.array([1, "two", None], dtype=object)), PREDICT, ["cannot read as .npy"]),
    "data_text_array.npy": (
        npy(np.array([["a", "b"], ["c", "d"]])),
        PREDICT,
        ["expected numbers, got an array of dtype <U1"],
    ),
    "data_inf_images.npz": (
        npz(x=infinite, y=np.arange(6) % 3),
        EVALUATE,
        ["the image array holds 5 infinite values (of 384)"],
    ),
    "data_nan_labels.npz": (
        npz(x=np.zeros((3, 8, 8), np.uint8), y=np.array([0.0, np.nan, 1.0])),
        EVALUATE,
        ["the label array holds 1 NaN value"],
    ),
    "data_count_mismatch.npz": (
        npz(x=np.zeros((4, 8, 8), np.uint8), y=np.array([0, 1, 2])),
        EVALUATE,
        ["4 images but 3 labels"],
    ),
}


def main() -> None:
    for name, (data, run, expect) in CASES.items():
        (CORPUS / name).write_bytes(data)
        lines = [f"# run: {run}", *(f"# expect: {e}" for e in expect)]
        (CORPUS / f"{name}.expect").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(CASES)} cases to {CORPUS}")


if __name__ == "__main__":
    main()
