"""Data for a network with named inputs or outputs, or with an output that is not one class per image:
one array per input and per output, read from the same source strings as `--data`.

=========================  ====================================================
``FILE.npz``               an array named after each input and each output
                           (``image``, ``meta``, ``digit``, ``mask``); with
                           ``:train`` / ``:test``, ``NAME_train`` / ``NAME_test``.
                           ``x`` and ``y`` stand for a network's only input and
                           only output.
``DIR``                    with ``DIR/images/`` and ``DIR/masks/``: an image and
                           its mask of the same file name (a class number per
                           pixel, a one-channel PNG), for a network with one
                           image input and one segmentation output.
any other source           images with class labels (``load``), for one image
                           input and one classification output.
=========================  ====================================================

Image inputs go through the one preprocessing plan (``plan.py``) as every image does; each output's
array is checked and converted by its task (``heads.py``). Slices (``[:8000]``) work as everywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError, Problem, SpecError, closest
from ..heads import TASKS, Network
from .decode import IMAGE_SUFFIXES, finite
from .plan import Plan, plan
from .sources import Images, from_arrays, image_files, load, npz_arrays, parse_source, read_files


def _error(message: str, hint: str | None = None, *, file: str | None = None) -> DataError:
    return DataError(Problem(message, file=file or "data", hint=hint))


@dataclass
class Examples:
    """Per input: its images (``Images``, labels unused) or vectors (N, D); per output: its targets as read."""

    name: str
    inputs: dict[str, Images | np.ndarray]
    targets: dict[str, np.ndarray]
    count: int
    class_names: list[str] | None = None
    """A labelled image source's class names (for its one classification output)."""

    def take(self, index: slice | np.ndarray, name: str | None = None) -> Examples:
        inputs = {k: v.take(index) if isinstance(v, Images) else v[index] for k, v in self.inputs.items()}
        targets = {k: v[index] for k, v in self.targets.items()}
        count = (
            len(next(iter(targets.values())))
            if targets
            else len(range(self.count)[index] if isinstance(index, slice) else index)
        )
        return replace(self, name=name or self.name, inputs=inputs, targets=targets, count=count)


def load_examples(source: Any, net: Network) -> Examples:
    """Read a source for `net`: every input and every output gets its array, or a located SpecError says which is
    missing."""
    if isinstance(source, Examples):
        return source
    if isinstance(source, dict):
        return _from_arrays({k: np.asarray(v) for k, v in source.items()}, "arrays", net)
    text = str(source) if isinstance(source, (str, os.PathLike)) else None
    ref = parse_source(text) if text is not None else None
    if ref is not None and ref.kind == "npz":
        examples = _npz(ref.target, ref.split, net)
    elif (
        ref is not None
        and ref.kind == "folder"
        and (Path(ref.target) / "images").is_dir()
        and (Path(ref.target) / "masks").is_dir()
    ):
        examples = _masks_folder(Path(ref.target), net)
    else:
        return _labelled(load(source), net)
    if ref.index is not None:
        examples = examples.take(ref.index, name=text)
        if examples.count == 0:
            raise _error(f"data source {text!r} selects no examples")
    return replace(examples, name=str(source))  # the text, which a path or name gave


def _labelled(images: Images, net: Network) -> Examples:
    """Images with class labels, for one image input and one classification output."""
    outputs = list(net.outputs.values())
    images_in = [k for k, shape in net.inputs.items() if len(shape) == 3]
    if len(net.inputs) != 1 or len(outputs) != 1 or outputs[0].task != "classification" or not images_in:
        wants = ", ".join(
            [*(f"input {k!r}" for k in net.inputs), *(f"output {k!r} ({o.task})" for k, o in net.outputs.items())]
        )
        raise _error(
            f"{images.name} gives images with class labels, but {net.name} takes {wants}",
            "give an .npz file with an array named after each input and output, or for segmentation a folder with "
            "images/ and masks/",
        )
    if images.x is None:  # a folder: its files in memory, beside the other arrays
        images = from_arrays(
            read_files(images.files, f"the images of {images.name}"),  # type: ignore[arg-type]  # x None: files
            images.y,  # type: ignore[arg-type]  # class-labelled images: y is set
            images.name,
            classes=images.classes,
            class_names=images.class_names,
        )
    return Examples(
        images.name,
        {images_in[0]: replace(images, y=None)},
        {outputs[0].name: images.y},  # type: ignore[dict-item]  # (the same)
        images.count,
        images.class_names,
    )


def _npz(target: str, split: str | None, net: Network) -> Examples:
    arrays = read_npz(target)
    if split is not None:
        suffix = f"_{split}"
        arrays = {key[: -len(suffix)]: value for key, value in arrays.items() if key.endswith(suffix)}
    return _from_arrays(arrays, target, net)


def read_npz(target: str) -> dict[str, np.ndarray]:
    """Every array of an .npz file by name (``sources.npz_arrays``: what is not one is a SpecError naming it)."""
    return npz_arrays(target)[0]


def model_inputs(arrays: dict[str, np.ndarray], name: str, net: Network) -> Examples:
    """Arrays for the network's inputs only, checked as training and evaluation check them: what `predict` asks with."""
    return _from_arrays(arrays, name, net, outputs=False)


def _from_arrays(arrays: dict[str, np.ndarray], name: str, net: Network, *, outputs: bool = True) -> Examples:
    """Arrays by input and output name (`x` / `y` for the only input / output): each one there, of numbers, finite,
    all of one length, each input's of the shape it takes. The one check of named arrays, for every command."""
    wanted = [("input", k) for k in net.inputs] + ([("output", k) for k in net.outputs] if outputs else [])
    stand_in = {"input": "x" if len(net.inputs) == 1 else None, "output": "y" if len(net.outputs) == 1 else None}
    found: dict[str, np.ndarray] = {}
    problems = []
    for role, key in wanted:
        array = arrays.get(key)
        if array is None and (alias := stand_in[role]) is not None:
            array = arrays.get(alias)
        if array is None:
            near = closest(key, arrays)
            problems.append(
                Problem(
                    f"no array named {key!r} for the network's {role} {key!r}",
                    file=name,
                    hint=(f"did you mean {near!r}? " if near else "")
                    + f"arrays in the file: {', '.join(sorted(arrays)) or 'none'}",
                )
            )
            continue
        if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            problems.append(
                Problem(
                    f"array {key!r} holds {'Python objects' if array.dtype == object else array.dtype}, not numbers",
                    file=name,
                )
            )
            continue
        try:
            found[key] = finite(array, name, f"array {key!r}")
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DataError(problems)
    counts = {key: len(a) if a.ndim else 0 for key, a in found.items()}
    if len(set(counts.values())) != 1 or not next(iter(counts.values())):
        raise _error(f"arrays of different lengths ({', '.join(f'{k} {n}' for k, n in counts.items())})", file=name)
    inputs: dict[str, Images | np.ndarray] = {}
    for key, shape in net.inputs.items():
        inputs[key] = _input(found[key], key, shape, name)
    return Examples(name, inputs, {key: found[key] for key in net.outputs if outputs}, next(iter(counts.values())))


def _input(array: np.ndarray, key: str, shape: tuple[int, ...], name: str) -> Images | np.ndarray:
    """An image input's array as Images (for the plan), a vector input's as float32 (N, D)."""
    if len(shape) == 3:
        return replace(from_arrays(array, np.zeros(len(array), np.int64), f"{name}: {key}"), y=None, label_max=-1)
    if array.ndim != 2 or array.shape[1] != shape[0] or not np.issubdtype(array.dtype, np.number):
        raise _error(
            f"input {key!r} takes vectors of {shape[0]} numbers (N, {shape[0]}); array {key!r} has shape "
            f"{tuple(array.shape)}",
            file=name,
        )
    return array.astype(np.float32)


def _masks_folder(folder: Path, net: Network) -> Examples:
    """DIR/images/NAME and DIR/masks/NAME: an image and its mask."""
    images_in = [k for k, shape in net.inputs.items() if len(shape) == 3]
    seg = [o for o in net.outputs.values() if o.task == "segmentation"]
    if len(net.inputs) != 1 or not images_in or len(net.outputs) != 1 or not seg:
        raise _error(
            f"{folder}: images with masks are data for one image input and one segmentation output", file=str(folder)
        )
    files = sorted(Path(p) for p in image_files(folder / "images")[0])  # hidden files (._photo.png) are no images
    if not files:
        raise _error("no images found", "supported: " + " ".join(IMAGE_SUFFIXES), file=str(folder / "images"))
    masks = [folder / "masks" / p.relative_to(folder / "images") for p in files]
    missing = [str(m) for m in masks if not m.is_file()]
    if missing:
        raise _error(
            f"{len(missing)} image(s) have no mask of the same name in {folder / 'masks'}, e.g. {missing[0]}",
            file=str(folder),
        )
    y = read_files([str(m) for m in masks], "the masks")
    if y.shape[-1] != 1:
        raise _error("masks are one-channel images (a class number per pixel) of one size", file=str(folder / "masks"))
    images = from_arrays(
        read_files([str(p) for p in files], "the images"), np.zeros(len(files), np.int64), str(folder / "images")
    )
    return Examples(
        str(folder), {images_in[0]: replace(images, y=None, label_max=-1)}, {seg[0].name: y[..., 0]}, len(files)
    )


def fit_scales(net: Network, examples: Examples) -> Network:
    """The network with each regression output's target scaling fixed: `auto` takes the training data's mean and
    std per value (a constant value keeps std 1), `none` none, {mean, std} as given."""
    outputs = dict(net.outputs)
    for key, out in net.outputs.items():
        if out.task != "regression" or out.head.scale == "none":
            continue
        if out.head.scale == "auto":
            y = TASKS["regression"].target(out, np.asarray(examples.targets[key]), examples.name)
            mean, std = y.mean(axis=0), y.std(axis=0)
            std = np.where(std > 0, std, 1.0)
            scale = (tuple(float(v) for v in mean), tuple(float(v) for v in std))
        else:
            scale = ((out.head.scale.mean,) * out.classes, (out.head.scale.std,) * out.classes)
        outputs[key] = replace(out, scale=scale)
    return replace(net, outputs=outputs)


def split_examples(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Hold out `fraction` of the examples for validation, picked by a shuffle seeded with `seed`."""
    n_val = round(examples.count * fraction)
    if n_val < 1 or n_val >= examples.count:
        raise _error(
            f"validation_split {fraction} of {examples.count} examples leaves {examples.count - n_val} for training "
            f"and {n_val} for validation",
            "use a larger data set or another fraction",
        )
    order = np.random.default_rng(seed).permutation(examples.count)
    return (
        examples.take(np.sort(order[n_val:]), name=f"{examples.name} (all but {n_val})"),
        examples.take(np.sort(order[:n_val]), name=f"{examples.name} ({n_val} held out by validation_split)"),
    )


@dataclass(frozen=True)
class Prepared:
    """Examples checked against the network: a plan per image input, each output's targets as its loss takes them."""

    examples: Examples
    plans: dict[str, Plan]
    targets: dict[str, np.ndarray]
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return self.examples.count

    @property
    def name(self) -> str:
        return self.examples.name

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(w for p in self.plans.values() for w in p.warnings)

    def describe(self) -> str:
        """The plans as one line, each input's named when there are several."""
        if len(self.plans) == 1 and not self.vectors:
            return next(iter(self.plans.values())).describe()
        return "; ".join(
            [*(f"{k}: {p.describe()}" for k, p in self.plans.items()), *(f"{k}: vectors" for k in self.vectors)]
        )

    def to_json(self) -> dict[str, Any]:
        return {k: p.to_json() for k, p in self.plans.items()}


def prepare(examples: Examples, net: Network, cfg: Any, *, role: str = "training data") -> Prepared:
    """Plan each image input (the one preprocessing plan) and check and convert each output's targets by its task."""
    plans, vectors, targets = {}, {}, {}
    problems: list[Problem] = []
    for key, value in examples.inputs.items():
        try:
            if isinstance(value, Images):
                plans[key] = plan(
                    value, net.inputs[key], None, cfg, role=f"{role} (input {key})" if len(net.inputs) > 1 else role
                )
            else:
                vectors[key] = value
        except SpecError as exc:
            problems.extend(exc.problems)
    for key, out in net.outputs.items():
        try:
            y = TASKS[out.task].target(out, np.asarray(examples.targets[key]), f"{role} {examples.name}")
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        if out.scale is not None:
            y = ((y - np.asarray(out.scale[0], np.float32)) / np.asarray(out.scale[1], np.float32)).astype(np.float32)
        targets[key] = y
    if problems:
        raise DataError(problems)
    return Prepared(examples, plans, targets, vectors)
