"""The spec language held to "no silent wrong answer" (issue 24): `--set` onto mappings, keys as written,
names the options own, names Keras refuses, undefined layer values, outputs and heads that do not exist."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import archspec
from archspec.cli import cli
from archspec.errors import SpecError
from conftest import ROOT

MOBILENET_V2 = ROOT / "specs" / "mobilenet_v2.yaml"


def _error(fn, *args, **kwargs) -> SpecError:
    with pytest.raises(SpecError) as info:
        fn(*args, **kwargs)
    return info.value


# --- `--set` a mapping onto a mapping -------------------------------------------------------------


def test_set_defaults_mapping_keeps_the_other_defaults():
    """`--set defaults={batchnorm: ...}` used to replace the whole mapping: MobileNetV2 lost its
    explicit padding layers (mbconv's `pad: explicit` default) and nothing was said."""
    plain = archspec.graph(MOBILENET_V2)
    merged = archspec.graph(MOBILENET_V2, defaults={"batchnorm": {"momentum": 0.9}})
    assert [n.name for n in merged.nodes] == [n.name for n in plain.nodes]
    bns = [n for n in merged.nodes if n.op == "batchnorm"]
    assert bns and all(n.attrs.momentum == 0.9 and n.attrs.epsilon == 1e-3 for n in bns)


def test_set_mapping_problem_in_the_file_is_not_blamed_on_set():
    text = MOBILENET_V2.read_text().replace("momentum: 0.999}", "momentum: 0.999, bogus: 1}")
    err = _error(archspec.graph, text, defaults={"mbconv": {"activation": "relu"}})
    assert err.problems[0].file == "<string>" and "bogus" in err.problems[0].message
    err = _error(archspec.graph, MOBILENET_V2.read_text(), defaults={"batchnorm": {"momentum": 2}})
    assert err.problems[0].file == "--set" and err.problems[0].field_path == "defaults.batchnorm.momentum"


def test_set_dotted_path_and_mapping_agree():
    dotted = archspec.graph(MOBILENET_V2, **{"defaults.batchnorm.momentum": 0.9})
    mapping = archspec.graph(MOBILENET_V2, defaults={"batchnorm": {"momentum": 0.9}})
    assert [(n.name, n.attrs) for n in dotted.nodes] == [(n.name, n.attrs) for n in mapping.nodes]
