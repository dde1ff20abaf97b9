"""`archspec.predict`: class probabilities and the top k classes for images.

Inputs: image files (PNG, JPEG, GIF, BMP; decoded by TensorFlow, no Pillow
needed), ``.npy`` files, or arrays. An array (or .npy) of shape (H, W) or
(H, W, C) with C in 1, 3, 4 is one image; (N, H, W) or (N, H, W, C) is N.
8-bit images are rescaled as in training (``rescale: auto`` is 1/255 for
8-bit data); float arrays are taken as already scaled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import Problem, SpecError
from . import saved

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


@dataclass
class Prediction:
    source: str
    probabilities: np.ndarray  # (classes,)
    top: list[tuple[int, str, float]]  # (class index, class name, probability), most likely first

    @property
    def label(self) -> int:
        return self.top[0][0]

    @property
    def name(self) -> str:
        return self.top[0][1]

    @property
    def confidence(self) -> float:
        return self.top[0][2]

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "label": self.label, "name": self.name, "confidence": self.confidence,
                "top": [{"class": i, "name": n, "probability": p} for i, n, p in self.top],
                "probabilities": [float(p) for p in self.probabilities]}


def _read(item: Any, index: int) -> list[tuple[str, np.ndarray]]:
    """(name, image HxWxC) pairs from one input."""
    if isinstance(item, np.ndarray):
        return _split(item, f"array[{index}]" if index else "array")
    path = Path(item)
    if not path.is_file():
        raise SpecError(Problem(f"{path}: no such file", file=str(path)))
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SpecError(Problem(f"{path}: cannot read as .npy ({exc})", file=str(path))) from None
        return _split(array, str(path))
    if suffix not in IMAGE_SUFFIXES:
        raise SpecError(Problem(f"{path}: unsupported input", file=str(path), hint="give PNG, JPEG, GIF or BMP images, or .npy arrays"))
    import tensorflow as tf

    try:
        image = tf.io.decode_image(tf.io.read_file(str(path)), channels=0, expand_animations=False).numpy()
    except (tf.errors.OpError, ValueError) as exc:
        message = getattr(exc, "message", str(exc))
        raise SpecError(Problem(f"{path}: cannot decode the image ({' '.join(message.split())[:200]})", file=str(path))) from None
    return [(str(path), image)]


def _split(array: np.ndarray, name: str) -> list[tuple[str, np.ndarray]]:
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3, 4)):
        return [(name, array if array.ndim == 3 else array[..., None])]
    if array.ndim in (3, 4):
        batch = array if array.ndim == 4 else array[..., None]
        return [(f"{name}[{i}]", batch[i]) for i in range(len(batch))]
    raise SpecError(Problem(f"{name}: expected an image (H, W[, C]) or images (N, H, W[, C]), got shape {array.shape}", file=name))


def predict(model: Any, inputs: Any, *, top_k: int = 5, spec: Any = None) -> list[Prediction]:
    """Class probabilities for each input image, with the `top_k` most likely classes."""
    import tensorflow as tf

    from . import data as D

    if top_k < 1:
        raise SpecError(Problem(f"top_k must be at least 1, got {top_k}", file="--top-k"))
    trained = saved.load(model, spec=spec)
    items: Iterable[Any] = [inputs] if isinstance(inputs, (str, os.PathLike, np.ndarray)) else list(inputs)
    images = [pair for i, item in enumerate(items) for pair in _read(item, i)]
    if not images:
        raise SpecError(Problem("no inputs to predict", file="inputs"))
    out: list[Prediction] = []
    k = min(top_k, trained.classes)
    for name, image in images:
        source = D.from_arrays(image[None], np.zeros(1, np.int64), name)
        plan = D.plan(source, trained.input_shape, trained.classes, trained.data, role="input")
        x = D.normalise(D.preprocess(tf.constant(source.x), plan), plan)
        raw = np.asarray(trained.model(x, training=False), dtype=np.float64)[0]
        probs = np.exp(raw - raw.max()) / np.exp(raw - raw.max()).sum() if trained.logits else raw
        order = np.argsort(-probs, kind="stable")[:k]
        out.append(Prediction(name, probs, [(int(i), trained.class_names[i], float(probs[i])) for i in order]))
    return out
