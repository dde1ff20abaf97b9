"""Third-party kinds: an installed plugin package (entry point) and a register_kind() call.

Both run in fresh interpreters so the kind table of the test process stays the built-in one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

PLUGIN = ROOT / "tests" / "plugins" / "archspec_se"
SE_NET = ROOT / "tests" / "plugins" / "se_net.yaml"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """pip-installs the example plugin into a private folder (no change to the environment)."""
    site = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / PLUGIN.name  # build from a copy: setuptools writes build/ into the source
    shutil.copytree(PLUGIN, source)
    args = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(source)]
    try:
        import setuptools  # noqa: F401  (only whether it is installed: pip may then build without isolation)

        args.insert(5, "--no-build-isolation")
    except ImportError:
        pass
    subprocess.run(args, check=True, capture_output=True)
    return site


def run(code: str, site=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site) if site else None, str(ROOT)]))}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, cwd=ROOT
    )


def test_installed_plugin_works_end_to_end(plugin_site, tmp_path):
    """Installed, the plugin's kind validates, counts, builds, checks, is in the schema, draws in its own colour,
    imports back from a saved model and has its maps shown by inspect: no edit to archspec for any of it."""
    result = run(
        f"""
        import json, archspec, numpy as np
        from archspec.cli import main
        import archspec_se
        report = archspec.shapes({str(SE_NET)!r})
        se = report.layer("se_dense_1")
        model = archspec.check({str(SE_NET)!r})          # static vs Keras, node by node
        import contextlib, io, os
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            schema_rc = main(["schema"])
        schema = json.loads(out.getvalue())
        tmp = {str(tmp_path)!r}
        svg = os.path.join(tmp, "se.svg")
        draw_rc = main(["draw", {str(SE_NET)!r}, "-o", svg])
        drawing = open(svg).read()
        saved = os.path.join(tmp, "se.keras")
        archspec.save_model(model, saved)
        spec_text = os.path.join(tmp, "imported.yaml")
        import_rc = main(["import", saved, "-o", spec_text])
        imported = archspec.shapes(spec_text)
        image = os.path.join(tmp, "x.npy")
        np.save(image, np.random.default_rng(0).random((32, 32, 3)).astype("float32"))
        page = os.path.join(tmp, "inspect.html")
        inspect_rc = main(["inspect", saved, "--input", image, "-o", page])
        html = open(page).read()
        print(json.dumps({{"params": se.params, "shape": se.output_shape, "total": report.total_params,
                           "keras": model.count_params(),
                           "in_schema": schema_rc == 0 and '"se_dense"' in json.dumps(schema),
                           "validate": main(["validate", {str(SE_NET)!r}]),
                           "drawn": draw_rc == 0 and "se_dense_1" in drawing, "coloured": archspec_se.COLOR in drawing,
                           "imported": import_rc == 0 and "se_dense:" in open(spec_text).read()
                                       and imported.total_params == report.total_params,
                           "inspected": inspect_rc == 0 and 'data-layer="se_dense_1"' in html}}))
    """,
        plugin_site,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["params"] == 32 * 4 + 4 + 4 * 32 + 32 and out["shape"] == [32, 32, 32]
    assert out["total"] == out["keras"] and out["in_schema"] and out["validate"] == 0 and out["drawn"]
    assert out["coloured"] and out["imported"] and out["inspected"], out


def test_without_the_plugin_the_kind_is_unknown():
    result = run(f"""
        import archspec
        try:
            archspec.shapes({str(SE_NET)!r})
        except archspec.SpecError as exc:
            print(exc)
    """)
    assert "unknown layer kind 'se_dense'" in result.stdout


def test_a_wrong_shape_rule_is_caught_by_the_consistency_check():
    result = run("""
        import archspec
        from pydantic import Field

        class Halve(archspec.LayerSpec):
            '''Claims to halve the channels; its emitter does not.'''

        def infer(a, inputs):
            h, w, c = inputs[0]
            return (h, w, c // 2)

        archspec.register_kind(archspec.Primitive(
            kind="halve", schema=Halve, infer=infer,
            emit=lambda node, x, keras: keras.layers.Activation("linear", name=node.name)(x[0])))
        spec = {"name": "bad", "input": [8, 8, 4], "layers": ["halve", "flatten", {"dense": 2}]}
        try:
            archspec.check(spec)
        except archspec.SpecError as exc:
            print("CAUGHT", exc)
    """)
    assert "CAUGHT" in result.stdout, result.stderr
    assert "kind 'halve' computes shape [8, 8, 2] but its Keras layer gives [8, 8, 4]" in result.stdout


def test_register_rejects_a_taken_name():
    """Even before the built-in kind was first used (its module not yet imported), its name is taken."""
    result = run("""
        import archspec
        class C(archspec.LayerSpec):
            '''x'''
        try:
            archspec.register_kind(
                archspec.Primitive(kind="conv", schema=C, infer=lambda a, i: i[0], emit=lambda n, x, k: x[0])
            )
        except ValueError as exc:
            print("REFUSED", exc)
    """)
    assert "REFUSED layer kind 'conv' is already registered" in result.stdout
