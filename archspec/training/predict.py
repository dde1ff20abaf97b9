"""`archspec.predict`: class probabilities and the top k classes for images.

Inputs: image files (PNG, JPEG, GIF, BMP; decoded by `data.decode`, as image
folders are in training), ``.npy`` files, or arrays. An array (or .npy) of shape
(H, W) or (H, W, C) with C in 1, 3, 4 is one image; (N, H, W) or (N, H, W, C) is
N. Each goes through the plan training would give it (`Trained.prepare`): 8-bit
images are rescaled as in training (``rescale: auto`` is 1/255 for 8-bit data);
float arrays are taken as already scaled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from ..errors import Problem, SpecError
from . import saved
from .data.decode import read_images


@dataclass
class Prediction:
    source: str
    probabilities: np.ndarray  # (classes,)
    top: list[tuple[int, str, float]]  # (class index, class name, probability), most likely first
    preprocessing: str = ""  # the plan's line: what the image went through

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
        return {"source": self.source, "preprocessing": self.preprocessing, "label": self.label, "name": self.name, "confidence": self.confidence,
                "top": [{"class": i, "name": n, "probability": p} for i, n, p in self.top],
                "probabilities": [float(p) for p in self.probabilities]}


def predict(model: Any, inputs: Any, *, top_k: int = 5, spec: Any = None) -> list[Prediction]:
    """Class probabilities for each input image, with the `top_k` most likely classes."""
    if top_k < 1:
        raise SpecError(Problem(f"top_k must be at least 1, got {top_k}", file="--top-k"))
    trained = saved.load(model, spec=spec)
    items: Iterable[Any] = [inputs] if isinstance(inputs, (str, os.PathLike, np.ndarray)) else list(inputs)
    images = [pair for i, item in enumerate(items) for pair in read_images(item, f"array[{i}]" if i else "array")]
    if not images:
        raise SpecError(Problem("no inputs to predict", file="inputs"))
    out: list[Prediction] = []
    k = min(top_k, trained.classes)
    for name, image in images:
        plan, x = trained.prepare(image, name)
        probs = trained.probabilities(trained.model(x, training=False))[0]
        order = np.argsort(-probs, kind="stable")[:k]
        out.append(Prediction(name, probs, [(int(i), trained.class_names[i], float(probs[i])) for i in order], plan.describe()))
    return out
