"""Image files and arrays to pixels: the one decoder that image folders, `predict`, `inspect` and `serve` share.

Files are decoded by TensorFlow (PNG, JPEG, GIF's first frame, BMP, WebP; no Pillow),
at their own size and channel count, as uint8 (H, W, C) with C in 1, 3 or 4:
grey with alpha becomes RGBA, so the plan's channel rules cover every file. An
image folder brings every file up to its most channels (`promote`). A ``.npy``
file holds one image (H, W[, C]) or several (N, H, W[, C]).

Before anything is decoded, the file's header is read (``header``): what format its first
bytes say (not its name), the size it declares, and a JPEG's EXIF orientation. A file whose
format is not one of these, whose size cannot be read, or that declares more pixels than
the limit (``pixel_limit``: ARCHSPEC_MAX_PIXELS, default 8192 x 8192) is refused naming it,
so a few bytes that declare a huge canvas never reach the decoder. The orientation is
applied after decoding (``ORIENTATIONS``), so a phone photo is seen upright.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from ...errors import DataError, Problem

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
FORMATS = "PNG, JPEG, GIF, BMP or WebP"
PIXELS_VARIABLE = "ARCHSPEC_MAX_PIXELS"
DEFAULT_PIXELS = 8192 * 8192
"""Largest image decoded (width x height, by its header), unless ARCHSPEC_MAX_PIXELS says otherwise: a 48-megapixel
phone photo passes; a few bytes that declare 20000 x 20000 (1.6 GB as RGBA) do not."""
HEAD_BYTES = 64 * 1024
"""Bytes read first from a file to learn its header; a JPEG whose frame header lies further is read on, in steps."""

ORIENTATIONS = {
    1: (False, False, False),
    2: (False, True, False),
    3: (False, True, True),
    4: (False, False, True),
    5: (True, False, False),
    6: (True, True, False),
    7: (True, True, True),
    8: (True, False, True),
}
"""EXIF orientation -> (transpose, flip left-right, flip upside down), in that order: how stored pixels become
upright."""


@dataclass(frozen=True)
class Header:
    """What an image file's first bytes say: its format, the size it declares, and how to turn it upright."""

    format: str  # png | jpeg | gif | bmp | webp
    width: int
    height: int
    orientation: int = 1
    frames: int = 1  # a GIF's: each is decoded, at up to width x height

    @property
    def upright(self) -> tuple[int, int]:
        """(height, width) once turned upright."""
        return (self.width, self.height) if ORIENTATIONS[self.orientation][0] else (self.height, self.width)


def pixel_limit() -> int:
    """The largest image decoded, in pixels: ARCHSPEC_MAX_PIXELS (a whole number, e.g. 100000000) or the default."""
    text = os.environ.get(PIXELS_VARIABLE, "").strip().replace("_", "")
    if not text:
        return DEFAULT_PIXELS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise DataError(
            Problem(
                f"must be a whole number of pixels, got {os.environ[PIXELS_VARIABLE]!r}",
                file=PIXELS_VARIABLE,
                hint=f"e.g. {PIXELS_VARIABLE}=100000000 (the default is {DEFAULT_PIXELS:,})",
            )
        )
    return value


def _format(head: bytes) -> str | None:
    """The format an image's first bytes name (the decoder goes by them too, never by the file's name)."""
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _size(kind: str, data: bytes) -> tuple[int, ...] | None:
    """(width, height, EXIF orientation[, frames]) the header declares; None when `data` ends before the size (or has
    none)."""
    if kind == "png":
        return (
            (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"), 1)
            if len(data) >= 24 and data[12:16] == b"IHDR"
            else None
        )
    if kind == "gif":
        return _gif_size(data)
    if kind == "bmp":
        if len(data) >= 22 and int.from_bytes(data[14:18], "little") == 12:  # the old OS/2 header: 16-bit sizes
            return int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little"), 1
        if len(data) < 26:
            return None
        return (
            abs(int.from_bytes(data[18:22], "little", signed=True)),
            abs(int.from_bytes(data[22:26], "little", signed=True)),
            1,
        )
    if kind == "webp":
        return _webp_size(data)
    return _jpeg_size(data)


def _webp_size(data: bytes) -> tuple[int, int, int] | None:
    """The largest size any of a WebP's headers declares (the canvas of VP8X, a lossy or lossless bitstream's own)."""
    sizes, i = [], 12
    while i + 8 <= len(data):
        fourcc, length = data[i : i + 4], int.from_bytes(data[i + 4 : i + 8], "little")
        body = data[i + 8 : i + 8 + 30]
        if fourcc == b"VP8X" and len(body) >= 10:
            sizes.append((1 + int.from_bytes(body[4:7], "little"), 1 + int.from_bytes(body[7:10], "little")))
        elif fourcc == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
            bits = int.from_bytes(body[1:5], "little")
            sizes.append((1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)))
            break
        elif fourcc == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
            sizes.append((int.from_bytes(body[6:8], "little") & 0x3FFF, int.from_bytes(body[8:10], "little") & 0x3FFF))
            break
        i += 8 + length + (length & 1)
    if not sizes:
        return None
    return max(w for w, _ in sizes), max(h for _, h in sizes), 1


def _gif_size(data: bytes) -> tuple[int, int, int, int] | None:
    """A GIF's size as decoding costs it: the largest of its screen and its frames, times the number of frames (the
    decoder reads every frame, each at its own size, whatever the screen says). None when the file ends first."""
    if len(data) < 13:
        return None
    width, height = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    frames, i = 0, 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while i < len(data):
        block = data[i]
        if block == 0x3B:  # the trailer
            return width, height, 1, max(frames, 1)
        if block == 0x21:  # an extension: its label, then sub-blocks
            i += 2
        elif block == 0x2C and i + 10 <= len(data):  # a frame: its size, a local colour table, a code size, sub-blocks
            frames += 1
            width = max(width, int.from_bytes(data[i + 5 : i + 7], "little"))
            height = max(height, int.from_bytes(data[i + 7 : i + 9], "little"))
            packed = data[i + 9]
            i += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1
        else:
            return None
        while i < len(data) and data[i]:  # sub-blocks, each its length first, up to an empty one
            i += 1 + data[i]
        i += 1
    return None


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _jpeg_size(data: bytes) -> tuple[int, int, int] | None:
    """A JPEG's size from its first frame header (SOFn), walking the segments before it; 0xFF fill bytes
    between segments are legal and skipped. The orientation comes from an EXIF segment (APP1) on the way."""
    i, orientation = 2, 1
    while True:
        while i < len(data) and data[i] == 0xFF:  # a marker's 0xFF, and any fill bytes before it
            i += 1
        if i >= len(data) or data[i - 1] != 0xFF:
            return None
        marker = data[i]
        i += 1
        if marker in _STANDALONE:
            continue
        if marker == 0x00:  # a stuffed byte: entropy-coded data, not a segment
            return None
        if marker in (0xD9, 0xDA) or i + 2 > len(data):  # the image's end or its data, before any frame header
            return None
        length = int.from_bytes(data[i : i + 2], "big")
        if marker in _SOF:
            if i + 7 > len(data):
                return None
            return int.from_bytes(data[i + 5 : i + 7], "big"), int.from_bytes(data[i + 3 : i + 5], "big"), orientation
        if marker == 0xE1 and data[i + 2 : i + 8] == b"Exif\x00\x00":
            orientation = _exif_orientation(data[i + 8 : i + length]) or orientation
        if length < 2:
            return None
        i += length


_BYTE_ORDERS: dict[bytes, Literal["little", "big"]] = {b"II": "little", b"MM": "big"}
"""A TIFF header's byte-order mark, as int.from_bytes names the order."""


def _exif_orientation(tiff: bytes) -> int | None:
    """Tag 0x0112 of an EXIF block's first directory (IFD0): 1..8, or None when absent or not one of them."""
    order = _BYTE_ORDERS.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    at = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[at : at + 2], order) if at + 2 <= len(tiff) else 0
    for k in range(count):
        entry = tiff[at + 2 + 12 * k : at + 14 + 12 * k]
        if len(entry) == 12 and int.from_bytes(entry[:2], order) == 0x0112:
            value = int.from_bytes(entry[8:10], order)
            return value if value in ORIENTATIONS else None
    return None


def header(data: bytes, name: str, *, more: Any = None) -> Header:
    """The header of an image's bytes, or a SpecError naming `name`: an empty file, one that is not an image of a
    format read here (whatever its name says), one whose size cannot be read. `more` (size -> bytes) reads further
    into a file when its header lies past `data`."""
    if not data:
        raise DataError(
            Problem("the file is empty (0 bytes)", file=name, hint=f"an image folder and predict take {FORMATS} files")
        )
    kind = _format(data[:16])
    if kind is None:
        text = data[:12].isascii() and data[:12].decode("ascii").isprintable()
        start = repr(data[:12].decode("ascii")) if text else data[:8].hex(" ")
        raise DataError(
            Problem(
                f"not an image: the file starts with {start}, which is none of {FORMATS}",
                file=name,
                hint="a file's name does not make it an image; convert it, or move it out of the data",
            )
        )
    size = _size(kind, data)
    while size is None and more is not None:
        bigger = more(len(data) * 4)
        if len(bigger) <= len(data):
            break
        data, size = bigger, _size(kind, bigger)
    if size is None or size[0] < 1 or size[1] < 1:
        raise DataError(
            Problem(
                f"the {kind.upper()} header does not say the image's size"
                if size is None
                else f"the {kind.upper()} header declares an empty image ({size[0]}x{size[1]})",
                file=name,
                hint="the file is cut short or damaged; an image whose size cannot be read is not decoded",
            )
        )
    return Header(kind, *size)


def check(head: Header, name: str, max_pixels: int | None = None) -> Header:
    """`head` when its image is within the pixel limit (`max_pixels`, else ``pixel_limit()``), else a SpecError naming
    it."""
    limit = pixel_limit() if max_pixels is None else max_pixels
    if head.width * head.height * head.frames > limit:
        frames = f" in each of {head.frames} frames" if head.frames > 1 else ""
        raise DataError(
            Problem(
                f"the image declares {head.width}x{head.height} pixels{frames}; the limit is {limit:,} pixels",
                file=name,
                hint=f"a larger limit: {PIXELS_VARIABLE}=N (pixels); or make the image smaller",
            )
        )
    return head


def read_header(path: str | os.PathLike[str], max_pixels: int | None = None) -> Header:
    """A file's header from its first bytes (and further, for a JPEG whose frame header lies past them), checked."""
    name = os.fsdecode(path)
    try:
        with open(path, "rb") as f:
            return check(header(f.read(HEAD_BYTES), name, more=lambda n: _reread(f, n)), name, max_pixels)
    except OSError as exc:
        raise DataError(Problem(f"cannot read: {exc.strerror or exc}", file=name)) from None


def _reread(f: BinaryIO, n: int) -> bytes:
    f.seek(0)
    return f.read(n)


def decode(data: Any, channels: int = 0) -> Any:
    """Encoded bytes (a string tensor) -> uint8 (H, W, C); `channels` 0 keeps the file's own count.

    A TensorFlow function, so a tf.data map over a folder and one file in `predict` decode alike.
    Its caller has checked the header (``header``, ``check``): this decodes whatever it is given."""
    import tensorflow as tf

    image = tf.io.decode_image(data, channels=channels, expand_animations=False)
    if channels:
        return image
    return tf.cond(
        tf.shape(image)[-1] == 2, lambda: tf.io.decode_image(data, channels=4, expand_animations=False), lambda: image
    )


def orient(image: Any, orientation: Any) -> Any:
    """A decoded image (H, W, C) turned upright by its EXIF orientation (a TensorFlow int, 1..8; 1 is as stored)."""
    import tensorflow as tf

    table = tf.constant([ORIENTATIONS.get(k, (False, False, False)) for k in range(9)])
    transpose, across, down = tf.unstack(tf.gather(table, orientation))
    image = tf.cond(transpose, lambda: tf.transpose(image, [1, 0, 2]), lambda: image)
    image = tf.cond(across, lambda: tf.reverse(image, [1]), lambda: image)
    return tf.cond(down, lambda: tf.reverse(image, [0]), lambda: image)


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """The same as ``orient`` for a NumPy image."""
    transpose, across, down = ORIENTATIONS[orientation]
    image = image.transpose(1, 0, 2) if transpose else image
    image = image[:, ::-1] if across else image
    return np.ascontiguousarray(image[::-1] if down else image)


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


def decode_file(path: str | os.PathLike[str], channels: int = 0, *, max_pixels: int | None = None) -> np.ndarray:
    """One image file as uint8 (H, W, C), upright; a file that is not an image is a SpecError naming it.

    Its header is read and checked first, so a file that is no image, or declares too many pixels, is refused
    before the rest of it is read."""
    read_header(path, max_pixels)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(Problem(f"cannot read: {exc.strerror}", file=os.fsdecode(path))) from None
    return decode_bytes(data, os.fsdecode(path), channels, max_pixels=max_pixels)


def decode_bytes(data: bytes, name: str, channels: int = 0, *, max_pixels: int | None = None) -> np.ndarray:
    """Encoded image bytes (a file's, an upload's) as uint8 (H, W, C), upright; what is not an image is a SpecError
    naming `name`.

    The header is checked first (``header``, ``check``): an image whose size cannot be read, or that declares
    more than `max_pixels` (default ``pixel_limit()``), is refused before decoding."""
    import tensorflow as tf

    head = check(header(data, name), name, max_pixels)
    try:
        image = decode(tf.constant(data), channels).numpy()
    except (tf.errors.OpError, ValueError) as exc:
        reason = " ".join(str(getattr(exc, "message", exc)).split())
        reason = reason.split("}}")[-1].split("[Op:")[0].strip()[:200]  # TensorFlow's op name and device are noise here
        raise DataError(
            Problem(
                f"cannot decode the image ({reason})",
                file=name,
                hint=f"the file is a {head.format.upper()} image by its header, but cut short or damaged",
            )
        ) from None
    return upright(image, head.orientation)


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) an image's header declares (PNG, JPEG, GIF, BMP, WebP); None when it cannot be read."""
    kind = _format(data[:16])
    size = _size(kind, data) if kind else None
    return (size[0], size[1]) if size else None


def read_images(item: Any, name: str = "array") -> list[tuple[str, np.ndarray]]:
    """(name, image (H, W, C)) pairs from an image file, a .npy file or an array of one or several images."""
    if isinstance(item, np.ndarray):
        return split_images(item, name)
    path = Path(item)
    if not path.is_file():
        raise DataError(Problem("no such file", file=str(path)))
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise DataError(
                Problem(
                    f"cannot read as .npy ({' '.join(str(exc).split())[:200] or type(exc).__name__})", file=str(path)
                )
            ) from None
        if not isinstance(array, np.ndarray):  # np.load opens an .npz whatever the name says
            array.close()
            raise DataError(
                Problem("not a .npy array (an .npz archive?)", file=str(path), hint="give one array per .npy file")
            )
        return split_images(array, str(path))
    if suffix not in IMAGE_SUFFIXES:
        raise DataError(Problem("unsupported input", file=str(path), hint=f"give {FORMATS} images, or .npy arrays"))
    return [(str(path), decode_file(path))]


def finite(array: np.ndarray, name: str, what: str = "the array") -> np.ndarray:
    """`array` when every value is a finite number; NaN or infinity is a SpecError naming `name` and how many there are:
    a network fed one gives NaN for everything, or trains on garbage without a word."""
    if array.dtype.kind in "fc":
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            nan = int(np.count_nonzero(np.isnan(array)))
            kinds = " and ".join(k for k, n in (("NaN", nan), ("infinite", bad - nan)) if n)
            raise DataError(
                Problem(
                    f"{what} holds {bad:,} {kinds} value{'s' if bad > 1 else ''} (of {array.size:,})",
                    file=name,
                    hint="replace or drop those examples; a network cannot learn from or answer for them",
                )
            )
    return array


def split_images(array: np.ndarray, name: str) -> list[tuple[str, np.ndarray]]:
    """(H, W) and (H, W, C) with C in 1, 3, 4 are one image; (N, H, W) and (N, H, W, C) are N."""
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise DataError(Problem(f"expected numbers, got an array of dtype {array.dtype}", file=name))
    finite(array, name)
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3, 4)):
        return [(name, array if array.ndim == 3 else array[..., None])]
    if array.ndim in (3, 4):
        batch = array if array.ndim == 4 else array[..., None]
        return [(f"{name}[{i}]", batch[i]) for i in range(len(batch))]
    raise DataError(
        Problem(f"expected an image (H, W[, C]) or images (N, H, W[, C]), got shape {array.shape}", file=name)
    )
