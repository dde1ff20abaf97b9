"""MkDocs hook: the pages generated from the code, so the site cannot drift from it.

The kind reference is `archspec reference`'s output as it stands (the kind table and the
Pydantic models), added to the site at build time rather than kept as a copy under docs/.
The zoo page's figures (every spec's shapes, parameters and MACs, each family's variants) are
what `archspec shapes` computes, put where docs/zoo.md has the ZOO_MARKER comment; its table of references is
regenerated from the specs' `reference` fields (``archspec.tools.zoo``, which also writes the copy in the page).
The Kind reference is one page per family (``archspec.tools.reference.FAMILIES``), each kind with its small
example spec from docs/reference/examples.yaml and the table `archspec shapes` prints for it. The diagrams
are `archspec draw`'s SVGs, drawn for each `pictures/NAME.svg` a page links to (NAME a zoo spec). The pictures of
the live view and of a trained network (`pictures/serve-*.png`, `pictures/inspect-*`) are made by
tests/docpictures.py (a LeNet trained for one epoch, `archspec inspect`, `archspec serve` in headless Chromium),
cached under build/docs-pictures/; where a machine lacks what one needs, the page shows a note in its place.
The keys of the search sections (a domain, the budget) are generated into docs/search.md the same way.
tests/test_docs_site.py and tests/test_docs_kinds.py build the site strictly and compare all of it with the
commands.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from markdown.extensions.toc import slugify
from mkdocs.structure.files import File, Files

import archspec
from archspec.graph import shapes
from archspec.kinds.registry import KINDS
from archspec.spec.loading import load
from archspec.tools.draw import diagram
from archspec.tools.reference import FAMILIES, PLUGINS, family_kinds, kind_reference, search_reference
from archspec.tools.table import count_text, layer_table, shape_text
from archspec.tools.variants import variant_table
from archspec.tools.zoo import with_reference_table

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))  # the generator drives the page tests' browser
import docpictures  # found through the line above

SPECS = Path(__file__).resolve().parent / "specs"
ZOO_PAGE = "zoo.md"
ZOO_MARKER = "<!-- zoo:figures -->"

KINDS_PAGE = "reference/kinds.md"
EXAMPLES = Path(__file__).resolve().parent / "docs" / "reference" / "examples.yaml"
PICTURE = re.compile(r"pictures/([a-z0-9_]+)\.svg")
SEARCH_PAGE = "search.md"
SEARCH_MARKER = "<!-- search:reference -->"
MADE_PICTURE = re.compile(r"(!?)\[([^\]]*)\]\((?:\.\./)*pictures/([a-z]+-[a-z-]+\.(?:png|html))\)")
"""A link to, or a picture of, one of docpictures.PICTURES (`![caption](pictures/serve-spec.png)`)."""
log = logging.getLogger(f"mkdocs.plugins.{__name__}")
made = docpictures.Made({}, {})
"""The pictures this build made (on_files), for the pages (on_page_markdown)."""

KINDS_HEAD = """# Kind reference

Every layer kind a spec can use, its other names, and each setting with its default, one page per family.
The pages are generated at build time from the kind table and its schemas, the same text as
`archspec reference` prints, so the defaults are the code's. Each kind has a small example spec, and the
table `archspec shapes` prints for it (computed as the site is built, so it is always today's).

| family | kinds |
|---|---|
"""


def examples() -> dict[str, str]:
    """Kind -> its example spec's text (docs/reference/examples.yaml)."""
    found: dict[str, str] = yaml.safe_load(EXAMPLES.read_text())
    return found


def example_table(text: str) -> str:
    """What `archspec shapes` prints for an example spec; an example that warns is refused, as a page
    would otherwise show a table the command prints under a warning."""
    report = archspec.shapes(archspec.loads(text))
    if report.warnings:
        raise ValueError(f"{EXAMPLES.name}: {report.name}: {report.warnings[0].message}")
    return layer_table(report)


def kind_section(name: str, example: str | None) -> str:
    """A kind's reference section, then its example spec and its shapes table."""
    text = kind_reference(name, level=2)
    if example is None:
        return text + "\nNo example: a plugin's kind.\n"
    file = f"{name}_example.yaml"
    return (
        f"{text}\nExample, `{file}`:\n\n```yaml\n{example}```\n\n"
        f"```\n$ archspec shapes {file}\n{example_table(example)}```\n"
    )


def titles() -> dict[str, str]:
    return {slug: title for slug, title, _ in (*FAMILIES, (*PLUGINS, ()))}


def family_page(slug: str, kinds: list[str], shown: dict[str, str]) -> str:
    intro = f"# {titles()[slug]}\n\n[All families](kinds.md). "
    if not kinds:
        return intro + "No plugin is installed here. [Plugins](../plugins.md) says how to add a kind.\n"
    missing = [k for k in kinds if k not in shown and slug != PLUGINS[0]]
    if missing:
        raise ValueError(f"{EXAMPLES.name} has no example of {', '.join(missing)}: every built-in kind needs one")
    return intro + "Generated from the kind table.\n\n" + "\n".join(kind_section(k, shown.get(k)) for k in kinds)


def anchor(kind: str) -> str:
    """The heading id the site gives a kind's section (its names, slugified as the toc extension does)."""
    record = KINDS[kind]
    return slugify(" / ".join([record.kind, *record.aliases]), "-")


def kind_pages() -> dict[str, str]:
    """Page path -> markdown: the Kind reference's index, then one page per family."""
    pages = {}
    rows = []
    shown = examples()
    for slug, kinds in family_kinds().items():
        pages[f"reference/{slug}.md"] = family_page(slug, kinds, shown)
        links = ", ".join(f"[`{k}`]({slug}.md#{anchor(k)})" for k in kinds) or "none installed"
        rows.append(f"| [{titles()[slug]}]({slug}.md) | {links} |")
    return {KINDS_PAGE: KINDS_HEAD + "\n".join(rows) + "\n", **pages}


def kinds_page() -> str:
    """The kind reference's index page."""
    return kind_pages()[KINDS_PAGE]


def on_config(config: Any) -> Any:
    """The nav's `Kind reference: reference/kinds.md` entry becomes a section: the index, a page per family."""
    section = [{"All families": KINDS_PAGE}, *({title: f"reference/{slug}.md"} for slug, title in titles().items())]
    config["nav"] = [
        {"Kind reference": section} if entry == {"Kind reference": KINDS_PAGE} else entry for entry in config["nav"]
    ]
    return config


def pictures(docs: Path) -> set[str]:
    """The zoo specs whose diagrams the pages link to (`pictures/NAME.svg`)."""
    return {name for page in docs.rglob("*.md") for name in PICTURE.findall(page.read_text())}


def on_files(files: Files, config: Any) -> Files:
    global made
    for path, markdown in kind_pages().items():
        files.append(File.generated(config, path, content=markdown))
    for name in sorted(pictures(Path(config["docs_dir"]))):
        svg = diagram(archspec.graph_of(SPECS / f"{name}.yaml"), format="svg")
        files.append(File.generated(config, f"pictures/{name}.svg", content=svg))
    made = docpictures.ensure(log.info)
    for name, path in made.files.items():
        files.append(File.generated(config, f"pictures/{name}", abs_src_path=str(path)))
    return files


def with_made_pictures(markdown: str, page: str, made: docpictures.Made) -> str:
    """Each of docpictures' pictures a page shows, with its caption under it; one this build did not make becomes a
    note saying why (a link to one, its text). A caption other than the one the generator checked fails the build."""

    def one(found: re.Match[str]) -> str:
        bang, text, name = found.groups()
        if name not in docpictures.PICTURES:
            return found[0]  # not the generator's: the strict build finds whether it exists
        caption = docpictures.PICTURES[name].caption
        if text != caption:
            raise ValueError(f"docs/{page} gives pictures/{name} the caption {text!r}; the picture shows {caption!r}")
        if name not in made.files:
            why = made.missing[name]
            return f'!!! note "Not drawn in this build"\n    *{caption}*: not drawn, as {why}.' if bang else text
        return f"{found[0]}\n\n*{caption}.*" if bang else found[0]

    return MADE_PICTURE.sub(one, markdown)


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
    return with_made_pictures(markdown, page.file.src_uri, made)
