"""The package as a user gets it: an sdist, the wheel pip builds from that sdist, installed into a fresh
environment without the checkout, every command run from another folder.

One sdist and one installed wheel serve the whole session (building and installing take most of the time).
The fresh environment borrows this one's site-packages for the dependencies (`fresh_env`), never the checkout:
whatever a command reads (the zoo, the block library, the page's templates and assets) must come from the package.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, SPECS
from test_zoo_package import PACKAGE_FILES, fresh_env, pip

import archspec
from archspec.errors import SpecError
from archspec.tools.serve.run import views

LENET_PARAMS = archspec.shapes(ROOT / "specs" / "lenet.yaml").total_params
RESNET50_PARAMS = archspec.shapes(ROOT / "specs" / "resnet50.yaml").total_params
SETUPTOOLS = "setuptools>=77"  # pyproject.toml's build requirement


def package_files() -> dict[str, bytes]:
    """What the wheel must hold, by its path there: every file of archspec/ but bytecode, and specs/ as archspec/zoo."""
    found = {
        p.relative_to(ROOT).as_posix(): p.read_bytes()
        for p in (ROOT / "archspec").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    }
    found.update({f"archspec/zoo/{p.name}": p.read_bytes() for p in (ROOT / "specs").iterdir() if p.is_file()})
    return found


def sh(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A command outside the checkout: its folder elsewhere, and no PYTHONPATH that could reach the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, built by setuptools' own backend from a copy of the files the package is made of."""
    source = tmp_path_factory.mktemp("sdist-source")
    for name in PACKAGE_FILES:
        sh(["cp", "-r", str(ROOT / name), str(source / name)], cwd=source).check_returncode()
    builder = fresh_env(tmp_path_factory.mktemp("builder") / "env")
    pip("--python", str(builder), "install", "-q", SETUPTOOLS)  # skips when offline
    out = tmp_path_factory.mktemp("sdist")
    done = sh([str(builder), "-c", f"import setuptools.build_meta as b; b.build_sdist({str(out)!r})"], cwd=source)
    assert done.returncode == 0, done.stderr
    (found,) = out.glob("archspec-*.tar.gz")
    return found


@pytest.fixture(scope="session")
def wheel_from_sdist(sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel-from-sdist")
    pip("wheel", "--no-deps", "-q", "-w", str(out), str(sdist))
    (found,) = out.glob("archspec-*.whl")
    return found


@pytest.fixture(scope="session")
def installed(wheel_from_sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The environment's bin folder, the wheel built from the sdist installed there."""
    python = fresh_env(tmp_path_factory.mktemp("installed") / "env")
    pip("--python", str(python), "install", "-q", "--no-deps", str(wheel_from_sdist))
    return python.parent


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_the_sdist_carries_the_package_and_the_zoo(sdist: Path) -> None:
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    wanted = {p.relative_to(ROOT).as_posix() for p in (ROOT / "specs").iterdir()} | {
        name for name in package_files() if not name.startswith("archspec/zoo/")
    }
    assert wanted - names == set()


def test_the_wheel_from_the_sdist_carries_everything(wheel_from_sdist: Path) -> None:
    """Code, zoo, block library, page assets: file for file what the checkout has, and nothing else under archspec/."""
    with zipfile.ZipFile(wheel_from_sdist) as z:
        packaged = {n: z.read(n) for n in z.namelist() if n.startswith("archspec/") and not n.endswith("/")}
    wanted = package_files()
    assert sorted(packaged) == sorted(wanted)
    assert [n for n in wanted if packaged[n] != wanted[n]] == []


def test_the_docs_show_the_wheel_tested_here(wheel_from_sdist: Path) -> None:
    """The install page's line names the wheel these tests install, and the command after it is the one run here;
    the README shows the same command (its set-up commands stay the two make targets)."""
    install = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert f"pip install dist/{wheel_from_sdist.name}\narchspec shapes resnet50\n" in install
    assert "\narchspec shapes resnet50\n" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_shapes_and_the_catalogue_outside(installed: Path, work: Path) -> None:
    done = sh([str(installed / "archspec"), "shapes", "resnet50", "--json"], cwd=work)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_params"] == RESNET50_PARAMS
    code = "import archspec; print(archspec.__file__); print(len(archspec.list_specs()))"
    where, count = sh([str(installed / "python"), "-c", code], cwd=work).stdout.split()
    assert Path(where).is_relative_to(installed.parent) and int(count) == len(SPECS)


def test_the_pure_python_commands_outside(installed: Path, work: Path) -> None:
    """draw inlines its page assets, the block library expands, the schema and the zoo table: all from the package."""
    draw = sh([str(installed / "archspec"), "draw", "lenet", "-o", "lenet.html"], cwd=work)
    assert draw.returncode == 0, draw.stderr
    page = (work / "lenet.html").read_text(encoding="utf-8")
    assets = ROOT / "archspec" / "tools" / "draw" / "assets"
    assert all(f.read_text(encoding="utf-8").strip() in page for f in assets.glob("*.js"))
    render = sh([str(installed / "archspec"), "render", "resnet50"], cwd=work)  # its blocks come from library.yaml
    assert render.returncode == 0 and "layers:" in render.stdout, render.stderr
    schema = sh([str(installed / "archspec"), "schema"], cwd=work)
    assert schema.returncode == 0 and "properties" in json.loads(schema.stdout), schema.stderr
    zoo = sh([str(installed / "archspec"), "zoo"], cwd=work)
    assert zoo.returncode == 0 and len(zoo.stdout.splitlines()) == len(SPECS) + 1, zoo.stderr


def test_build_a_zoo_name_outside(installed: Path, work: Path) -> None:
    done = sh([str(installed / "archspec"), "build", "lenet", "-o", "x.keras"], cwd=work)
    assert done.returncode == 0, done.stderr
    assert (work / "x.keras").stat().st_size > 0 and "x.keras" in done.stdout


def test_the_factory_outside(installed: Path, work: Path) -> None:
    code = "import archspec; m = archspec.create_model('lenet'); print(m.count_params())"
    done = sh([str(installed / "python"), "-c", code], cwd=work)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) == LENET_PARAMS


def first_line(process: subprocess.Popen[str], seconds: float) -> str:
    """The server's first line of output, waited for as an event on its pipe (never a fixed sleep)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(process.stdout, selectors.EVENT_READ)
        assert sel.select(seconds), "the server printed nothing"
    return process.stdout.readline()


def get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.headers.get_content_type(), answer.read()


def test_serve_a_zoo_name_outside(installed: Path, work: Path) -> None:
    pytest.importorskip("starlette", reason="archspec[serve] not installed")
    pytest.importorskip("uvicorn", reason="archspec[serve] not installed")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen(
        [str(installed / "archspec"), "serve", "lenet", "--port", "0"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = first_line(process, 120)
        assert line.startswith("serving lenet at http://127.0.0.1:"), line + (
            process.stderr.read() if process.stderr else ""
        )
        url = line.split(" at ", 1)[1].split("/;", 1)[0]
        kind, page = get(url + "/")
        assert kind == "text/html"
        assets = {name: get(f"{url}/assets/{name}") for name in ("serve.js", "serve.css")}
        assert all(f'/assets/{name}"'.encode() in page for name in assets)
        assert assets["serve.js"] == ("text/javascript", (ROOT / "archspec/tools/serve/assets/serve.js").read_bytes())
        assert assets["serve.css"][1].startswith((ROOT / "archspec/tools/serve/assets/serve.css").read_bytes())
        session = json.loads(get(url + "/api/session")[1])["spec"]
        assert session["text"] == (ROOT / "specs" / "lenet.yaml").read_text(encoding="utf-8")
        assert session["read_only"].startswith("a zoo spec")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and out.rstrip().endswith("stopped"), err


# --- `archspec serve NAME` in this environment (no wheel: quick) ---------------------------------------------------


def test_serve_resolves_a_zoo_name_read_only(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work)
    spec, model = views(Path("lenet"))
    assert model is None and spec is not None
    assert spec.text == (ROOT / "specs" / "lenet.yaml").read_text(encoding="utf-8")
    assert spec.read_only is not None and str(spec.path) in spec.read_only  # saving would rewrite the package


def test_serve_refuses_an_unknown_name_with_the_closest(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work)
    with pytest.raises(SpecError, match="no zoo spec named 'lenet5'") as caught:
        views(Path("lenet5"))
    assert "did you mean 'lenet'?" in (caught.value.problems[0].hint or "")


def test_a_local_file_wins_over_the_zoo_name(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file called `lenet` (no suffix) is not a spec: refused as before, never swapped for the zoo's."""
    monkeypatch.chdir(work)
    (work / "lenet").write_text("not a spec", encoding="utf-8")
    with pytest.raises(SpecError, match=r"not a spec, a run folder or a \.keras file"):
        views(Path("lenet"))
