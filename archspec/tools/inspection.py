"""What a trained network sees: `archspec inspect MODEL.keras --input IMAGE -o report.html`.

One static HTML page, self-contained (every picture a base64 PNG inside it,
no script, no external address), with:

- the input as the network receives it: the model's own preprocessing plan
  (from its run folder's spec, as `evaluate` and `predict` use it; channels,
  size, rescaling, mean and std), stated in one line;
- the first convolution's filters, one tile each (grey around zero: dark
  negative, light positive; colour when the filters read an RGB image);
- the feature maps of every convolution and pooling layer, as one grid per
  layer, each map scaled to its own range (its min and max are listed);
- the class probabilities, highest first.

PNG files are written by a small encoder here (zlib from the standard
library); images are read by training's decoder (``training/data/decode.py``),
so PNG, JPEG, GIF and BMP work, as does a NumPy ``.npy`` array (H, W[, C]).

`archspec serve` shows the same figures live: a ``Probe`` opens a model up once
(a second Keras model giving every feature-map layer's output with the
prediction), and each figure is made by one function here (``input_figure``,
``filters_figure``, ``maps_figures``, ``probabilities_table``) that both the
report and the live page use: an element tree (``elements``), HTML text in the report, DOM nodes
built by the live page's script.
"""

from __future__ import annotations

import base64
import html
import math
import os
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Problem, SpecError
from ..files import refuse_existing, write_text
from ..keras_side.saving import SPEC_SUFFIXES
from ..kinds.registry import by_keras_class
from .elements import Node, h, to_html

if TYPE_CHECKING:
    from ..training.data import Plan
    from ..training.saved import Trained

MAX_MAPS = 64
TOP_CLASSES = 20


def _shows_maps(layer: Any) -> bool:
    """Whether the kind a Keras layer comes from has its outputs shown as feature maps (the kind table says)."""
    return any(prim.feature_maps for prim in by_keras_class().get(type(layer).__name__, ()))


# -- PNG ---------------------------------------------------------------------------
def png(pixels: Any) -> bytes:
    """PNG bytes of a uint8 array: (H, W) grey or (H, W, 3) RGB."""
    import numpy as np

    a = np.ascontiguousarray(pixels, dtype=np.uint8)
    if a.ndim == 2:
        color = 0
    elif a.ndim == 3 and a.shape[2] == 3:
        color = 2
    else:
        raise ValueError(f"png needs (H, W) or (H, W, 3), got {a.shape}")
    h, w = a.shape[:2]
    rows = a.reshape(h, -1)
    raw = b"".join(b"\x00" + rows[i].tobytes() for i in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def data_uri(pixels: Any) -> str:
    return "data:image/png;base64," + base64.b64encode(png(pixels)).decode("ascii")


def to_uint8(x: Any, lo: float | None = None, hi: float | None = None) -> Any:
    """Scale to 0..255 over [lo, hi] (default: the array's own range); a constant array is mid-grey."""
    import numpy as np

    x = np.asarray(x, dtype="float64")
    lo = float(x.min()) if lo is None else lo
    hi = float(x.max()) if hi is None else hi
    if hi - lo < 1e-12:
        return np.full(x.shape, 128, dtype=np.uint8)
    return np.clip(np.round((x - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Grid:
    uri: str
    rows: int
    cols: int
    tile: tuple[int, int]
    count: int
    width: int
    height: int


def grid(tiles: list[Any], *, background: int = 255) -> Grid:
    """Tiles (uint8, all (h, w) or all (h, w, 3)) in a near-square grid with 1-pixel gaps."""
    import numpy as np

    n = len(tiles)
    h, w = tiles[0].shape[:2]
    cols = max(1, math.ceil(math.sqrt(n * h / w)))
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    shape = (rows * h + rows - 1, cols * w + cols - 1, *tiles[0].shape[2:])
    canvas = np.full(shape, background, dtype=np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = t
    return Grid(data_uri(canvas), rows, cols, (h, w), n, shape[1], shape[0])


# -- what the network sees ----------------------------------------------------------------
@dataclass
class LayerMaps:
    name: str
    kind: str
    shape: tuple[int, ...]
    grid: Grid
    ranges: list[tuple[float, float]]


def downsampled(out: Any, max_side: int | None) -> Any:
    """Maps (H, W, C) averaged over f x f squares so that neither side exceeds `max_side` (None: as they are)."""
    h, w = out.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return out
    f = math.ceil(max(h, w) / max_side)
    fh, fw = min(f, h), min(f, w)  # a thin map is not averaged across more rows (or columns) than it has
    h2, w2 = h // fh, w // fw
    return out[: h2 * fh, : w2 * fw].reshape(h2, fh, w2, fw, -1).mean(axis=(1, 3))


def _maps(name: str, kind: str, out: Any, limit: int, max_side: int | None = None) -> LayerMaps:
    channels = out.shape[-1]
    shown = min(channels, limit)
    small = downsampled(out[:, :, :shown], max_side)
    tiles = [to_uint8(small[:, :, k]) for k in range(shown)]
    ranges = [(float(out[:, :, k].min()), float(out[:, :, k].max())) for k in range(shown)]
    return LayerMaps(name, kind, tuple(out.shape), grid(tiles), ranges)


@dataclass(frozen=True)
class Filters:
    layer: str
    kernel: tuple[int, int, int, int]  # (kh, kw, in, out)
    grid: Grid


def _filters(layer: Any) -> Filters | None:
    import numpy as np

    kernel = np.asarray(layer.get_weights()[0])  # (kh, kw, in, out)
    bound = float(np.abs(kernel).max()) or 1.0
    tiles = []
    for k in range(min(kernel.shape[3], MAX_MAPS)):
        f = kernel[:, :, :, k]
        if f.shape[2] == 3:
            tiles.append(to_uint8(f, -bound, bound))
        else:
            tiles.append(to_uint8(f.mean(axis=2), -bound, bound))
    kh, kw, cin, cout = (int(v) for v in kernel.shape)
    return Filters(layer.name, (kh, kw, cin, cout), grid(tiles, background=255)) if tiles else None


@dataclass
class Seen:
    """What the network makes of one input."""

    x: Any  # the network's input (H, W, C), after the plan
    maps: list[LayerMaps]  # every feature-map layer's, in the model's order
    probabilities: Any  # (classes,)

    @property
    def top(self) -> int:
        return int(self.probabilities.argmax())


class Probe:
    """A trained model opened up: the outputs of its feature-map layers beside its prediction, and its first
    convolution's filters.

    Built once per model (a second Keras model over the same layers), so that `archspec serve` can
    look at every stroke without rebuilding it; `max_side` shrinks large maps for a live page."""

    def __init__(self, trained: Trained, *, max_maps: int = MAX_MAPS, max_side: int | None = None) -> None:
        import keras

        model = trained.model
        self.trained = trained
        self.max_maps, self.max_side = max_maps, max_side
        self.layers = [layer for layer in model.layers if _shows_maps(layer) and len(layer.output.shape) == 4]
        self.model = keras.Model(model.input, [layer.output for layer in self.layers] + [model.outputs[0]])
        first_conv = next((layer for layer in self.layers if layer.weights and len(layer.weights[0].shape) == 4), None)
        self.filters = _filters(first_conv) if first_conv is not None else None

    def __call__(self, x: Any) -> Seen:
        """`x`: the network's input (1, H, W, C), as the plan made it."""
        import numpy as np

        x = np.asarray(x, dtype="float32")
        # Keras' compiled predict step: a tenth of an eager call's time for LeNet; the input in the structure the
        # model was built with
        from ..training.saved import forward

        outs = forward(self.model, x)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        maps = [
            _maps(layer.name, type(layer).__name__, np.asarray(o[0]), self.max_maps, self.max_side)
            for layer, o in zip(self.layers, outs[:-1], strict=True)
        ]
        return Seen(x[0], maps, self.trained.probabilities(outs[-1][0]))


# -- the report, in parts that `serve` shows too ----------------------------------------------
def _scale(tile: tuple[int, int], target: int = 56) -> int:
    """Display zoom for a grid: small maps are enlarged (pixelated) to about `target` pixels."""
    return max(1, min(12, target // max(tile)))


def _img(g: Grid, alt: str, zoom: int) -> Node:
    return h(
        "img",
        {
            "src": g.uri,
            "alt": alt,
            "width": g.width * zoom,
            "height": g.height * zoom,
            "style": "image-rendering: pixelated",
        },
    )


FIGURE_STYLE = """
figure { display: inline-block; margin: 10px 18px 14px 0; vertical-align: top; }
figcaption { font-size: 12px; color: #444; margin-top: 4px; max-width: 520px; }
figcaption code { font-size: 12px; }
table.probs { border-collapse: collapse; font-size: 13px; }
table.probs td { padding: 2px 8px; }
.bar { background: #6f9fd8; height: 12px; }
.top td { font-weight: bold; }
figure img { border: 1px solid #ccc; background: #fff; }
"""
"""The figures' and the probability table's look, shared with `archspec serve`'s page."""

STYLE = (
    """
body { font-family: system-ui, sans-serif; margin: 20px; color: #222; max-width: 1200px; }
h1 { font-size: 20px; margin-bottom: 4px; } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.facts { color: #555; font-size: 13px; }
"""
    + FIGURE_STYLE
)


def input_figure(seen: Seen, plan: Plan) -> list[Node]:
    """The input as the network receives it, and the plan that made it."""
    x = seen.x
    shown = x if x.shape[2] == 3 else x[:, :, 0]
    return [
        h(
            "figure",
            {"class": "input"},
            _img(grid([to_uint8(shown)]), "input", _scale(x.shape[:2], 160)),
            h(
                "figcaption",
                {},
                "as the network receives it: ",
                h("span", {"class": "plan"}, plan.describe()),
                f"; values {float(x.min()):.3g} to {float(x.max()):.3g}",
            ),
        )
    ]


def augment_figure(views: Any, augmentation: str) -> list[Node]:
    """`views` (N, H, W, C) of the input as training augments it (``training.data.augmentation.views``), one tile
    each, on the scale of the unaugmented input's values; `augmentation` says what was drawn."""
    if augmentation == "none":
        return [h("p", {"class": "facts augment"}, "The run has no augmentation: training saw this image as it is.")]
    lo, hi = float(views.min()), float(views.max())
    tiles = [to_uint8(v if v.shape[2] == 3 else v[:, :, 0], lo, hi) for v in views]
    g = grid(tiles)
    return [
        h(
            "figure",
            {"class": "augment", "data-views": len(views)},
            _img(g, "augmented views", _scale(g.tile, 96)),
            h(
                "figcaption",
                {},
                f"{len(views)} draws of the training augmentation (training images only; predict and evaluate never "
                f"augment): {augmentation}",
            ),
        )
    ]


def filters_figure(filters: Filters) -> list[Node]:
    kh, kw, cin, cout = filters.kernel
    g = filters.grid
    note = "in colour (RGB)" if cin == 3 else ("" if cin == 1 else f"averaged over {cin} input channels")
    return [
        h(
            "figure",
            {"class": "filters", "data-layer": filters.layer, "data-filters": g.count},
            _img(g, "filters of " + filters.layer, _scale(g.tile, 48)),
            h(
                "figcaption",
                {},
                h("code", {}, filters.layer),
                f": {cout} filters {kh}×{kw}{' (first ' + str(g.count) + ' shown)' if g.count < cout else ''}"
                f"{', ' + note if note else ''}; "
                "mid-grey is zero, darker negative, lighter positive",
            ),
        )
    ]


def maps_figures(seen: Seen) -> list[Node]:
    """One figure per feature-map layer: its maps in a grid, each scaled to its own range."""
    if not seen.maps:
        return [h("p", {}, "The model has no convolution or pooling layers.")]
    parts: list[Node] = []
    for fm in seen.maps:
        hh, w, c = fm.shape
        lo = min(r[0] for r in fm.ranges)
        hi = max(r[1] for r in fm.ranges)
        more = f" (first {fm.grid.count} of {c} shown)" if fm.grid.count < c else ""
        th, tw = fm.grid.tile
        smaller = f", shown at {th}×{tw}" if (th, tw) != (hh, w) else ""
        parts.append(
            h(
                "figure",
                {
                    "class": "layer",
                    "data-layer": fm.name,
                    "data-maps": fm.grid.count,
                    "data-channels": c,
                    "data-grid": f"{fm.grid.rows}x{fm.grid.cols}",
                    "data-tile": f"{th}x{tw}",
                },
                _img(fm.grid, fm.name, _scale((th, tw))),
                h(
                    "figcaption",
                    {},
                    h("code", {}, fm.name),
                    f" ({fm.kind}): {c} feature maps {hh}×{w}{more}{smaller}; "
                    f"each scaled to its own range, overall {lo:.3g} to {hi:.3g}",
                ),
            )
        )
    return parts


def probabilities_table(seen: Seen, names: list[str], *, logits: bool) -> list[Node]:
    """The most likely classes, highest first, with bars."""
    import numpy as np

    probs, top = seen.probabilities, seen.top
    parts: list[Node] = (
        [h("p", {"class": "facts"}, "The network outputs logits; softmax applied to them.")] if logits else []
    )
    rows = [
        h(
            "tr",
            {"class": "top" if k == top else None, "data-class": int(k)},
            h("td", {}, class_name(names, int(k))),
            h("td", {}, f"{probs[k]:.4f}"),
            h("td", {}, h("div", {"class": "bar", "style": f"width: {max(1, round(300 * float(probs[k])))}px"})),
        )
        for k in np.argsort(-probs, kind="stable")[:TOP_CLASSES]
    ]
    parts.append(h("table", {"class": "probs"}, *rows))
    if len(probs) > TOP_CLASSES:
        parts.append(h("p", {"class": "facts"}, f"{TOP_CLASSES} most likely of {len(probs)} classes."))
    return parts


def class_name(names: list[str], k: int) -> str:
    return names[k] if k < len(names) else str(k)


def report(
    trained: Trained,
    x: Any,
    plan: Plan,
    *,
    title: str = "",
    source: str = "",
    labels: list[str] | None = None,
    max_maps: int = MAX_MAPS,
    augmented: list[Node] | None = None,
) -> str:
    """The HTML report for a trained model and one image, `x` being the network's input (1, H, W, C) by `plan`;
    `augmented` is ``augment_figure``'s, shown under the input when given."""
    probe = Probe(trained, max_maps=max_maps)
    seen = probe(x)
    model = trained.model
    names = labels or trained.class_names
    top = seen.top
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title or model.name)} — archspec inspect</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(model.name)}</h1>",
        f'<p class="facts">input {html.escape(source or "array")} → {"×".join(map(str, trained.input_shape))} · '
        f"{model.count_params():,} parameters · predicted class <b>{html.escape(class_name(names, top))}</b> "
        f"({seen.probabilities[top]:.1%})</p>",
        "<h2>Input</h2>",
        to_html(input_figure(seen, plan)),
    ]
    if augmented is not None:
        parts += ["<h2>Training augmentation</h2>", to_html(augmented)]
    if probe.filters is not None:
        parts += ["<h2>First convolution's filters</h2>", to_html(filters_figure(probe.filters))]
    parts += [
        "<h2>Feature maps</h2>",
        to_html(maps_figures(seen)),
        "<h2>Class probabilities</h2>",
        to_html(probabilities_table(seen, names, logits=trained.logits)),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def inspect(
    model_path: str | os.PathLike[str],
    image_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    force: bool = False,
    labels_path: str | os.PathLike[str] | None = None,
    spec: Any = None,
    rescale: float | str | None = None,
    fit: str | None = None,
    max_maps: int = MAX_MAPS,
    weights: Any = None,
    strict_weights: bool = False,
    weights_by_shape: bool = False,
    log: Any = None,
    augment: int = 0,
) -> Path:
    """Write the report for a model (a run folder or a .keras file) and an image file.

    The image goes through the model's preprocessing plan, as in `predict`; `rescale` and `fit`
    override the plan's rules when given. With ``weights`` (or a spec as the model) the model is
    built or loaded and the weights transferred first (``keras_side/weights.py``); ``log`` receives
    the transfer report. ``augment`` > 0 adds that many views of the image as the run's training augmentation
    draws them (``augmented``)."""
    from ..training import saved  # NumPy and Keras: imported when a report is made

    target = Path(output)
    refuse_existing(target, force)
    source = Path(model_path)
    is_spec = (
        source.suffix.lower() in SPEC_SUFFIXES
    )  # a network seen without training it: its spec gives the preprocessing
    model = (
        _with_weights(source, weights, strict_weights, log, weights_by_shape)
        if weights is not None or is_spec
        else source
    )
    trained = saved.load(model, spec=source if is_spec and spec is None else spec)
    trained.require_classic("inspect shows", str(model_path), "archspec predict answers for every output")
    changes = {key: value for key, value in (("rescale", rescale), ("fit", fit)) if value is not None}
    if changes:
        trained = replace(trained, data=trained.data.model_copy(update=changes))
    name, image = _one_image(image_path)
    plan, x = trained.prepare(image, name)
    labels = None
    if labels_path is not None:
        labels = [line.strip() for line in Path(labels_path).read_text(encoding="utf-8").splitlines() if line.strip()]
    title = Path(model_path).name if Path(model_path).is_dir() else Path(model_path).stem
    views = augmented_figure(trained, plan, x, augment) if augment else None
    text = report(
        trained, x, plan, title=title, source=Path(image_path).name, labels=labels, max_maps=max_maps, augmented=views
    )
    return write_text(target, text, force=force)


def _with_weights(source: Path, weights: Any, strict: bool, log: Any, by_shape: bool = False) -> Any:
    """A model built from a spec or loaded, with `weights` transferred into it (the report goes to `log`)."""
    from ..keras_side.export import load_source  # builds with Keras

    model = load_source(source, weights=weights, strict_weights=strict, weights_by_shape=by_shape)
    if weights is not None and log is not None:
        log(model.transfer.text().rstrip())
    return model


def augmented_figure(trained: Trained, plan: Plan, x: Any, count: int, seed: int = 0) -> list[Node]:
    """``augment_figure`` for `count` views of the network input `x` under the run's ``training.data.augment``."""
    from ..training.data import augmentation

    aug = trained.data.augment
    return augment_figure(augmentation.views(aug, plan, x, count, seed), augmentation.describe(aug))


def _one_image(image_path: str | os.PathLike[str]) -> tuple[str, Any]:
    """(name, pixels) of the one image a file holds; a file of several is refused."""
    from ..training.data import read_images

    images = read_images(image_path)
    if len(images) != 1:
        raise SpecError(Problem(f"holds {len(images)} images; inspect shows one", file=str(image_path)))
    name, image = images[0]
    return name, image


def augmented_views(model_path: str | os.PathLike[str], image: Any, count: int = 8, seed: int = 0) -> Any:
    """`count` views (N, H, W, C) of one image (a file, or an array (H, W[, C])) as a run's training augmentation
    draws them, as the network receives them: what ``inspect --augment N`` shows (``archspec.augmented``)."""
    import numpy as np

    from ..training import saved
    from ..training.data import augmentation

    trained = saved.load(Path(model_path))
    trained.require_classic("augmented views show", str(model_path), "archspec predict answers for every output")
    if isinstance(image, (str, os.PathLike)):
        name, pixels = _one_image(image)
    else:
        pixels = np.asarray(image)
        name, pixels = "array", pixels[..., None] if pixels.ndim == 2 else pixels
    plan, x = trained.prepare(pixels, name)
    return augmentation.views(trained.data.augment, plan, x, count, seed)
