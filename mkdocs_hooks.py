"""MkDocs hook: the pages generated from the code, so the site cannot drift from it.

The kind reference is `archspec reference`'s output as it stands (the kind table and the
Pydantic models), added to the site at build time rather than kept as a copy under docs/.
tests/test_docs_site.py builds the site strictly and compares the page with the command.
"""

from __future__ import annotations

from mkdocs.structure.files import File, Files

from archspec.tools.reference import reference

KINDS_PAGE = "reference/kinds.md"

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
