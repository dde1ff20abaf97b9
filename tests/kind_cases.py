"""Valid settings and input shapes for every layer kind, as Hypothesis strategies: the table the kind
harness (test_kind_harness.py) draws from.

One entry per kind name (aliases ride with their kind). The harness fails when a registered kind has
no entry here, so adding a kind means saying here what its valid settings look like; a plugin kind
(the example `se_dense`) has its entry too. Shapes stay small (a few pixels, a few channels) so that
the harness, which builds each case in Keras, stays fast.

A primitive's settings are node-level: no shorthand that lowers into several nodes (explicit padding,
`bn`), so the one Keras layer the emitter builds is the kind's own. The shorthands, and stacks of
layers, are drawn through the `repeat`, `residual` and `branches` blocks, whose bodies come from
this same table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from archspec.kinds.base import ACTIVATIONS

Shape = tuple[int, ...]

SYNONYMS = {"swish", "hard_silu"}
"""Activation names that are another's alias (`swish` is `silu`): Keras keeps one name, so `import` gives
the other back, by design; the cases draw the names Keras keeps."""
FUNCTIONS = sorted(set(ACTIVATIONS) - SYNONYMS)


@dataclass(frozen=True)
class Case:
    """One layer to test: its settings, the shapes of its inputs, and any spec-level sections it needs."""

    settings: dict[str, Any]
    shapes: tuple[Shape, ...]
    sections: dict[str, Any] = field(default_factory=dict)
    """Spec sections besides `name`, `input(s)` and `layers` (a `blocks:` library for `use` and `stage`)."""


small = st.integers(1, 6)
channels = st.integers(1, 4)
flag = st.booleans()
activation = st.one_of(st.none(), st.sampled_from([f for f in FUNCTIONS if f != "linear"]))
"""A layer's `activation` setting: none is written as no setting (`linear` is the same, and `import` says none)."""


def feature_map(min_size: int = 1, max_size: int = 6, c: st.SearchStrategy[int] = channels) -> st.SearchStrategy[Shape]:
    return st.tuples(st.integers(min_size, max_size), st.integers(min_size, max_size), c)


@st.composite
def windowed(draw: Any, *, dilation: bool = True) -> tuple[dict[str, Any], Shape]:
    """Kernel, stride, dilation and padding of a sliding window, and an input at least as large as the
    window when nothing pads it (Keras refuses an empty output; archspec's refusal is tested elsewhere)."""
    kernel = [draw(st.integers(1, 4)), draw(st.integers(1, 4))]
    stride = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    dil = [1, 1] if max(stride) > 1 or not dilation else [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    padding = draw(st.sampled_from(["valid", "same"]))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dil, strict=True)]
    # 'valid': the window fits; 'same': any size, up to one where the probe sees a whole window
    low, high = zip(
        *[(n, n + 4) if padding == "valid" else (1, 2 * n + s + 1) for n, s in zip(span, stride, strict=True)],
        strict=True,
    )
    shape = (draw(st.integers(low[0], high[0])), draw(st.integers(low[1], high[1])), draw(channels))
    s: dict[str, Any] = {"kernel": kernel, "stride": stride, "padding": padding}
    if dilation:
        s["dilation"] = dil
    return s, shape


@st.composite
def conv(draw: Any) -> Case:
    s, shape = draw(windowed())
    groups = draw(st.sampled_from([g for g in (1, 2) if shape[2] % g == 0]))
    s.update(
        filters=groups * draw(st.integers(1, 3)),
        groups=groups,
        bias=draw(flag),
        activation=draw(activation),
        trainable=draw(flag),
    )
    return Case(s, (shape,))


@st.composite
def depthwise(draw: Any, filters: bool = False) -> Case:
    s, shape = draw(windowed())
    s.update(depth_multiplier=draw(st.integers(1, 2)), bias=draw(flag), activation=draw(activation))
    if filters:
        s["filters"] = draw(st.integers(1, 4))
    return Case(s, (shape,))


@st.composite
def pool(draw: Any) -> Case:
    kind = draw(st.sampled_from(["max", "avg", "sum"]))
    if draw(flag):
        return Case({"kind": kind, "global": True, "keepdims": draw(flag)}, (draw(feature_map()),))
    s, shape = draw(windowed(dilation=False))
    s["size"] = s.pop("kernel")
    if draw(flag) or s["stride"] == s["size"]:
        del s["stride"]  # the window size, by default (and `import` leaves out what equals the default)
    return Case({"kind": kind, **s}, (shape,))


@st.composite
def dense(draw: Any) -> Case:
    pointwise = draw(flag)
    shape = draw(feature_map()) if pointwise else (draw(st.integers(1, 8)),)
    s = {"units": draw(st.integers(1, 5)), "activation": draw(activation), "bias": draw(flag)}
    return Case({**s, "pointwise": pointwise, "trainable": draw(flag)}, (shape,))


@st.composite
def reshape(draw: Any) -> Case:
    """A vector to a 1x1 feature map or back, the uses a spec has (squeeze-and-excitation's gate)."""
    c = draw(st.integers(1, 8))
    if draw(flag):
        return Case({"shape": [1, 1, c]}, ((c,),))
    return Case({"shape": [c]}, ((1, 1, c),))


@st.composite
def crop(draw: Any) -> Case:
    top, bottom, left, right = (draw(st.integers(0, 2)) for _ in range(4))
    shape = (top + bottom + draw(small), left + right + draw(small), draw(channels))
    return Case({"crop": [[top, bottom], [left, right]]}, (shape,))


def per_channel(draw: Any, c: int, values: list[float]) -> float | list[float]:
    """One value for every channel, or one per channel. A list of one value throughout is that value, and
    `import` writes it so; the lists drawn differ somewhere."""
    if c == 1 or draw(flag):
        return draw(st.sampled_from(values))
    return draw(st.lists(st.sampled_from(values), min_size=c, max_size=c).filter(lambda v: len(set(v)) > 1))


@st.composite
def rescaling(draw: Any) -> Case:
    shape = draw(feature_map())
    scale, offset = per_channel(draw, shape[2], [-1.0, 0.25, 2.0]), per_channel(draw, shape[2], [-1.0, 0.0, 0.5])
    return Case({"scale": scale, "offset": offset}, (shape,))


@st.composite
def normalization(draw: Any) -> Case:
    shape = draw(feature_map())
    if draw(flag):
        return Case({}, (shape,))
    return Case(
        {
            "mean": per_channel(draw, shape[2], [-0.5, 0.0, 0.5]),
            "variance": per_channel(draw, shape[2], [0.25, 1.0, 4.0]),
        },
        (shape,),
    )


@st.composite
def merge(draw: Any, kind: str) -> Case:
    n = draw(st.integers(2, 3))
    shape = draw(feature_map())
    shapes = tuple((*shape[:2], draw(channels)) for _ in range(n)) if kind == "concat" else (shape,) * n
    s: dict[str, Any] = {}
    if kind == "add" and draw(flag):
        s["scale"] = [draw(st.sampled_from([0.5, 1.0, 2.0])) for _ in range(n)]
    return Case(s, shapes)


@st.composite
def conv_transpose(draw: Any) -> Case:
    kernel = [draw(st.integers(1, 4)), draw(st.integers(1, 4))]
    stride = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    padding = draw(st.sampled_from(["valid", "same"]))
    s: dict[str, Any] = {"filters": draw(st.integers(1, 3)), "kernel": kernel, "stride": stride, "padding": padding}
    if draw(flag):  # below the stride; 'same' takes it only with an odd kernel (archspec refuses the rest)
        s["output_padding"] = [draw(st.integers(0, st_ - 1)) for st_ in stride]
        if padding == "same":
            s["kernel"] = [k | 1 for k in kernel]
    s.update(bias=draw(flag), activation=draw(activation))
    return Case(s, (draw(feature_map(max_size=4)),))


# -- blocks: drawn bodies of primitives, with their shorthands ------------------------------------------
@st.composite
def body_layer(draw: Any, resize: bool = True, grow: bool = True) -> dict[str, Any]:
    """A layer valid on any feature map of at least 1x1: 'same' windows, shorthands included (`bn`,
    explicit padding: several nodes). `resize=False`: one that keeps the map's size, for parallel paths;
    `grow=False`: one that may shrink it (a stride) but not enlarge it (padding), for a residual body."""
    grow = grow and resize
    kind = draw(st.sampled_from(["conv", "depthwise", "pool", "batchnorm", "activation", "zeropad"]))
    if kind == "conv":
        kernel, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2)) if resize else 1
        dilation = draw(st.integers(1, 2)) if stride == 1 else 1
        padding = draw(st.sampled_from(["same", dilation * (kernel - 1) // 2 + 1])) if grow else "same"
        s = {"filters": draw(st.integers(1, 4)), "kernel": kernel, "stride": stride, "dilation": dilation}
        return {"conv": {**s, "padding": padding, "bn": draw(flag), "activation": draw(activation)}}
    if kind == "depthwise":
        padding = draw(st.sampled_from(["same", 1])) if grow else "same"
        kernel = 3 if padding == 1 else draw(st.integers(1, 3))
        return {"depthwise": {"kernel": kernel, "padding": padding, "bn": draw(flag)}}
    if kind == "pool":
        padding = draw(st.sampled_from(["same", 1])) if grow else "same"
        pool = {
            "kind": draw(st.sampled_from(["max", "avg", "sum"])),
            "size": draw(st.integers(1, 2)),
            "padding": padding,
        }
        return {"pool": pool if resize else {**pool, "stride": 1}}
    if kind == "zeropad" and grow:
        return {"zeropad": draw(st.integers(0, 1))}
    if kind == "activation":
        return {"activation": draw(st.sampled_from(FUNCTIONS))}
    return {"batchnorm": {}}


bodies = st.lists(body_layer(), min_size=1, max_size=3)
maps = feature_map(2, 6)


@st.composite
def repeat(draw: Any) -> Case:
    return Case({"times": draw(st.integers(1, 2)), "layers": draw(bodies)}, (draw(maps),))


@st.composite
def residual(draw: Any) -> Case:
    s = {
        "body": draw(st.lists(body_layer(grow=False), min_size=1, max_size=3)),
        "shortcut": draw(st.sampled_from(["auto", "projection"])),
    }
    return Case({**s, "activation": draw(activation)}, (draw(maps),))


@st.composite
def branches(draw: Any) -> Case:
    paths = st.lists(st.lists(body_layer(resize=False), min_size=1, max_size=2), min_size=2, max_size=3)
    return Case({"paths": draw(paths), "merge": "concat"}, (draw(maps),))


LIBRARY = {
    "blocks": {
        "unit": {
            "params": {"filters": 2},
            "layers": [{"conv": {"filters": "$filters", "kernel": 3, "padding": "same"}}],
        }
    }
}


@st.composite
def use(draw: Any) -> Case:
    return Case({"block": "unit"}, (draw(maps),), LIBRARY)


@st.composite
def stage(draw: Any) -> Case:
    return Case(
        {"block": "unit", "repeat": draw(st.integers(1, 3)), "filters": draw(st.integers(1, 4))}, (draw(maps),), LIBRARY
    )


def settings_of(**strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=strategies)


def on(
    settings: st.SearchStrategy[dict[str, Any]], shapes: st.SearchStrategy[Shape] | None = None
) -> st.SearchStrategy[Case]:
    """Cases of a single-input kind whose settings do not depend on its input's shape (any small map by default)."""
    return st.builds(lambda s, shape: Case(s, (shape,)), settings, feature_map() if shapes is None else shapes)


epsilon = st.sampled_from([1e-3, 1e-5, 0.01])
rate = st.sampled_from([0.0, 0.1, 0.5])
wide = feature_map(c=st.integers(3, 4))  # a normalisation across channels needs several to respond to a change

NETWORK_UNIT = str(Path(__file__).resolve().parent / "specs" / "network_unit.yaml")
"""A tiny spec for the `network` kind to use as a block."""

STRATEGIES: dict[str, st.SearchStrategy[Case]] = {
    "batchnorm": on(settings_of(epsilon=epsilon, momentum=st.sampled_from([0.99, 0.9]), center=flag, scale=flag)),
    "layernorm": on(settings_of(epsilon=epsilon, center=flag, scale=flag), wide),
    "lrn": on(
        settings_of(
            size=st.sampled_from([1, 3, 5]),
            alpha=st.sampled_from([1e-4, 0.5]),
            beta=st.sampled_from([0.75, 1.0]),
            bias=st.sampled_from([1.0, 2.0]),
        ),
        wide,
    ),
    "zeropad": on(st.builds(lambda *p: {"padding": [[p[0], p[1]], [p[2], p[3]]]}, *[st.integers(0, 2)] * 4)),
    "conv": conv(),
    "depthwise": depthwise(),
    "separable": depthwise(filters=True),
    "pool": pool(),
    "dense": dense(),
    "flatten": on(st.just({})),
    "dropout": on(st.builds(lambda r: {"rate": r}, rate)),
    "activation": on(st.builds(lambda f: {"fn": f}, st.sampled_from(FUNCTIONS)), wide),
    "reshape": reshape(),
    "crop": crop(),
    "rescaling": rescaling(),
    "normalization": normalization(),
    "layer_scale": on(settings_of(init=st.sampled_from([1e-6, 0.1, 1.0]))),
    "stochastic_depth": on(st.builds(lambda r: {"rate": r}, rate)),
    "add": merge("add"),
    "multiply": merge("multiply"),
    "concat": merge("concat"),
    "conv_transpose": conv_transpose(),
    "upsample": on(
        settings_of(
            factor=st.lists(st.integers(1, 3), min_size=2, max_size=2),
            interpolation=st.sampled_from(["nearest", "bilinear"]),
        )
    ),
    "resize": on(
        st.builds(
            lambda h, w, i: {"size": [h, w], "interpolation": i}, small, small, st.sampled_from(["nearest", "bilinear"])
        )
    ),
    # blocks
    "use": use(),
    "stage": stage(),
    "repeat": repeat(),
    "residual": residual(),
    "branches": branches(),
    "inception": on(
        st.builds(
            lambda *n: dict(zip(["b1", "b3_reduce", "b3", "b5_reduce", "b5", "pool_proj"], n, strict=True)),
            *[st.integers(1, 3)] * 6,
        ),
        maps,
    ),
    "dense_block": on(
        settings_of(layers=st.integers(1, 2), growth=st.integers(1, 3), bottleneck=st.integers(1, 2)).map(
            lambda s: {"layers": 1, "growth": 2, **s}
        ),
        maps,
    ),
    "network": on(
        settings_of(features=st.sampled_from([["stride2"], []])).map(lambda s: {"spec": NETWORK_UNIT, **s}),
        feature_map(2, 6),
    ),
    "transition": on(settings_of(compression=st.sampled_from([0.5, 1.0])), feature_map(2, 6, st.integers(2, 4))),
    "se": on(settings_of(ratio=st.sampled_from([0.25, 0.5]), keepdims=flag), maps),
    "mbconv": on(
        st.builds(
            lambda f, e, k, s: {"filters": f, "expand": e, "kernel": k, "stride": s},
            channels,
            st.sampled_from([1, 2, 4]),
            st.sampled_from([3, 5]),
            st.integers(1, 2),
        ),
        maps,
    ),
    "fused_mbconv": on(
        st.builds(
            lambda f, e, k, s: {"filters": f, "expand": e, "kernel": k, "stride": s},
            channels,
            st.sampled_from([1, 2]),
            st.sampled_from([3]),
            st.integers(1, 2),
        ),
        maps,
    ),
    "convnext_block": on(
        st.builds(lambda k, e: {"kernel": k, "expand": e}, st.sampled_from([3, 7]), st.integers(1, 2)),
        feature_map(2, 6, st.integers(2, 4)),
    ),
    # a normal cell adds its input to branches of `filters` channels: its input has that many
    "nasnet_normal": st.builds(
        lambda f, h: Case({"filters": f, "id": 0}, ((h, h, f),)), st.integers(1, 3), st.integers(4, 6)
    ),
    "nasnet_reduction": on(
        st.builds(lambda f: {"filters": f, "id": "r"}, st.integers(1, 2)), feature_map(4, 6, st.integers(2, 4))
    ),
    # the example plugin (tests/plugins/archspec_se), registered by the harness
    "se_dense": on(settings_of(ratio=st.integers(1, 4)), maps),
}
