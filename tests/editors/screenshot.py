"""Draw docs/images/lsp-neovim.svg: Neovim's screen while `archspec lsp` serves a spec.

    .venv/bin/python tests/editors/screenshot.py      # needs nvim (.ci/install-neovim.sh)

Headless Neovim (tests/editors/neovim_screen.lua) opens SPEC, gets the server's hints, takes an
edit that breaks a layer (the last good hints stay on the unchanged lines), and reads its screen
back; this turns the screen's text into an SVG, colouring what the server sent: hints grey, the
error red. The text is Neovim's, cell for cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images" / "lsp-neovim.svg"
SPEC = """name: tiny
input: [32, 32, 3]
variables: {width: 16}
layers:
  - conv: {depth: $width, kernel: 3, padding: same}
  - residual:
      body:
        - conv: {depth: $width, kernel: 3, padding: same, activation: relu}
        - conv: {depth: $width, kernel: 3, padding: same}
      activation: relu
  - conv: {depth: 2 * $width, kernel: 3, stride: 2, name: down}
  - pool: global_avg
  - dense: {units: 10, activation: softmax}
"""
EDIT = {"line": 10, "text": "  - conv: {depth: 2 * $width, kernel: 3, stride: 2, name: down, input: nowhere}"}
CELL_W, CELL_H, PAD = 8.4, 17, 10
COLOURS = {"text": "#d4d4d4", "gutter": "#6e7681", "hint": "#8b949e", "error": "#f85149", "key": "#79c0ff"}


def screen() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        spec, out = Path(tmp) / "specs" / "tiny.yaml", Path(tmp) / "screen.json"
        spec.parent.mkdir()
        spec.write_text(SPEC, encoding="utf-8")
        server = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); from archspec.cli import run; run()",
            "lsp",
        ]
        env = {
            **os.environ,
            "ARCHSPEC_LSP_CMD": json.dumps(server),
            "ARCHSPEC_SPEC": "specs/tiny.yaml",  # relative: the status line shows it so
            "ARCHSPEC_EDIT": json.dumps(EDIT),
            "ARCHSPEC_OUT": str(out),
            "XDG_CONFIG_HOME": tmp,
            "XDG_DATA_HOME": tmp,
            "XDG_STATE_HOME": tmp,
        }
        script = Path(__file__).with_name("neovim_screen.lua")
        subprocess.run(
            ["nvim", "--headless", "--clean", "-n", "-c", f"luafile {script}"],
            cwd=tmp,
            env=env,
            timeout=120,
            check=True,
        )
        got = json.loads(out.read_text(encoding="utf-8"))
    if "error" in got:
        raise SystemExit(f"neovim_screen.lua: {got['error']}")
    return [row.rstrip() for row in got["rows"]]


def spans(row: str, written: str | None) -> list[tuple[int, str, str]]:
    """(column, text, colour) pieces of one screen row: the gutter, the key, the rest of the line as written, and
    what Neovim drew after it (a hint, or a diagnostic's `■ message`)."""
    gutter = 6  # sign column (2) and line number (4)
    if written is None or not row[gutter:].startswith(written.rstrip()[: len(row) - gutter]):
        return [(0, row, COLOURS["text"])]  # the hover box, the `~` rows, the command line
    end = gutter + len(written)
    rest = row[end:]
    colour = COLOURS["error"] if "■" in rest else COLOURS["hint"]
    key_end = gutter + (len(written) - len(written.lstrip(" -"))) + max(written.lstrip(" -").find(":"), 0)
    pieces = [(0, row[:gutter], COLOURS["error"] if row[:2].strip() else COLOURS["gutter"])]
    pieces += [(gutter, row[gutter:key_end], COLOURS["key"]), (key_end, row[key_end:end], COLOURS["text"])]
    return [*pieces, (end, rest, colour)]


def svg(rows: list[str]) -> str:
    lines = SPEC.splitlines()
    lines[EDIT["line"]] = EDIT["text"]
    width, height = 2 * PAD + CELL_W * max(map(len, rows)), 2 * PAD + CELL_H * len(rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">',
        '<rect width="100%" height="100%" rx="6" fill="#0d1117"/>',
    ]
    for r, row in enumerate(rows):
        y = PAD + CELL_H * (r + 0.78)
        for column, text, colour in spans(row, lines[r] if r < len(lines) else None):
            if text.strip():
                parts.append(
                    f'<text x="{PAD + CELL_W * column:.1f}" y="{y:.1f}" fill="{colour}" xml:space="preserve">'
                    f"{escape(text)}</text>"
                )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    OUT.write_text(svg(screen()), encoding="utf-8")
    print(OUT)
