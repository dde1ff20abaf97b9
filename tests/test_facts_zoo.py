"""Facts in one place: each zoo spec states its reference once, in its `reference` field, and the rest is derived.

Every figure a spec's reference states (the spec's own count, its trainable part, each `--set` case) equals the
static count of its layers (each family's variants: tests/test_variants.py, which builds them against Keras too);
docs/zoo.md's table is generated from the fields and must not be stale; `archspec validate` warns when the
layers give another count than the one stated, and a malformed reference is one located error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

import archspec
from archspec.cli import main
from archspec.spec.figures import own_variant
from archspec.tools.zoo import REGENERATE, TABLE_BEGIN, TABLE_END, reference_table, with_reference_table

SPECS = sorted((ROOT / "specs").glob("*.yaml"))
ZOO_PAGE = ROOT / "docs" / "zoo.md"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_every_zoo_spec_states_its_reference(path: Path) -> None:
    spec = archspec.load(path)
    assert spec.reference is not None, f"{path.name} has no `reference` field"
    assert spec.reference.source.strip()
    if spec.variants:  # a family states every member's count, and has one for itself as written
        assert set(spec.reference.variants) == set(spec.variants)
        assert spec.reference.params is not None or own_variant(spec.variables, spec.variants) is not None


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_stated_counts_equal_the_layers(path: Path) -> None:
    """The one test of each figure against the layers (a family's variants: test_variants.py)."""
    reference = archspec.load(path).reference
    report = archspec.shapes(path, max_params=None, max_activations=None)
    assert reference.params in (None, report.total_params)
    if reference.trainable is not None:
        assert report.trainable_params == reference.trainable
    for case in reference.cases:
        assert (
            archspec.shapes(path, max_params=None, max_activations=None, variables=case.set).total_params == case.params
        )
    assert not [w for w in report.warnings if "reference" in w.message]


def test_the_zoo_page_table_is_generated_from_the_fields() -> None:
    page = ZOO_PAGE.read_text(encoding="utf-8")
    assert page == with_reference_table(page), f"docs/zoo.md's zoo table is stale: run `{REGENERATE}`"
    table = page[page.index(TABLE_BEGIN) : page.index(TABLE_END)]
    assert f"{archspec.load(ROOT / 'specs' / 'resnet50.yaml').reference.params:,}" in table


def test_the_table_follows_a_changed_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is the fields': a spec whose figure changes changes its row, and nothing else."""
    from archspec.spec import zoo

    specs = tmp_path / "specs"
    specs.mkdir()
    stated = _stated("resnet50")
    for path in SPECS:
        text = path.read_text(encoding="utf-8")
        if path.stem == "resnet50":
            text = text.replace(f"params: {stated}", f"params: {stated + 1}")
        (specs / path.name).write_text(text, encoding="utf-8")
    before = reference_table()
    monkeypatch.setattr(zoo, "zoo_dir", lambda: specs)
    after = reference_table()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and f"{stated + 1:,}" in changed[0][1] and "`resnet50.yaml`" in changed[0][1]


def _stated(name: str, variant: str | None = None, key: str = "params") -> int:
    """A figure as the spec's reference states it (these tests change it by one in a copy, wherever it stands)."""
    reference = archspec.load(ROOT / "specs" / f"{name}.yaml").reference
    return int(reference.variants[variant] if variant else getattr(reference, key))


def _copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (ROOT / "specs" / f"{name}.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_validate_warns_when_the_layers_give_another_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stated = _stated("resnet50")
    path = _copy(tmp_path, "resnet50", f"params: {stated}", f"params: {stated + 1}")
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "reference.params" in err and f"states {stated + 1:,} parameters" in err
    assert f"give {archspec.shapes(ROOT / 'specs' / 'resnet50.yaml').total_params:,}" in err
    assert main(["validate", "--strict", str(path)]) == 2
    # another count under other values is no contradiction: the reference states none for them
    assert not archspec.shapes(path, variables={"classes": 10}).warnings


def test_validate_checks_the_variant_it_builds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b3, b0 = _stated("efficientnet", "b3"), _stated("efficientnet", "b0")
    path = _copy(tmp_path, "efficientnet", f"b3: {b3}", f"b3: {b3 + 1}")
    assert not archspec.shapes(path, variant="b2").warnings
    (warning,) = archspec.shapes(path, variant="b3").warnings
    assert "variant 'b3'" in warning.message and warning.path == ("reference", "variants", "b3")
    # the family as written is its own variant (b0): its figure is that variant's
    wrong_b0 = _copy(tmp_path, "efficientnet", f"b0: {b0}", f"b0: {b0 - 1}")
    assert [w.path for w in archspec.shapes(wrong_b0).warnings] == [("reference", "variants", "b0")]


def test_trainable_is_checked_unless_layers_are_frozen(tmp_path: Path) -> None:
    trainable = _stated("resnet18", key="trainable")
    path = _copy(tmp_path, "resnet18", f"trainable: {trainable}", f"trainable: {trainable + 1}")
    (warning,) = archspec.shapes(path).warnings
    assert warning.path == ("reference", "trainable")
    assert not archspec.shapes(path, freeze=["conv2"]).warnings


@pytest.mark.parametrize(
    "reference, expected",
    [
        ("{after: X, params: 9}", "reference: missing required key 'source'"),
        ("{after: X, source: s}", "gives `params` (the spec as written) or `variants`"),
        ("{params: 9, source: s}", "names `equals` (the library model) or `after`"),
        ("{after: X, source: s, variants: {smal: 9}}", "'smal' under `variants` is not one of the spec's variants"),
        ("{after: X, source: s, params: -3}", "reference.params"),
    ],
)
def test_a_malformed_reference_is_one_located_error(reference: str, expected: str) -> None:
    text = f"name: x\ninput: [8, 8, 1]\nvariables: {{w: 1}}\nvariants: {{small: {{w: 2}}}}\nreference: {reference}\n"
    with pytest.raises(archspec.SpecError) as caught:
        archspec.loads(text + "layers: [flatten]\n")
    (problem,) = caught.value.problems
    assert expected in str(caught.value) and problem.line == 5
    if "smal" in reference:
        assert "did you mean 'small'" in str(caught.value)
