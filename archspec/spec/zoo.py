"""Where the zoo is, and what a bare spec name (``resnet50``) means.

The zoo is the checkout's ``specs/`` folder, the one source. The wheel ships that same folder as the
package ``archspec.zoo`` (``setup.py`` maps the package onto ``specs/``: no copy in the tree), so an
installed archspec finds it as ``archspec/zoo/`` beside this package, and a checkout (run from the tree
or installed editable) finds ``specs/`` beside ``archspec/``.

A name is a file's stem: ``efficientnet`` is ``specs/efficientnet.yaml``, the whole family, whose
``--variant b3`` picks the member; files that write one member out keep their own names
(``efficientnet_b0``). A file that exists always wins over a zoo name. Plain file reads and one
``os.listdir`` keep this cheap; nothing here runs unless a spec path names no file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import Problem, SpecError, closest

SUFFIX = ".yaml"
"""Every zoo spec is YAML (`zoo_names` lists files with this suffix only)."""

_PACKAGE = Path(__file__).resolve().parents[1]


def zoo_dir() -> Path | None:
    """The zoo's folder: the installed package's ``archspec/zoo``, else a checkout's ``specs/`` (None when neither)."""
    installed = _PACKAGE / "zoo"
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent
    if (checkout / "specs").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / "specs"
    return None


def zoo_names() -> list[str]:
    """Every zoo spec's name (its file's stem), sorted."""
    folder = zoo_dir()
    if folder is None:
        return []
    return sorted(f[: -len(SUFFIX)] for f in os.listdir(folder) if f.endswith(SUFFIX) and not f.startswith("."))


def zoo_path(name: str) -> Path | None:
    """The zoo file called `name`, or None."""
    folder = zoo_dir()
    return folder / f"{name}{SUFFIX}" if folder is not None and name in zoo_names() else None


def is_bare(text: str) -> bool:
    """Whether a spec argument reads as a name rather than a path: no folder and no extension."""
    return "/" not in text and os.sep not in text and "." not in text and text not in ("", "-")


def locate(path: str | os.PathLike[str]) -> str | os.PathLike[str] | Path:
    """`path` itself when it exists or is not a bare name; else the zoo file of that name.

    A bare name that is neither a file nor a zoo spec is refused here, with the closest zoo name,
    rather than as "no such file" (the user meant the zoo)."""
    text = os.fspath(path)
    if not is_bare(text) or Path(text).exists():
        return path
    found = zoo_path(text)
    if found is not None:
        return found
    raise SpecError(Problem(f"no such file, and no zoo spec named {text!r}", file=text, hint=_hint(text)))


def _hint(name: str) -> str:
    """What the user likely meant: a family with a variant (``efficientnet_b3`` -> ``efficientnet --variant b3``),
    else the closest name; and where the list is."""
    names = zoo_names()
    for family in sorted(names, key=len, reverse=True):
        rest = re.sub(r"^[-_]", "", name[len(family) :]) if name.startswith(family) else ""
        if rest and rest in _variants(family):
            return f"write `{family} --variant {rest}` (Python: variant={rest!r})"
    near = closest(name, names)
    return (f"did you mean {near!r}? " if near else "") + "`archspec zoo` (Python: archspec.list_specs()) lists the zoo"


def _variants(name: str) -> list[str]:
    """The names of a zoo spec's variants (empty when it has none or does not read)."""
    found = zoo_path(name)
    if found is None:
        return []
    from .read import read  # here: only a mistake needs it

    try:
        table = read(found).data.get("variants")
    except (SpecError, AttributeError):
        return []
    return [str(k) for k in table] if isinstance(table, dict) else []
