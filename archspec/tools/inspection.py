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
from ..kinds import load_builtin_kinds
from ..kinds.registry import by_keras_class

if TYPE_CHECKING:
    from ..training.data import Plan
    from ..training.saved import Trained

MAX_MAPS = 64
TOP_CLASSES = 20


def _shows_maps(layer: Any) -> bool:
    """Whether the kind a Keras layer comes from has its outputs shown as feature maps (the kind table says)."""
    load_builtin_kinds()
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

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


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
    shape = (rows * h + rows - 1, cols * w + cols - 1) + tiles[0].shape[2:]
    canvas = np.full(shape, background, dtype=np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        canvas[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = t
    return Grid(data_uri(canvas), rows, cols, (h, w), n, shape[1], shape[0])


# -- the report ------------------------------------------------------------------------
@dataclass
class LayerMaps:
    name: str
    kind: str
    shape: tuple[int, ...]
    grid: Grid
    ranges: list[tuple[float, float]]


def _maps(name: str, kind: str, out: Any, limit: int) -> LayerMaps:
    channels = out.shape[-1]
    shown = min(channels, limit)
    tiles = [to_uint8(out[:, :, k]) for k in range(shown)]
    ranges = [(float(out[:, :, k].min()), float(out[:, :, k].max())) for k in range(shown)]
    return LayerMaps(name, kind, tuple(out.shape), grid(tiles), ranges)


def _filters(layer: Any) -> Grid | None:
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
    return grid(tiles, background=255) if tiles else None


def _scale(tile: tuple[int, int], target: int = 56) -> int:
    """Display zoom for a grid: small maps are enlarged (pixelated) to about `target` pixels."""
    return max(1, min(12, target // max(tile)))


def _img(g: Grid, alt: str, zoom: int) -> str:
    return (f'<img src="{g.uri}" alt="{html.escape(alt)}" width="{g.width * zoom}" height="{g.height * zoom}" '
            f'style="image-rendering: pixelated">')


STYLE = """
body { font-family: system-ui, sans-serif; margin: 20px; color: #222; max-width: 1200px; }
h1 { font-size: 20px; margin-bottom: 4px; } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.facts { color: #555; font-size: 13px; }
figure { display: inline-block; margin: 10px 18px 14px 0; vertical-align: top; }
figcaption { font-size: 12px; color: #444; margin-top: 4px; max-width: 520px; }
figcaption code { font-size: 12px; }
table.probs { border-collapse: collapse; font-size: 13px; }
table.probs td { padding: 2px 8px; }
.bar { background: #6f9fd8; height: 12px; }
.top td { font-weight: bold; }
img { border: 1px solid #ccc; background: #fff; }
"""


def report(trained: Trained, x: Any, plan: Plan, *, title: str = "", source: str = "", labels: list[str] | None = None,
           max_maps: int = MAX_MAPS) -> str:
    """The HTML report for a trained model and one image, `x` being the network's input (1, H, W, C) by `plan`."""
    import keras
    import numpy as np

    model = trained.model
    shape = trained.input_shape
    x = np.asarray(x)[0]
    chosen = [l for l in model.layers if _shows_maps(l) and len(l.output.shape) == 4]
    probe = keras.Model(model.inputs, [l.output for l in chosen] + [model.outputs[0]])
    outs = probe.predict(x[None], verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    feature_maps = [_maps(l.name, type(l).__name__, np.asarray(o[0]), max_maps) for l, o in zip(chosen, outs[:-1])]
    probs = trained.probabilities(outs[-1][0])
    first_conv = next((l for l in chosen if l.weights and len(l.weights[0].shape) == 4), None)

    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title or model.name)} — archspec inspect</title>",
             f"<style>{STYLE}</style></head><body>"]
    top = int(np.argmax(probs))
    names = labels or trained.class_names
    name_of = (lambda k: names[k] if k < len(names) else str(k))
    parts.append(f"<h1>{html.escape(model.name)}</h1>")
    parts.append(f'<p class="facts">input {html.escape(source or "array")} → {"×".join(map(str, shape))} · '
                 f"{model.count_params():,} parameters · predicted class <b>{html.escape(name_of(top))}</b> ({probs[top]:.1%})</p>")

    zoom_in = _scale(shape[:2], 160)
    shown = x if shape[2] == 3 else x[:, :, 0]
    parts.append("<h2>Input</h2>")
    parts.append(f'<figure>{_img(grid([to_uint8(shown)]), "input", zoom_in)}'
                 f"<figcaption>as the network receives it: <span class=\"plan\">{html.escape(plan.describe())}</span>; "
                 f"values {float(x.min()):.3g} to {float(x.max()):.3g}</figcaption></figure>")

    if first_conv is not None:
        g = _filters(first_conv)
        if g is not None:
            kh, kw, cin, cout = first_conv.get_weights()[0].shape
            note = "in colour (RGB)" if cin == 3 else ("" if cin == 1 else f"averaged over {cin} input channels")
            parts.append("<h2>First convolution's filters</h2>")
            parts.append(f'<figure class="filters" data-layer="{html.escape(first_conv.name)}" data-filters="{g.count}">'
                         f"{_img(g, 'filters of ' + first_conv.name, _scale(g.tile, 48))}"
                         f"<figcaption><code>{html.escape(first_conv.name)}</code>: {cout} filters {kh}×{kw}"
                         f"{' (first ' + str(g.count) + ' shown)' if g.count < cout else ''}{', ' + note if note else ''}; "
                         "mid-grey is zero, darker negative, lighter positive</figcaption></figure>")

    parts.append("<h2>Feature maps</h2>")
    if not feature_maps:
        parts.append("<p>The model has no convolution or pooling layers.</p>")
    for fm in feature_maps:
        h, w, c = fm.shape
        lo = min(r[0] for r in fm.ranges)
        hi = max(r[1] for r in fm.ranges)
        more = f" (first {fm.grid.count} of {c} shown)" if fm.grid.count < c else ""
        parts.append(
            f'<figure class="layer" data-layer="{html.escape(fm.name)}" data-maps="{fm.grid.count}" data-channels="{c}" '
            f'data-grid="{fm.grid.rows}x{fm.grid.cols}" data-tile="{h}x{w}">'
            f"{_img(fm.grid, fm.name, _scale((h, w)))}"
            f"<figcaption><code>{html.escape(fm.name)}</code> ({fm.kind}): {c} feature maps {h}×{w}{more}; "
            f"each scaled to its own range, overall {lo:.3g} to {hi:.3g}</figcaption></figure>")

    parts.append("<h2>Class probabilities</h2>")
    if trained.logits:
        parts.append("<p class=\"facts\">The network outputs logits; softmax applied to them.</p>")
    order = np.argsort(-probs)[:TOP_CLASSES]
    parts.append('<table class="probs">')
    for k in order:
        cls = ' class="top"' if k == top else ""
        parts.append(f'<tr{cls} data-class="{int(k)}"><td>{html.escape(name_of(int(k)))}</td><td>{probs[k]:.4f}</td>'
                     f'<td><div class="bar" style="width: {max(1, round(300 * float(probs[k])))}px"></div></td></tr>')
    parts.append("</table>")
    if len(probs) > TOP_CLASSES:
        parts.append(f"<p class=\"facts\">{TOP_CLASSES} most likely of {len(probs)} classes.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def inspect(model_path: str | os.PathLike[str], image_path: str | os.PathLike[str], output: str | os.PathLike[str], *,
            force: bool = False, labels_path: str | os.PathLike[str] | None = None, spec: Any = None,
            rescale: float | str | None = None, fit: str | None = None, max_maps: int = MAX_MAPS, weights: Any = None,
            strict_weights: bool = False, log: Any = None) -> Path:
    """Write the report for a model (a run folder or a .keras file) and an image file.

    The image goes through the model's preprocessing plan, as in `predict`; `rescale` and `fit`
    override the plan's rules when given. With ``weights`` (or a spec as the model) the model is
    built or loaded and the weights transferred first (``keras_side/weights.py``); ``log`` receives
    the transfer report."""
    from ..training import saved  # NumPy and Keras: imported when a report is made
    from ..training.data import read_images

    target = Path(output)
    refuse_existing(target, force)
    source = Path(model_path)
    is_spec = source.suffix.lower() in SPEC_SUFFIXES  # a network seen without training it: its spec gives the preprocessing
    model = _with_weights(source, weights, strict_weights, log) if weights is not None or is_spec else source
    trained = saved.load(model, spec=source if is_spec and spec is None else spec)
    if not trained.net.classic:
        net = trained.net
        raise SpecError(Problem(f"inspect shows image classifiers (one image in, one class out); {net.name} takes "
                                f"{', '.join(net.inputs)} and gives {', '.join(f'{k} ({o.task})' for k, o in net.outputs.items())}",
                                file=str(model_path), hint="archspec predict answers for every output"))
    changes = {key: value for key, value in (("rescale", rescale), ("fit", fit)) if value is not None}
    if changes:
        trained = replace(trained, data=trained.data.model_copy(update=changes))
    images = read_images(image_path)
    if len(images) != 1:
        raise SpecError(Problem(f"holds {len(images)} images; inspect shows one", file=str(image_path)))
    name, image = images[0]
    plan, x = trained.prepare(image, name)
    labels = None
    if labels_path is not None:
        labels = [line.strip() for line in Path(labels_path).read_text(encoding="utf-8").splitlines() if line.strip()]
    title = Path(model_path).name if Path(model_path).is_dir() else Path(model_path).stem
    text = report(trained, x, plan, title=title, source=Path(image_path).name, labels=labels, max_maps=max_maps)
    return write_text(target, text, force=force)


def _with_weights(source: Path, weights: Any, strict: bool, log: Any) -> Any:
    """A model built from a spec or loaded, with `weights` transferred into it (the report goes to `log`)."""
    from ..keras_side.export import load_source  # builds with Keras

    model = load_source(source, weights=weights, strict_weights=strict)
    if weights is not None and log is not None:
        log(model.transfer.text().rstrip())
    return model
