"""MkDocs hook: the pages generated from the code, so the site cannot drift from it.

The kind reference is `archspec reference`'s output as it stands (the kind table and the
Pydantic models), added to the site at build time rather than kept as a copy under docs/.
The zoo page's figures (every spec's shapes, parameters and MACs, each family's variants) are
what `archspec shapes` computes, put where docs/zoo.md has the ZOO_MARKER comment; its table of references is
regenerated from the specs' `reference` fields (``archspec.tools.zoo``, which also writes the copy in the page).
The keys of the search sections (a domain, the budget) are generated into docs/search.md the same way.
tests/test_docs_site.py builds the site strictly and compares both with the commands.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

from archspec.graph import shapes
from archspec.spec.loading import load
from archspec.tools.reference import reference, search_reference
from archspec.tools.table import count_text, shape_text
from archspec.tools.variants import variant_table
from archspec.tools.zoo import with_reference_table

SPECS = Path(__file__).resolve().parent / "specs"
ZOO_PAGE = "zoo.md"
ZOO_MARKER = "<!-- zoo:figures -->"

KINDS_PAGE = "reference/kinds.md"
SEARCH_PAGE = "search.md"
SEARCH_MARKER = "<!-- search:reference -->"

KINDS_HEAD = """# Kind reference

Every layer kind a spec can use, its other names, and each setting with its default. This page is
generated at build time from the kind table and its schemas by `archspec reference` (which prints
the same text), so the defaults below are the code's.

"""


def kinds_page() -> str:
    """The kind reference page's markdown: a title, then `archspec reference`'s output unchanged."""
    return KINDS_HEAD + reference()


def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, KINDS_PAGE, content=kinds_page()))
    return files


def _named(shapes_by_name: dict) -> str:
    """One shape as it is; several (a network with named inputs or outputs) each with its name."""
    if len(shapes_by_name) == 1:
        return shape_text(next(iter(shapes_by_name.values())))
    return ", ".join(f"{name} {shape_text(shape)}" for name, shape in shapes_by_name.items())


def zoo_figures(specs: Path = SPECS) -> str:
    """Every spec's figures as `archspec shapes` computes them, then each family's variant table
    exactly as `archspec shapes SPEC --variants` prints it."""
    rows = ["| spec | input | output | parameters | MACs |", "|---|---|---|---:|---:|"]
    families = []
    for path in sorted(specs.glob("*.yaml")):
        report = shapes(path, max_params=None, max_activations=None)
        rows.append(
            f"| `{path.name}` | {_named(report.inputs)} | {_named(report.output_shapes)} "
            f"| {report.total_params:,} | {count_text(report.macs)} |"
        )
        if load(path).variants:
            families.append(f"`archspec shapes specs/{path.name} --variants`:\n\n```\n{variant_table(path)}```\n")
    return "\n".join(rows) + "\n\n### Variants\n\n" + "\n".join(families)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri == ZOO_PAGE:
        if ZOO_MARKER not in markdown:
            raise ValueError(f"docs/{ZOO_PAGE} lost its {ZOO_MARKER} line: the generated figures go there")
        markdown = with_reference_table(markdown.replace(ZOO_MARKER, zoo_figures()))
    if page.file.src_uri == SEARCH_PAGE:
        if SEARCH_MARKER not in markdown:
            raise ValueError(f"docs/{SEARCH_PAGE} lost its {SEARCH_MARKER} line: the generated keys go there")
        markdown = markdown.replace(SEARCH_MARKER, search_reference())
    return markdown
