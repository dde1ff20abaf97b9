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
    import tensorflow as tf

    try:
        return decode(tf.io.read_file(str(path)), channels).numpy()
    except (tf.errors.OpError, ValueError) as exc:
        reason = " ".join(str(getattr(exc, "message", exc)).split())
        reason = reason.split("}}")[-1].split("[Op:")[0].strip()[:200]  # TensorFlow's op name and device are noise here
        raise SpecError(Problem(f"cannot decode the image ({reason})", file=str(path), hint="PNG, JPEG, GIF, BMP or a .npy array")) from None


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
