"""The Plan: one source's images checked against the spec, and the steps that make them the network's input."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import Problem, SpecError
from .sources import Images



@dataclass(frozen=True)
class Plan:
    """How one source's images become the network's input (every decision checked up front)."""

    input_shape: tuple[int, int, int]
    source_shape: tuple[int, int, int]
    classes: int
    fit: str  # none | pad | resize | crop
    pad: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))
    convert: str = "none"  # none | gray_to_rgb | rgb_to_gray | drop_alpha | rgba_to_gray
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        h, w, c = self.source_shape
        H, W, C = self.input_shape
        parts = [f"{h}x{w}x{c}"]
        if self.convert != "none":
            parts.append(self.convert.replace("_", " "))
        if self.fit == "pad":
            (t, b), (l, r) = self.pad
            parts.append(f"zero-pad {t},{b},{l},{r} px to {H}x{W}")
        elif self.fit in ("resize", "crop"):
            parts.append(f"{self.fit} to {H}x{W}")
        if self.scale != 1.0:
            parts.append(f"x{self.scale:.6g}")
        if self.mean is not None:
            parts.append("- mean")
        if self.std is not None:
            parts.append("/ std")
        return ", ".join(parts)


def plan(images: Images, input_shape: tuple[int, int, int], classes: int, cfg: Any, *, role: str = "training data") -> Plan:
    """Check a source against the spec (`cfg` is the spec's training.data) and decide the preprocessing."""
    problems: list[Problem] = []
    H, W, C = (int(v) for v in input_shape)
    h, w, c = images.shape
    name = images.name

    def fail(message: str, hint: str | None = None) -> None:
        problems.append(Problem(f"{role} {name}: {message}", file="data", hint=hint))

    # classes
    if images.classes is not None and images.classes != classes:
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
        elif (c, C) == (1, 3):
            convert = "gray_to_rgb"
        elif (c, C) == (3, 1):
            convert = "rgb_to_gray"
        elif (c, C) == (4, 3):
            convert = "drop_alpha"
        elif (c, C) == (4, 1):
            convert = "rgba_to_gray"
        else:
            fail(f"cannot convert {c}-channel images to the spec's {C} channels")
    # size
    fit = cfg.fit
    pad = ((0, 0), (0, 0))
    if (h, w) == (H, W):
        fit = "none"
    elif fit == "none":
        fail(f"images are {h}x{w} but the spec's input is {H}x{W}", "set training.data.fit to pad, resize or crop")
    elif fit == "auto":
        fit = "pad" if h <= H and w <= W else "resize"
    if fit == "pad":
        if h > H or w > W:
            fail(f"images are {h}x{w}, larger than the spec's input {H}x{W}: padding cannot shrink them", "set training.data.fit to resize or crop")
        else:
            pad = (((H - h) // 2, H - h - (H - h) // 2), ((W - w) // 2, W - w - (W - w) // 2))
    if fit == "crop" and (h < H or w < W):
        fail(f"images are {h}x{w}, smaller than the spec's input {H}x{W}: cropping cannot enlarge them", "set training.data.fit to pad or resize")
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
    return Plan((H, W, C), (h, w, c), classes, fit, pad, convert, scale, mean, std)




def preprocess(x: Any, p: Plan) -> Any:
    """Channels, size; in raw pixel values (so padding is black). A batch (B, h, w, c) -> float32."""
    import tensorflow as tf

    x = tf.cast(x, tf.float32)
    if p.convert == "gray_to_rgb":
        x = tf.repeat(x, 3, axis=-1)
    elif p.convert in ("drop_alpha",):
        x = x[..., :3]
    elif p.convert in ("rgb_to_gray", "rgba_to_gray"):
        x = tf.reduce_sum(x[..., :3] * tf.constant([0.299, 0.587, 0.114], tf.float32), axis=-1, keepdims=True)
    H, W, _ = p.input_shape
    if p.fit == "pad":
        x = tf.pad(x, [[0, 0], list(p.pad[0]), list(p.pad[1]), [0, 0]])
    elif p.fit == "resize":
        x = tf.image.resize(x, (H, W), method="bilinear", antialias=True)
    elif p.fit == "crop":
        x = tf.image.resize_with_crop_or_pad(x, H, W)
    return x


def normalise(x: Any, p: Plan) -> Any:
    import tensorflow as tf

    if p.scale != 1.0:
        x = x * tf.constant(p.scale, tf.float32)
    if p.mean is not None:
        x = x - tf.constant(p.mean, tf.float32)
    if p.std is not None:
        x = x / tf.constant(p.std, tf.float32)
    return x

