"""The model pane's work: a trained model (a run folder or a .keras file) asked about one image at a time.

Each image (a drawing from the page, or an uploaded file) is decoded by training's decoder and goes
through the model's own preprocessing plan (``Trained.prepare``, as ``predict`` and ``inspect``
use it); the network's answer and what its layers see are shown as ``inspect`` shows them
(``inspection.Probe`` and its figure parts), built once so that a stroke costs one forward pass.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ...training import saved
from ...training.data.decode import decode_bytes
from .. import inspection
from .limits import MAX_PIXELS

AUGMENTED_VIEWS = 8
"""Views of the input under the run's training augmentation shown with it (runs that augment)."""

MAX_SIDE = 32
"""Feature maps larger than this (a side, in pixels) are averaged down for the page; LeNet's are not."""


class ModelView:
    def __init__(self, path: Path) -> None:
        import numpy as np

        self.name = str(path)
        self.trained = saved.load(path)
        self.trained.require_classic("the live pane shows", str(path), "archspec predict answers for every output")
        self.probe = inspection.Probe(self.trained, max_side=MAX_SIDE)
        self.lock = threading.Lock()  # one forward pass at a time: the pane is one person's
        self.probe(
            np.zeros((1, *self.trained.input_shape), dtype="float32")
        )  # traced now, so the first stroke is as fast as the rest

    def session(self) -> dict[str, Any]:
        t = self.trained
        model = t.model
        return {
            "name": self.name,
            "model": model.name,
            "params": int(model.count_params()),
            "input_shape": list(t.input_shape),
            "canvas": list(t.trained_on or t.input_shape),
            "classes": t.classes,
            "class_names": t.class_names,
            "filters": inspection.filters_figure(self.probe.filters) if self.probe.filters is not None else [],
        }

    def augmented(self, plan: Any, x: Any) -> list[Any]:
        """Views of the input as the run's training augmentation draws them (as ``inspect --augment``), when it has
        any: the same draws for every image, so a stroke changes the image and not the draws."""
        if not self.trained.data.augment.model_dump(exclude_defaults=True):
            return []
        return inspection.augmented_figure(self.trained, plan, x, AUGMENTED_VIEWS)

    def look(self, data: bytes, name: str) -> dict[str, Any]:
        """The model's answer for one encoded image, and what its layers saw."""
        t0 = time.perf_counter()
        image = decode_bytes(data, name, max_pixels=MAX_PIXELS)
        with self.lock:
            plan, x = self.trained.prepare(image, name)
            seen = self.probe(x)
            augmented = self.augmented(plan, x)  # under the lock too: the augmentation's seeds are set per call
        t = self.trained
        top = seen.top
        out: dict[str, Any] = {
            "top": {
                "class": top,
                "name": inspection.class_name(t.class_names, top),
                "probability": float(seen.probabilities[top]),
            },
            "probabilities": [float(p) for p in seen.probabilities],
            "plan": plan.describe(),
            "input": inspection.input_figure(seen, plan) + augmented,
            "maps": inspection.maps_figures(seen),
            "table": inspection.probabilities_table(seen, t.class_names, logits=t.logits),
        }
        out["seconds"] = time.perf_counter() - t0
        return out
