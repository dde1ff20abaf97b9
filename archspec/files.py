"""Writing output files atomically: a crash never leaves a half-written model or report.

Everything archspec writes goes to a temporary file beside the target and is
renamed into place (an atomic step on POSIX); an existing target is kept
unless the caller forces it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator

from .errors import Problem, SpecError


def refuse_existing(path: str | os.PathLike[str], force: bool) -> None:
    """The one "exists, pass --force" rule, checked before any slow work starts."""
    target = Path(path)
    if target.exists() and not force:
        raise SpecError(Problem(f"{target} exists", file=str(target), hint="pass --force (Python: force=True) to overwrite"))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yields a temporary path to write; on success it replaces `path`, on failure it disappears.

    The temporary name keeps the target's suffix, since some writers (Keras) insist on it."""
    target = Path(path)
    refuse_existing(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and target.exists():  # a folder (SavedModel) cannot be renamed over another
            os.replace(target, old)
        os.replace(tmp, target)
    finally:
        _remove(tmp)
        _remove(old)


def write_text(path: str | os.PathLike[str], text: str, *, force: bool = False) -> Path:
    """Write text atomically; an existing file is kept unless ``force``."""
    with atomic_path(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> Path:
    """Write bytes atomically; an existing file is kept unless ``force``."""
    with atomic_path(path, force=force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
