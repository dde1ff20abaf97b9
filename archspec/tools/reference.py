"""The spec reference, generated from the kind table and the Pydantic models.

The documentation site's Kind reference page is this text (mkdocs_hooks.py adds it at build
time and tests/test_docs_site.py checks it), so the documented defaults cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices

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


def kind_reference(kind_name: str) -> str:
    kind = KINDS[kind_name]
    schema = kind.schema
    names = [kind.kind, *kind.aliases]
    head = " / ".join(f"`{n}`" for n in names)
    lines = [f"#### {head}", "", description(kind), ""]
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
