"""Image files made by hand for the data readers' tests: valid ones of every kind the readers meet (16-bit, palette
with transparency, grey with alpha, lossless WebP, animated GIF, EXIF-rotated JPEG) and hostile ones (headers that
declare huge canvases, fill bytes before a JPEG's frame header, frames without end).

No Pillow: PNG is written with zlib, GIF, BMP and WebP byte by byte (WebP as lossless VP8L of one colour, whose pixels
take no bits); JPEG pixels come from TensorFlow's encoder where a test needs a real one."""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(pixels: np.ndarray, *, palette: np.ndarray | None = None, transparency: bytes | None = None) -> bytes:
    """PNG bytes of (H, W, C) uint8 or uint16 pixels (C 1..4), or of (H, W) palette indices with `palette` (K, 3)."""
    a = np.asarray(pixels)
    if palette is not None:
        h, w = a.shape
        color, depth, rows = 3, 8, a.astype(np.uint8).reshape(h, w)
    else:
        h, w, c = a.shape
        color, depth = _COLOR_TYPES[c], 16 if a.dtype == np.uint16 else 8
        rows = a.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))
    out = PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0))
    if palette is not None:
        out += _chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
        if transparency is not None:
            out += _chunk(b"tRNS", transparency)
    return out + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def png_declaring(width: int, height: int, channels: int = 1) -> bytes:
    """A PNG of a few dozen bytes whose header declares `width` x `height` (its data is a few rows of zeros)."""
    raw = zlib.compress(b"\x00" * (width * channels + 1) * 2, 9)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0))
        + _chunk(b"IDAT", raw)
        + _chunk(b"IEND", b"")
    )


def gif(width: int, height: int, frames: int = 1, frame: tuple[int, int] = (1, 1)) -> bytes:
    """A GIF whose logical screen is `width` x `height`, with `frames` frames of one black pixel each (whose
    descriptors say `frame`: a larger one than (1, 1) is a frame cut short)."""
    out = b"GIF89a" + struct.pack("<HH", width, height) + bytes([0x80, 0, 0]) + b"\x00\x00\x00\xff\xff\xff"
    if frames > 1:
        out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (
        b"\x21\xf9\x04\x00\x01\x00\x00\x00"
        + b"\x2c"
        + struct.pack("<HHHH", 0, 0, *frame)
        + b"\x00"
        + b"\x02\x02\x44\x01\x00"
    )
    return out + frame * frames + b"\x3b"


def bmp_declaring(width: int, height: int) -> bytes:
    """A BMP header (24-bit) declaring `width` x `height`, with no pixels after it."""
    return (
        b"BM"
        + struct.pack("<IHHI", 54, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    )


class _Bits:
    """Bits written least significant first, as VP8L reads them."""

    def __init__(self) -> None:
        self.value, self.count = 0, 0

    def put(self, value: int, bits: int) -> None:
        self.value |= value << self.count
        self.count += bits

    def bytes(self) -> bytes:
        return self.value.to_bytes((self.count + 7) // 8 or 1, "little")


def webp(width: int, height: int, argb: tuple[int, int, int, int] = (255, 200, 100, 50)) -> bytes:
    """A lossless WebP of one colour: each of the five prefix codes has one symbol, so the pixels take no bits."""
    bits = _Bits()
    bits.put(0x2F, 8)
    bits.put(width - 1, 14)
    bits.put(height - 1, 14)
    bits.put(int(argb[0] != 255), 1)
    bits.put(0, 3)  # version
    bits.put(0, 1)  # no transform
    bits.put(0, 1)  # no colour cache
    bits.put(0, 1)  # no meta prefix codes
    a, r, g, b = argb
    for symbol in (g, r, b, a, 0):  # green, red, blue, alpha, distance
        bits.put(1, 1)  # simple code
        bits.put(0, 1)  # one symbol
        bits.put(1, 1)  # of 8 bits
        bits.put(symbol, 8)
    data = bits.bytes()
    data += b"\x00" * (len(data) % 2)
    chunk = b"VP8L" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def webp_declaring(width: int, height: int) -> bytes:
    """A WebP of a few dozen bytes whose extended header (VP8X) declares `width` x `height`."""
    vp8x = (
        b"VP8X"
        + struct.pack("<I", 10)
        + b"\x00\x00\x00\x00"
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    lossless = webp(1, 1)[12:]
    body = b"WEBP" + vp8x + lossless
    return b"RIFF" + struct.pack("<I", len(body)) + body


def jpeg_declaring(width: int, height: int, fill: int = 3) -> bytes:
    """A JPEG's start whose frame header (SOF0) declares `width` x `height`, with `fill` 0xFF fill bytes before it."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + b"\xff" * fill + sof + b"\x00" * 64


def with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """A JPEG with an EXIF segment (APP1) saying its pixels are to be shown turned by `orientation` (1..8)."""
    tiff = (
        b"MM\x00\x2a"
        + struct.pack(">I", 8)
        + struct.pack(">H", 1)
        + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
        + b"\x00" * 4
    )
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def jpeg(pixels: np.ndarray, quality: int = 95) -> bytes:
    """JPEG bytes of (H, W, C) uint8 pixels, by TensorFlow's encoder."""
    import tensorflow as tf

    return tf.io.encode_jpeg(tf.constant(pixels, tf.uint8), quality=quality).numpy()
