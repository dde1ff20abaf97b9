"""`render` never writes a spec that `validate` refuses: for generated specs (named layers, names that look
like numbers or booleans, stages with instance patterns, blocks with node names, layers `when` leaves out,
named outputs), whatever validates renders to text that validates again and expands to the same graph."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import SpecError
from archspec.tools.resolve import resolved_yaml

SCALE = int(os.environ.get("ARCHSPEC_FUZZ_EXAMPLES", "1"))
ROUNDS = settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))

TRICKY = [
    "1e5",
    "5e-1",
    "1.0e5",
    "010",
    "0x1F",
    "1_000",
    "yes",
    "no",
    "on",
    "off",
    "true",
    "null",
    "1.0",
    ".5",
    "-1",
    "nan",
    ".inf",
    "12",
    "0.75",
    "y",
    "n",
]
names = st.one_of(st.sampled_from(TRICKY), st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,8}", fullmatch=True))
small = st.integers(1, 6)


def named(layer: dict) -> st.SearchStrategy:
    ((kind, settings_),) = layer.items()
    return st.builds(
        lambda n, on: {kind: {**settings_, **({"name": n} if n else {}), **({} if on else {"when": False})}},
        st.one_of(st.none(), names),
        st.booleans(),
    )


def conv():
    return st.builds(
        lambda f, k, bn, a: {"conv": {"filters": f, "kernel": k, "padding": "same", "bn": bn, "activation": a}},
        small,
        st.integers(1, 3),
        st.booleans(),
        st.sampled_from([None, "relu", "gelu"]),
    )


def stage():
    return st.builds(
        lambda f, n, pattern: {"stage": {"block": "cifar_basic", "repeat": n, "filters": f, "instances": pattern}},
        small,
        st.integers(1, 2),
        st.sampled_from(["{name}_block{n}", "{name}.{letter}", "{name}-{i}", "b{n}_{name}"]),
    )


def mbconv():
    return st.builds(
        lambda f, r, exp: {
            "mbconv": {"filters": f, "repeat": r, "expand": exp, "names": {"project": "proj", "project_bn": "proj_bn"}}
        },
        small,
        st.integers(1, 2),
        st.sampled_from([1, 2]),
    )


layer = st.one_of(conv(), stage(), mbconv(), st.just({"batchnorm": {}}), st.just({"dropout": {"rate": 0.5}})).flatmap(
    named
)


@st.composite
def specs(draw) -> dict:
    body = draw(st.lists(layer, min_size=1, max_size=5))
    spec = {
        "name": draw(names),
        "input": [draw(st.integers(4, 10))] * 2 + [draw(st.integers(1, 3))],
        "layers": [*body, {"pool": "global_avg"}, {"dense": {"units": draw(small), "name": draw(names)}}],
    }
    return spec


@ROUNDS
@given(specs())
def test_render_output_validates_and_expands_alike(spec):
    try:
        model = archspec.loads(spec)
        graph = archspec.graph_of(model)
    except SpecError:
        return  # refused as written: nothing to render
    text = resolved_yaml(model)
    again = archspec.graph_of(archspec.loads(text))  # a SpecError here is the bug
    assert [(n.name, n.op, n.inputs) for n in again.nodes] == [(n.name, n.op, n.inputs) for n in graph.nodes]


def test_a_name_that_reads_as_a_number_is_written_quoted(tmp_path):
    """`1e5` and `5e-1` are text to YAML 1.1 (PyYAML writes them bare) and numbers to archspec's reader."""
    spec = archspec.loads(
        'name: "1e5"\ninput: [8, 8, 1]\nlayers:\n  - conv: {filters: 2, kernel: 3, name: "5e-1"}\n'
        '  - flatten: {name: "1.0e5"}\n  - dense: {units: 2, name: "yes"}\n'
    )
    text = resolved_yaml(spec)
    assert "name: '1e5'" in text and "name: '5e-1'" in text and "name: '1.0e5'" in text
    assert [n.name for n in archspec.graph_of(archspec.loads(text)).layers] == ["5e-1", "1.0e5", "yes"]
