"""PNG output: a screenshot of the SVG by headless Chromium, the browser the page is made for,
so the PNG looks like the page; without Chromium, cairosvg when it is installed.

Chromium is ``$ARCHSPEC_CHROMIUM`` or the first of the usual names on PATH; it runs offline
with a throw-away profile.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ...errors import Problem, SpecError
from ...files import write_bytes

MAX_PNG_SIDE = 16_384


def chromium() -> str | None:
    """Path of a Chromium/Chrome binary: $ARCHSPEC_CHROMIUM, then the usual names on PATH."""
    given = os.environ.get("ARCHSPEC_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_args(profile: str) -> list[str]:
    """Flags for a quiet, offline, throw-away headless Chromium."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        "--mute-audio",
        f"--user-data-dir={profile}",
    ]


def screenshot(page: str, target: Path, width: int, height: int, *, timeout: float = 120) -> None:
    """PNG of an HTML text through headless Chromium, at the given window size."""
    exe = chromium()
    if exe is None:
        raise SpecError(
            Problem(
                "PNG output needs Chromium (headless), which was not found",
                file=str(target),
                hint="install it (Debian: apt-get install chromium), set ARCHSPEC_CHROMIUM, or pip install cairosvg; "
                "or write .svg/.html",
            )
        )
    with tempfile.TemporaryDirectory(prefix="archspec-draw-") as tmp:
        src = Path(tmp) / "page.html"
        src.write_text(page, encoding="utf-8")
        out = Path(tmp) / "shot.png"
        cmd = [
            exe,
            *chromium_args(str(Path(tmp) / "profile")),
            f"--window-size={width},{height}",
            f"--screenshot={out}",
            src.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SpecError(
                Problem(
                    f"could not run Chromium ({exe}): {exc}",
                    file=str(target),
                    hint="check ARCHSPEC_CHROMIUM, or write .svg/.html",
                )
            ) from None
        if not out.exists():
            raise SpecError(
                Problem(
                    f"Chromium did not write a screenshot (exit {proc.returncode})",
                    file=str(target),
                    hint=proc.stderr.strip()[-500:] or None,
                )
            )
        data = out.read_bytes()
    write_bytes(target, data, force=True)  # the caller has already applied --force


def write_png(svg: str, target: Path, width: float, height: float) -> Path:
    """Write a standalone SVG's picture, ``width`` x ``height`` pixels (rounded up), to a PNG file."""
    width, height = math.ceil(width), math.ceil(height)
    if max(width, height) > MAX_PNG_SIDE:
        raise SpecError(
            Problem(
                f"the diagram is {width}x{height} pixels, too large for a PNG",
                hint="close blocks (omit --expand) or write .svg/.html",
            )
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    if chromium() is None:
        try:
            import cairosvg  # optional: PNG without a browser
        except ImportError:
            pass
        else:
            write_bytes(target, cairosvg.svg2png(bytestring=svg.encode("utf-8")), force=True)
            return target
    body = svg.split("\n", 1)[1]  # without the XML declaration
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0}</style></head>'
        f"<body>{body}</body></html>"
    )
    screenshot(page, target, width, height)
    return target
