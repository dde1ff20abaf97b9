"""The zoo's catalogue: which specs ship with archspec, and what each one is.

Everything listed is read from the spec files themselves; nothing is a table kept by hand:

- **name**: the file's stem, what `archspec shapes NAME` and ``archspec.load(NAME)`` take;
- **family**: the family file the header names (``specs/efficientnet.yaml is the whole family``), else the
  spec's own name when it has variants (it is a family), else the name's leading letters (``resnet50`` -> resnet);
- **variants**: the keys of its ``variants:`` table (``--variant`` / ``variant=`` picks one);
- **params** and **MACs**: the static report at the spec's default input and variables (no variant picked);
- **reference**: what the header says the spec is exactly equal to (``= keras.applications.ResNet50``,
  ``= torchvision.models.resnet18``), else the work it follows (``after He et al. 2015``), else nothing.
  A spec is claimed equal to a library model only where its header says "exactly" / "as" that model.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from ..graph import shapes
from ..spec.read import read
from ..spec.zoo import zoo_names, zoo_path
from .table import columns, count_text

_EXACT = re.compile(r"\b(?:exactly|as) ((?:keras\.applications|torchvision\.models)\.\w+)")
_CITED = re.compile(r"\(([^()]*?(?:19|20)\d\d)")
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


def _entry(name: str) -> ZooEntry:
    path = zoo_path(name)
    source = read(path)  # type: ignore[arg-type]  # list_specs gave a zoo name
    header = " ".join(line.lstrip("#").strip() for line in _header_lines(source.text))
    table = source.data.get("variants") if isinstance(source.data, dict) else None
    variants = tuple(str(k) for k in table) if isinstance(table, dict) else ()
    family = _FAMILY.search(header)
    report = shapes(str(path), max_params=None, max_activations=None)
    return ZooEntry(
        name,
        family.group(1) if family else name if variants else _LETTERS.match(name).group(0),  # type: ignore[union-attr]  # names start with a letter
        variants,
        report.total_params,
        report.macs,
        _reference(header),
    )


def _header_lines(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def _reference(header: str) -> str:
    exact = _EXACT.search(header)
    if exact:
        return f"= {exact.group(1)}"
    cited = _CITED.search(header)
    return f"after {cited.group(1).strip()}" if cited else ""


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
