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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yields a temporary path to write; on success it replaces `path`, on failure it disappears.

    The temporary name keeps the target's suffix, since some writers (Keras) insist on it."""
    target = Path(path)
    if target.exists() and not force:
        raise SpecError(Problem(f"{target} exists", file=str(target), hint="pass --force (Python: force=True) to overwrite"))
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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
