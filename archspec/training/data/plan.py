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
run.json records it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ...errors import Problem, SpecError
from .sources import Images

CONVERSIONS = {(1, 3): "gray_to_rgb", (3, 1): "rgb_to_gray", (4, 3): "drop_alpha", (4, 1): "rgba_to_gray"}
"""(image channels, input channels) -> the conversion the `convert` rule makes."""
LUMINANCE = (0.299, 0.587, 0.114)

SMALL_CONTENT = 0.25
"""Below this share of the input's area, padded images are warned about when `auto` chose the padding: the content is
then under half the input's height or width, so the network (a pretrained one above all, whose filters expect objects
at its input's scale) sees it at less than half the scale it was built for and spends most of its work on zeros.
MNIST in LeNet (28x28 in 32x32: 77 %) stays quiet; 28x28 in 96x96 (8.5 %) and CIFAR's 32x32 in 224x224 (2 %) do not."""

# Why a `fit` rule cannot bring an image size to the input's: (message, hint), by rule.
_REFUSALS = {
    "none": ("images are {sizes} but the spec's input is {H}x{W}", "set training.data.fit to pad, resize or crop"),
    "pad": ("images are {sizes}, larger than the spec's input {H}x{W}: padding cannot shrink them", "set training.data.fit to resize or crop"),
    "crop": ("images are {sizes}, smaller than the spec's input {H}x{W}: cropping cannot enlarge them", "set training.data.fit to pad or resize"),
}


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
            (t, b), (l, r) = self.pad
            steps.append(f"zero-pad {t} px" if t == b == l == r else f"zero-pad {t},{b},{l},{r} px (top,bottom,left,right)")
        elif self.fit != "none":
            steps.append({"resize": "resize", "crop": "centre-crop"}[self.fit])
        if len(steps) > 1:
            steps.append(f"{H}x{W}x{C}")
        return " -> ".join(steps)

    def to_json(self) -> dict[str, Any]:
        return {"shape": list(self.source), "images": self.count, "channels": self.convert, "fit": self.fit,
                "pad": [list(side) for side in self.pad]}

    def apply(self, x: Any) -> Any:
        """An image (h, w, c) or a batch (B, h, w, c) of this size -> float32 at the input's size, pixel values kept.

        Copying, padding and cropping work on the pixels as they come (uint8 for image files: a quarter
        of the bytes to move), and the resize reads them as they are: the same float32 values result as
        from converting to float32 first."""
        import tensorflow as tf

        if self.convert == "gray_to_rgb":
            x = tf.repeat(x, 3, axis=-1)
        elif self.convert == "drop_alpha":
            x = x[..., :3]
        elif self.convert in ("rgb_to_gray", "rgba_to_gray"):
            x = tf.reduce_sum(tf.cast(x[..., :3], tf.float32) * tf.constant(LUMINANCE, tf.float32), axis=-1, keepdims=True)
        H, W, _ = self.target
        if self.fit in ("pad", "crop"):  # centred either way; the plan checked which direction applies
            x = tf.image.resize_with_crop_or_pad(x, H, W)
        elif self.fit == "resize":
            x = tf.image.resize(x, (H, W), method="bilinear", antialias=True)
        return tf.cast(x, tf.float32)


@dataclass(frozen=True)
class Plan:
    """How one source's images become the network's input (every decision checked up front)."""

    input_shape: tuple[int, int, int]
    classes: int
    fits: tuple[Fit, ...]  # one per image size, the most common first
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
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
        norm = [f"{name} {','.join(f'{v:.6g}' for v in values)}" for name, values in (("mean", self.mean), ("std", self.std)) if values]
        if norm:
            parts.append(" ".join(norm))
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.describe(), "input_shape": list(self.input_shape), "sizes": [fit.to_json() for fit in self.fits],
                "rescale": self.scale, "mean": list(self.mean) if self.mean else None, "std": list(self.std) if self.std else None}

    def values(self, x: Any) -> Any:
        """Step 3 on float32 pixels."""
        import tensorflow as tf

        if self.scale != 1.0:
            x = x * tf.constant(self.scale, tf.float32)
        if self.mean is not None:
            x = x - tf.constant(self.mean, tf.float32)
        if self.std is not None:
            x = x / tf.constant(self.std, tf.float32)
        return x

    def apply(self, x: Any) -> Any:
        """Every step, on images of the source's (first) size: what the network is given."""
        return self.values(self.fits[0].apply(x))

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


def plan(images: Images, input_shape: tuple[int, int, int], classes: int | None, cfg: Any, *, role: str = "training data") -> Plan:
    """Check a source against the spec (`cfg` is the spec's training.data) and decide the preprocessing."""
    problems: list[Problem] = []
    H, W, C = (int(v) for v in input_shape)
    c = images.shape[2]

    def fail(message: str, hint: str | None = None) -> None:
        problems.append(Problem(f"{role} {images.name}: {message}", file="data", hint=hint))

    # classes (None: the labels are not class numbers, or there are none: another head checks them)
    if classes is None:
        pass
    elif images.classes is not None and images.classes != classes:
        fail(f"has {images.classes} classes but the spec's network outputs {classes}",
             "make the last dense layer's units match (e.g. --set classes=%d)" % images.classes)
    elif images.label_max >= classes:
        fail(f"has labels up to {images.label_max} but the spec's network outputs {classes} classes",
             "make the last dense layer's units match the number of classes (e.g. --set classes=%d)" % (images.label_max + 1))
    # channels
    convert = "none"
    if c != C:
        if cfg.channels == "strict":
            fail(f"images have {c} channel(s) but the spec's input has {C}", "set training.data.channels: convert, or change the spec's input")
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
        raise SpecError(problems)
    return Plan((H, W, C), classes or 0, tuple(fits), scale, mean, std, _small_content(fits, (H, W), cfg.fit, f"{role} {images.name}"))


def _small_content(fits: list[Fit], target: tuple[int, int], rule: str, what: str) -> tuple[str, ...]:
    """A warning when `auto` padded images into a small part of the input (SMALL_CONTENT), saying how to resize."""
    small = [fit for fit in fits if fit.filled < SMALL_CONTENT]
    if rule != "auto" or not small:
        return ()
    sizes = ", ".join(f"{fit.source[0]}x{fit.source[1]}" for fit in small[:4]) + (f" and {len(small) - 4} more sizes" if len(small) > 4 else "")
    least = min(fit.filled for fit in small)
    return (f"{what}: fit auto pads {sizes} images into the {target[0]}x{target[1]} input, where they fill {least:.1%} of it: "
            f"the network sees them at a fraction of its scale (a pretrained one above all); to scale them up, set "
            f"training.data.fit: resize (--fit resize), or `fit: pad` to keep the padding and this warning quiet",)


def _fit(size: tuple[int, int], target: tuple[int, int], rule: str) -> tuple[str, bool]:
    """The step that brings one image size to the input's, and whether it can."""
    (h, w), (H, W) = size, target
    if (h, w) == (H, W):
        return "none", True
    smaller, larger = h <= H and w <= W, h >= H and w >= W
    fit = ("pad" if smaller else "resize") if rule == "auto" else rule
    return fit, {"none": False, "pad": smaller, "crop": larger, "resize": True}[fit]
