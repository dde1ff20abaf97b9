"""Segmentation data made of real handwritten digits: 64x64 canvases holding two or three MNIST digits at
random places, each pixel labelled with its digit's class (0-9) where the digit's ink is at least
INK (of 255), and 10 (background) everywhere else.

Every digit is a genuine MNIST image (the test set's IDX files), cut to the box around its ink and
pasted where it overlaps no other digit's box (after at most 50 tries it may overlap; a pixel then
belongs to the brighter digit). Canvases are drawn by a seeded NumPy generator: the same seed and
digits give the same canvases. Training canvases use digits from the first 8,000 images only, test
canvases from the last 2,000 only, so no digit is seen in both.

    python tests/canvases.py MNIST_DIR OUT_DIR [--train N] [--test N]

writes OUT_DIR/canvases_train.npz and canvases_test.npz (arrays `input`, uint8 (N, 64, 64), and
`classes`, uint8 (N, 64, 64): the input and the output of specs/unet_digits.yaml).
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

SIZE = 64
INK = 128
BACKGROUND = 10
TRAIN_DIGITS = slice(0, 8000)
TEST_DIGITS = slice(8000, 10000)


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_test_set(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    return read_idx(folder / "t10k-images-idx3-ubyte.gz"), read_idx(folder / "t10k-labels-idx1-ubyte.gz")


def canvases(
    images: np.ndarray, labels: np.ndarray, count: int, seed: int, size: int = SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """`count` canvases (N, size, size) uint8 and their masks (N, size, size) uint8 from these digits."""
    rng = np.random.default_rng(seed)
    pictures = np.zeros((count, size, size), np.uint8)
    masks = np.full((count, size, size), BACKGROUND, np.uint8)
    for c in range(count):
        boxes: list[tuple[int, int, int, int]] = []
        for _ in range(rng.integers(2, 4)):
            d = rng.integers(len(images))
            digit = _ink_box(images[d])
            h, w = digit.shape
            for _ in range(50):
                y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
                if all(y + h <= by or by + bh <= y or x + w <= bx or bx + bw <= x for by, bx, bh, bw in boxes):
                    break
            boxes.append((y, x, h, w))
            area, labelled = pictures[c, y : y + h, x : x + w], masks[c, y : y + h, x : x + w]
            labelled[(digit >= INK) & (digit >= area)] = labels[d]
            np.maximum(area, digit, out=area)
    return pictures, masks


def _ink_box(digit: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(digit.max(axis=1)), np.flatnonzero(digit.max(axis=0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def write(mnist: Path, out: Path, train: int, test: int) -> tuple[Path, Path]:
    images, labels = mnist_test_set(mnist)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, part, count, seed in (("train", TRAIN_DIGITS, train, 1), ("test", TEST_DIGITS, test, 2)):
        x, y = canvases(images[part], labels[part], count, seed)
        path = out / f"canvases_{name}.npz"
        np.savez_compressed(path, input=x, classes=y)
        paths.append(path)
    return paths[0], paths[1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mnist", type=Path, help="folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=1000)
    args = parser.parse_args()
    for path in write(args.mnist, args.out, args.train, args.test):
        print(f"wrote {path}")
