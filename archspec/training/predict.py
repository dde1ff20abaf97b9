"""`archspec.predict`: class probabilities and the top k classes for images; for a network with several outputs
or other heads, every output's answer, segmentation masks written as PNG files.

Inputs: image files (PNG, JPEG, GIF, BMP, WebP; decoded by `data.decode`, as image
folders are in training), ``.npy`` files, or arrays. An array (or .npy) of shape
(H, W) or (H, W, C) with C in 1, 3, 4 is one image; (N, H, W) or (N, H, W, C) is
N. Each goes through the plan training would give it (`Trained.prepare`): 8-bit
images are rescaled as in training (``rescale: auto`` is 1/255 for 8-bit data);
float arrays are taken as already scaled. A network with several inputs reads .npz files holding an array
named after each input (one example per row).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Problem, SpecError
from ..files import atomic_path, refuse_existing
from . import data as D
from . import heads, saved
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
        return {
            "source": self.source,
            "preprocessing": self.preprocessing,
            "label": self.label,
            "name": self.name,
            "confidence": self.confidence,
            "top": [{"class": i, "name": n, "probability": p} for i, n, p in self.top],
            "probabilities": [float(p) for p in self.probabilities],
        }


@dataclass
class Answers:
    """Every output's answer for one input: classification the top classes, multilabel the labels that are on,
    regression the values (in the targets' units), segmentation the mask (a class per pixel) and where it was
    written."""

    source: str
    outputs: dict[str, dict[str, Any]]
    masks: dict[str, np.ndarray]
    preprocessing: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "preprocessing": self.preprocessing, "outputs": self.outputs}

    def text(self) -> str:
        parts = []
        for key, answer in self.outputs.items():
            task = answer["task"]
            if task == "classification":
                parts.append(f"{key} " + " ".join(f"{t['name']} {t['probability']:.4f}" for t in answer["top"]))
            elif task == "multilabel":
                parts.append(f"{key} [{', '.join(map(str, answer['on'])) or 'none'}]")
            elif task == "regression":
                parts.append(f"{key} " + " ".join(f"{v:.4g}" for v in answer["values"]))
            else:
                parts.append(
                    f"{key} -> {answer['file']}"
                    if answer.get("file")
                    else f"{key} mask {answer['shape'][0]}x{answer['shape'][1]}"
                )
        return f"{self.source}: " + "; ".join(parts)


def predict(
    model: Any,
    inputs: Any,
    *,
    top_k: int = 5,
    spec: Any = None,
    masks: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> list[Prediction] | list[Answers]:
    """Class probabilities for each input image, with the `top_k` most likely classes.

    For a network that is not one image classifier, every output's answer (``Answers``); segmentation masks
    are PNG files in the folder `masks` (named SOURCE_OUTPUT.png, a class number per pixel) when it is given."""
    if top_k < 1:
        raise SpecError(Problem(f"top_k must be at least 1, got {top_k}", file="--top-k"))
    trained = saved.load(model, spec=spec)
    if not trained.net.classic:
        return _answers(trained, inputs, top_k, masks, force)
    items: Iterable[Any] = [inputs] if isinstance(inputs, (str, os.PathLike, np.ndarray)) else list(inputs)
    images = [pair for i, item in enumerate(items) for pair in read_images(item, f"array[{i}]" if i else "array")]
    if not images:
        raise SpecError(Problem("no inputs to predict", file="inputs"))
    out: list[Prediction] = []
    k = min(top_k, trained.classes)
    for name, image in images:
        plan, x = trained.prepare(image, name)
        probs = trained.probabilities(trained.forward(x))[0]
        order = np.argsort(-probs, kind="stable")[:k]
        out.append(
            Prediction(name, probs, [(int(i), trained.class_names[i], float(probs[i])) for i in order], plan.describe())
        )
    return out


def _examples(trained: saved.Trained, inputs: Any) -> list[tuple[str, Any, str]]:
    """(name, the model's input for one example, its preprocessing) for each example given."""
    net = trained.net
    items: list[Any] = [inputs] if isinstance(inputs, (str, os.PathLike, np.ndarray, dict)) else list(inputs)
    images = [k for k, shape in net.inputs.items() if len(shape) == 3]
    out = []
    if len(net.inputs) == 1 and images:
        key = images[0]
        for name, image in [
            pair for i, item in enumerate(items) for pair in read_images(item, f"array[{i}]" if i else "array")
        ]:
            source = D.from_arrays(image[None], np.zeros(1, np.int64), name)
            plan = D.plan(source, net.inputs[key], None, trained.data, role="input")
            x = plan.apply(source.x)
            out.append((name, {key: x} if net.named_inputs else x, plan.describe()))
        return out
    for item in items:
        arrays, name = _named_arrays(item)
        given = D.examples.model_inputs(arrays, name, net)  # the check training and evaluation make, and its messages
        plans = {
            key: D.plan(value, net.inputs[key], None, trained.data, role=f"input {key}")
            for key, value in given.inputs.items()
            if isinstance(value, D.Images)
        }
        for row in range(given.count):
            x = {
                key: np.asarray(plans[key].apply(value.x[row : row + 1]))  # type: ignore[index]  # arrays: x is set
                if isinstance(value, D.Images)  # the inputs planned
                else value[row : row + 1]
                for key, value in given.inputs.items()
            }
            out.append((f"{name}[{row}]", x, "; ".join(f"{key}: {p.describe()}" for key, p in plans.items())))
    return out


def _named_arrays(item: Any) -> tuple[dict[str, np.ndarray], str]:
    if isinstance(item, dict):
        return {k: np.asarray(v) for k, v in item.items()}, "arrays"
    path = Path(item)
    if path.suffix.lower() != ".npz" or not path.is_file():
        raise SpecError(
            Problem(
                "a network with several inputs reads .npz files with an array named after each input", file=str(path)
            )
        )
    return D.examples.read_npz(str(path)), str(path)


def _answers(trained: saved.Trained, inputs: Any, top_k: int, masks: Any, force: bool) -> list[Answers]:
    net = trained.net
    examples = _examples(trained, inputs)
    if not examples:
        raise SpecError(Problem("no inputs to predict", file="inputs"))
    results = []
    folder = Path(masks) if masks is not None else None
    for name, x, described in examples:
        raw = trained.forward(x)
        raw = raw if isinstance(raw, dict) else {next(iter(net.outputs)): raw}
        answers, maps = {}, {}
        for key, output in net.outputs.items():
            value = heads.readable(output, np.asarray(raw[key])[0], net.logits[key])
            answers[key], mask = _answer(output, value, top_k, trained.class_names if len(net.outputs) == 1 else None)
            if mask is not None:
                maps[key] = mask
                if folder is not None:
                    answers[key]["file"] = str(_write_mask(folder / f"{_stem(name)}_{key}.png", mask, force))
        results.append(Answers(name, answers, maps, described))
    return results


def _answer(
    output: heads.Output, value: np.ndarray, top_k: int, names: list[str] | None
) -> tuple[dict[str, Any], np.ndarray | None]:
    task = output.task
    if task == "classification":
        order = np.argsort(-value, kind="stable")[: min(top_k, output.classes)]
        labels = names or [str(i) for i in range(output.classes)]
        return {
            "task": task,
            "top": [{"class": int(i), "name": labels[i], "probability": float(value[i])} for i in order],
            "probabilities": [float(p) for p in value],
        }, None
    if task == "multilabel":
        return {
            "task": task,
            "on": [int(i) for i in np.flatnonzero(value > output.head.threshold)],
            "probabilities": [float(p) for p in value],
        }, None
    if task == "regression":
        return {"task": task, "values": [float(v) for v in value]}, None
    mask = (value[..., 0] > output.head.threshold).astype(np.int64) if output.binary else value.argmax(axis=-1)
    counts = np.bincount(mask.ravel(), minlength=output.classes)
    return {"task": task, "shape": list(mask.shape), "pixels_per_class": [int(c) for c in counts]}, mask


def _stem(name: str) -> str:
    """A file-name stem for an input: `digit.png` -> digit, `batch.npy[3]` -> batch_3."""
    stem = Path(name.split("[")[0]).stem
    index = name[name.index("[") + 1 : -1] if name.endswith("]") and "[" in name else ""
    return f"{stem}_{index}" if index else stem


def _write_mask(path: Path, mask: np.ndarray, force: bool) -> Path:
    """A mask as a one-channel PNG whose pixel values are the class numbers (8-bit, or 16-bit above 255 classes)."""
    import tensorflow as tf

    refuse_existing(path, force)
    dtype = tf.uint8 if mask.max(initial=0) < 256 else tf.uint16
    data = tf.io.encode_png(tf.cast(mask[..., None], dtype)).numpy()
    with atomic_path(path, force=force) as tmp:
        tmp.write_bytes(data)
    return path
