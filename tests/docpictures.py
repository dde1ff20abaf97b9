"""The site's pictures of the live view and of a trained network: made when the site is built, never kept in docs/.

`mkdocs build` (mkdocs_hooks.py) calls ``ensure``: it trains LeNet for one epoch on the first 8,000 MNIST digits
(the serve tests' model, seeded: a few seconds), writes `archspec inspect`'s report for test digit 9000, then serves
the spec and the run in this process and takes each pane's screenshot in headless Chromium (tests/browser.py, the
driver the page tests use). Everything goes to build/docs-pictures/ with a stamp of what it was made from (archspec's
files, this file, the driver), so a later build reuses it until one of them changes.

Each picture has the caption the page shows under it (``PICTURES``), and the claim a caption makes is checked on the
page before its screenshot is taken (the first row of the table, the line a typo is marked at, the class the model
answers): a page that shows anything else fails the build instead of illustrating it. What a picture needs and a
machine lacks (Chromium, the digits, archspec[serve]) leaves a note in the page in its place, and the build passes;
``ARCHSPEC_DOCS_PICTURES=0`` draws none (the tests' strict builds: tests/test_serve.py runs this generator on its own
trained run and checks every picture).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from browser import Browser, Page

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, in a docs build's log
ROOT = Path(__file__).resolve().parent.parent
MNIST = Path(os.environ.get("ARCHSPEC_MNIST", ROOT.parent / "shared" / "data" / "mnist"))
"""Where the digits are, as for the tests (tests/conftest.py; not imported: a docs build may have no pytest)."""
LENET = ROOT / "specs" / "lenet.yaml"
CACHE = ROOT / "build" / "docs-pictures"
SWITCH = "ARCHSPEC_DOCS_PICTURES"
DIGIT = 9000
"""The test digit shown (a 7): the model trains on the first 8,000, so it never saw it."""
LABEL = 7
TYPO = ("kernel: 5, activation: relu}     # 10x10x16", "kernal: 5, activation: relu}     # 10x10x16")
STATUS = "JSON.parse(document.getElementById('status').textContent || '{}')"
"""The live page's own account of itself (what it shows, whether it is settled), as JSON."""


@dataclass(frozen=True)
class Picture:
    caption: str
    needs: tuple[str, ...]


PICTURES = {
    "serve-spec.png": Picture(
        "archspec serve specs/lenet.yaml: the spec in an editor and, beside it, each layer's shape",
        ("chromium", "serve"),
    ),
    "serve-error.png": Picture(
        "A misspelt key (kernal) marked at its line, with the message archspec validate prints", ("chromium", "serve")
    ),
    "serve-model.png": Picture(
        "archspec serve on a run folder: test digit 9000, a 7, uploaded; the model answers 7, with its feature maps",
        ("chromium", "serve", "mnist"),
    ),
    "inspect-lenet.png": Picture(
        "archspec inspect's report for test digit 9000: the input, the filters, the feature maps, the probabilities",
        ("chromium", "mnist"),
    ),
    "inspect-lenet.html": Picture("the report itself", ("mnist",)),
}
"""File name -> the caption the page gives it, and what making it needs."""

LACKING = {
    "chromium": "this build found no Chromium (.ci/install-chromium.sh installs it; $ARCHSPEC_CHROMIUM names one)",
    "mnist": "this build found no MNIST digits (../shared/data/mnist beside the checkout, or $ARCHSPEC_MNIST)",
    "serve": "archspec[serve] is not installed (make test installs it)",
}


def trained(mnist: Path, run_dir: Path) -> Path:
    """LeNet after one epoch on the first 8,000 digits (seeded): a run folder, as `archspec train` writes it."""
    import archspec

    run = archspec.train(
        LENET,
        data=f"idx:{mnist}[:8000]",
        epochs=1,
        run_dir=run_dir,
        verbose=0,
        training={"seed": 1, "learning_rate": 3e-3},
    )
    return Path(run.run_dir)


def digit_png(mnist: Path, folder: Path, index: int = DIGIT) -> tuple[Path, int]:
    """A test digit as a PNG file, with its label."""
    from archspec.tools.inspection import png
    from archspec.training.data import read_idx

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"digit{index}.png"
    path.write_bytes(png(read_idx(mnist / "t10k-images-idx3-ubyte.gz")[index]))
    return path, int(read_idx(mnist / "t10k-labels-idx1-ubyte.gz")[index])


# -- the live page, as the serve tests drive it --------------------------------------------------
def open_page(browser: Browser, url: str) -> Page:
    """A new tab on the live page, once it has shown its first check (or its model pane)."""
    page = browser.new_page()
    page.goto(url)
    page.wait_for(
        f"{STATUS}.ready && ({STATUS}.spec >= 1 || !document.getElementById('model-pane').hidden)", "archspec:spec"
    )
    return page


def edit(page: Page, find: str, replace: str) -> Any:
    """Select `find` in the editor and type `replace` over it; the page's status once it has updated."""
    index = page.evaluate(f"document.getElementById('editor').value.indexOf({json.dumps(find)})")
    assert index >= 0, find
    page.evaluate(
        "(function () { var e = document.getElementById('editor'); e.focus(); "
        f"e.setSelectionRange({index}, {index + len(find)}); }})()"
    )
    page.arm("archspec:spec")
    page.insert_text(replace)
    return page.wait("archspec:spec")


def upload(page: Page, image: Path) -> Any:
    """Choose an image file in the model pane; the page's status once it shows the model's answer."""
    before = page.evaluate(f"{STATUS}.model || 0")
    page.set_files("#upload", [image])
    # the answer to this file, not a late one to what was drawn before (the pad's last stroke may still be answered)
    return page.wait_for(
        f"(function () {{ var s = {STATUS}; return s.model > {before} && s.looked === {json.dumps(image.name)} "
        "&& s.modelSettled && s; })()",
        "archspec:model",
    )


@contextlib.contextmanager
def serving(target: Path, shown_as: str | None = None) -> Iterator[str]:
    """`archspec serve TARGET` in this process (a thread; the model, if any, is loaded here once): its URL.
    `shown_as`: the spec's name in messages, as if the server had been started with that path (a copy stands in
    for the checkout's file, which the page must not edit)."""
    import uvicorn

    from archspec.tools.serve.app import create_app
    from archspec.tools.serve.run import listen, url_of, views

    spec, model = views(target)
    if spec is not None and shown_as is not None:
        spec.name = shown_as
    app = create_app(spec, model)
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server for {target} did not start")
        time.sleep(0.02)
    try:
        yield url_of(sock, "127.0.0.1")
    finally:
        server.should_exit = True
        thread.join(30)
        app.stop()
        sock.close()


class Failed(AssertionError):
    """A page did not show what its picture's caption says."""


def check(condition: bool, picture: str, found: Any) -> None:
    if not condition:
        raise Failed(f"{picture}: the page does not show what its caption says ({PICTURES[picture].caption}): {found}")


def spec_pictures(browser: Browser, spec: Path, out: Path) -> None:
    """The spec pane as it opens, then with a misspelt key (the file served is a copy: nothing is saved)."""
    with serving(spec, shown_as=str(LENET.relative_to(ROOT))) as url:
        page = open_page(browser, url)
        first = page.evaluate(f"{STATUS}.firstRow")
        check(first[:3] == ["conv_1", "conv 5x5 relu", "28x28x6"], "serve-spec.png", first)
        page.screenshot(out / "serve-spec.png", "#spec-pane .columns")
        status = edit(page, *TYPO)
        line = next(i + 1 for i, text in enumerate(spec.read_text().splitlines()) if TYPO[0] in text)
        problems = [(p["line"], p["message"].splitlines()[0].split(": ", 2)[-1]) for p in status["problems"]]
        check(problems == [(line, "unknown key 'kernal'")], "serve-error.png", problems)
        page.screenshot(out / "serve-error.png", "#spec-pane .columns")


def model_pictures(browser: Browser, run: Path, digit: Path, label: int, out: Path) -> None:
    """The model pane after a test digit is uploaded."""
    with serving(run) as url:
        page = open_page(browser, url)
        status = upload(page, digit)
        check(status["top"]["class"] == label == LABEL, "serve-model.png", status["top"])
        page.screenshot(out / "serve-model.png", "#model-pane")


def report_picture(browser: Browser, out: Path) -> None:
    """The inspect report, as a browser shows it."""
    report = browser.new_page()
    report.goto((out / "inspect-lenet.html").as_uri())
    report.screenshot(out / "inspect-lenet.png", "body")


def inspect_report(run: Path, digit: Path, label: int, out: Path) -> None:
    """`archspec inspect RUN --input digitN.png -o inspect-lenet.html`, as the command writes it."""
    import io

    from archspec.cli.group import main

    said = io.StringIO()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        code = main(["inspect", str(run), "--input", str(digit), "-o", str(out / "inspect-lenet.html"), "--force"])
    if code != 0:
        raise Failed(f"archspec inspect failed: {said.getvalue()}")
    shown = re.search(r"predicted class <b>([^<]*)</b>", (out / "inspect-lenet.html").read_text())
    check(shown is not None and shown[1] == str(label), "inspect-lenet.html", shown and shown[1])


def make(
    out: Path, *, run: Path | None, digit: tuple[Path, int] | None, chromium: str | None, serve: bool = True
) -> list[str]:
    """Every picture the given means allow (no run and digit: none of the model's; no Chromium: no screenshot; no
    archspec[serve]: no pane) into `out`; the names made."""
    out.mkdir(parents=True, exist_ok=True)
    if run is not None and digit is not None:
        inspect_report(run, *digit, out)
    if chromium is not None:
        spec = out / "lenet.yaml"  # served from a copy: the page may edit it
        shutil.copy(LENET, spec)
        with Browser(chromium, out / "profile") as browser:
            if serve:
                spec_pictures(browser, spec, out)
            if run is not None and digit is not None:
                if serve:
                    model_pictures(browser, run, *digit, out)
                report_picture(browser, out)
        shutil.rmtree(out / "profile", ignore_errors=True)
    return [name for name in PICTURES if (out / name).exists()]


# -- what the site build calls -------------------------------------------------------------------
@dataclass(frozen=True)
class Made:
    """The pictures made (name -> file) and, for each one that is not, why."""

    files: dict[str, Path]
    missing: dict[str, str]


def lacking() -> dict[str, str]:
    """What this machine lacks of what the pictures need, each with its note."""
    from archspec.tools import draw

    exe = draw.chromium()
    found = {
        "chromium": exe is not None and shutil.which(exe) is not None,
        "mnist": (MNIST / "t10k-images-idx3-ubyte.gz").exists(),
    }
    try:
        import starlette  # noqa: F401 (only to see that archspec[serve] is installed)
        import uvicorn  # noqa: F401 (the same)
    except ImportError:
        found["serve"] = False
    return {need: LACKING[need] for need, ok in found.items() if not ok}


def stamp() -> str:
    """A digest of everything the pictures are made from: archspec's files, the zoo's LeNet, this generator and
    the browser driver. Another digest is another picture."""
    sources = [p for p in sorted((ROOT / "archspec").rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    digest = hashlib.sha256()
    for path in [*sources, LENET, Path(__file__), ROOT / "tests" / "browser.py"]:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure(say: Callable[[str], None], cache: Path = CACHE) -> Made:
    """The pictures for the site, from the cache when they were made from today's files, else made now."""
    if os.environ.get(SWITCH) == "0":
        return Made({}, dict.fromkeys(PICTURES, f"this build was asked for none ({SWITCH}=0)"))
    short = lacking()
    why = {name: next((short[n] for n in p.needs if n in short), None) for name, p in PICTURES.items()}
    possible = [name for name, reason in why.items() if reason is None]
    key = json.dumps({"stamp": stamp(), "made": possible})
    record = cache / "stamp.json"
    if record.exists() and record.read_text() == key and all((cache / n).exists() for n in possible):
        say(f"pictures: {', '.join(possible) or 'none'} from {cache}, made from today's files")
    else:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        run = digit = None
        if "mnist" not in short:
            say(
                f"pictures: training LeNet for 1 epoch on the first 8,000 digits of {MNIST} into {cache / 'run'} "
                "(once: the pictures are kept until archspec's files change)"
            )
            with warnings.catch_warnings():  # Keras' own deprecation notes, about NumPy: nothing a reader can act on
                warnings.simplefilter("ignore", DeprecationWarning)
                run = trained(MNIST, cache / "run")
            digit = digit_png(MNIST, cache)
        from archspec.tools import draw

        say(f"pictures: making {', '.join(possible) or 'none'} (archspec inspect; archspec serve in Chromium)")
        chromium = None if "chromium" in short else draw.chromium()
        made = make(cache, run=run, digit=digit, chromium=chromium, serve="serve" not in short)
        if sorted(made) != sorted(possible):
            raise Failed(f"pictures: made {made}, expected {possible}")
        record.write_text(key)
    return Made(
        {name: cache / name for name in possible},
        {name: reason for name, reason in why.items() if reason is not None},
    )
