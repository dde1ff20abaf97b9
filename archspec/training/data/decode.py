"""Image files and arrays to pixels: the one decoder that image folders, `predict` and `inspect` share.

Files are decoded by TensorFlow (PNG, JPEG, GIF's first frame, BMP; no Pillow),
at their own size and channel count, as uint8 (H, W, C) with C in 1, 3 or 4:
grey with alpha becomes RGBA, so the plan's channel rules cover every file. An
image folder brings every file up to its most channels (`promote`). A ``.npy``
file holds one image (H, W[, C]) or several (N, H, W[, C]).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import Problem, SpecError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def decode(data: Any, channels: int = 0) -> Any:
    """Encoded bytes (a string tensor) -> uint8 (H, W, C); `channels` 0 keeps the file's own count.

    A TensorFlow function, so a tf.data map over a folder and one file in `predict` decode alike."""
    import tensorflow as tf

    image = tf.io.decode_image(data, channels=channels, expand_animations=False)
    if channels:
        return image
    return tf.cond(tf.shape(image)[-1] == 2, lambda: tf.io.decode_image(data, channels=4, expand_animations=False), lambda: image)


def promote(image: Any, channels: int) -> Any:
    """uint8 (H, W, c) -> (H, W, `channels`) with c <= channels, pixels unchanged: grey repeated, opaque alpha added.

    How a folder of grey and colour files becomes one channel count (the plan's conversions then
    treat the result as the file's own pixels)."""
    import tensorflow as tf

    def bring_up() -> Any:
        rgb = tf.cond(tf.shape(image)[-1] == 1, lambda: tf.repeat(image, 3, axis=-1), lambda: image[..., :3])
        if channels == 3:
            return rgb
        opaque = tf.fill(tf.shape(image[..., :1]), tf.constant(255, tf.uint8))
        return tf.concat([rgb, tf.cond(tf.shape(image)[-1] == 4, lambda: image[..., 3:], lambda: opaque)], axis=-1)

    if channels == 1:
        return tf.ensure_shape(image, [None, None, 1])
    return tf.ensure_shape(tf.cond(tf.shape(image)[-1] == channels, lambda: image, bring_up), [None, None, channels])


def decode_file(path: str | os.PathLike[str], channels: int = 0) -> np.ndarray:
    """One image file as uint8 (H, W, C); a file that is not an image is a SpecError naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError(Problem(f"cannot read: {exc.strerror}", file=str(path))) from None
    return decode_bytes(data, str(path), channels)


def decode_bytes(data: bytes, name: str, channels: int = 0, *, max_pixels: int | None = None) -> np.ndarray:
    """Encoded image bytes (a file's, an upload's) as uint8 (H, W, C); what is not an image is a SpecError naming `name`.

    With `max_pixels`, an image whose header declares more pixels is refused before decoding (a
    small PNG can declare a huge canvas)."""
    import tensorflow as tf

    if max_pixels is not None:
        size = declared_size(data)
        if size is not None and size[0] * size[1] > max_pixels:
            raise SpecError(Problem(f"the image is {size[0]}x{size[1]} pixels; the limit is {max_pixels:,} pixels", file=name))
    try:
        return decode(tf.constant(data), channels).numpy()
    except (tf.errors.OpError, ValueError) as exc:
        reason = " ".join(str(getattr(exc, "message", exc)).split())
        reason = reason.split("}}")[-1].split("[Op:")[0].strip()[:200]  # TensorFlow's op name and device are noise here
        raise SpecError(Problem(f"cannot decode the image ({reason})", file=name, hint="PNG, JPEG, GIF, BMP or a .npy array")) from None


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) an image's header declares (PNG, GIF, BMP, JPEG); None when it cannot be read."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:4] == b"GIF8" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:2] == b"BM" and len(data) >= 26:
        return abs(int.from_bytes(data[18:22], "little", signed=True)), abs(int.from_bytes(data[22:26], "little", signed=True))
    if data[:2] == b"\xff\xd8":  # JPEG: the first start-of-frame marker holds the size
        i = 2
        while i + 9 <= len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            i += 2 + length
    return None


def read_images(item: Any, name: str = "array") -> list[tuple[str, np.ndarray]]:
    """(name, image (H, W, C)) pairs from an image file, a .npy file or an array of one or several images."""
    if isinstance(item, np.ndarray):
        return split_images(item, name)
    path = Path(item)
    if not path.is_file():
        raise SpecError(Problem("no such file", file=str(path)))
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SpecError(Problem(f"cannot read as .npy ({' '.join(str(exc).split())[:200]})", file=str(path))) from None
        return split_images(array, str(path))
    if suffix not in IMAGE_SUFFIXES:
        raise SpecError(Problem("unsupported input", file=str(path), hint="give PNG, JPEG, GIF or BMP images, or .npy arrays"))
    return [(str(path), decode_file(path))]


def split_images(array: np.ndarray, name: str) -> list[tuple[str, np.ndarray]]:
    """(H, W) and (H, W, C) with C in 1, 3, 4 are one image; (N, H, W) and (N, H, W, C) are N."""
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3, 4)):
        return [(name, array if array.ndim == 3 else array[..., None])]
    if array.ndim in (3, 4):
        batch = array if array.ndim == 4 else array[..., None]
        return [(f"{name}[{i}]", batch[i]) for i in range(len(batch))]
    raise SpecError(Problem(f"expected an image (H, W[, C]) or images (N, H, W[, C]), got shape {array.shape}", file=name))
