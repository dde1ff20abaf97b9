"""The spec reference, generated from the kind table and the Pydantic models.

The documentation site's Kind reference pages are this text, one page per family (mkdocs_hooks.py adds
them at build time and tests/test_docs_kinds.py checks them), so the documented defaults cannot drift
from the code.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices

from ..kinds import BUILTIN
from ..kinds.base import as_written
from ..kinds.registry import KINDS, description


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = as_written(field.get_default(call_default_factory=True))
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if value == {} or value == []:
        return "-"
    return str(value).replace("'", "")


def _keys(name: str, field: Any) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return " / ".join(f"`{c}`" for c in alias.choices)
    return f"`{field.alias or name}`"


def setting_reference(kind_name: str, key: str) -> str | None:
    """One setting's row of the kind's reference (its names, default and meaning), for hover on a key as written
    (`depth` as well as `filters`); None when the kind has no such key."""
    for fname, field in KINDS[kind_name].schema.model_fields.items():
        alias = field.validation_alias
        names = {fname, field.alias, *(alias.choices if isinstance(alias, AliasChoices) else (alias,))}
        if key in names:
            meaning = field.description or ""
            return f"{_keys(fname, field)} of `{kind_name}`, default {_default(field)}\n\n{meaning}".rstrip() + "\n"
    return None


def kind_reference(kind_name: str, *, level: int = 4) -> str:
    """One kind's section: its names as a heading of `level`, its description, its settings' table."""
    kind = KINDS[kind_name]
    schema = kind.schema
    names = [kind.kind, *kind.aliases]
    head = " / ".join(f"`{n}`" for n in names)
    lines = [f"{'#' * level} {head}", "", description(kind), ""]
    rows = [
        f"| {_keys(fname, field)} | {_default(field)} | " + (field.description or "").replace("|", "\\|") + " |"
        for fname, field in schema.model_fields.items()
        if fname not in ("name", "input", "when")
    ]
    if rows:
        lines += ["| key | default | meaning |", "|---|---|---|", *rows]
    else:
        lines.append("No settings besides `name`, `input` and `when`.")
    return "\n".join(lines) + "\n"


def reference() -> str:
    """Markdown for every layer kind, in the kind table's order (``kinds.BUILTIN``'s, then plugins')."""
    return "\n".join(kind_reference(name) for name in dict.fromkeys(kind.kind for kind in KINDS.values()))


FAMILIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("convolution", "Convolutions and upsampling", ("conv", "depthwise", "upsampling")),
    ("pooling-dense", "Pooling, dense and reshaping", ("pool", "dense", "simple", "shape", "pad")),
    ("normalisation", "Normalisation and scaling", ("norm", "scale")),
    ("joins", "Joins", ("merge",)),
    ("blocks", "Blocks, templates and networks", ("blocks", "network")),
    ("cells", "Mobile, ConvNeXt and NASNet blocks", ("mobile", "convnext", "nasnet")),
)
"""The Kind reference's pages: (page slug, title, the ``kinds.BUILTIN`` modules whose kinds it holds). Data
rather than a field on each kind: a family is how the documentation groups kinds, and a kind lands on its
module's page without saying so. Kinds from plugins, in no module here, get a page of their own."""
PLUGINS = ("plugins", "Kinds from plugins")


def family_kinds() -> dict[str, list[str]]:
    """Page slug -> its kinds (one name per kind, aliases left out), in the kind table's order; every kind
    in the table is on exactly one page (a plugin's on PLUGINS' page, listed even when it is empty)."""
    page_of = {module: slug for slug, _, modules in FAMILIES for module in modules}
    module_of = {name: module for module, names in BUILTIN.items() for name in names}
    pages: dict[str, list[str]] = {slug: [] for slug, _, _ in FAMILIES}
    pages[PLUGINS[0]] = []
    for name in dict.fromkeys(kind.kind for kind in KINDS.values()):
        module = module_of.get(name)
        pages[page_of[module] if module is not None else PLUGINS[0]].append(name)
    return pages


def fields_table(model: Any) -> str:
    """A model's keys, defaults and meanings as a markdown table (the kinds' table, for any settings model)."""
    rows = [
        f"| {_keys(fname, field)} | {_default(field)} | " + (field.description or "").replace("|", "\\|") + " |"
        for fname, field in model.model_fields.items()
    ]
    return "\n".join(["| key | default | meaning |", "|---|---|---|", *rows]) + "\n"


def search_reference() -> str:
    """The keys of a search domain and of the budget (docs/search.md shows this at build time)."""
    from ..spec.search import Budget, Domain

    return "\n".join(
        [
            "#### A domain (each value of `search`)",
            "",
            description_of(Domain),
            "",
            fields_table(Domain),
            "#### `budget`",
            "",
            description_of(Budget),
            "",
            fields_table(Budget),
        ]
    )


def description_of(model: Any) -> str:
    return " ".join((model.__doc__ or "").split())
