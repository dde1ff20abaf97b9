"""The zoo as part of the package: `specs/` ships in the wheel as `archspec.zoo`, and a bare name
(`resnet50`) is the zoo's spec wherever a spec path is taken, unless a file of that name exists.

The wheel test builds the package from the files it is made of, installs it with `--no-deps` into a
fresh environment that borrows this one's site-packages for the dependencies (not the checkout), and
runs `archspec shapes resnet50` from another folder; the editable test does the same with `pip install -e`
(setuptools then maps `archspec.zoo` onto `specs/` with an import finder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, SPECS

import archspec
from archspec.cli import main
from archspec.errors import SpecError

NAMES = [p.stem for p in SPECS]
# what the checkout's files give (tests/test_facts_zoo.py and test_variants.py hold them to the `reference` figures)
RESNET50_PARAMS = archspec.shapes(ROOT / "specs" / "resnet50.yaml").total_params
CONVNEXT_SMALL_PARAMS = archspec.shapes(ROOT / "specs" / "convnext.yaml", variant="small").total_params
LENET_PARAMS = archspec.shapes(ROOT / "specs" / "lenet.yaml").total_params


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder outside the checkout, so nothing resolves relative to it by accident."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- bare names -------------------------------------------------------------------------------------------------


def test_cli_takes_a_zoo_name(elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["shapes", "resnet50", "--json"], capsys)
    assert code == 0 and json.loads(out)["total_params"] == RESNET50_PARAMS


def test_cli_takes_a_family_name_and_a_variant(elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["shapes", "convnext", "--variant", "small", "--json"], capsys)
    assert code == 0 and json.loads(out)["total_params"] == CONVNEXT_SMALL_PARAMS


def test_python_takes_zoo_names(elsewhere: Path) -> None:
    assert archspec.shapes("convnext", variant="small").total_params == CONVNEXT_SMALL_PARAMS
    assert archspec.load("resnet50").name == "resnet50"
    assert archspec.shapes("lenet").total_params == LENET_PARAMS


def test_a_local_file_shadows_a_zoo_name(elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (elsewhere / "resnet50").write_text((ROOT / "specs" / "lenet.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = cli(["shapes", "resnet50", "--json"], capsys)
    assert code == 0 and json.loads(out)["total_params"] == LENET_PARAMS
    assert archspec.shapes("resnet50").total_params == LENET_PARAMS


def test_an_unknown_name_is_refused_with_the_closest(elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["shapes", "resnt50"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("resnt50: no such file, and no zoo spec named 'resnt50'")
    assert "did you mean 'resnet50'?" in err
    with pytest.raises(SpecError, match="no zoo spec named 'convnxt'") as caught:
        archspec.load("convnxt")
    assert "did you mean 'convnext'?" in (caught.value.problems[0].hint or "")


def test_a_family_member_written_as_a_name_points_at_the_variant(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(["shapes", "efficientnet_b3"], capsys)
    assert code == 2 and "`efficientnet --variant b3`" in err


def test_a_missing_path_is_still_no_such_file(elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["shapes", "nothere/resnet50.yaml"], capsys)
    assert code == 2 and "nothere/resnet50.yaml: no such file" in err and "zoo" not in err


# --- the catalogue ----------------------------------------------------------------------------------------------


def test_list_specs_is_the_specs_folder() -> None:
    assert archspec.list_specs() == NAMES


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("efficientnet*", ["efficientnet", "efficientnet_b0", "efficientnet_v2", "efficientnet_v2_b0"]),
        ("resnet?0", ["resnet50"]),
        ("*_cifar", ["resnet20_cifar", "resnet56_cifar"]),
        ("nothing*", []),
    ],
)
def test_list_specs_patterns(pattern: str, expected: list[str]) -> None:
    assert archspec.list_specs(pattern) == expected


def test_describe_specs_reads_the_reference_fields() -> None:
    (resnet50,) = archspec.describe_specs("resnet50")
    assert (resnet50.family, resnet50.params, resnet50.reference) == (
        "resnet",
        RESNET50_PARAMS,
        "= keras.applications.ResNet50",
    )
    (family,) = archspec.describe_specs("efficientnet")
    assert family.variants == tuple(f"b{i}" for i in range(8)) and family.family == "efficientnet"
    (member,) = archspec.describe_specs("efficientnet_b0")
    assert member.family == "efficientnet" and member.variants == ()
    (resnet18,) = archspec.describe_specs("resnet18")
    assert resnet18.reference == "= torchvision.models.resnet18"


def test_zoo_command_lists_every_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["zoo"], capsys)
    rows = out.splitlines()[1:]
    assert code == 0 and [row.split()[0] for row in rows] == NAMES
    resnet50 = next(row for row in rows if row.startswith("resnet50 "))
    assert f"{RESNET50_PARAMS:,}" in resnet50 and "3.9G" in resnet50 and "= keras.applications.ResNet50" in resnet50


def test_zoo_command_pattern_that_matches_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["zoo", "nothing*"], capsys)
    assert code == 2 and "no zoo spec matches" in err


# --- the wheel --------------------------------------------------------------------------------------------------

PACKAGE_FILES = ("pyproject.toml", "setup.py", "README.md", "archspec", "specs")
"""What the package is built from: the wheel must need nothing else of the checkout."""


@pytest.fixture(scope="module")
def package_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the files the package is built from, outside the checkout."""
    source = tmp_path_factory.mktemp("source")
    for name in PACKAGE_FILES:
        if not (ROOT / name).exists():
            continue  # the build then says what is missing
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    return source


def pip(*args: str) -> None:
    """pip, run by this environment's Python; skips when it cannot fetch the build backend (setuptools>=77)."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and ("Could not find a version" in done.stderr or "NewConnectionError" in done.stderr):
        pytest.skip(f"pip could not fetch the build backend (offline?): {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr


def fresh_env(folder: Path) -> Path:
    """A new virtual environment without the checkout, whose dependencies come from this one; its Python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # a path line in a .pth adds the folder without running the .pth files in it, so this environment's
    # editable install of the checkout stays out
    Path(site, "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    return python


def run_outside(folder: Path, env_dir: Path) -> Path:
    """`archspec shapes resnet50` and `archspec.list_specs()` from a folder outside the checkout, by the environment's
    archspec."""
    work = folder / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    shapes = subprocess.run(
        [str(env_dir / "bin" / "archspec"), "shapes", "resnet50", "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shapes.returncode == 0, shapes.stderr
    assert json.loads(shapes.stdout)["total_params"] == RESNET50_PARAMS
    where = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import archspec; print(archspec.__file__); print(len(archspec.list_specs()))",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert int(where[1]) == len(SPECS)
    return Path(where[0])


@pytest.fixture(scope="module")
def wheel(package_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "-q", "-w", str(out), str(package_source))
    (found,) = out.glob("archspec-*.whl")
    return found


def test_the_wheel_carries_specs_file_for_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        packaged = {n.removeprefix("archspec/zoo/"): z.read(n) for n in z.namelist() if n.startswith("archspec/zoo/")}
    assert sorted(packaged) == sorted(p.name for p in (ROOT / "specs").iterdir())
    assert all(packaged[p.name] == p.read_bytes() for p in SPECS)


def test_the_installed_wheel_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    python = fresh_env(tmp_path / "env")
    pip("--python", str(python), "install", "-q", "--no-deps", str(wheel))
    assert run_outside(tmp_path, tmp_path / "env").is_relative_to(tmp_path / "env")


def test_an_editable_install_finds_the_zoo(package_source: Path, tmp_path: Path) -> None:
    python = fresh_env(tmp_path / "env")
    pip("--python", str(python), "install", "-q", "--no-deps", "-e", str(package_source))
    assert run_outside(tmp_path, tmp_path / "env").is_relative_to(package_source)
