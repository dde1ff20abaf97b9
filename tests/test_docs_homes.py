"""Every section of the long README that the site replaced (1,919 lines at commit 6b3f99a^) has a home: a page
in the navigation with a heading for it, or, for the layer kinds, a Kind reference page that the site
generates. The list is the old README's headings, written here because a shallow clone has no history.

mkdocs.yml's `validation: omitted_files` with `mkdocs build --strict` (tests/test_docs_site.py) fails a page
left out of the navigation; this test checks each page named here is in it, so a home cannot be an orphan.
"""

from __future__ import annotations

import re

import yaml
from conftest import ROOT

from archspec.tools.reference import family_kinds

HOMES = {
    "Install": ("index.md", "Install"),
    "The zoo": ("zoo.md", "The zoo"),
    "Writing specs": ("spec/index.md", "Writing specs"),
    "Layers": ("spec/index.md", "Layers"),
    "Variables and expressions": ("spec/variables.md", "Variables and expressions"),
    "Variants: one file per family": ("spec/variants.md", "Variants: one file per family"),
    "Blocks and templates": ("spec/blocks.md", "Blocks and templates"),
    "Several inputs and outputs": ("spec/inputs-outputs.md", "Several inputs and outputs"),
    "Command line": ("cli.md", "Command line"),
    "Python API": ("api.md", "Python API"),
    "Training": ("training/index.md", "Training"),
    "The `training` section": ("training/index.md", "The `training` section"),
    "Batch norm after a short run": ("training/index.md", "Batch norm after a short run"),
    "Heads: what each output learns": ("training/heads.md", "Heads: what each output learns"),
    "Data sources": ("training/data.md", "Data sources"),
    "One preprocessing plan": ("training/data.md", "One preprocessing plan"),
    "The run folder": ("training/runs.md", "The run folder"),
    "Speed and scale": ("training/runs.md", "Speed and scale"),
    "Evaluate and predict": ("training/runs.md", "Evaluate and predict"),
    "Segmentation end to end": ("tutorials/segmentation.md", "Segmentation end to end"),
    "Two heads end to end": ("tutorials/two-heads.md", "Two heads end to end"),
    "Python API (training)": ("training/python.md", "Python API"),
    "Fine-tune a pretrained network": ("fine-tuning.md", "Fine-tune a pretrained network"),
    "Plugins: your own layer kinds": ("plugins.md", "Plugins: your own layer kinds"),
    "Seeing and sharing a network": ("seeing.md", "Seeing and sharing a network"),
    "Editor support: `archspec schema`": ("seeing.md", "Editor support: `archspec schema`"),
    "Drawing: `archspec draw`": ("seeing.md", "Drawing: `archspec draw`"),
    "What a trained network sees: `archspec inspect`": ("seeing.md", "What a trained network sees: `archspec inspect`"),
    "Live view: `archspec serve`": ("seeing.md", "Live view: `archspec serve`"),
    "Exporting: `archspec export`": ("seeing.md", "Exporting: `archspec export`"),
    "Importing: `archspec import`": ("seeing.md", "Importing: `archspec import`"),
    "Architecture": ("architecture.md", "Architecture"),
    "Development": ("contributing.md", "Development"),
}
"""Old README heading -> (page under docs/, its heading there)."""

OLD_KINDS = [
    "conv",
    "conv_transpose",
    "depthwise",
    "separable",
    "pool",
    "dense",
    "flatten",
    "reshape",
    "dropout",
    "stochastic_depth",
    "batchnorm",
    "layernorm",
    "activation",
    "rescaling",
    "normalization",
    "layer_scale",
    "zeropad",
    "crop",
    "upsample",
    "resize",
    "lrn",
    "add",
    "multiply",
    "concat",
    "residual",
    "branches",
    "inception",
    "dense_block",
    "transition",
    "se",
    "mbconv",
    "fused_mbconv",
    "convnext_block",
    "nasnet_normal",
    "nasnet_reduction",
    "repeat",
    "use",
    "stage",
]
"""The kinds the old README's `### Layer kinds` section listed, one `####` heading each."""


def nav_pages(entries: list) -> list[str]:
    found = []
    for entry in entries:
        for target in entry.values() if isinstance(entry, dict) else [entry]:
            found.extend(nav_pages(target) if isinstance(target, list) else [target])
    return found


def test_every_old_readme_section_has_a_page_in_the_nav_with_its_heading():
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)  # no tags in it to resolve
    nav = nav_pages(config["nav"])
    missing = []
    for old, (page, heading) in HOMES.items():
        text = (ROOT / "docs" / page).read_text()
        if page not in nav or not re.search(rf"^#+ {re.escape(heading)}$", text, re.M):
            missing.append(f"{old} -> docs/{page}: {heading}")
    assert missing == []
    assert len(HOMES) == 33


def test_every_old_layer_kind_has_a_kind_reference_page():
    nav = nav_pages(yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)["nav"])
    assert "reference/kinds.md" in nav  # the hook turns it into the Kind reference's section
    placed = {kind for kinds in family_kinds().values() for kind in kinds}
    assert [kind for kind in OLD_KINDS if kind not in placed] == []
