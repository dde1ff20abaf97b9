"""Fuzzing: random valid specs agree with Keras; corrupted specs fail cleanly, never crash.

CI runs a bounded number of examples; `bench/fuzz.py` runs many more by
setting ARCHSPEC_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import contextlib
import copy
import os

import yaml
from conftest import SPECS, TEST_SPECS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec.spec.expr import MAX_MAGNITUDE, ExprError, evaluate

SCALE = int(os.environ.get("ARCHSPEC_FUZZ_EXAMPLES", "1"))
FAST = settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
KERAS = settings(max_examples=15 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))

small = st.integers(1, 8)
act = st.sampled_from([None, "relu", "tanh", "sigmoid", "gelu"])


def conv():
    return st.fixed_dictionaries(
        {"filters": small, "kernel": st.integers(1, 3), "padding": st.just("same")},
        optional={"activation": act, "bn": st.booleans(), "bias": st.booleans(), "dilation": st.integers(1, 2)},
    ).map(lambda d: {"conv": d})


def primitive():
    return st.one_of(
        conv(),
        st.builds(
            lambda k, s: {"pool": {"kind": k, "size": s, "stride": 1, "padding": "same"}},
            st.sampled_from(["max", "avg", "sum"]),
            st.integers(1, 3),
        ),
        st.just("batchnorm"),
        st.sampled_from(["relu", "tanh", "sigmoid", "gelu"]).map(lambda a: {"activation": a}),
        st.floats(0, 0.9).map(lambda r: {"dropout": round(r, 2)}),
        st.builds(lambda p: {"zeropad": p}, st.integers(0, 2)),
        st.builds(lambda n: {"lrn": {"size": n}}, st.sampled_from([1, 3, 5])),
    )


def block(layers):
    lists = st.lists(layers, min_size=1, max_size=3)
    return st.one_of(
        st.builds(lambda body, act_: {"residual": {"body": body, "activation": act_}}, lists, act),
        st.builds(lambda a, b, m: {"branches": {"paths": [a, b], "merge": m}}, lists, lists, st.just("concat")),
        st.builds(lambda n, k: {"dense_block": {"layers": n, "growth": k}}, st.integers(1, 2), small),
        st.builds(lambda body, n: {"repeat": {"times": n, "layers": body}}, lists, st.integers(1, 2)),
        st.builds(
            lambda f, n: {"stage": {"block": "cifar_basic", "repeat": n, "filters": f}}, small, st.integers(1, 2)
        ),
        st.builds(
            lambda *f: {
                "inception": dict(zip(["b1", "b3_reduce", "b3", "b5_reduce", "b5", "pool_proj"], f, strict=True))
            },
            *[small] * 6,
        ),
    )


layers = st.recursive(primitive(), block, max_leaves=6)


@st.composite
def valid_specs(draw):
    size = draw(st.integers(4, 12))
    body = draw(st.lists(layers, min_size=1, max_size=5))
    tail = draw(
        st.sampled_from([["flatten"], [{"pool": "global_avg"}], [{"transition": {"compression": 0.5}}, "flatten"]])
    )
    return {
        "name": "fuzz",
        "input": [size, size, draw(st.integers(1, 3))],
        "layers": body + tail + [{"dense": draw(small)}],
    }


@KERAS
@given(valid_specs())
def test_generated_specs_agree_with_keras(spec):
    try:
        archspec.shapes(spec)
    except archspec.SpecError as exc:  # generated graphs may still be shape-invalid (e.g. add of unequal shapes)
        assert all(p.path for p in exc.problems), str(exc)
        return
    archspec.check(spec)  # static shapes and parameters equal Keras', node by node


# --- corruption -------------------------------------------------------------

SOURCES = [yaml.safe_load(p.read_text()) for p in SPECS + TEST_SPECS]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from paths(v, (*prefix, i))


@st.composite
def corrupted(draw):
    data = copy.deepcopy(draw(st.sampled_from(SOURCES)))
    all_paths = [p for p in paths(data) if p]
    path = draw(st.sampled_from(all_paths))
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    action = draw(st.sampled_from(["delete", "retype", "duplicate", "inject", "truncate", "rename"]))
    if action == "delete":
        del parent[key]
    elif action == "retype":
        parent[key] = draw(JUNK)
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif action == "inject" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=6))] = draw(JUNK)
    elif action == "rename" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=6)) + str(key)] = parent.pop(key)
    text = yaml.safe_dump(data, sort_keys=False)
    if action == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    return text


@FAST
@given(corrupted())
def test_corrupted_specs_fail_cleanly(text):
    try:
        archspec.shapes(archspec.loads(text if "\n" in text else text + "\n"))
    except archspec.SpecError as exc:
        for problem in exc.problems:
            located = problem.line is not None or problem.message.startswith(("the spec is empty", "--set"))
            assert located, f"unlocated problem: {problem}"


@FAST
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text):
    with contextlib.suppress(archspec.SpecError):
        archspec.loads(text + "\n")


# --- expressions and scalars: the adversarial classes, generated --------------------------------


NUMBERS = st.one_of(
    st.integers(-(10**20), 10**20), st.sampled_from(["1e400", "1e308", "0.5", "0", "-0.0", "9" * 60, "1e-320"])
)
FUNCTION_NAMES = st.sampled_from(["int", "round", "floor", "ceil", "min", "max", "abs", "pow"])


def expressions(depth: int = 6):
    leaf = st.one_of(NUMBERS.map(str), st.sampled_from(["$x", "$zero", "$big", "$neg", "$flag", "$name", "$undefined"]))
    if depth == 0:
        return leaf
    sub = expressions(depth - 1)
    return st.one_of(
        leaf,
        st.builds(lambda a, op, b: f"({a} {op} {b})", sub, st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), sub),
        st.builds(lambda op, a: f"{op}{a}", st.sampled_from(["-", "+", "--"]), sub),
        st.builds(lambda f, args: f"{f}({', '.join(args)})", FUNCTION_NAMES, st.lists(sub, max_size=3)),
    )


ENV = {"x": 10, "zero": 0, "big": 1.0e300, "neg": -8, "flag": True, "name": "relu"}


@FAST
@given(st.one_of(expressions(), st.builds(lambda e, n: " + ".join([e] * n), expressions(2), st.integers(1, 200))))
def test_expressions_give_a_bounded_number_or_an_expr_error(text):
    try:
        value = evaluate(text, ENV)
    except ExprError:
        return
    if text.startswith("$") and text[1:] in ENV:  # `$name` alone is the variable's value, whatever its type
        assert value == ENV[text[1:]]
        return
    if value == text and "$" not in text:  # a bare word such as `1e400` is text: a spec evaluates only values with `$`
        return
    assert type(value) in (int, float) and abs(value) <= MAX_MAGNITUDE and value == value, (text, value)


SCALARS = st.sampled_from(
    [
        "yes",
        "no",
        "on",
        "off",
        "true",
        "False",
        "010",
        "-07",
        "0x1F",
        "3:3",
        "1:30.5",
        ".inf",
        "-.Inf",
        ".nan",
        "1e999",
        "5e-1",
        "1.0e300",
        "9" * 60,
        "~",
        "null",
        "''",
        "'\u200b'",
        '"\\u202e"',
        "&a [*a]",
        "!!float 1",
        "[1, yes]",
        "{a: 1}",
    ]
)


@st.composite
def rescalared(draw):
    """A spec's YAML with one scalar value replaced by a YAML 1.1 surprise, written as text."""
    data = copy.deepcopy(draw(st.sampled_from(SOURCES)))
    leaves = [p for p in paths(data) if p and not isinstance(_at(data, p), (dict, list))]
    path = draw(st.sampled_from(leaves))
    marker = "__SCALAR__"
    parent = _at(data, path[:-1])
    parent[path[-1]] = marker
    return yaml.safe_dump(data, sort_keys=False).replace(f"'{marker}'", draw(SCALARS)).replace(marker, draw(SCALARS))


def _at(data, path):
    for part in path:
        data = data[part]
    return data


@FAST
@given(rescalared())
def test_yaml_surprises_are_refused_where_they_are_written(text):
    try:
        archspec.shapes(archspec.loads(text))
    except archspec.SpecError as exc:
        for problem in exc.problems:
            assert problem.line is not None, f"unlocated problem: {problem}"
