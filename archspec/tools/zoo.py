"""The zoo's catalogue: which specs ship with archspec, and what each one is.

Everything listed is read from the spec files themselves; nothing is a table kept by hand:

- **name**: the file's stem, what `archspec shapes NAME` and ``archspec.load(NAME)`` take;
- **family**: the family file the header names (``specs/efficientnet.yaml is the whole family``), else the
  spec's own name when it has variants (it is a family), else the name's leading letters (``resnet50`` -> resnet);
- **variants**: the keys of its ``variants:`` table (``--variant`` / ``variant=`` picks one);
- **params** and **MACs**: the static report at the spec's default input and variables (no variant picked);
- **reference**: the spec's `reference` field: the library model it equals (``= keras.applications.ResNet50``,
  ``= torchvision.models.resnet18``), else the work it follows (``after He et al. 2015``), else nothing.

``reference_table`` is docs/zoo.md's table of every spec's stated figures, written between the
``TABLE_BEGIN`` / ``TABLE_END`` marks by ``python -m archspec.tools.zoo`` (tests/test_facts_zoo.py fails when
the page's copy is stale), so a figure is written once, in its spec.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..graph import shapes
from ..spec.figures import Reference
from ..spec.read import read
from ..spec.validate import validate
from ..spec.zoo import zoo_names, zoo_path
from .table import columns, count_text

_FAMILY = re.compile(r"specs/(\w+)\.yaml is the (?:whole )?family")
_LETTERS = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class ZooEntry:
    """One zoo spec as `archspec zoo` lists it."""

    name: str
    family: str
    variants: tuple[str, ...]
    params: int
    macs: int
    reference: str


def list_specs(pattern: str = "*") -> list[str]:
    """The zoo's spec names matching a shell-style pattern (``"efficientnet*"``, ``"resnet?0"``), sorted."""
    return [name for name in zoo_names() if fnmatch.fnmatchcase(name, pattern)]


def describe_specs(pattern: str = "*") -> list[ZooEntry]:
    """The catalogue rows of the zoo specs matching `pattern`: family, variants, parameters, MACs, reference."""
    return [_entry(name) for name in list_specs(pattern)]


def _spec(name: str) -> Any:
    """The validated zoo spec `name` (its source text kept on it)."""
    return validate(read(zoo_path(name)))  # type: ignore[arg-type]  # list_specs gave a zoo name


def reference_of(name: str) -> Reference | None:
    """The zoo spec's `reference` field: its stated figures and their source."""
    reference: Reference | None = _spec(name).reference
    return reference


def _entry(name: str) -> ZooEntry:
    spec = _spec(name)
    header = " ".join(line.lstrip("#").strip() for line in _header_lines(spec._source.text))
    variants = tuple(str(k) for k in spec.variants)
    family = _FAMILY.search(header)
    report = shapes(spec, max_params=None, max_activations=None)
    return ZooEntry(
        name,
        family.group(1) if family else name if variants else _LETTERS.match(name).group(0),  # type: ignore[union-attr]  # names start with a letter
        variants,
        report.total_params,
        report.macs,
        spec.reference.label() if spec.reference else "",
    )


def _header_lines(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


SHOWN_VARIANTS = 5
"""Variants named in a row; a longer table is cut (`archspec shapes NAME --variants` prints it whole)."""


def _variants_text(variants: tuple[str, ...]) -> str:
    if len(variants) <= SHOWN_VARIANTS:
        return ", ".join(variants) or "-"
    return f"{', '.join(variants[:3])}, ... ({len(variants)})"


def zoo_table(pattern: str = "*") -> str:
    """`archspec zoo`'s text: one aligned row per spec."""
    rows = [
        (e.name, e.family, _variants_text(e.variants), f"{e.params:,}", count_text(e.macs), e.reference or "-")
        for e in describe_specs(pattern)
    ]
    return columns(
        ("name", "family", "variants", "params", "MACs", "reference"), rows, (False, False, False, True, True, False)
    )


TABLE_BEGIN = "<!-- zoo:reference -->"
TABLE_END = "<!-- /zoo:reference -->"
REGENERATE = "python -m archspec.tools.zoo docs/zoo.md"
"""The command that rewrites the table in a page (tests and the stale-table message name it)."""


def _figures(reference: Reference) -> str:
    """The stated counts: the spec's own, the trainable part, each `--set` case, each variant (variants with
    one count share it: MobileNet's resolutions)."""
    parts = []
    if reference.params is not None:
        parts.append(f"{reference.params:,}")
    if reference.trainable is not None:
        parts.append(f"trainable {reference.trainable:,}")
    for case in reference.cases:
        values = " ".join(f"{k}={v}" for k, v in case.set.items())
        parts.append(f"`--set {values}`: {case.params:,}")
    shared: dict[int, list[str]] = {}
    for variant, count in reference.variants.items():
        shared.setdefault(count, []).append(f"`{variant}`")
    parts.extend(f"{', '.join(names)}: {count:,}" for count, names in shared.items())
    return "; ".join(parts)


def reference_table(pattern: str = "*") -> str:
    """Markdown: one row per zoo spec with what it is, what it equals or follows, and the parameter counts its
    `reference` states (tests check each against the layers, and against Keras where Keras has the model)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = ["| spec | network | reference | parameters |", "|---|---|---|---|"]
    for name in list_specs(pattern):
        spec = _spec(name)
        reference = spec.reference
        rows.append(
            f"| `{name}.yaml` | {cell(spec.description or '')} | {cell(reference.label() if reference else '-')} "
            f"| {cell(_figures(reference)) if reference else '-'} |"
        )
    return "\n".join(rows) + "\n"


def with_reference_table(page: str) -> str:
    """`page` with the text between its TABLE_BEGIN and TABLE_END marks replaced by ``reference_table()``."""
    begin, end = page.find(TABLE_BEGIN), page.find(TABLE_END)
    if begin < 0 or end < begin:
        raise ValueError(f"the page has no {TABLE_BEGIN} ... {TABLE_END} marks for the zoo's table")
    return page[: begin + len(TABLE_BEGIN)] + "\n" + reference_table() + page[end:]


def main(argv: list[str]) -> int:
    """`python -m archspec.tools.zoo PAGE...`: rewrite the zoo table in each page (docs/zoo.md)."""
    for name in argv:
        page = Path(name)
        page.write_text(with_reference_table(page.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
