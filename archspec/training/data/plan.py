"""The preprocessing plan: a source's images checked against the spec, and the steps that make them the network's input.

`train`, `evaluate`, `predict` and `inspect` all decide it with `plan` from the
spec's `training.data` and apply it with `Plan.apply` (training applies the same
two halves around its augmentation), so an image reaches the network the same way
whichever command reads it. The steps, in order:

1. channels, by the `channels` rule: grey -> RGB repeats the channel, RGB -> grey
   is the luminance, alpha is dropped;
2. size, by the `fit` rule, decided for each image size: `auto` pads a smaller
   image with centred zeros and resizes any other;
3. values: times `rescale` (`auto`: 1/255 for 8-bit images, 1 for others), then
   minus `mean`, divided by `std`.

Steps 1 and 2 work in raw pixel values, so padding is black. A plan reads as one
line, e.g. ``28x28x1 -> zero-pad 2 px -> 32x32x1, x1/255, mean 0.1307 std 0.3081``;
run.json records it (``to_json``), and ``from_json`` reads it back, checked.

Each step is written once, against a small table of operations (``Ops``): TensorFlow's
for the input pipeline (tf.data, whatever Keras' backend), Keras' for a model that
carries its preprocessing (``archspec export RUN_FOLDER``, ``keras_layer``). Keras'
table does the antialiased resize as two constant matrices taken from TensorFlow's
own resize (it is linear and separable), which every export format converts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Any

from ...errors import DataError, Problem, SpecError, closest, shown
from ...spec.given import words
from .sources import Images

CONVERSIONS = {(1, 3): "gray_to_rgb", (3, 1): "rgb_to_gray", (4, 3): "drop_alpha", (4, 1): "rgba_to_gray"}
"""(image channels, input channels) -> the conversion the `convert` rule makes."""
LUMINANCE = (0.299, 0.587, 0.114)

# Whether a size step brings an image of h x w to the input's H x W.
_REACHES: dict[str, Callable[[int, int, int, int], bool]] = {
    "none": lambda h, w, H, W: (h, w) == (H, W),
    "pad": lambda h, w, H, W: h <= H and w <= W,
    "crop": lambda h, w, H, W: h >= H and w >= W,
    "resize": lambda h, w, H, W: True,
}
SMALL_CONTENT = 0.25
"""Below this share of the input's area, padded images are warned about when `auto` chose the padding: the content is
then under half the input's height or width, so the network (a pretrained one above all, whose filters expect objects
at its input's scale) sees it at less than half the scale it was built for and spends most of its work on zeros.
MNIST in LeNet (28x28 in 32x32: 77 %) stays quiet; 28x28 in 96x96 (8.5 %) and CIFAR's 32x32 in 224x224 (2 %) do not."""

# Why a `fit` rule cannot bring an image size to the input's: (message, hint), by rule.
_REFUSALS = {
    "none": ("images are {sizes} but the spec's input is {H}x{W}", "set training.data.fit to pad, resize or crop"),
    "pad": (
        "images are {sizes}, larger than the spec's input {H}x{W}: padding cannot shrink them",
        "set training.data.fit to resize or crop",
    ),
    "crop": (
        "images are {sizes}, smaller than the spec's input {H}x{W}: cropping cannot enlarge them",
        "set training.data.fit to pad or resize",
    ),
}


FITS = ("none", "pad", "resize", "crop")
PIXELS = ("uint8", "float32")


@dataclass(frozen=True)
class Ops:
    """The operations the steps are written in (see the module's docstring): `cast(x, dtype)`, `repeat(x, n, axis)`,
    `sum(x, axis, keepdims)`, `const(values)` (float32), `crop_or_pad(x, fit)` (centred, to `fit.target`) and
    `resize(x, (H, W))` (bilinear, antialiased)."""

    cast: Callable[..., Any]
    repeat: Callable[..., Any]
    sum: Callable[..., Any]
    const: Callable[[Any], Any]
    crop_or_pad: Callable[[Any, Fit], Any]
    resize: Callable[[Any, tuple[int, int]], Any]


@cache
def ops(kind: str = "tf") -> Ops:
    """`tf`: TensorFlow's operations, for tf.data (images of any size: the crop or pad follows each image's own);
    `keras`: keras.ops, for a model (the image size fixed, the plan's)."""
    if kind == "tf":
        import tensorflow as tf

        return Ops(
            tf.cast,
            tf.repeat,
            tf.reduce_sum,
            lambda v: tf.constant(v, tf.float32),
            lambda x, fit: tf.image.resize_with_crop_or_pad(x, fit.target[0], fit.target[1]),
            lambda x, size: tf.image.resize(x, size, method="bilinear", antialias=True),
        )
    import keras

    K = keras.ops

    def floats(
        x: Any,
    ) -> Any:  # TFLite pads and tiles float32 with its own kernels, uint8 only with TensorFlow's (Flex)
        return K.cast(x, "float32")

    def crop_or_pad(x: Any, fit: Fit) -> Any:
        (t, b), (left, right) = fit.pad
        if fit.fit == "pad":
            return K.pad(floats(x), [[0, 0]] * (len(x.shape) - 3) + [[t, b], [left, right], [0, 0]])
        (h, w, _), (H, W, _) = fit.source, fit.target
        top, left = (h - H) // 2, (w - W) // 2
        return x[..., top : top + H, left : left + W, :]

    def resize(x: Any, size: tuple[int, int]) -> Any:
        """Rows, then columns, each a product with TensorFlow's resize of the identity (channels-first for matmul)."""
        h, w = int(x.shape[-3]), int(x.shape[-2])
        rows, cols = K.convert_to_tensor(resize_matrix(h, size[0])), K.convert_to_tensor(resize_matrix(w, size[1]).T)
        y = K.transpose(K.cast(x, "float32"), (0, 3, 1, 2))  # (B, C, h, w)
        return K.transpose(K.matmul(K.matmul(rows, y), cols), (0, 2, 3, 1))

    return Ops(
        K.cast,
        lambda x, n, axis: K.repeat(floats(x), n, axis=axis),
        lambda x, axis, keepdims: K.sum(x, axis=axis, keepdims=keepdims),
        lambda v: K.convert_to_tensor(v, "float32"),
        crop_or_pad,
        resize,
    )


@lru_cache(maxsize=32)
def resize_matrix(n: int, N: int) -> Any:
    """(N, n): TensorFlow's antialiased bilinear resize of an axis of length n to N, as a matrix: the resize of
    n unit vectors (an axis of length 1 resized to 1 is left as it is)."""
    import tensorflow as tf

    with tf.init_scope():  # eagerly, also when first asked while a model is traced
        eye = tf.eye(n)[:, :, None, None]  # n images, n x 1, each a unit column
        return ops("tf").resize(eye, (N, 1)).numpy()[:, :, 0, 0].T


@dataclass(frozen=True)
class Fit:
    """Steps 1 and 2 for the images of one size."""

    source: tuple[int, int, int]
    target: tuple[int, int, int]
    convert: str = "none"  # a value of CONVERSIONS, or none
    fit: str = "none"  # none | pad | resize | crop
    count: int = 1  # images of this size in the source

    @property
    def pad(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(top, bottom), (left, right) zeros added by `pad`."""
        if self.fit != "pad":
            return (0, 0), (0, 0)
        (h, w, _), (H, W, _) = self.source, self.target
        return ((H - h) // 2, H - h - (H - h) // 2), ((W - w) // 2, W - w - (W - w) // 2)

    @property
    def filled(self) -> float:
        """The share of the input's area the image's own pixels fill (1 unless padded)."""
        (h, w, _), (H, W, _) = self.source, self.target
        return h * w / (H * W) if self.fit == "pad" else 1.0

    def describe(self) -> str:
        (h, w, c), (H, W, C) = self.source, self.target
        steps = [f"{h}x{w}x{c}"]
        if self.convert != "none":
            steps.append(self.convert.replace("_", " "))
        if self.fit == "pad":
            (t, b), (left, right) = self.pad
            steps.append(
                f"zero-pad {t} px"
                if t == b == left == right
                else f"zero-pad {t},{b},{left},{right} px (top,bottom,left,right)"
            )
        elif self.fit != "none":
            steps.append({"resize": "resize", "crop": "centre-crop"}[self.fit])
        if len(steps) > 1:
            steps.append(f"{H}x{W}x{C}")
        return " -> ".join(steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "shape": list(self.source),
            "images": self.count,
            "channels": self.convert,
            "fit": self.fit,
            "pad": [list(side) for side in self.pad],
        }

    def apply(self, x: Any, on: Ops | None = None) -> Any:
        """An image (h, w, c) or a batch (B, h, w, c) of this size -> float32 at the input's size, pixel values kept.

        Copying, padding and cropping work on the pixels as they come (uint8 for image files: a quarter
        of the bytes to move), and the resize reads them as they are: the same float32 values result as
        from converting to float32 first. `on`: the operations (default TensorFlow's)."""
        on = on or ops("tf")
        if self.convert == "gray_to_rgb":
            x = on.repeat(x, 3, axis=-1)
        elif self.convert == "drop_alpha":
            x = x[..., :3]
        elif self.convert in ("rgb_to_gray", "rgba_to_gray"):
            x = on.sum(on.cast(x[..., :3], "float32") * on.const(LUMINANCE), axis=-1, keepdims=True)
        if self.fit in ("pad", "crop"):  # centred either way; the plan checked which direction applies
            x = on.crop_or_pad(x, self)
        elif self.fit == "resize":
            x = on.resize(x, self.target[:2])
        return on.cast(x, "float32")


@dataclass(frozen=True)
class Plan:
    """How one source's images become the network's input (every decision checked up front)."""

    input_shape: tuple[int, int, int]
    classes: int
    fits: tuple[Fit, ...]  # one per image size, the most common first
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    pixels: str = "uint8"  # the source's pixel type: uint8 (8-bit images), else float32
    warnings: tuple[str, ...] = ()
    """What is legal but likely not what the user meant (`train` prints each as a warning)."""

    @property
    def source_shape(self) -> tuple[int, int, int]:
        return self.fits[0].source

    def describe(self) -> str:
        """One line: ``28x28x1 -> zero-pad 2 px -> 32x32x1, x1/255, mean 0.1307 std 0.3081``."""
        if len(self.fits) == 1:
            parts = [self.fits[0].describe()]
        else:
            parts = ["; ".join(f"{fit.describe()} ({fit.count} images)" for fit in self.fits)]
        if self.scale != 1.0:
            parts.append("x1/255" if math.isclose(self.scale, 1 / 255) else f"x{self.scale:.6g}")
        norm = [
            f"{name} {','.join(f'{v:.6g}' for v in values)}"
            for name, values in (("mean", self.mean), ("std", self.std))
            if values
        ]
        if norm:
            parts.append(" ".join(norm))
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.describe(),
            "input_shape": list(self.input_shape),
            "sizes": [fit.to_json() for fit in self.fits],
            "rescale": self.scale,
            "mean": list(self.mean) if self.mean else None,
            "std": list(self.std) if self.std else None,
            "pixels": self.pixels,
        }

    @staticmethod
    def from_json(record: Any, file: str, at: tuple[str | int, ...] = ()) -> Plan:
        """A plan as `to_json` wrote it (run.json's ``preprocessing.plan``), every field checked: a record this
        version cannot carry out exactly (an unknown step, a missing size) is refused, located at `file` and `at`."""
        return _from_json(record, file, at)

    def values(self, x: Any, on: Ops | None = None) -> Any:
        """Step 3 on float32 pixels."""
        on = on or ops("tf")
        if self.scale != 1.0:
            x = x * on.const(self.scale)
        if self.mean is not None:
            x = x - on.const(self.mean)
        if self.std is not None:
            x = x / on.const(self.std)
        return x

    def apply(self, x: Any, on: Ops | None = None) -> Any:
        """Every step, on images of the source's (first) size: what the network is given."""
        return self.values(self.fits[0].apply(x, on), on)

    def keras_input(self, name: str = "input") -> Any:
        """A keras.Input for pixels as the source's image files hold them: the size the run trained on (the most
        common, when there were several), the source's channels and pixel type."""
        import keras

        return keras.Input(self.source_shape, dtype=self.pixels, name=name)

    def keras_layer(self, x: Any, name: str = "preprocessing") -> Any:
        """The plan on a Keras tensor of the source's (first) size (e.g. `keras_input()`'s): the network's input."""
        from ...keras_side.custom import Steps

        return Steps(lambda t: self.apply(t, ops("keras")), name=name)(x)

    def prepare(self, image: Any) -> Any:
        """Every step, on one image (h, w, c) of any of the source's sizes -> float32 (H, W, C).

        The size step is looked up by the image's own size, so a folder's files can come in any
        order (the training input's random order, one file at a time)."""
        import tensorflow as tf

        kinds = sorted({fit.fit for fit in self.fits})
        branches = [lambda kind=kind: self.values(replace(self.fits[0], fit=kind).apply(image)) for kind in kinds]
        if len(kinds) == 1:
            return tf.ensure_shape(branches[0](), self.input_shape)
        sizes = tf.constant([fit.source[:2] for fit in self.fits], tf.int32)
        kind_of_size = tf.constant([kinds.index(fit.fit) for fit in self.fits], tf.int32)
        size = tf.argmax(tf.cast(tf.reduce_all(sizes == tf.shape(image)[:2], axis=1), tf.int32))
        return tf.ensure_shape(tf.switch_case(kind_of_size[size], branches), self.input_shape)


def plan(
    images: Images, input_shape: tuple[int, ...], classes: int | None, cfg: Any, *, role: str = "training data"
) -> Plan:
    """Check a source against the spec (`cfg` is the spec's training.data) and decide the preprocessing."""
    problems: list[Problem] = []
    H, W, C = (int(v) for v in input_shape)
    c = images.shape[2]

    def fail(message: str, hint: str | None = None) -> None:
        problems.append(Problem(f"{role} {images.name}: {message}", file="data", hint=hint))

    # classes (None: the labels are not class numbers, or there are none: another head checks them)
    only = _one_class(images) if role.startswith("training") and images.class_names else None  # a folder of one class
    if classes is None:
        pass
    elif only is not None:
        fail(
            f"holds examples of one class only ({only}): a classifier trained on it learns to answer that class, "
            "whatever it sees",
            "give examples of every class the network tells apart (a folder: one sub-folder of images per class)",
        )
    elif images.classes is not None and images.classes != classes:
        fail(
            f"has {images.classes} classes but the spec's network outputs {classes}",
            f"make the last dense layer's units match (e.g. {words().assigned('classes', str(images.classes))})",
        )
    elif images.label_max >= classes:
        fail(
            f"has labels up to {images.label_max} but the spec's network outputs {classes} classes",
            f"make the last dense layer's units match the number of classes "
            f"(e.g. {words().assigned('classes', str(images.label_max + 1))})",
        )
    # channels
    convert = "none"
    if c != C:
        if cfg.channels == "strict":
            fail(
                f"images have {c} channel(s) but the spec's input has {C}",
                "set training.data.channels: convert, or change the spec's input",
            )
        elif (c, C) in CONVERSIONS:
            convert = CONVERSIONS[(c, C)]
        else:
            fail(f"cannot convert {c}-channel images to the spec's {C} channels")
    # size, for each size the source holds
    fits = []
    refused: dict[str, list[str]] = {}
    for (h, w, _), count in images.sizes.items():
        fit, ok = _fit((h, w), (H, W), cfg.fit)
        if not ok:
            refused.setdefault(fit, []).append(f"{h}x{w}")
        fits.append(Fit((h, w, c), (H, W, C), convert, fit, count))
    for fit, sizes in refused.items():
        message, hint = _REFUSALS[fit]
        listed = ", ".join(sizes[:4]) + (f" and {len(sizes) - 4} more sizes" if len(sizes) > 4 else "")
        fail(message.format(sizes=listed, H=H, W=W), hint)
    # values
    scale = (1 / 255 if images.integer else 1.0) if cfg.rescale == "auto" else float(cfg.rescale)

    def per_channel(value: Any, what: str) -> tuple[float, ...] | None:
        if value is None:
            return None
        values = tuple(float(v) for v in (value if isinstance(value, list) else [value]))
        if len(values) not in (1, C):
            fail(f"training.data.{what} has {len(values)} values but the input has {C} channels")
            return None
        return values

    mean, std = per_channel(cfg.mean, "mean"), per_channel(cfg.std, "std")
    if problems:
        raise DataError(problems)
    return Plan(
        (H, W, C),
        classes or 0,
        tuple(fits),
        scale,
        mean,
        std,
        "uint8" if images.integer else "float32",
        _small_content(fits, (H, W), cfg.fit, f"{role} {images.name}"),
    )


def _small_content(fits: list[Fit], target: tuple[int, int], rule: str, what: str) -> tuple[str, ...]:
    """A warning when `auto` padded images into a small part of the input (SMALL_CONTENT), saying how to resize."""
    small = [fit for fit in fits if fit.filled < SMALL_CONTENT]
    if rule != "auto" or not small:
        return ()
    sizes = ", ".join(f"{fit.source[0]}x{fit.source[1]}" for fit in small[:4]) + (
        f" and {len(small) - 4} more sizes" if len(small) > 4 else ""
    )
    least = min(fit.filled for fit in small)
    return (
        f"{what}: fit auto pads {sizes} images into the {target[0]}x{target[1]} input, where they fill {least:.1%} of "
        f"it: the network sees them at a fraction of its scale (a pretrained one above all); to scale them up, set "
        f"training.data.fit: resize (--fit resize), or `fit: pad` to keep the padding and this warning quiet",
    )


def _one_class(images: Images) -> str | None:
    """The name of the only class `images` has examples of, or None when it has several (or no labels)."""
    if images.y is None or not len(images.y) or images.y.min() != images.y.max():
        return None
    label = int(images.y[0])
    return images.class_names[label] if images.class_names and label < len(images.class_names) else f"label {label}"


def _fit(size: tuple[int, int], target: tuple[int, int], rule: str) -> tuple[str, bool]:
    """The step that brings one image size to the input's, and whether it can."""
    (h, w), (H, W) = size, target
    if (h, w) == (H, W):
        return "none", True
    smaller, larger = h <= H and w <= W, h >= H and w >= W
    fit = ("pad" if smaller else "resize") if rule == "auto" else rule
    return fit, {"none": False, "pad": smaller, "crop": larger, "resize": True}[fit]


def _from_json(record: Any, file: str, at: tuple[str | int, ...]) -> Plan:
    """`Plan.from_json`: each value checked against what `to_json` writes, the first wrong one refused."""

    def refuse(where: tuple[str | int, ...], message: str, hint: str | None = None) -> SpecError:
        return DataError(
            Problem(
                message,
                file=file,
                path=at + where,
                hint=hint
                or "the run folder was changed by hand, or written "
                "by another version of archspec; export the model without it (--no-preprocessing) and preprocess "
                "yourself",
            )
        )

    def mapping(value: Any, where: tuple[str | int, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise refuse(where, f"expected a mapping, got {shown(value)}")
        return value

    def shape(value: Any, where: tuple[str | int, ...]) -> tuple[int, int, int]:
        if not (
            isinstance(value, list) and len(value) == 3 and all(type(v) is int and 0 < v <= 1 << 16 for v in value)
        ):
            raise refuse(where, f"expected [height, width, channels], got {shown(value)}")
        return tuple(value)

    def choice(value: Any, choices: tuple[str, ...], where: tuple[str | int, ...], what: str) -> str:
        if value not in choices:
            near = closest(str(value), choices) if isinstance(value, str) else None
            raise refuse(
                where,
                f"unknown {what} {shown(value)}; this version knows {', '.join(choices)}",
                f"did you mean {near!r}?" if near else None,
            )
        return str(value)  # one of `choices`

    def number(value: Any, where: tuple[str | int, ...], positive: bool = False) -> float:
        if type(value) not in (int, float) or not math.isfinite(value) or (positive and value <= 0):
            raise refuse(where, f"expected a {'positive ' if positive else ''}finite number, got {shown(value)}")
        return float(value)

    plan = mapping(record, ())
    target = shape(plan.get("input_shape"), ("input_shape",))
    sizes = plan.get("sizes")
    if not isinstance(sizes, list) or not sizes:
        raise refuse(("sizes",), f"expected a list of the image sizes the run trained on, got {shown(sizes)}")
    fits = []
    for i, size in enumerate(sizes):
        size = mapping(size, ("sizes", i))
        source = shape(size.get("shape"), ("sizes", i, "shape"))
        convert = choice(
            size.get("channels", "none"),
            ("none", *CONVERSIONS.values()),
            ("sizes", i, "channels"),
            "channel conversion",
        )
        fit = choice(size.get("fit"), FITS, ("sizes", i, "fit"), "size step")
        want = CONVERSIONS.get((source[2], target[2]), "none") if source[2] != target[2] else "none"
        if convert != want:
            raise refuse(
                ("sizes", i, "channels"),
                f"{convert!r} does not turn {source[2]} channel(s) into the input's {target[2]}",
            )
        count = size.get("images")
        made = Fit(source, target, convert, fit, count if type(count) is int else 1)
        (h, w, _), (H, W, _) = source, target
        if not _REACHES[fit](h, w, H, W):
            raise refuse(("sizes", i, "fit"), f"{fit!r} cannot bring {h}x{w} to the input's {H}x{W}")
        if "pad" in size and size["pad"] != [list(side) for side in made.pad]:
            raise refuse(
                ("sizes", i, "pad"), f"{shown(size['pad'])} is not the centred padding of {h}x{w} into {H}x{W}"
            )
        fits.append(made)
    scale = number(plan.get("rescale", 1.0), ("rescale",), positive=True)
    values: dict[str, tuple[float, ...] | None] = {}
    for name in ("mean", "std"):
        value = plan.get(name)
        if value is None:
            values[name] = None
            continue
        if not isinstance(value, list) or len(value) not in (1, target[2]):
            raise refuse((name,), f"expected one value or one per channel ({target[2]}), got {shown(value)}")
        values[name] = tuple(number(v, (name, j), positive=name == "std") for j, v in enumerate(value))
    pixels = plan.get("pixels", "uint8" if math.isclose(scale, 1 / 255) else "float32")
    pixels = choice(pixels, PIXELS, ("pixels",), "pixel type")
    return Plan(target, 0, tuple(fits), scale, values["mean"], values["std"], pixels)
