"""The documentation site builds strictly, holds the generated kind reference, and the README
stays a short front door whose links land on pages that exist.

`mkdocs build --strict` fails on a link to a missing page or anchor and on a page left out of the
navigation (mkdocs.yml's `validation` turns those into warnings, strict mode into errors); the
second test shows it does on a copy of the site with one broken anchor.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT

from archspec.kinds.registry import KINDS
from archspec.tools.reference import family_kinds

KEPT_PICTURES = ["docs/images/lsp-neovim.svg"]
"""The only pictures kept in docs/: drawing them needs what a docs build may lack (Neovim), so a test redraws each
and compares (test_lsp_neovim.py); every other picture is drawn at build time."""
PICTURE = re.compile(r"\]\((?:\.\./)*pictures/([a-z0-9_]+)\.svg\)")

pytest.importorskip("mkdocs", reason="the docs extra (make test installs it)")
pytest.importorskip("material", reason="the docs extra (make test installs it)")


def hooks() -> ModuleType:
    sys.path.insert(0, str(ROOT))
    try:
        import mkdocs_hooks
    finally:
        sys.path.remove(str(ROOT))
    return mkdocs_hooks


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of root/mkdocs.yml into site, with this checkout's archspec. Without the pictures of
    a trained network (ARCHSPEC_DOCS_PICTURES=0: the notes a machine without Chromium or the digits gets); the
    serve tests make those (test_serve.py's test_the_docs_pictures_..., on their own run)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_MKDOCS_2_WARNING": "1", "ARCHSPEC_DOCS_PICTURES": "0"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"), "-d", str(site)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = build(ROOT, out)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_site_builds_strictly_with_every_page(site):
    pages = sorted(p.relative_to(ROOT / "docs").with_suffix("") for p in (ROOT / "docs").rglob("*.md"))
    for page in pages:
        html = site / (page.parent if page.name == "index" else page) / "index.html"
        assert html.exists(), page
    assert (site / "reference" / "kinds" / "index.html").exists()


def test_kind_reference_pages_hold_every_kind_in_the_nav(site):
    """Each family's page is built, in the navigation (the hook adds it there), with each of its kinds'
    headings and anchors; tests/test_docs_kinds.py checks their text against the commands."""
    mkdocs_hooks = hooks()
    index = (site / "reference" / "kinds" / "index.html").read_text()
    for slug, kinds in family_kinds().items():
        html = (site / "reference" / slug / "index.html").read_text()
        assert f'href="../{slug}/"' in index, slug  # linked from the index and the navigation
        for kind in kinds:
            assert f'<h2 id="{mkdocs_hooks.anchor(kind)}">' in html, kind
    assert {k.kind for k in KINDS.values()} == {k for kinds in family_kinds().values() for k in kinds}


def test_a_link_to_a_missing_anchor_fails_the_build(tmp_path):
    copy = tmp_path / "checkout"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy)
    shutil.copy(ROOT / "mkdocs_hooks.py", copy)
    shutil.copytree(ROOT / "docs", copy / "docs")
    (copy / "specs").symlink_to(ROOT / "specs")  # the pictures are drawn from the zoo's specs
    (copy / "tests").symlink_to(ROOT / "tests")  # and the trained network's by tests/docpictures.py
    page = copy / "docs" / "zoo.md"
    page.write_text(page.read_text() + "\nSee [blocks](spec/blocks.md#no-such-heading).\n")
    done = build(copy, tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-heading" in done.stdout + done.stderr


def test_readme_is_a_short_front_door_with_working_links():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    targets = re.findall(r"\]\((?!https?:)([^)#]+)(?:#[^)]*)?\)", readme)
    assert len(targets) >= 8
    assert [t for t in targets if not (ROOT / t).exists()] == []


def test_zoo_figures_are_what_archspec_shapes_prints(site):
    """Each spec's parameter count from `archspec shapes --json`, and each family's variant table
    exactly as `archspec shapes --variants` prints it, are on the built zoo page."""
    import html as html_text
    import json

    from click.testing import CliRunner
    from conftest import SPECS

    from archspec.cli import cli

    page = html_text.unescape(re.sub(r"<[^>]+>", "", (site / "zoo" / "index.html").read_text()))
    runner = CliRunner()
    families = 0
    for spec in SPECS:
        shown = runner.invoke(cli, ["shapes", str(spec), "--json"])
        assert shown.exit_code == 0, shown.output
        assert f"{spec.name}\n" in page and f"{json.loads(shown.stdout)['total_params']:,}" in page, spec.name
        variants = runner.invoke(cli, ["shapes", str(spec), "--variants"]).stdout
        if "no variants" not in variants:
            families += 1
            assert variants in page, spec.name
    assert families >= 5
    assert "digit 10, ink 1" in page  # a network with two outputs shows both


def test_python_api_page_documents_every_function_from_its_docstring(site):
    """mkdocstrings renders archspec/api.py: each name it exports under its own name has a heading
    (an alias such as `graph = graph_of` is documented where it is defined)."""
    import archspec.api

    page = (site / "api" / "index.html").read_text()
    names = [n for n in archspec.api.__all__ if getattr(getattr(archspec.api, n), "__name__", None) == n]
    assert len(names) >= 10
    assert [n for n in names if f'id="archspec.api.{n}"' not in page] == []


def test_pictures_are_archspec_draw_of_the_spec_the_page_names(site):
    """Each diagram a page shows is drawn at build time by `archspec draw`, from the zoo spec its name says;
    a page linking a spec that does not exist fails the build (no picture is pasted into docs/ but KEPT_PICTURES)."""
    from archspec.tools.draw import draw

    linked = sorted({name for page in (ROOT / "docs").rglob("*.md") for name in PICTURE.findall(page.read_text())})
    assert {"lenet", "unet_digits", "lenet_two_heads", "resnet50"} <= set(linked)
    kept = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*") if p.suffix in (".svg", ".png"))
    assert kept == KEPT_PICTURES
    for name in linked:
        drawn = draw(ROOT / "specs" / f"{name}.yaml", site.parent / f"{name}.svg", force=True)
        assert (site / "pictures" / f"{name}.svg").read_text() == drawn.read_text(), name
    page = (site / "tutorials" / "segmentation" / "index.html").read_text()
    assert '<img alt="The digits U-Net, as archspec draw draws it" src="../../pictures/unet_digits.svg"' in page


def test_a_build_without_the_pictures_of_a_trained_network_shows_a_note_in_their_place(site):
    """What a machine without Chromium, the digits or archspec[serve] gets: the build passes strictly and each picture
    docpictures makes is a note with its caption and why it is missing (a link to one, its text)."""
    import docpictures

    page = (site / "seeing" / "index.html").read_text()
    figures = [name for name in docpictures.PICTURES if name.endswith(".png")]
    assert page.count('<p class="admonition-title">Not drawn in this build</p>') == len(figures) == 4
    for name, picture in docpictures.PICTURES.items():
        assert f"pictures/{name}" not in page, name
        assert picture.caption in page, name
    assert "not drawn, as this build was asked for none (ARCHSPEC_DOCS_PICTURES=0)" in page


def test_a_made_picture_is_shown_under_the_caption_it_was_checked_for(tmp_path):
    """With the pictures made, the page keeps each one and its caption under it; a page that gives one another caption
    than the generator checked (what the picture shows) fails the build."""
    import docpictures

    markdown = (ROOT / "docs" / "seeing.md").read_text()
    made = docpictures.Made({name: tmp_path / name for name in docpictures.PICTURES}, {})
    shown = hooks().with_made_pictures(markdown, "seeing.md", made)
    for name, picture in docpictures.PICTURES.items():
        if name.endswith(".png"):
            assert f"![{picture.caption}](pictures/{name})\n\n*{picture.caption}.*" in shown, name
        else:
            assert f"[{picture.caption}](pictures/{name})" in shown, name
    assert "Not drawn" not in shown
    wrong = markdown.replace("a 7, uploaded; the model answers 7", "a 7, uploaded; the model answers 1")
    with pytest.raises(ValueError, match=r"serve-model\.png the caption"):
        hooks().with_made_pictures(wrong, "seeing.md", made)
