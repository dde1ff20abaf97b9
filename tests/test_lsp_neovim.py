"""`archspec lsp` in a real editor: headless Neovim's built-in LSP client (no plugin) opens a spec.

tests/editors/neovim_lsp.lua starts the server as a user's config does, waits for the diagnostics
Neovim received (vim.diagnostic), asks for the inlay hints (Neovim 0.7, Debian's, has no inlay-hint
UI: vim.lsp.buf_request_sync), then replaces a line as typing would and waits for the new error.
.ci/install-neovim.sh installs Debian's package; without nvim this skips, and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytest.importorskip("pygls")

SPEC = """name: seen
input: [32, 32, 1]
layers:
  - conv: {depth: 6, kernel: 5, activation: relu}
  - pool: {size: 2}
  - flatten
  - dense: {units: 4, activation: softmax}
  - dense: 2
"""
"""A spec that checks with one warning (the softmax before the last layer): the client gets diagnostics and hints."""


def nvim() -> str:
    found = shutil.which("nvim")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Neovim missing (CI=true requires it; .ci/install-neovim.sh installs it)")
        pytest.skip("Neovim not installed (run .ci/install-neovim.sh)")
    return found


def test_neovim_receives_diagnostics_and_hints_and_updates_as_one_types(tmp_path: Path):
    spec = tmp_path / "seen.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "received.json"
    server = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from archspec.cli import run; run()",
        "lsp",
    ]
    env = {
        **os.environ,
        "ARCHSPEC_LSP_CMD": json.dumps(server),
        "ARCHSPEC_SPEC": str(spec),
        "ARCHSPEC_BREAK": json.dumps({"line": 3, "text": "  - conv: {depth: 6, kernel: 50, activation: relu}"}),
        "ARCHSPEC_OUT": str(out),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # no user config, no shada or swap files left behind
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    script = ROOT / "tests" / "editors" / "neovim_lsp.lua"
    done = subprocess.run(
        [nvim(), "--headless", "--clean", "-n", "-c", f"luafile {script}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert out.exists(), f"nvim wrote nothing (exit {done.returncode}): {done.stderr[-2000:]}"
    got = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in got, got["error"]
    (warning,) = got["opened"]
    assert warning["line"] == 6 and warning["severity"] == 2 and warning["source"] == "archspec"
    assert "softmax before the last layer" in warning["message"]
    lines = SPEC.splitlines()
    assert [(h["line"], h["label"]) for h in got["hints"]] == [
        (3, "28x28x6"),
        (4, "14x14x6"),
        (5, "1176"),
        (6, "4"),
        (7, "2"),
    ]
    assert all(h["character"] == len(lines[h["line"]]) for h in got["hints"])  # at the end of each line
    errors = [d for d in got["edited"] if d["severity"] == 1]
    assert [e["line"] for e in errors] == [3] and "50x50 kernel" in errors[0]["message"]


def test_the_docs_screenshot_is_what_neovim_shows_today() -> None:
    """docs/images/lsp-neovim.svg is the one picture kept in docs/ (drawing it needs Neovim, which a docs build may
    not have): it must equal what tests/editors/screenshot.py draws from Neovim's screen now, so it cannot go stale."""
    nvim()
    sys.path.insert(0, str(ROOT / "tests" / "editors"))
    try:
        import screenshot
    finally:
        sys.path.remove(str(ROOT / "tests" / "editors"))
    drawn = screenshot.svg(screenshot.screen())
    assert drawn == screenshot.OUT.read_text(encoding="utf-8"), "run: .venv/bin/python tests/editors/screenshot.py"
