"""The package's records take keyword arguments only: a positional call binds fields by their order,
so adding or reordering a field would silently give a kind its `emit` as its `params`."""

from __future__ import annotations

import dataclasses

import pytest

from archspec.graph.ir import Graph, Node
from archspec.graph.report import GroupInfo, LayerInfo, Report
from archspec.kinds.base import ConstantOp, ValueNotes
from archspec.kinds.registry import Block, Primitive, Upscale
from archspec.spec.read import Source

RECORDS = [Primitive, Block, Upscale, ConstantOp, ValueNotes, Node, Graph, LayerInfo, GroupInfo, Report, Source]


@pytest.mark.parametrize("record", RECORDS, ids=lambda cls: cls.__name__)
def test_every_field_is_keyword_only(record: type) -> None:
    positional = [f.name for f in dataclasses.fields(record) if not f.kw_only]
    assert positional == [], f"{record.__name__} takes {positional} by position"


def test_a_positional_primitive_is_refused() -> None:
    with pytest.raises(TypeError, match="positional"):
        Primitive("halve", None, None, None)


def test_a_keyword_primitive_is_made() -> None:
    prim = Primitive(kind="halve", schema=object, infer=lambda a, i: i[0], emit=lambda n, x, k: x[0])
    assert prim.kind == "halve" and prim.inputs == (1, 1)
